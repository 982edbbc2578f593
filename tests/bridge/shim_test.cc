// Unit tests of libionet-shim.so: shim_probe runs under LD_PRELOAD (or without it) against
// TestForwarders standing for two hosts, A = 100.64.0.1 and B = 100.64.0.2.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>

#include "command.h"
#include "ionet/bridge/shim_protocol.h"
#include "test_forwarder.h"

namespace ionet::test {
namespace {

using namespace std::chrono_literals;

const std::string kShim = IONET_SHIM_PATH;
const std::string kProbe = IONET_SHIM_PROBE;

std::vector<std::string> shimEnv(const std::string& forwarder, const std::string& vaddr) {
  return {"LD_PRELOAD=" + kShim,  "IONET_FORWARDER=" + forwarder,
          "IONET_VADDR=" + vaddr, "IONET_VNET=100.64.0.0/10",
          "IONET_VIF=ionet0",     "IONET_SHIM_DEBUG=1"};
}
std::vector<std::string> shimEnv(const TestForwarder& f, const std::string& vaddr) {
  return shimEnv(f.address(), vaddr);
}
// The shim loaded but not configured: it must change nothing.
std::vector<std::string> inactiveEnv() {
  return {"LD_PRELOAD=" + kShim, "IONET_FORWARDER=", "IONET_VADDR=100.64.0.3"};
}

CommandResult probe(std::vector<std::string> args, std::vector<std::string> env) {
  args.insert(args.begin(), kProbe);
  return run(args, env, "", 30s);
}

bool has(const std::string& out, const std::string& line) { return countLines(out, line) > 0; }

// The value after "key " on the first line starting with it ("" if none).
std::string field(const std::string& out, const std::string& key) {
  std::regex re("(^|\n)" + key + " ([^\n]*)");
  std::smatch m;
  return std::regex_search(out, m, re) ? m[2].str() : "";
}

// A port on which nothing listens.
uint16_t closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// The port an echo server probe listens on, once it has printed it.
std::string serverPort(Command& server) {
  std::string port;
  server.waitForOutput(
      [&](const std::string& o) {
        port = field(o, "listening");
        return !port.empty();
      },
      10s);
  return port;
}

TEST(ShimInterface, GetifaddrsListsVirtualInterfaceAndFreesIt) {
  TestForwarder hostA("100.64.0.1");
  CommandResult r = probe({"ifaddrs"}, shimEnv(hostA, "100.64.0.3"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(has(r.out, "ifaddr ionet0 100.64.0.3 255.192.0.0 up=1 loopback=0")) << r.out;
  EXPECT_TRUE(has(r.out, "ifaddr lo 127.0.0.1 255.0.0.0 up=1 loopback=1")) << r.out;
  // 2000 leaked nodes would be ~200 KB.
  EXPECT_LT(std::stol(field(r.out, "heap-growth")), 16 * 1024) << r.out;
}

TEST(ShimInterface, IoctlsAndIfNamesDescribeVirtualInterface) {
  TestForwarder hostA("100.64.0.1");
  CommandResult plain = probe({"ifconf", "ionet0"}, {});
  CommandResult r = probe({"ifconf", "ionet0"}, shimEnv(hostA, "100.64.0.3"));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::string needed = field(r.out, "ifconf-needed"),
              plainNeeded = field(plain.out, "ifconf-needed");
  int entries = std::stoi(needed.substr(needed.find("entries=") + 8));
  int plainEntries = std::stoi(plainNeeded.substr(plainNeeded.find("entries=") + 8));
  EXPECT_EQ(entries, plainEntries + 1) << r.out;
  EXPECT_TRUE(has(r.out, "ifconf ionet0 100.64.0.3")) << r.out;
  EXPECT_TRUE(has(r.out, "ifconf lo 127.0.0.1")) << r.out;
  // Full buffer: everything fits; one entry short: the real ones fit, the shim adds nothing.
  EXPECT_EQ(countContaining(r.out, "guard-intact 1"), 2) << r.out;
  std::regex given("ifconf-given (\\d+) returned (\\d+)");
  std::vector<std::pair<int, int>> calls;
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), given), end; it != end; ++it)
    calls.emplace_back(std::stoi((*it)[1]), std::stoi((*it)[2]));
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].first, calls[0].second);
  EXPECT_EQ(calls[1].first, calls[1].second);
  EXPECT_TRUE(has(r.out, "flags up=1 running=1 loopback=0")) << r.out;
  EXPECT_TRUE(has(r.out, "addr 100.64.0.3")) << r.out;
  EXPECT_TRUE(has(r.out, "netmask 255.192.0.0")) << r.out;
  EXPECT_TRUE(has(r.out, "broadcast 100.127.255.255")) << r.out;
  EXPECT_TRUE(has(r.out, "index 10000")) << r.out;
  EXPECT_TRUE(has(r.out, "mtu 65536")) << r.out;
  EXPECT_TRUE(has(r.out, "hwaddr zero=1")) << r.out;
  EXPECT_TRUE(has(r.out, "nametoindex 10000 indextoname ionet0")) << r.out;
  EXPECT_TRUE(has(r.out, "nameindex 10000 ionet0")) << r.out;
  EXPECT_TRUE(has(r.out, "nameindex 1 lo")) << r.out;
}

