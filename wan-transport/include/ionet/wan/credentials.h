// Pool credentials and the TLS 1.3 contexts built from them: what a node proves itself with, how
// those files are made (ionet-agent --gen-ca / --issue-cert / --gen-psk), and how a handshake
// failure is explained in one log line. Trust model and file layout: docs/security.md.
#pragma once

#include <openssl/ssl.h>

#include <asio/ssl.hpp>
#include <filesystem>
#include <string>
#include <system_error>

namespace ionet::wan {

// What a node proves itself with: a pool CA + this node's certificate and key, or a pool PSK.
// All loaders throw ionet::Error with one line naming the file and what is wrong with it.
struct Credentials {
  std::string poolName;         // from the CA's subject (CN "ionet pool <name>") or the PSK file
  std::string caCertPem;        // CA mode
  std::string certPem, keyPem;  // CA mode: this node's cert (CN = node name) and private key
  std::string psk;              // PSK mode: raw key bytes (>= 32 bytes)
  std::string nodeName;         // CA mode: CN of our cert; PSK mode: chosen by caller

  bool usesPsk() const;

  // Reads DIR/ca.pem, DIR/node.pem and DIR/node.key and checks them against each other: the node
  // certificate must be signed by ca.pem, currently valid, and match node.key. A key file any
  // other user can access is refused; a group-accessible one is accepted with a warning.
  static Credentials loadDir(const std::filesystem::path& dir);

  // Reads a file written by generatePoolPsk (same permission policy as node.key).
  static Credentials loadPskFile(const std::filesystem::path& file, std::string nodeName);
};

// Writes DIR/ca.pem and DIR/ca.key (0600) for a new pool CA. Ed25519 keys: every ionet peer is
// OpenSSL 3, so interoperability with P-256-only stacks buys nothing, while Ed25519 signatures are
// deterministic (no per-signature nonce to get wrong) and keys are small and fast. Refuses to
// overwrite an existing ca.key: a new CA silently splits the pool in two.
void generatePoolCa(const std::filesystem::path& dir, const std::string& poolName,
                    int validDays = 3650);

// Issues a node certificate signed by the pool CA in caDir: writes outDir/ca.pem (copy), node.pem,
// node.key (0600). SAN (DNS) and CN = nodeName; client+server auth EKU, so one certificate serves
// a node both when it dials and when it listens. Re-issuing for a node replaces its files.
void issueNodeCertificate(const std::filesystem::path& caDir, const std::filesystem::path& outDir,
                          const std::string& nodeName, int validDays = 825);

// Writes a new random 32-byte pool PSK as one line "ionet-psk-v1 <pool> <64 hex digits>", mode
// 0600. Refuses to overwrite an existing file, for the same reason as generatePoolCa.
void generatePoolPsk(const std::filesystem::path& file, const std::string& poolName);

enum class TlsRole { client, server };

// A TLS 1.3-only context (no fallback) with mutual authentication.
// CA mode: our certificate and key; the peer's chain must verify against the pool CA alone (no
// system roots, no intermediates); the server requires a client certificate. Any node of the pool
// is accepted: callers that expect a particular node compare authenticatedPeer() with it.
// PSK mode: TLS 1.3 external PSK with (EC)DHE (forward secrecy), identity "ionet:" + poolName,
// no certificates; a peer without the key fails the handshake. Node names travel in a private
// extension (client: ClientHello, in clear; server: EncryptedExtensions).
// Note (TLS 1.3): a client's handshake completes before the server has checked the client's
// certificate; a refused client learns of it on its first read (an alert), never later.
asio::ssl::context makeTlsContext(const Credentials& credentials, TlsRole role);

// After a successful handshake on a stream made from makeTlsContext: the peer's authenticated node
// name (CN of its verified certificate in CA mode; in PSK mode the name the peer sent, which is
// only pool-level authenticated: any holder of the pool key can claim any name). Throws
// ionet::Error if the peer is not authenticated.
std::string authenticatedPeer(SSL* ssl);

// One line describing why a handshake failed (what we or the peer refused and why: OpenSSL error
// queue, verify result, the offending certificate or PSK identity), for logs. Call it from the
// failed operation's handler, before other TLS work on this thread.
std::string describeTlsFailure(SSL* ssl, const std::error_code& ec);

}  // namespace ionet::wan
