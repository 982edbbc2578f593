// Shared credential plumbing: OpenSSL error text, PEM parsing that names the file, certificate
// checks against the pool CA, and secret files written privately and atomically.
#include "src/credential_files.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ionet/error.h"
#include "ionet/log.h"

namespace ionet::wan::detail {
namespace fs = std::filesystem;
namespace {

BioPtr memoryBio() {
  BioPtr bio(BIO_new(BIO_s_mem()));
  IONET_ENFORCE(bio, "BIO_new failed: ", opensslErrors());
  return bio;
}

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::string describeTime(const ASN1_TIME* time) {
  auto bio = memoryBio();
  if (ASN1_TIME_print_ex(bio.get(), time, ASN1_DTFLGS_ISO8601) != 1) return "an unreadable date";
  return bioText(bio.get());
}

std::string octalMode(fs::perms p) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(p) & 07777u);
  return text;
}

// Encrypted keys would make OpenSSL prompt on the terminal; a daemon must fail instead.
int noPassphrase(char*, int, int, void*) { return 0; }

}  // namespace

std::string opensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* lib = ERR_lib_error_string(e);
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += std::string(lib ? lib : "OpenSSL") + ": " +
           (reason ? reason : "error " + std::to_string(ERR_GET_REASON(e)));
  }
  return out.empty() ? "no OpenSSL detail" : out;
}

void checkName(const std::string& name, std::string_view what) {
  bool ok = !name.empty() && name.size() <= kMaxNameBytes;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    throw Error(std::string(what) + " '" + name + "' is invalid: use 1-" +
                std::to_string(kMaxNameBytes) + " characters of A-Z a-z 0-9 . _ -");
  }
}

std::string readFile(const fs::path& file, std::string_view hint) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw Error(file.string() + ": missing (" + std::string(hint) + ")");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void checkSecretFileMode(const fs::path& file) {
  std::error_code ec;
  const fs::perms p = fs::status(file, ec).permissions();
  if (ec) throw Error(file.string() + ": cannot stat: " + ec.message());
  if ((p & fs::perms::others_all) != fs::perms::none) {
    throw Error(file.string() + ": mode " + octalMode(p) +
                " lets every user on this host read or replace a pool secret; run chmod 600 " +
                file.string());
  }
  if ((p & fs::perms::group_all) != fs::perms::none) {
    log::warn(file.string(), ": mode ", octalMode(p),
              " lets the file's group read a pool secret; chmod 600 unless that is intended");
  }
}

void writeFileAtomically(const fs::path& file, std::string_view content, mode_t mode) {
  const fs::path tmp = file.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) throw Error(tmp.string() + ": cannot create: " + std::strerror(errno));
  // O_CREAT leaves an existing file's mode alone and the umask may add nothing: set it exactly.
  bool ok = ::fchmod(fd, mode) == 0;
  for (std::size_t done = 0; ok && done < content.size();) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int err = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) {
    const std::string why = std::strerror(ok ? errno : err);
    ::unlink(tmp.c_str());
    throw Error(file.string() + ": cannot write: " + why);
  }
}

void makePrivateDirectory(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return;
  fs::create_directories(dir, ec);
  if (!ec) fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) throw Error(dir.string() + ": cannot create directory: " + ec.message());
}

X509Ptr parseCertificate(const std::string& pem, const fs::path& file) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  IONET_ENFORCE(bio, "BIO_new_mem_buf failed");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr));
  if (!cert) {
    throw Error(file.string() +
                ": not a valid PEM certificate (damaged or edited?): " + opensslErrors());
  }
  return cert;
}

PkeyPtr parsePrivateKey(const std::string& pem, const fs::path& file) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  IONET_ENFORCE(bio, "BIO_new_mem_buf failed");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr));
  if (!key) {
    throw Error(file.string() + ": not a valid unencrypted PEM private key: " + opensslErrors());
  }
  return key;
}

std::string toPem(X509* cert) {
  auto bio = memoryBio();
  IONET_ENFORCE(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509: ", opensslErrors());
  return bioText(bio.get());
}

std::string toPem(EVP_PKEY* key) {
  auto bio = memoryBio();
  IONET_ENFORCE(
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
      "PEM_write_bio_PrivateKey: ", opensslErrors());
  return bioText(bio.get());
}

std::string commonName(const X509* cert) {
  const X509_NAME* name = X509_get_subject_name(cert);
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return "";
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
  if (n < 0) return "";
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return cn;
}

std::string describeName(const X509_NAME* name) {
  auto bio = memoryBio();
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  return bioText(bio.get());
}

std::string poolNameOfCa(X509* ca, const fs::path& file) {
  const std::string cn = commonName(ca);
  if (X509_check_ca(ca) == 0 || !cn.starts_with(kPoolCnPrefix)) {
    throw Error(file.string() + ": not an ionet pool CA (subject '" +
                describeName(X509_get_subject_name(ca)) + "', expected a CA with CN '" +
                std::string(kPoolCnPrefix) + "<pool>')");
  }
  std::string pool = cn.substr(kPoolCnPrefix.size());
  checkName(pool, file.string() + ": pool name");
  return pool;
}

void checkIssuedBy(X509* cert, X509* ca, const fs::path& certFile, const fs::path& caFile) {
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  IONET_ENFORCE(store && ctx && X509_STORE_add_cert(store.get(), ca) == 1 &&
                    X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) == 1,
                "X509 store setup failed: ", opensslErrors());
  // Same rules as the handshake: the node certificate is signed by the pool CA itself.
  X509_STORE_CTX_set_depth(ctx.get(), 0);
  const bool verified = X509_verify_cert(ctx.get()) == 1;
  ERR_clear_error();
  if (verified) {
    if (X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) != 1 ||
        X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0) != 1) {
      throw Error(certFile.string() +
                  ": not usable as an ionet node certificate (needs TLS client and server "
                  "extended key usage; issue it with ionet-agent --issue-cert)");
    }
    return;
  }
  const int err = X509_STORE_CTX_get_error(ctx.get());
  const bool caFailed = X509_STORE_CTX_get_error_depth(ctx.get()) > 0;
  const std::string file = (caFailed ? caFile : certFile).string();
  X509* bad = caFailed ? ca : cert;
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      throw Error(file + ": expired on " + describeTime(X509_get0_notAfter(bad)) +
                  (caFailed ? " (the pool CA must be replaced)" : " (re-issue it)"));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      throw Error(file + ": not valid before " + describeTime(X509_get0_notBefore(bad)) +
                  " (is this host's clock right?)");
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      throw Error(certFile.string() + ": not signed by the pool CA in " + caFile.string() +
                  " (issuer '" + describeName(X509_get_issuer_name(cert)) +
                  "': a certificate of another pool?)");
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      throw Error(certFile.string() + ": signature does not verify against the pool CA in " +
                  caFile.string() + " (damaged or edited?)");
    default:
      throw Error(file + ": does not verify against the pool CA in " + caFile.string() + ": " +
                  X509_verify_cert_error_string(err));
  }
}

}  // namespace ionet::wan::detail
