// Pool credentials end to end: generated files and the checks made when loading them, then real
// TLS 1.3 handshakes over loopback TCP (same pool, another pool, no certificate, TLS 1.2, PSK) and
// a wire capture showing that application data does not cross in clear.
#include "ionet/wan/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "ionet/error.h"

namespace ionet::wan {
namespace {

namespace fs = std::filesystem;
using asio::ip::tcp;
using TlsStream = asio::ssl::stream<tcp::socket>;
using namespace std::chrono_literals;

constexpr auto kDeadline = 10s;
constexpr char kMarker[] = "IONET-PLAINTEXT-MARKER";

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void spit(const fs::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
}

unsigned modeOf(const fs::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 ? (st.st_mode & 07777) : ~0u;
}

// Message of the ionet::Error that fn throws ("" and a test failure if it throws none).
template <typename Fn>
std::string errorOf(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an ionet::Error";
  return "";
}

// authenticatedPeer, or the error it threw (contexts made outside makeTlsContext have no peer).
std::string peerOf(SSL* ssl) {
  try {
    return authenticatedPeer(ssl);
  } catch (const Error& e) {
    return std::string("error: ") + e.what();
  }
}

// What one connection attempt looked like from both ends (and on the wire, if recorded).
struct Outcome {
  bool finished = false;                    // both ends concluded before the deadline
  bool clientOk = false, serverOk = false;  // handshake done and not refused afterwards
  std::string clientPeer, serverPeer;       // authenticatedPeer() at each end
  std::string clientFailure, serverFailure;
  std::string received;  // application bytes that reached the server
  std::string wire;      // every byte the forwarder carried, both directions
};

// One TLS client/server exchange on loopback TCP, optionally through a plain TCP forwarder that
// records the bytes. The server sends one byte after its handshake: in TLS 1.3 the client's
// handshake ends before the server has judged the client's certificate, and that byte (or an
// alert in its place) is the server's verdict. Then the client sends the payload, if any.
class Exchange {
 public:
  Exchange(asio::ssl::context& clientContext, asio::ssl::context& serverContext)
      : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
        server_(io_, serverContext),
        client_(io_, clientContext) {}

  Outcome run(std::string payload = "", bool recordWire = false) {
    payload_ = std::move(payload);
    acceptor_.async_accept(server_.next_layer(), [this](std::error_code ec) {
      if (ec) return serverDone("accept: " + ec.message());
      server_.async_handshake(TlsStream::server, [this](std::error_code ec) { onServer(ec); });
    });
    tcp::endpoint target = acceptor_.local_endpoint();
    if (recordWire) target = startForwarder(target);
    client_.next_layer().async_connect(target, [this](std::error_code ec) {
      if (ec) return clientDone("connect: " + ec.message());
      client_.async_handshake(TlsStream::client, [this](std::error_code ec) { onClient(ec); });
    });
    io_.run_for(kDeadline);
    outcome_.finished = clientDone_ && serverDone_;
    return outcome_;
  }

 private:
  void onServer(std::error_code ec) {
    if (ec) return serverDone(describeTlsFailure(server_.native_handle(), ec));
    outcome_.serverOk = true;
    outcome_.serverPeer = peerOf(server_.native_handle());
    asio::async_write(server_, asio::buffer("!", 1), [this](std::error_code ec, std::size_t) {
      if (ec || payload_.empty()) return serverDone(ec ? "write: " + ec.message() : "");
      inbox_.resize(payload_.size());
      asio::async_read(server_, asio::buffer(inbox_), [this](std::error_code ec, std::size_t n) {
        outcome_.received = inbox_.substr(0, n);
        serverDone(ec ? "read: " + ec.message() : "");
      });
    });
  }

  void onClient(std::error_code ec) {
    if (ec) return clientDone(describeTlsFailure(client_.native_handle(), ec));
    outcome_.clientPeer = peerOf(client_.native_handle());
    asio::async_read(client_, asio::buffer(verdict_), [this](std::error_code ec, std::size_t) {
      if (ec) return clientDone(describeTlsFailure(client_.native_handle(), ec));
      outcome_.clientOk = true;
      if (payload_.empty()) return clientDone("");
      asio::async_write(client_, asio::buffer(payload_), [this](std::error_code ec, std::size_t) {
        clientDone(ec ? "write: " + ec.message() : "");
      });
    });
  }

  void serverDone(std::string failure) {
    outcome_.serverFailure = std::move(failure);
    serverDone_ = true;
    if (!outcome_.serverFailure.empty()) server_.lowest_layer().close();
    if (clientDone_) io_.stop();
  }