TEST(ShimInterface, AbsentWithoutForwarder) {
  CommandResult a = probe({"ifaddrs"}, inactiveEnv());
  CommandResult b = probe({"ifconf", "ionet0"}, inactiveEnv());
  EXPECT_EQ(countContaining(a.out, "ionet0"), 0) << a.out;
  EXPECT_TRUE(has(a.out, "ifaddr lo 127.0.0.1 255.0.0.0 up=1 loopback=1")) << a.out;
  EXPECT_EQ(countContaining(b.out, "ifconf ionet0"), 0) << b.out;
  EXPECT_TRUE(has(b.out, "nametoindex 0 indextoname (none)")) << b.out;
  EXPECT_TRUE(has(b.out, "flags error No such device")) << b.out;
}

TEST(ShimBind, VirtualAddressBindsLoopbackAndReportsVirtualName) {
  TestForwarder hostA("100.64.0.1");
  CommandResult v4 = probe({"bind", "100.64.0.3", "4"}, shimEnv(hostA, "100.64.0.3"));
  EXPECT_TRUE(has(v4.out, "bind rc=0 errno=0")) << v4.out;
  EXPECT_TRUE(std::regex_search(v4.out, std::regex("sockname 100\\.64\\.0\\.3:[1-9]\\d* len=16")))
      << v4.out;
  CommandResult v6 = probe({"bind", "100.64.0.3", "6"}, shimEnv(hostA, "100.64.0.3"));
  EXPECT_TRUE(has(v6.out, "bind rc=0 errno=0")) << v6.out;
  EXPECT_TRUE(
      std::regex_search(v6.out, std::regex("sockname ::ffff:100\\.64\\.0\\.3:[1-9]\\d* len=28")))
      << v6.out;
  // Without the shim configured the kernel refuses the address.
  CommandResult plain = probe({"bind", "100.64.0.3", "4"}, inactiveEnv());
  EXPECT_TRUE(has(plain.out, "bind rc=-1 errno=Cannot assign requested address")) << plain.out;
}

// A client on host A dials a server on host B; both ends see only virtual names.
void checkConnection(const std::string& serverBind, const std::string& family,
                     const std::string& mode) {
  TestForwarder hostA("100.64.0.1"), hostB("100.64.0.2");
  Command server({kProbe, "serve", serverBind, family, "1"}, shimEnv(hostB, "100.64.0.2"));
  std::string port = serverPort(server);
  ASSERT_FALSE(port.empty());
  CommandResult client =
      probe({"connect", "100.64.0.2", port, family, mode}, shimEnv(hostA, "100.64.0.1"));
  CommandResult served = server.wait(10s);
  std::string pre = family == "6" ? "::ffff:" : "";
  std::string len = family == "6" ? " len=28" : " len=16";
  ASSERT_TRUE(client.out.find("connect rc=0 errno=0") != std::string::npos)
      << client.out << client.err;
  EXPECT_TRUE(client.out.find("nonblock-kept=1") != std::string::npos) << client.out;
  std::string clientName = field(client.out, "sockname");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(clientName, m, std::regex(pre + "100\\.64\\.0\\.1:(\\d+)" + len)))
      << client.out;
  std::string clientPort = m[1];
  EXPECT_EQ(field(client.out, "peername"), pre + "100.64.0.2:" + port + len);
  EXPECT_TRUE(has(client.out, "echo ok")) << client.out;
  EXPECT_EQ(field(client.out, "dup-peername"), pre + "100.64.0.2:" + port + len);
  EXPECT_EQ(field(client.out, "dup2-peername"), pre + "100.64.0.2:" + port + len);
  EXPECT_TRUE(has(client.err, "ionet-shim: connect 100.64.0.2:" + port + " via forwarder: ok"))
      << client.err;
  // The accepting side: the virtual source, the port it really came from, its own vaddr.
  EXPECT_EQ(field(served.out, "accepted"), pre + "100.64.0.1:" + clientPort) << served.out;
  EXPECT_EQ(field(served.out, "peername"), pre + "100.64.0.1:" + clientPort + len);
  EXPECT_EQ(field(served.out, "sockname"), pre + "100.64.0.2:" + port + len);
  EXPECT_TRUE(has(served.err, "ionet-shim: accept 100.64.0.1:" + clientPort +
                                  " -> 100.64.0.2:" + port + " via forwarder: ok"))
      << served.err;
  EXPECT_EQ(hostA.connected(), 1);
  EXPECT_EQ(hostB.requests(), 0);
  EXPECT_GE(hostA.bytesCarried(), 2u << 20);  // 1 MiB each way
}

