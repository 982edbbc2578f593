// A session that ends by the peer's goodbye hands the application everything the peer sent,
// even on a channel the application had paused (the peer's goodbye means we acknowledged it all).
// Real sessions over loopback TCP, in one process.
#include <gtest/gtest.h>

#include <asio.hpp>

#include "ionet/wan/session.h"

namespace ionet::wan {
namespace {

using namespace std::chrono_literals;

TEST(SessionGoodbye, PausedChannelGetsEverythingBeforeItCloses) {
  asio::io_context io;
  SessionOptions options;
  auto server = SessionServer::listen(io, "127.0.0.1", 0, Security{nullptr, "beta"}, options);
  constexpr int kMessages = 6;
  constexpr std::size_t kBytes = 1u << 20;
  int received = 0;
  std::size_t receivedBytes = 0;
  std::string closeReason;
  std::shared_ptr<SessionChannel> serverChannel;
  std::shared_ptr<Session> accepted;
  server->onSession([&](std::shared_ptr<Session> s) {
    accepted = s;
    s->onChannel([&](std::shared_ptr<SessionChannel> channel) {
      serverChannel = channel;
      channel->start({[&](std::string m) {
                        ++received;
                        receivedBytes += m.size();
                        // A reader that cannot keep up: after the first message, no more.
                        serverChannel->pause();
                      },
                      [&](const std::string& reason) {
                        closeReason = reason;
                        io.stop();
                      }});
    });
  });
  std::shared_ptr<Session> client;
  Session::connect(io, {"127.0.0.1", server->port(), ""}, Security{nullptr, "alpha"}, options,
                   [&](std::shared_ptr<Session> s, const std::string& error) {
                     ASSERT_TRUE(s) << error;
                     client = s;
                     auto channel = s->openChannel("bulk");
                     channel->start({});
                     for (int i = 0; i < kMessages; ++i) channel->send(std::string(kBytes, 'x'));
                     s->close("done", 5000ms);  // after the server acknowledged all of it
                   });
  asio::steady_timer guard(io, 20s);
  guard.async_wait([&](const asio::error_code& ec) {
    if (!ec) io.stop();
  });
  io.run();
  EXPECT_EQ(received, kMessages);
  EXPECT_EQ(receivedBytes, kMessages * kBytes);
  EXPECT_NE(closeReason.find("done"), std::string::npos) << closeReason;
}

}  // namespace
}  // namespace ionet::wan