  void clientDone(std::string failure) {
    outcome_.clientFailure = std::move(failure);
    clientDone_ = true;
    if (!outcome_.clientFailure.empty()) client_.lowest_layer().close();
    if (serverDone_) io_.stop();
  }

  tcp::endpoint startForwarder(tcp::endpoint server) {
    forwardAcceptor_.open(tcp::v4());
    forwardAcceptor_.bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    forwardAcceptor_.listen();
    forwardAcceptor_.async_accept(fromClient_, [this, server](std::error_code ec) {
      if (ec) return;
      toServer_.async_connect(server, [this](std::error_code ec) {
        if (ec) return fromClient_.close();
        pump(fromClient_, toServer_, up_);
        pump(toServer_, fromClient_, down_);
      });
    });
    return forwardAcceptor_.local_endpoint();
  }

  void pump(tcp::socket& from, tcp::socket& to, std::array<char, 4096>& buffer) {
    from.async_read_some(asio::buffer(buffer), [&](std::error_code ec, std::size_t n) {
      std::error_code ignored;
      if (ec) return (void)to.shutdown(tcp::socket::shutdown_send, ignored);
      outcome_.wire.append(buffer.data(), n);
      asio::async_write(to, asio::buffer(buffer.data(), n), [&](std::error_code ec, std::size_t) {
        if (!ec) pump(from, to, buffer);
      });
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  TlsStream server_, client_;
  tcp::acceptor forwardAcceptor_{io_};
  tcp::socket fromClient_{io_}, toServer_{io_};
  std::array<char, 4096> up_{}, down_{};
  std::array<char, 1> verdict_{};
  std::string payload_, inbox_;
  bool clientDone_ = false, serverDone_ = false;
  Outcome outcome_;
};

Outcome exchange(const Credentials& client, const Credentials& server, std::string payload = "",
                 bool recordWire = false) {
  auto clientContext = makeTlsContext(client, TlsRole::client);
  auto serverContext = makeTlsContext(server, TlsRole::server);
  return Exchange(clientContext, serverContext).run(std::move(payload), recordWire);
}

// Shows what an operator would read in the log for a refusal.
void show(const char* label, const Outcome& o) {
  std::cout << "  [" << label << "] client: " << o.clientFailure << "\n  [" << label
            << "] server: " << o.serverFailure << "\n";
}

// Two pools: "alpha" (CA, node-a, node-b, two different PSKs) and "beta" (CA, node-x, PSK).
class CredentialsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::random_device random;
    do {
      root_ = fs::temp_directory_path() / ("ionet-credentials-test-" + std::to_string(::getpid()) +
                                           "-" + std::to_string(random()));
    } while (!fs::create_directory(root_));
    generatePoolCa(root_ / "alpha-ca", "alpha");
    issueNodeCertificate(root_ / "alpha-ca", root_ / "node-a", "node-a");
    issueNodeCertificate(root_ / "alpha-ca", root_ / "node-b", "node-b");
    generatePoolCa(root_ / "beta-ca", "beta");
    issueNodeCertificate(root_ / "beta-ca", root_ / "node-x", "node-x");
    generatePoolPsk(root_ / "alpha.psk", "alpha");
    generatePoolPsk(root_ / "alpha-other.psk", "alpha");
    generatePoolPsk(root_ / "beta.psk", "beta");
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // A copy of a node directory that a test may damage.
  static fs::path copyOf(const std::string& node, const std::string& name) {
    const fs::path dir = root_ / name;
    fs::copy(root_ / node, dir, fs::copy_options::recursive);
    return dir;
  }

  static inline fs::path root_;
};

TEST_F(CredentialsTest, GeneratedFilesLoadWithPrivateKeys) {
  EXPECT_EQ(modeOf(root_ / "alpha-ca" / "ca.key"), 0600u);
  EXPECT_EQ(modeOf(root_ / "node-a" / "node.key"), 0600u);
  EXPECT_EQ(modeOf(root_ / "alpha.psk"), 0600u);
  EXPECT_EQ(slurp(root_ / "node-a" / "ca.pem"), slurp(root_ / "alpha-ca" / "ca.pem"));

  auto a = Credentials::loadDir(root_ / "node-a");
  EXPECT_EQ(a.poolName, "alpha");
  EXPECT_EQ(a.nodeName, "node-a");
  EXPECT_FALSE(a.usesPsk());

  auto psk = Credentials::loadPskFile(root_ / "alpha.psk", "node-a");
  EXPECT_TRUE(psk.usesPsk());
  EXPECT_EQ(psk.poolName, "alpha");
  EXPECT_EQ(psk.psk.size(), 32u);
  EXPECT_NE(psk.psk, Credentials::loadPskFile(root_ / "alpha-other.psk", "node-a").psk);
}

TEST_F(CredentialsTest, RefusesToReplaceAPoolSecret) {
  EXPECT_CONTAINS(errorOf([] { generatePoolCa(root_ / "alpha-ca", "alpha"); }), "already exists");
  EXPECT_CONTAINS(errorOf([] { generatePoolPsk(root_ / "alpha.psk", "alpha"); }), "already exists");
  EXPECT_CONTAINS(errorOf([] { generatePoolCa(root_ / "bad", "no spaces"); }), "pool name");
}

TEST_F(CredentialsTest, LoadErrorsNameTheFile) {
  const fs::path missing = copyOf("node-a", "missing-key");
  fs::remove(missing / "node.key");
  std::string e = errorOf([&] { Credentials::loadDir(missing); });
  EXPECT_CONTAINS(e, "node.key");
  EXPECT_CONTAINS(e, "missing");

  // Flip one base64 character in the middle of the certificate body.
  const fs::path tampered = copyOf("node-a", "tampered");
  std::string pem = slurp(tampered / "node.pem");
  std::size_t at = pem.size() / 2;
  while (pem[at] == '\n') ++at;
  pem[at] = pem[at] == 'A' ? 'B' : 'A';
  spit(tampered / "node.pem", pem);
  e = errorOf([&] { Credentials::loadDir(tampered); });
  EXPECT_CONTAINS(e, (tampered / "node.pem").string());

  const fs::path otherPool = copyOf("node-a", "other-pool");
  fs::copy_file(root_ / "beta-ca" / "ca.pem", otherPool / "ca.pem",
                fs::copy_options::overwrite_existing);
  e = errorOf([&] { Credentials::loadDir(otherPool); });
  EXPECT_CONTAINS(e, "node.pem: not signed by the pool CA");

  const fs::path otherKey = copyOf("node-a", "other-key");
  fs::copy_file(root_ / "node-b" / "node.key", otherKey / "node.key",
                fs::copy_options::overwrite_existing);
  EXPECT_CONTAINS(errorOf([&] { Credentials::loadDir(otherKey); }), "node.key: is not the key");

  spit(root_ / "bad.psk", "ionet-psk-v1 alpha 00ff\n");
  ::chmod((root_ / "bad.psk").c_str(), 0600);
  EXPECT_CONTAINS(errorOf([&] { Credentials::loadPskFile(root_ / "bad.psk", "n"); }), "bad.psk");
}

// Policy: a key any user can read is refused; a group-readable key loads with a warning.
TEST_F(CredentialsTest, KeyPermissionsAreChecked) {
  const fs::path dir = copyOf("node-a", "loose-key");
  ASSERT_EQ(::chmod((dir / "node.key").c_str(), 0644), 0);
  std::string e = errorOf([&] { Credentials::loadDir(dir); });
  EXPECT_CONTAINS(e, "node.key: mode 0644");
  EXPECT_CONTAINS(e, "chmod 600");
  ASSERT_EQ(::chmod((dir / "node.key").c_str(), 0640), 0);
  EXPECT_EQ(Credentials::loadDir(dir).nodeName, "node-a");
}

TEST_F(CredentialsTest, SamePoolAuthenticatesBothEnds) {
  auto o = exchange(Credentials::loadDir(root_ / "node-a"), Credentials::loadDir(root_ / "node-b"));
  ASSERT_TRUE(o.finished);
  EXPECT_TRUE(o.clientOk) << o.clientFailure;
  EXPECT_TRUE(o.serverOk) << o.serverFailure;
  EXPECT_EQ(o.clientPeer, "node-b");
  EXPECT_EQ(o.serverPeer, "node-a");
}

TEST_F(CredentialsTest, NodeOfAnotherPoolIsRefusedOnBothSides) {
  const auto alpha = Credentials::loadDir(root_ / "node-a");
  const auto beta = Credentials::loadDir(root_ / "node-x");
  for (auto [client, server] : {std::pair{&beta, &alpha}, std::pair{&alpha, &beta}}) {
    auto o = exchange(*client, *server);
    show("other pool", o);
    ASSERT_TRUE(o.finished);
    EXPECT_FALSE(o.clientOk);
    EXPECT_FALSE(o.serverOk);
    EXPECT_CONTAINS(o.clientFailure, "verification");
    EXPECT_CONTAINS(o.serverFailure, "verification");
  }
}

TEST_F(CredentialsTest, ClientWithoutCertificateIsRefused) {
  asio::ssl::context anonymous(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(anonymous.native_handle(), TLS1_3_VERSION);
  anonymous.add_certificate_authority(asio::buffer(slurp(root_ / "node-a" / "ca.pem")));
  anonymous.set_verify_mode(asio::ssl::verify_peer);
  auto server = makeTlsContext(Credentials::loadDir(root_ / "node-b"), TlsRole::server);
  auto o = Exchange(anonymous, server).run();
  show("no certificate", o);
  ASSERT_TRUE(o.finished);
  EXPECT_FALSE(o.serverOk);
  EXPECT_FALSE(o.clientOk);
  EXPECT_CONTAINS(o.serverFailure, "presented no certificate");
  // TLS 1.3: the client finished its handshake, and learns of the refusal on its first read.
  EXPECT_CONTAINS(o.clientFailure, "requires a certificate");
}

TEST_F(CredentialsTest, Tls12ClientIsRefused) {
  const auto a = Credentials::loadDir(root_ / "node-a");
  asio::ssl::context old(asio::ssl::context::tlsv12_client);
  old.use_certificate_chain(asio::buffer(a.certPem));
  old.use_private_key(asio::buffer(a.keyPem), asio::ssl::context::pem);
  old.add_certificate_authority(asio::buffer(a.caCertPem));
  old.set_verify_mode(asio::ssl::verify_peer);
  auto server = makeTlsContext(Credentials::loadDir(root_ / "node-b"), TlsRole::server);
  auto o = Exchange(old, server).run();
  show("TLS 1.2", o);
  ASSERT_TRUE(o.finished);
  EXPECT_FALSE(o.serverOk);
  EXPECT_FALSE(o.clientOk);
  EXPECT_CONTAINS(o.serverFailure, "TLS 1.3");
}

TEST_F(CredentialsTest, PskSameKeyAuthenticatesBothEnds) {
  auto o = exchange(Credentials::loadPskFile(root_ / "alpha.psk", "node-a"),
                    Credentials::loadPskFile(root_ / "alpha.psk", "node-b"));
  ASSERT_TRUE(o.finished);
  EXPECT_TRUE(o.clientOk) << o.clientFailure;
  EXPECT_TRUE(o.serverOk) << o.serverFailure;
  EXPECT_EQ(o.clientPeer, "node-b");
  EXPECT_EQ(o.serverPeer, "node-a");
}

TEST_F(CredentialsTest, PskWithoutThePoolKeyIsRefused) {
  auto o = exchange(Credentials::loadPskFile(root_ / "alpha-other.psk", "intruder"),
                    Credentials::loadPskFile(root_ / "alpha.psk", "node-b"));
  show("other key", o);
  ASSERT_TRUE(o.finished);
  EXPECT_FALSE(o.clientOk);
  EXPECT_FALSE(o.serverOk);
  EXPECT_CONTAINS(o.serverFailure, "different key");
  EXPECT_CONTAINS(o.clientFailure, "different key");

  o = exchange(Credentials::loadPskFile(root_ / "beta.psk", "node-x"),
               Credentials::loadPskFile(root_ / "alpha.psk", "node-b"));
  show("other pool PSK", o);
  ASSERT_TRUE(o.finished);
  EXPECT_FALSE(o.clientOk);
  EXPECT_FALSE(o.serverOk);
  EXPECT_CONTAINS(o.serverFailure, "PSK identity 'ionet:beta'");
}

// A recording forwarder sits between the ends: the marker must reach the server intact and never
// appear on the wire. With certificates, TLS 1.3 also hides the node names.
TEST_F(CredentialsTest, ApplicationDataIsEncryptedOnTheWire) {
  std::string payload;
  while (payload.size() < (64u << 10)) payload += std::string(kMarker) + " job data ";
  const std::pair<Credentials, Credentials> modes[] = {
      {Credentials::loadDir(root_ / "node-a"), Credentials::loadDir(root_ / "node-b")},
      {Credentials::loadPskFile(root_ / "alpha.psk", "node-a"),
       Credentials::loadPskFile(root_ / "alpha.psk", "node-b")}};
  for (const auto& [client, server] : modes) {
    auto o = exchange(client, server, payload, /*recordWire=*/true);
    ASSERT_TRUE(o.finished);
    EXPECT_TRUE(o.clientOk && o.serverOk) << o.clientFailure << " / " << o.serverFailure;
    EXPECT_EQ(o.received, payload);
    EXPECT_GT(o.wire.size(), payload.size());
    EXPECT_EQ(o.wire.find(kMarker), std::string::npos);
    EXPECT_EQ(o.wire.find("job data"), std::string::npos);
    if (!client.usesPsk()) {
      EXPECT_EQ(o.wire.find("node-a"), std::string::npos);
      EXPECT_EQ(o.wire.find("node-b"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace ionet::wan