TEST(ShimConnect, BlockingThroughForwarderServerOnAnyAddress) {
  checkConnection("0.0.0.0", "4", "block");
}
TEST(ShimConnect, BlockingThroughForwarderServerOnVirtualAddress) {
  checkConnection("100.64.0.2", "4", "block");
}
TEST(ShimConnect, NonBlockingThroughForwarder) { checkConnection("0.0.0.0", "4", "nonblock"); }
TEST(ShimConnect, DualStackSocketsSeeMappedAddresses) { checkConnection("::", "6", "block"); }

TEST(ShimConnect, DirectPeersDialEachOtherWithoutTheForwarder) {
  // IONET_DIRECT (pool.direct_sites): each side knows the other's real address (here both are
  // this machine's 127.0.0.1). The client dials it and writes the preamble itself; the server,
  // listening on every address, takes it from a direct peer's source.
  TestForwarder hostA("100.64.0.1"), hostB("100.64.0.2");
  auto serverEnv = shimEnv(hostB, "100.64.0.2");
  serverEnv.push_back("IONET_DIRECT=100.64.0.1=127.0.0.1");
  auto clientEnv = shimEnv(hostA, "100.64.0.1");
  clientEnv.push_back("IONET_DIRECT=100.64.0.2=127.0.0.1,100.64.0.9=10.1.2.3");
  Command server({kProbe, "serve", "100.64.0.2", "4", "1"}, serverEnv);
  std::string port = serverPort(server);
  ASSERT_FALSE(port.empty());
  CommandResult client = probe({"connect", "100.64.0.2", port, "4", "nonblock"}, clientEnv);
  CommandResult served = server.wait(10s);
  ASSERT_NE(client.out.find("connect rc=0 errno=0"), std::string::npos) << client.out << client.err;
  EXPECT_TRUE(has(client.out, "echo ok")) << client.out;
  EXPECT_EQ(field(client.out, "peername"), "100.64.0.2:" + port + " len=16");
  EXPECT_TRUE(has(client.err, "ionet-shim: connect 100.64.0.2:" + port + " direct: ok"))
      << client.err;
  std::smatch m;
  const std::string clientName = field(client.out, "sockname");
  ASSERT_TRUE(std::regex_match(clientName, m, std::regex("100\\.64\\.0\\.1:(\\d+) len=16")))
      << client.out;
  EXPECT_EQ(field(served.out, "peername"), "100.64.0.1:" + std::string(m[1]) + " len=16");
  EXPECT_TRUE(has(served.err, "ionet-shim: accept 100.64.0.1:" + std::string(m[1]) +
                                  " -> 100.64.0.2:" + port + " direct: ok"))
      << served.err;
  EXPECT_EQ(hostA.connected(), 0);  // the forwarders carried nothing
  EXPECT_EQ(hostA.bytesCarried(), 0u);
  // A malformed list leaves every host to the forwarder, and says so.
  auto bad = shimEnv(hostA, "100.64.0.1");
  bad.push_back("IONET_DIRECT=100.64.0.2");
  CommandResult viaForwarder = probe({"connect", "100.64.0.2", port, "4", "block"}, bad);
  EXPECT_TRUE(has(viaForwarder.err,
                  "ionet-shim: bad IONET_DIRECT=100.64.0.2; every host goes through the forwarder"))
      << viaForwarder.err;
  EXPECT_TRUE(has(viaForwarder.err,
                  "ionet-shim: connect 100.64.0.2:" + port + " via forwarder: Connection refused"))
      << viaForwarder.err;
}

TEST(ShimConnect, RefusedByForwarderIsPromptEconnrefused) {
  TestForwarder hostA("100.64.0.1");
  hostA.refusePort(4242);
  for (const char* mode : {"block", "nonblock"}) {
    CommandResult r =
        probe({"connect", "100.64.0.2", "4242", "4", mode}, shimEnv(hostA, "100.64.0.1"));
    EXPECT_TRUE(r.out.find("connect rc=-1 errno=Connection refused") != std::string::npos)
        << mode << ": " << r.out;
    EXPECT_LT(r.seconds(), 3.0);
    EXPECT_TRUE(has(r.err, "ionet-shim: connect 100.64.0.2:4242 via forwarder: Connection refused"))
        << r.err;
  }
  EXPECT_EQ(hostA.requests(), 2);
  EXPECT_EQ(hostA.connected(), 0);
}

