// TLS 1.3 contexts with mutual authentication (pool CA or pool PSK), the authenticated peer name,
// and one-line explanations of refused handshakes. OpenSSL does all cryptography; this file only
// configures it and keeps per-context and per-connection notes for the callbacks.
#include <openssl/err.h>

#include <memory>
#include <vector>

#include "ionet/error.h"
#include "ionet/wan/credentials.h"
#include "src/credential_files.h"

namespace ionet::wan {
using namespace detail;

namespace {

// TLS 1.3 suites only. With a certificate: OpenSSL's default set. With a PSK: the SHA-256 suites,
// because the external PSK is bound to one hash and we bind it to SHA-256 (kPskCipherId).
constexpr const char* kCaSuites =
    "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kPskSuites = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256";
constexpr unsigned char kPskCipherId[2] = {0x13, 0x01};  // TLS_AES_128_GCM_SHA256
constexpr const char* kGroups = "X25519:P-256";
constexpr std::string_view kPskIdentityPrefix = "ionet:";
constexpr std::size_t kMinPskBytes = 32;
// PSK mode carries node names in this extension. 0xff00-0xffff is private use in IANA's TLS
// ExtensionType registry; both ends are ionet, so no registered number is needed.
constexpr unsigned kNodeNameExtension = 0xff7e;

// What the callbacks need from a context; owned by its SSL_CTX, freed with it.
struct TlsSettings {
  bool psk = false;
  std::string key;       // PSK bytes
  std::string identity;  // "ionet:" + pool name
  std::string nodeName;  // ours, sent in kNodeNameExtension (PSK mode)
  ~TlsSettings() { OPENSSL_cleanse(key.data(), key.size()); }
};

// What one connection's handshake revealed; owned by its SSL.
struct HandshakeNotes {
  std::string peerName;  // PSK mode: the name the peer sent
  std::string refusal;   // first certificate or PSK identity we refused, and why
};

void freeSettings(void*, void* p, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<TlsSettings*>(p);
}
void freeNotes(void*, void* p, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<HandshakeNotes*>(p);
}
int settingsIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, freeSettings);
  return index;
}
int notesIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, freeNotes);
  return index;
}

const TlsSettings* settingsOf(const SSL* ssl) {
  return static_cast<const TlsSettings*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), settingsIndex()));
}
const HandshakeNotes* notesOf(const SSL* ssl) {
  return static_cast<const HandshakeNotes*>(SSL_get_ex_data(ssl, notesIndex()));
}
HandshakeNotes* mutableNotes(SSL* ssl) {
  auto* notes = static_cast<HandshakeNotes*>(SSL_get_ex_data(ssl, notesIndex()));
  if (notes) return notes;
  auto fresh = std::make_unique<HandshakeNotes>();
  if (SSL_set_ex_data(ssl, notesIndex(), fresh.get()) != 1) return nullptr;
  return fresh.release();
}
void noteRefusal(SSL* ssl, std::string text) {
  auto* notes = mutableNotes(ssl);
  if (notes && notes->refusal.empty()) notes->refusal = std::move(text);
}

// Peer-chosen bytes go into log lines: keep them printable and short.
std::string printable(std::string_view text) {
  constexpr std::size_t kMax = 120;
  std::string out;
  for (char c : text.substr(0, kMax)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return text.size() > kMax ? out + "..." : out;
}

// Runs for each certificate of the peer's chain; records the first failure for the log line.
// The decision stays OpenSSL's (preverifyOk is returned unchanged).
int verifyPeer(int preverifyOk, X509_STORE_CTX* store) {
  if (preverifyOk) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const int err = X509_STORE_CTX_get_error(store);
  try {
    // Name the peer's own certificate (not whichever chain element failed) and who signed it.
    std::string text = "peer certificate";
    if (X509* leaf = X509_STORE_CTX_get0_cert(store)) {
      text += " '" + printable(describeName(X509_get_subject_name(leaf))) + "' issued by '" +
              printable(describeName(X509_get_issuer_name(leaf))) + "'";
    }
    text += std::string(" failed verification against the pool CA: ") +
            X509_verify_cert_error_string(err);
    if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
        err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
        err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
        err == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE) {
      text += " (not a node of this pool)";
    }
    if (ssl) noteRefusal(ssl, std::move(text));
  } catch (...) {  // never throw through OpenSSL; the refusal stands without its note
  }
  return 0;
}

