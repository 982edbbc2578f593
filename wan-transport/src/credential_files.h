// Internal plumbing shared by credential loading, generation and the TLS contexts: owning handles
// for OpenSSL objects, PEM parsing that names the file, and secret files with the permission
// policy of docs/security.md.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace ionet::wan::detail {

template <auto Free>
struct OpensslFree {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BioPtr = std::unique_ptr<BIO, OpensslFree<BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpensslFree<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpensslFree<X509_free>>;
using StorePtr = std::unique_ptr<X509_STORE, OpensslFree<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpensslFree<X509_STORE_CTX_free>>;

// The CA's subject CN is this prefix + the pool name; that is how a CA names its pool.
inline constexpr std::string_view kPoolCnPrefix = "ionet pool ";
// Node names and pool names appear in certificates, PSK identities and log lines.
inline constexpr std::size_t kMaxNameBytes = 64;

// Drains this thread's OpenSSL error queue into "lib: reason; ..." (or "no OpenSSL detail").
std::string opensslErrors();

// Throws unless name is 1..64 characters of [A-Za-z0-9._-] (what = "node name", "pool name").
void checkName(const std::string& name, std::string_view what);

// Whole file, or throws "FILE: missing (hint)" / "FILE: cannot read: why".
std::string readFile(const std::filesystem::path& file, std::string_view hint);

// The policy for files holding secrets (keys, PSKs): accessible to other users -> throws;
// accessible to the group -> logs a warning (a service group is a legitimate deployment).
void checkSecretFileMode(const std::filesystem::path& file);

// Writes content to file.tmp with the given mode, fsyncs and renames it over file, so a reader
// never sees a half-written key and a key is never briefly world-readable.
void writeFileAtomically(const std::filesystem::path& file, std::string_view content, mode_t mode);

// Creates dir (and parents) if needed; a new directory is private (0700).
void makePrivateDirectory(const std::filesystem::path& dir);

// PEM parsing that says which file was bad.
X509Ptr parseCertificate(const std::string& pem, const std::filesystem::path& file);
PkeyPtr parsePrivateKey(const std::string& pem, const std::filesystem::path& file);
std::string toPem(X509* cert);
std::string toPem(EVP_PKEY* key);

// The subject's CN ("" if none).
std::string commonName(const X509* cert);
// "CN=..., O=..." of a name, for messages.
std::string describeName(const X509_NAME* name);
// The pool a CA certificate names; throws naming file if it is not an ionet pool CA.
std::string poolNameOfCa(X509* ca, const std::filesystem::path& file);

// Verifies that cert is issued by ca and valid now (signature, validity period, node EKU);
// throws naming certFile and saying what failed (not signed by the pool CA, expired, ...).
void checkIssuedBy(X509* cert, X509* ca, const std::filesystem::path& certFile,
                   const std::filesystem::path& caFile);

}  // namespace ionet::wan::detail
