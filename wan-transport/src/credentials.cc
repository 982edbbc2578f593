// Loading a node's credentials (a pool CA directory or a pool PSK file) and checking them before
// any peer sees them, so a bad file fails at startup with its name rather than as a refused
// handshake on some remote host.
#include "ionet/wan/credentials.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <ctime>
#include <sstream>

#include "ionet/error.h"
#include "ionet/log.h"
#include "src/credential_files.h"

namespace ionet::wan {
namespace fs = std::filesystem;
using namespace detail;

namespace {

constexpr std::string_view kPskMagic = "ionet-psk-v1";
constexpr std::size_t kMinPskBytes = 32;
// Warn this long before a node certificate expires, so it is re-issued before nodes drop out.
constexpr long kExpiryWarningSeconds = 30L * 24 * 3600;

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Secrets are wiped from temporaries once copied where they belong.
void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

}  // namespace

bool Credentials::usesPsk() const { return !psk.empty(); }

Credentials Credentials::loadDir(const fs::path& dir) {
  const fs::path caFile = dir / "ca.pem", certFile = dir / "node.pem", keyFile = dir / "node.key";
  const std::string hint =
      "create the directory with ionet-agent --issue-cert NODE --ca CADIR --out " + dir.string();
  Credentials c;
  c.caCertPem = readFile(caFile, hint);
  c.certPem = readFile(certFile, hint);
  c.keyPem = readFile(keyFile, hint);
  checkSecretFileMode(keyFile);

  auto ca = parseCertificate(c.caCertPem, caFile);
  c.poolName = poolNameOfCa(ca.get(), caFile);
  auto cert = parseCertificate(c.certPem, certFile);
  checkIssuedBy(cert.get(), ca.get(), certFile, caFile);
  c.nodeName = commonName(cert.get());
  checkName(c.nodeName, certFile.string() + ": node name (certificate CN)");

  auto key = parsePrivateKey(c.keyPem, keyFile);
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    throw Error(keyFile.string() + ": is not the key of " + certFile.string() +
                " (files from different issues?)");
  }

  std::time_t soon = std::time(nullptr) + kExpiryWarningSeconds;
  if (X509_cmp_time(X509_get0_notAfter(cert.get()), &soon) < 0) {
    log::warn(certFile.string(),
              ": expires within 30 days; re-issue it with ionet-agent --issue-cert");
  }
  return c;
}

Credentials Credentials::loadPskFile(const fs::path& file, std::string nodeName) {
  checkName(nodeName, "node name");
  std::string text = readFile(file, "create it with ionet-agent --gen-psk FILE --pool NAME");
  checkSecretFileMode(file);

  // The first line that is neither blank nor a comment holds "ionet-psk-v1 <pool> <hex key>".
  std::istringstream lines(text);
  std::string line, magic, pool, hex, extra;
  while (std::getline(lines, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos && line[first] != '#') break;
    line.clear();
  }
  std::istringstream fields(line);
  fields >> magic >> pool >> hex;
  const bool wellFormed = magic == kPskMagic && !hex.empty() && !(fields >> extra);
  wipe(text);
  wipe(line);
  if (!wellFormed) {
    wipe(hex);
    throw Error(file.string() + ": not an ionet pool PSK file (expected one line '" +
                std::string(kPskMagic) + " <pool> <hex key>')");
  }
  checkName(pool, file.string() + ": pool name");

  Credentials c;
  c.poolName = pool;
  c.nodeName = std::move(nodeName);
  bool hexOk = hex.size() % 2 == 0;
  for (std::size_t i = 0; hexOk && i < hex.size(); i += 2) {
    const int hi = hexDigit(hex[i]), lo = hexDigit(hex[i + 1]);
    hexOk = hi >= 0 && lo >= 0;
    c.psk.push_back(static_cast<char>(hi * 16 + lo));
  }
  wipe(hex);
  if (!hexOk) {
    wipe(c.psk);
    throw Error(file.string() + ": the key is not an even number of hex digits");
  }
  if (c.psk.size() < kMinPskBytes) {
    const auto n = c.psk.size();
    wipe(c.psk);
    throw Error(file.string() + ": the key has " + std::to_string(n) + " bytes; at least " +
                std::to_string(kMinPskBytes) + " are required");
  }
  return c;
}

}  // namespace ionet::wan