SSL_SESSION* pskSession(SSL* ssl, const TlsSettings& settings) {
  const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, kPskCipherId);
  SSL_SESSION* session = cipher ? SSL_SESSION_new() : nullptr;
  if (session &&
      SSL_SESSION_set1_master_key(session,
                                  reinterpret_cast<const unsigned char*>(settings.key.data()),
                                  settings.key.size()) == 1 &&
      SSL_SESSION_set_cipher(session, cipher) == 1 &&
      SSL_SESSION_set_protocol_version(session, TLS1_3_VERSION) == 1) {
    return session;
  }
  SSL_SESSION_free(session);
  return nullptr;
}

// Client: offers the pool PSK under identity "ionet:<pool>".
int usePskSession(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* idLen,
                  SSL_SESSION** session) {
  *session = nullptr;
  const auto* settings = settingsOf(ssl);
  if (!settings) return 0;
  const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, kPskCipherId);
  if (!cipher) return 0;
  // After a HelloRetryRequest OpenSSL asks again with the chosen suite's hash; our PSK is bound to
  // SHA-256, so with another hash there is nothing to offer (and the handshake then fails).
  if (md && EVP_MD_get_type(md) != EVP_MD_get_type(SSL_CIPHER_get_handshake_digest(cipher))) {
    return 1;
  }
  *session = pskSession(ssl, *settings);
  if (!*session) return 0;
  *id = reinterpret_cast<const unsigned char*>(settings->identity.data());
  *idLen = settings->identity.size();
  return 1;
}

// Server: accepts only our pool's identity. Whether the peer holds the key is then decided by
// OpenSSL's binder check; without a session here the handshake fails (the server has no cert).
int findPskSession(SSL* ssl, const unsigned char* id, size_t idLen, SSL_SESSION** session) {
  *session = nullptr;
  const auto* settings = settingsOf(ssl);
  if (!settings) return 0;
  std::string_view offered(reinterpret_cast<const char*>(id), idLen);
  if (offered != settings->identity) {
    noteRefusal(ssl, "peer offered PSK identity '" + printable(offered) + "', ours is '" +
                         settings->identity + "' (not a node of this pool)");
    return 1;
  }
  *session = pskSession(ssl, *settings);
  return *session ? 1 : 0;
}

int addNodeName(SSL* ssl, unsigned, unsigned, const unsigned char** out, size_t* outLen, X509*,
                size_t, int*, void*) {
  const auto* settings = settingsOf(ssl);
  if (!settings || !settings->psk) return 0;  // 0: leave the extension out
  *out = reinterpret_cast<const unsigned char*>(settings->nodeName.data());
  *outLen = settings->nodeName.size();
  return 1;
}

int parseNodeName(SSL* ssl, unsigned, unsigned, const unsigned char* in, size_t inLen, X509*,
                  size_t, int* alert, void*) {
  std::string name(reinterpret_cast<const char*>(in), inLen);
  try {
    checkName(name, "peer node name");
    if (auto* notes = mutableNotes(ssl)) notes->peerName = std::move(name);
    return 1;
  } catch (const std::exception& e) {
    noteRefusal(ssl, printable(e.what()));
    *alert = SSL_AD_ILLEGAL_PARAMETER;
    return 0;
  }
}

void configurePsk(SSL_CTX* ctx, const Credentials& c, TlsRole role, TlsSettings& settings) {
  if (c.psk.size() < kMinPskBytes) {
    throw Error("pool PSK of '" + c.poolName + "' has " + std::to_string(c.psk.size()) +
                " bytes; at least " + std::to_string(kMinPskBytes) + " are required");
  }
  checkName(c.poolName, "pool name");
  checkName(c.nodeName, "node name");
  settings.psk = true;
  settings.key = c.psk;
  settings.identity = std::string(kPskIdentityPrefix) + c.poolName;
  settings.nodeName = c.nodeName;
  if (role == TlsRole::client) {
    SSL_CTX_set_psk_use_session_callback(ctx, usePskSession);
    // A server that answers with a certificate instead of the PSK meets an empty trust store.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verifyPeer);
  } else {
    SSL_CTX_set_psk_find_session_callback(ctx, findPskSession);
  }
  const unsigned where = SSL_EXT_TLS_ONLY | SSL_EXT_TLS1_3_ONLY | SSL_EXT_CLIENT_HELLO |
                         SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS;
  IONET_ENFORCE(SSL_CTX_add_custom_ext(ctx, kNodeNameExtension, where, addNodeName, nullptr,
                                       nullptr, parseNodeName, nullptr) == 1,
                "SSL_CTX_add_custom_ext: ", opensslErrors());
}