TEST(ShimConnect, NobodyListeningAtDestinationIsEconnrefused) {
  TestForwarder hostA("100.64.0.1");
  CommandResult r = probe({"connect", "100.64.0.2", std::to_string(closedPort()), "4", "block"},
                          shimEnv(hostA, "100.64.0.1"));
  EXPECT_TRUE(r.out.find("connect rc=-1 errno=Connection refused") != std::string::npos) << r.out;
  EXPECT_EQ(hostA.requests(), 1);
}

TEST(ShimConnect, UnreachableForwarderIsPromptEconnrefused) {
  std::string nowhere = "127.0.0.1:" + std::to_string(closedPort());
  CommandResult r =
      probe({"connect", "100.64.0.2", "5000", "4", "nonblock"}, shimEnv(nowhere, "100.64.0.1"));
  EXPECT_TRUE(r.out.find("connect rc=-1 errno=Connection refused") != std::string::npos) << r.out;
  EXPECT_LT(r.seconds(), 3.0);
}

TEST(ShimConnect, LoopbackIsUntouched) {
  TestForwarder hostA("100.64.0.1"), hostB("100.64.0.2");
  Command server({kProbe, "serve", "127.0.0.1", "4", "1"}, shimEnv(hostB, "100.64.0.2"));
  std::string port = serverPort(server);
  CommandResult client =
      probe({"connect", "127.0.0.1", port, "4", "block"}, shimEnv(hostA, "100.64.0.1"));
  CommandResult served = server.wait(10s);
  EXPECT_TRUE(has(client.out, "echo ok")) << client.out;
  EXPECT_EQ(field(client.out, "peername"), "127.0.0.1:" + port + " len=16");
  EXPECT_TRUE(field(client.out, "sockname").rfind("127.0.0.1:", 0) == 0) << client.out;
  EXPECT_TRUE(field(served.out, "accepted").rfind("127.0.0.1:", 0) == 0) << served.out;
  EXPECT_EQ(hostA.requests() + hostB.requests(), 0);
}

TEST(ShimConnect, UdpIsUntouched) {
  TestForwarder hostA("100.64.0.1");
  CommandResult r = probe({"udp", "100.64.0.2", "53"}, shimEnv(hostA, "100.64.0.1"));
  // The kernel's own UDP connect: it succeeds by route (or fails for lack of one), never
  // through the forwarder.
  if (has(r.out, "udp-connect rc=0 errno=0")) {
    EXPECT_EQ(field(r.out, "peername"), "100.64.0.2:53 len=16") << r.out;
  }
  EXPECT_EQ(hostA.requests(), 0);
}

TEST(ShimConnect, UntouchedWithoutForwarder) {
  TestForwarder hostB("100.64.0.2");
  Command server({kProbe, "serve", "0.0.0.0", "4", "1"}, shimEnv(hostB, "100.64.0.2"));
  std::string port = serverPort(server);
  CommandResult r = probe({"connect", "100.64.0.2", port, "4", "nonblock"}, inactiveEnv());
  EXPECT_TRUE(r.out.find("connect rc=-1") != std::string::npos) << r.out;
  EXPECT_EQ(hostB.requests(), 0);
  server.signal(SIGKILL);
}

// Connections from the forwarder source with a bad or short preamble are dropped with
// ECONNABORTED; the listener keeps working.
TEST(ShimAccept, BadPreambleIsConnectionAborted) {
  TestForwarder hostA("100.64.0.1"), hostB("100.64.0.2");
  Command server({kProbe, "serve", "0.0.0.0", "4", "3"}, shimEnv(hostB, "100.64.0.2"));
  std::string port = serverPort(server);
  for (const std::string& junk : {std::string("XXXXXXXXXXXXXXXX"), std::string("IOA1")}) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in src{}, dst{};
    src.sin_family = dst.sin_family = AF_INET;
    inet_pton(AF_INET, IONET_FORWARDER_SOURCE, &src.sin_addr);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dst.sin_port = htons(static_cast<uint16_t>(std::stoi(port)));
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src), 0);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst), 0);
    ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
    ::shutdown(fd, SHUT_WR);  // the short one ends early instead of waiting out the timeout
    char c;
    EXPECT_LE(::read(fd, &c, 1), 0);  // closed by the shim
    ::close(fd);
  }
  CommandResult client =
      probe({"connect", "100.64.0.2", port, "4", "block"}, shimEnv(hostA, "100.64.0.1"));
  CommandResult served = server.wait(10s);
  EXPECT_EQ(countLines(served.out, "accept error Software caused connection abort"), 2)
      << served.out;
  EXPECT_TRUE(has(client.out, "echo ok")) << client.out;
  EXPECT_TRUE(field(served.out, "accepted").rfind("100.64.0.1:", 0) == 0) << served.out;
}

}  // namespace
}  // namespace ionet::test
