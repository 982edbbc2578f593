// Making pool credentials: the pool CA, node certificates it signs, and pool PSKs. All key material
// comes from OpenSSL (EVP_PKEY_Q_keygen, RAND_bytes); this file only fills in certificate fields.
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ionet/error.h"
#include "ionet/wan/credentials.h"
#include "src/credential_files.h"

namespace ionet::wan {
namespace fs = std::filesystem;
using namespace detail;

namespace {

constexpr mode_t kSecretMode = 0600;
constexpr mode_t kPublicMode = 0644;
// Certificates start an hour in the past: hosts across the internet do not agree on the time, and
// a fresh certificate must not be "not yet valid" on a peer whose clock runs slightly behind.
constexpr long kBackdateSeconds = 3600;
constexpr int kSerialBytes = 16;  // random serials, as CA/B Forum practice (>= 64 bits of entropy)
constexpr int kPskBytes = 32;

using BnPtr = std::unique_ptr<BIGNUM, OpensslFree<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, OpensslFree<X509_EXTENSION_free>>;

void checkDays(int validDays) {
  if (validDays < 1)
    throw Error("validity of " + std::to_string(validDays) + " days: must be >= 1");
}

PkeyPtr newKey() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  IONET_ENFORCE(key, "Ed25519 key generation failed: ", opensslErrors());
  return key;
}

// A version-3 certificate for subject CN=cn with a random serial and the given validity.
X509Ptr newCertificate(const std::string& cn, EVP_PKEY* key, int validDays) {
  X509Ptr cert(X509_new());
  IONET_ENFORCE(cert, "X509_new failed");
  unsigned char serial[kSerialBytes];
  IONET_ENFORCE(RAND_bytes(serial, sizeof serial) == 1, "RAND_bytes: ", opensslErrors());
  serial[0] &= 0x7f;  // serials are positive INTEGERs
  BnPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const bool ok =
      X509_set_version(cert.get(), X509_VERSION_3) == 1 && bn &&
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) != nullptr &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) != nullptr &&
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 3600 * validDays) != nullptr &&
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) == 1 &&
      X509_set_pubkey(cert.get(), key) == 1;
  IONET_ENFORCE(ok, "building certificate '", cn, "' failed: ", opensslErrors());
  return cert;
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  IONET_ENFORCE(ext && X509_add_ext(cert, ext.get(), -1) == 1, "certificate extension ",
                OBJ_nid2sn(nid), "=", value, ": ", opensslErrors());
}

void sign(X509* cert, EVP_PKEY* key) {
  // Ed25519 signs the message itself: no separate digest, hence nullptr.
  IONET_ENFORCE(X509_sign(cert, key, nullptr) > 0, "signing certificate: ", opensslErrors());
}

void refuseToReplace(const fs::path& file, std::string_view what) {
  std::error_code ec;
  if (fs::exists(file, ec)) {
    throw Error(file.string() + ": already exists; refusing to replace " + std::string(what) +
                " (remove it first if that is really meant)");
  }
}

}  // namespace

void generatePoolCa(const fs::path& dir, const std::string& poolName, int validDays) {
  checkName(poolName, "pool name");
  checkDays(validDays);
  const fs::path keyFile = dir / "ca.key", certFile = dir / "ca.pem";
  const char* why = "a pool CA: every node certificate of the pool would stop verifying";
  refuseToReplace(keyFile, why);
  refuseToReplace(certFile, why);
  makePrivateDirectory(dir);

  auto key = newKey();
  auto cert = newCertificate(std::string(kPoolCnPrefix) + poolName, key.get(), validDays);
  IONET_ENFORCE(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) == 1,
                "X509_set_issuer_name: ", opensslErrors());
  // pathlen:0 - the pool CA signs node certificates only, never another CA.
  addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  addExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  addExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  sign(cert.get(), key.get());

  std::string keyPem = toPem(key.get());
  writeFileAtomically(keyFile, keyPem, kSecretMode);
  OPENSSL_cleanse(keyPem.data(), keyPem.size());
  writeFileAtomically(certFile, toPem(cert.get()), kPublicMode);
}

void issueNodeCertificate(const fs::path& caDir, const fs::path& outDir,
                          const std::string& nodeName, int validDays) {
  checkName(nodeName, "node name");
  checkDays(validDays);
  const fs::path caFile = caDir / "ca.pem", caKeyFile = caDir / "ca.key";
  const char* hint = "create a pool CA with ionet-agent --gen-ca DIR --pool NAME";
  const std::string caPem = readFile(caFile, hint);
  std::string caKeyPem = readFile(caKeyFile, hint);
  checkSecretFileMode(caKeyFile);
  auto ca = parseCertificate(caPem, caFile);
  poolNameOfCa(ca.get(), caFile);
  auto caKey = parsePrivateKey(caKeyPem, caKeyFile);
  OPENSSL_cleanse(caKeyPem.data(), caKeyPem.size());
  if (X509_check_private_key(ca.get(), caKey.get()) != 1) {
    throw Error(caKeyFile.string() + ": is not the key of " + caFile.string() + ": " +
                opensslErrors());
  }
  if (X509_cmp_current_time(X509_get0_notAfter(ca.get())) <= 0) {
    throw Error(caFile.string() + ": the pool CA has expired; it cannot issue certificates");
  }

  auto key = newKey();
  auto cert = newCertificate(nodeName, key.get(), validDays);
  // A node certificate outliving its CA would look valid but never verify: end with the CA.
  if (ASN1_TIME_compare(X509_get0_notAfter(cert.get()), X509_get0_notAfter(ca.get())) > 0) {
    X509_set1_notAfter(cert.get(), X509_get0_notAfter(ca.get()));
  }
  IONET_ENFORCE(X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) == 1,
                "X509_set_issuer_name: ", opensslErrors());
  addExtension(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  addExtension(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature");
  // Both: a node dials some peers and accepts others with the same certificate.
  addExtension(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth,clientAuth");
  addExtension(cert.get(), ca.get(), NID_subject_alt_name, "DNS:" + nodeName);
  addExtension(cert.get(), ca.get(), NID_subject_key_identifier, "hash");
  addExtension(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  sign(cert.get(), caKey.get());

  makePrivateDirectory(outDir);
  std::string keyPem = toPem(key.get());
  writeFileAtomically(outDir / "node.key", keyPem, kSecretMode);
  OPENSSL_cleanse(keyPem.data(), keyPem.size());
  writeFileAtomically(outDir / "node.pem", toPem(cert.get()), kPublicMode);
  writeFileAtomically(outDir / "ca.pem", caPem, kPublicMode);
}

void generatePoolPsk(const fs::path& file, const std::string& poolName) {
  checkName(poolName, "pool name");
  refuseToReplace(file, "a pool key: nodes holding the old key would be refused");
  if (file.has_parent_path()) makePrivateDirectory(file.parent_path());

  unsigned char key[kPskBytes];
  IONET_ENFORCE(RAND_bytes(key, sizeof key) == 1, "RAND_bytes: ", opensslErrors());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string line = "ionet-psk-v1 " + poolName + " ";
  for (unsigned char b : key) {
    line += kHex[b >> 4];
    line += kHex[b & 0xf];
  }
  line += '\n';
  OPENSSL_cleanse(key, sizeof key);
  writeFileAtomically(file, line, kSecretMode);
  OPENSSL_cleanse(line.data(), line.size());
}

}  // namespace ionet::wan
