// The HTTP listener against real sockets: what it serves, and bad clients (garbage, a 1 MiB
// header, a request that never finishes) that must not stop it serving others.
#include "observe/http_endpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "http_probe.h"
#include "ionet/error.h"

namespace ionet::observe {
namespace {

using namespace std::chrono_literals;

using test::connectLoopback;
using test::exchange;
using test::HttpAnswer;
using test::httpGet;
using test::ProbeClock;
using test::readUntil;
using test::sendAll;

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
  const HttpAnswer ok = httpGet(http.port(), "/metrics");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "ionet_up 1\n");
  EXPECT_EQ(httpGet(http.port(), "/nothing").status, 404);
  EXPECT_EQ(httpGet(http.port(), "/boom").status, 500);
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

bool stillServes(const HttpEndpoint& http) {
  return httpGet(http.port(), "/metrics").body == "ionet_up 1\n";
}

TEST(HttpEndpoint, GarbageGets400AndTheListenerCarriesOn) {
  auto http = serveHello();
  const auto a = exchange(connectLoopback(http.port()),
                          std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 18));
  EXPECT_EQ(a.status, 400);
  EXPECT_TRUE(stillServes(http));
}

TEST(HttpEndpoint, AOneMebibyteHeaderGets4xxOrIsClosed) {
  auto http = serveHello();
  const auto a = exchange(
      connectLoopback(http.port()),
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n");
  EXPECT_TRUE(a.ended);
  EXPECT_TRUE(a.status == 0 || a.status / 100 == 4) << a.status;
  EXPECT_EQ(a.body.find("ionet_up"), std::string::npos);
  EXPECT_TRUE(stillServes(http));
}

TEST(HttpEndpoint, APostWithAHugeBodyIsRefused) {
  auto http = serveHello();
  const auto a = exchange(connectLoopback(http.port()),
                          "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" +
                              std::string(4096, 'a'));
  EXPECT_TRUE(a.ended);
  EXPECT_TRUE(a.status == 0 || a.status / 100 == 4) << a.status;
  EXPECT_TRUE(stillServes(http));
}

TEST(HttpEndpoint, ARequestThatNeverEndsDoesNotHoldOthersAndIsCutOff) {
  auto http = serveHello();
  const int slow = connectLoopback(http.port());
  ASSERT_GE(slow, 0);
  ASSERT_TRUE(
      sendAll(slow, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ", ProbeClock::now() + 5s));
  // Others are served while it dribbles.
  for (int i = 0; i < 3; ++i) {
    const auto start = ProbeClock::now();
    EXPECT_TRUE(stillServes(http));
    EXPECT_LT(ProbeClock::now() - start, 2s);
    sendAll(slow, "a", ProbeClock::now() + 1s);
  }
  // The server gives up on it: 2 s of silence (the read timeout) closes the connection.
  const auto start = ProbeClock::now();
  std::string reply;
  EXPECT_TRUE(readUntil(slow, reply, start + 15s)) << "still held open";
  ::close(slow);
  EXPECT_LT(ProbeClock::now() - start, 8s);
  EXPECT_EQ(reply.find("ionet_up"), std::string::npos) << reply;
}

}  // namespace
}  // namespace ionet::observe