void configureCa(SSL_CTX* ctx, const Credentials& c, TlsRole role) {
  const std::filesystem::path caLabel = "pool CA certificate of '" + c.poolName + "'";
  const std::filesystem::path certLabel = "node certificate of '" + c.nodeName + "'";
  if (c.caCertPem.empty() || c.certPem.empty() || c.keyPem.empty()) {
    throw Error(certLabel.string() +
                ": credentials need a CA certificate, a node certificate and "
                "its key (or a PSK)");
  }
  auto ca = parseCertificate(c.caCertPem, caLabel);
  auto cert = parseCertificate(c.certPem, certLabel);
  auto key = parsePrivateKey(c.keyPem, "private key of '" + c.nodeName + "'");
  if (SSL_CTX_use_certificate(ctx, cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    throw Error(certLabel.string() + ": unusable with its key: " + opensslErrors());
  }
  // The pool CA is the only trust anchor: no system roots, so no public CA can vouch for a peer.
  IONET_ENFORCE(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca.get()) == 1,
                "X509_STORE_add_cert: ", opensslErrors());
  int mode = SSL_VERIFY_PEER;
  if (role == TlsRole::server) {
    mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    // Names the pool CA in the CertificateRequest (encrypted in TLS 1.3).
    IONET_ENFORCE(SSL_CTX_add_client_CA(ctx, ca.get()) == 1,
                  "SSL_CTX_add_client_CA: ", opensslErrors());
  }
  SSL_CTX_set_verify(ctx, mode, verifyPeer);
  // Send our certificate alone: every peer holds the pool CA already.
  SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
}

// OpenSSL 3.0 has no text for the alerts TLS 1.3 added.
std::string alertName(int alert) {
  switch (alert) {
    case SSL_AD_MISSING_EXTENSION:
      return "missing extension";
    case SSL_AD_UNKNOWN_PSK_IDENTITY:
      return "unknown PSK identity";
    case SSL_AD_CERTIFICATE_REQUIRED:
      return "certificate required";
    default:
      return SSL_alert_desc_string_long(alert);
  }
}

std::string explainAlert(int alert, bool psk) {
  const std::string name = "alert '" + alertName(alert) + "'";
  switch (alert) {
    case SSL_AD_HANDSHAKE_FAILURE:
      return psk ? "the peer refused us (" + name + "): it did not accept our pool PSK identity"
                 : "the peer refused us (" + name + "): no common TLS 1.3 parameters";
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_ACCESS_DENIED:
      return "the peer refused us (" + name +
             "): our certificate failed its verification (different pool CA, or expired)";
    case SSL_AD_DECRYPT_ERROR:
    case SSL_AD_ILLEGAL_PARAMETER:
      // OpenSSL answers a PSK binder that does not verify with illegal_parameter.
      return psk ? "the peer refused us (" + name + "): it holds a different key for this pool"
                 : "the peer refused us (" + name + "): it could not verify our handshake";
    case SSL_AD_PROTOCOL_VERSION:
      return "the peer refused us (" + name + "): ionet speaks TLS 1.3 only";
    case SSL_AD_CERTIFICATE_REQUIRED:
      return "the peer refused us (" + name + "): it requires a certificate and we sent none";
    default:
      return "the peer aborted the handshake (" + name + ")";
  }
}

std::string explainLocal(int reason, bool psk, const std::string& message) {
  switch (reason) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return "we refused the peer: its certificate failed verification against the pool CA";
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return "we refused the peer: it presented no certificate (not configured for this pool)";
    case SSL_R_UNSUPPORTED_PROTOCOL:
      return "we refused the peer: it does not offer TLS 1.3 (ionet has no fallback)";
    case SSL_R_BINDER_DOES_NOT_VERIFY:
      return "we refused the peer: its PSK binder does not verify (a different key for this pool)";
    case SSL_R_WRONG_VERSION_NUMBER:
      return "the peer does not speak TLS (a plain connection to a TLS port?)";
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
      if (psk) return "we refused the peer: it did not offer this pool's PSK (" + message + ")";
      [[fallthrough]];
    default:
      return "TLS handshake failed: " + message;
  }
}

}  // namespace

