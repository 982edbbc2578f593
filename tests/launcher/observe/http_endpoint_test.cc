// The HTTP listener against real sockets: what it serves, and bad clients (garbage, a 1 MiB
// header, a request that never finishes) that must not stop it serving others.
#include "observe/http_endpoint.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "ionet/error.h"

namespace ionet::observe {
namespace {

using namespace std::chrono_literals;

int connectTo(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

void sendAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early on a bad request
    done += static_cast<std::size_t>(n);
  }
}

// A whole response: its head and Content-Length bytes of body.
bool responseComplete(const std::string& out) {
  const auto head = out.find("\r\n\r\n");
  if (head == std::string::npos) return false;
  const auto length = out.find("Content-Length: ");
  if (length == std::string::npos || length > head) return true;
  return out.size() - head - 4 >= std::stoul(out.substr(length + 16));
}

// Everything the server sends (one response) until it closes or `timeout` passes.
std::string readReply(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (responseComplete(out)) break;
  }
  return out;
}

std::string get(std::uint16_t port, const std::string& path) {
  const int fd = connectTo(port);
  sendAll(fd, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string reply = readReply(fd, 5s);
  ::close(fd);
  return reply;
}

HttpEndpoint serveHello() {
  return HttpEndpoint(
      {"127.0.0.1", 0},
      {{"/metrics",
        [](const HttpQuery&) {
          return HttpResponse{200, "text/plain", "ionet_up 1\n"};
        }},
       {"/boom", [](const HttpQuery&) -> HttpResponse { throw Error("no snapshot yet"); }}});
}

TEST(ListenAddress, PortAloneListensOnLoopback) {
  auto a = parseListenAddress("9450", "--metrics-listen");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 9450);
  a = parseListenAddress(":9451", "x");
  EXPECT_EQ(a.host, "127.0.0.1");
  a = parseListenAddress("0.0.0.0:80", "x");
  EXPECT_EQ(a.host, "0.0.0.0");
  a = parseListenAddress("[::1]:80", "x");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 80);
}

TEST(ListenAddress, BadTextNamesTheOption) {
  for (const char* bad : {"", "host:", "host:99999", "host:12a", "::1:80", "[::1]80"}) {
    try {
      parseListenAddress(bad, "--metrics-listen");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--metrics-listen: ", 0), 0u) << e.what();
    }
  }
}

TEST(HttpEndpoint, ServesItsRoutesAnd404sTheRest) {
  auto http = serveHello();
  EXPECT_EQ(http.url(), "http://127.0.0.1:" + std::to_string(http.port()));
  const std::string ok = get(http.port(), "/metrics");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("\r\n\r\nionet_up 1\n"), std::string::npos) << ok;
  EXPECT_EQ(get(http.port(), "/nothing").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(get(http.port(), "/boom").rfind("HTTP/1.1 500", 0), 0u);
}

TEST(HttpEndpoint, APortInUseIsAnErrorNamingTheAddress) {
  auto http = serveHello();
  try {
    HttpEndpoint second({"127.0.0.1", http.port()}, {});
    ADD_FAILURE() << "bound a port in use";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(http.port())),
              std::string::npos)
        << e.what();
  }
}

TEST(HttpEndpoint, GarbageGets400AndTheListenerCarriesOn) {
  auto http = serveHello();
  const int fd = connectTo(http.port());
  sendAll(fd, std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 18));
  const std::string reply = readReply(fd, 5s);
  ::close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  EXPECT_NE(get(http.port(), "/metrics").find("ionet_up 1"), std::string::npos);
}

TEST(HttpEndpoint, AOneMebibyteHeaderGets4xxOrIsClosed) {
  auto http = serveHello();
  const int fd = connectTo(http.port());
  sendAll(fd,
          "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n");
  const std::string reply = readReply(fd, 10s);
  ::close(fd);
  EXPECT_TRUE(reply.empty() || reply.rfind("HTTP/1.1 4", 0) == 0) << reply.substr(0, 200);
  EXPECT_EQ(reply.find("ionet_up"), std::string::npos);
  EXPECT_NE(get(http.port(), "/metrics").find("ionet_up 1"), std::string::npos);
}

TEST(HttpEndpoint, APostWithAHugeBodyIsRefused) {
  auto http = serveHello();
  const int fd = connectTo(http.port());
  sendAll(fd, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" +
                  std::string(4096, 'a'));
  const std::string reply = readReply(fd, 10s);
  ::close(fd);
  EXPECT_TRUE(reply.empty() || reply.rfind("HTTP/1.1 4", 0) == 0) << reply.substr(0, 200);
  EXPECT_NE(get(http.port(), "/metrics").find("ionet_up 1"), std::string::npos);
}

TEST(HttpEndpoint, ARequestThatNeverEndsDoesNotHoldOthersAndIsCutOff) {
  auto http = serveHello();
  const int slow = connectTo(http.port());
  sendAll(slow, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  // Others are served while it dribbles.
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_NE(get(http.port(), "/metrics").find("ionet_up 1"), std::string::npos);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    sendAll(slow, "a");
  }
  // The server gives up on it: 2 s of silence (the read timeout) closes the connection.
  const auto start = std::chrono::steady_clock::now();
  const std::string reply = readReply(slow, 15s);
  ::close(slow);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  EXPECT_EQ(reply.find("ionet_up"), std::string::npos) << reply;
}

}  // namespace
}  // namespace ionet::observe