asio::ssl::context makeTlsContext(const Credentials& credentials, TlsRole role) {
  asio::ssl::context context(role == TlsRole::client ? asio::ssl::context::tls_client
                                                     : asio::ssl::context::tls_server);
  SSL_CTX* ctx = context.native_handle();
  auto settings = std::make_unique<TlsSettings>();
  const bool psk = credentials.usesPsk();
  // TLS 1.3 only: no downgrade to a version with weaker handshakes. No tickets and no session
  // cache: every connection authenticates in full (resumption would skip the certificate check).
  const bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 &&
                  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
                  SSL_CTX_set_ciphersuites(ctx, psk ? kPskSuites : kCaSuites) == 1 &&
                  SSL_CTX_set1_groups_list(ctx, kGroups) == 1 &&
                  SSL_CTX_set_num_tickets(ctx, 0) == 1;
  IONET_ENFORCE(ok, "configuring TLS 1.3: ", opensslErrors());
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Node certificates are signed by the pool CA directly (pathlen:0): no intermediates.
  SSL_CTX_set_verify_depth(ctx, 0);
  if (psk) {
    configurePsk(ctx, credentials, role, *settings);
  } else {
    configureCa(ctx, credentials, role);
    settings->nodeName = credentials.nodeName;
  }
  IONET_ENFORCE(SSL_CTX_set_ex_data(ctx, settingsIndex(), settings.get()) == 1,
                "SSL_CTX_set_ex_data: ", opensslErrors());
  settings.release();  // owned by ctx now (freeSettings)
  return context;
}

std::string authenticatedPeer(SSL* ssl) {
  const auto* settings = ssl ? settingsOf(ssl) : nullptr;
  if (!settings) throw Error("authenticatedPeer: stream not made from makeTlsContext");
  if (!SSL_is_init_finished(ssl)) throw Error("authenticatedPeer: TLS handshake not finished");
  if (settings->psk) {
    // "Reused" is how OpenSSL reports that the PSK was accepted: the peer proved the pool key.
    if (!SSL_session_reused(ssl)) throw Error("peer did not authenticate with the pool PSK");
    const auto* notes = notesOf(ssl);
    if (!notes || notes->peerName.empty()) {
      throw Error("peer holds the pool PSK but sent no node name (not an ionet node?)");
    }
    return notes->peerName;
  }
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) {
    throw Error("peer presented no verified pool certificate");
  }
  std::string name = commonName(cert);
  checkName(name, "peer certificate CN");
  return name;
}

std::string describeTlsFailure(SSL* ssl, const std::error_code& ec) {
  const auto* settings = ssl ? settingsOf(ssl) : nullptr;
  const bool psk = settings && settings->psk;
  const auto* notes = ssl ? notesOf(ssl) : nullptr;
  std::vector<std::string> parts;
  if (ec.category() == asio::error::get_ssl_category()) {
    const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
      parts.push_back(explainAlert(reason - SSL_AD_REASON_OFFSET, psk));
    } else if (notes && !notes->refusal.empty()) {
      // Our callbacks saw exactly what was refused (certificate or PSK identity): say that.
      parts.push_back("we refused the peer: " + notes->refusal);
    } else {
      parts.push_back(explainLocal(reason, psk, ec.message()));
      if (ssl && SSL_get_verify_result(ssl) != X509_V_OK) {
        parts.push_back(std::string("peer certificate verification: ") +
                        X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
      }
    }
  } else if (ec == asio::ssl::error::stream_truncated) {
    parts.push_back("the peer closed the connection during the TLS handshake");
  } else if (ec) {
    parts.push_back(ec.message());
  }
  if (ERR_peek_error() != 0) parts.push_back("OpenSSL: " + opensslErrors());
  std::string line;
  for (const auto& part : parts) line += (line.empty() ? "" : "; ") + part;
  return line.empty() ? "TLS handshake failed (no detail)" : line;
}

}  // namespace ionet::wan
