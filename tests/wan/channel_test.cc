// The plain-TCP channel on loopback: framing, ordering, close notification, and that a hostile
// or broken peer costs only its own connection.
#include "tcp/channel.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "ionet/error.h"

namespace ionet::wan {
namespace {

using namespace std::chrono_literals;

// What one end of a channel has seen.
struct End {
  std::shared_ptr<Channel> channel;
  std::vector<std::string> messages;
  std::vector<std::string> closes;  // onClose reasons, in order
};

class TcpChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listener_ = tcp::listen(io_, "127.0.0.1", 0);
    listener_->accept([this](std::shared_ptr<Channel> channel) {
      accepted_.push_back(std::make_unique<End>());
      attach(*accepted_.back(), std::move(channel));
    });
  }

  void TearDown() override {
    for (auto* ends : {&accepted_, &clients_}) {
      for (auto& end : *ends) {
        if (end->channel) end->channel->close();
      }
    }
    listener_->close();
    io_.restart();
    io_.poll();
  }

  static void attach(End& end, std::shared_ptr<Channel> channel) {
    end.channel = std::move(channel);
    end.channel->start({[&end](std::string m) { end.messages.push_back(std::move(m)); },
                        [&end](const std::string& why) { end.closes.push_back(why); }});
  }

  End& connectClient() {
    clients_.push_back(std::make_unique<End>());
    attach(*clients_.back(), tcp::connect(io_, "127.0.0.1", listener_->port()));
    return *clients_.back();
  }

  // A plain socket that speaks no protocol, for writing broken frames by hand.
  asio::ip::tcp::socket rawClient() {
    asio::ip::tcp::socket socket(io_);
    socket.connect({asio::ip::make_address("127.0.0.1"), listener_->port()});
    return socket;
  }

  // Runs the io_context until done() holds; false when the deadline passes first.
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(deadline - now);
    }
    return true;
  }

  // Runs every handler that is ready now, and no more.
  void drain() {
    io_.restart();
    io_.poll();
  }

  asio::io_context io_;
  std::unique_ptr<Listener> listener_;
  std::vector<std::unique_ptr<End>> accepted_;
  std::vector<std::unique_ptr<End>> clients_;
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  return s;
}

TEST_F(TcpChannelTest, MessagesArriveInOrderAndIntact) {
  End& client = connectClient();
  const std::string big = pattern(1 << 20);
  client.channel->send("");
  client.channel->send("x");
  client.channel->send(big);
  client.channel->send("last");
  ASSERT_TRUE(
      runUntil([&] { return accepted_.size() == 1 && accepted_[0]->messages.size() == 4; }));
  const auto& got = accepted_[0]->messages;
  EXPECT_EQ(got[0], "");
  EXPECT_EQ(got[1], "x");
  EXPECT_EQ(got[2].size(), big.size());
  EXPECT_TRUE(got[2] == big);  // not EXPECT_EQ: a mismatch would print 2 MiB
  EXPECT_EQ(got[3], "last");

  // And the other way.
  accepted_[0]->channel->send(big);
  accepted_[0]->channel->send("");
  ASSERT_TRUE(runUntil([&] { return client.messages.size() == 2; }));
  EXPECT_TRUE(client.messages[0] == big);
  EXPECT_EQ(client.messages[1], "");
  EXPECT_TRUE(client.closes.empty());
  EXPECT_TRUE(accepted_[0]->closes.empty());
}

TEST_F(TcpChannelTest, PeerReportsItsAddress) {
  End& client = connectClient();
  ASSERT_TRUE(runUntil([&] { return accepted_.size() == 1; }));
  EXPECT_EQ(client.channel->peer(), "127.0.0.1:" + std::to_string(listener_->port()));
  EXPECT_EQ(accepted_[0]->channel->peer().rfind("127.0.0.1:", 0), 0u);
}

TEST_F(TcpChannelTest, OnCloseFiresOnceWhenPeerCloses) {
  End& client = connectClient();
  ASSERT_TRUE(runUntil([&] { return accepted_.size() == 1; }));
  End& server = *accepted_[0];

  client.channel->send("bye");
  client.channel->close();  // sends what is queued first
  ASSERT_TRUE(runUntil([&] { return !server.closes.empty(); }));
  EXPECT_EQ(server.messages, std::vector<std::string>{"bye"});
  EXPECT_EQ(client.closes, std::vector<std::string>{"closed locally"});

  // Nothing more arrives, and neither side hears of the close twice.
  client.channel->close();
  client.channel->send("ignored");
  server.channel->close();
  drain();
  EXPECT_EQ(server.closes.size(), 1u);
  EXPECT_EQ(client.closes.size(), 1u);
  EXPECT_EQ(server.messages.size(), 1u);
}

TEST_F(TcpChannelTest, LocalCloseIsSeenByPeer) {
  End& client = connectClient();
  ASSERT_TRUE(runUntil([&] { return accepted_.size() == 1; }));
  accepted_[0]->channel->close();
  EXPECT_EQ(accepted_[0]->closes, std::vector<std::string>{"closed locally"});
  ASSERT_TRUE(runUntil([&] { return !client.closes.empty(); }));
  EXPECT_EQ(client.closes.size(), 1u);
}

TEST_F(TcpChannelTest, OversizedFrameClosesOnlyThatConnection) {
  auto raw = rawClient();
  ASSERT_TRUE(runUntil([&] { return accepted_.size() == 1; }));
  End& good = connectClient();
  ASSERT_TRUE(runUntil([&] { return accepted_.size() == 2; }));
  End& hostile = *accepted_[0];
  End& goodServer = *accepted_[1];

  // Big-endian length 2^31: far over kMaxMessageBytes.
  const std::array<unsigned char, 4> header = {0x80, 0x00, 0x00, 0x00};
  asio::write(raw, asio::buffer(header));
  ASSERT_TRUE(runUntil([&] { return !hostile.closes.empty(); }));
  ASSERT_EQ(hostile.closes.size(), 1u);
  EXPECT_NE(hostile.closes[0].find("oversized"), std::string::npos) << hostile.closes[0];
  EXPECT_TRUE(hostile.messages.empty());

  // The raw client sees its connection end.
  bool ended = false;
  asio::error_code readError;
  std::array<char, 16> sink;
  raw.async_read_some(asio::buffer(sink), [&](asio::error_code ec, std::size_t) {
    ended = true;
    readError = ec;
  });
  ASSERT_TRUE(runUntil([&] { return ended; }));
  EXPECT_TRUE(readError == asio::error::eof || readError == asio::error::connection_reset)
      << readError.message();

  // The well-behaved channel on the same listener carries on, both ways.
  good.channel->send("still here");
  ASSERT_TRUE(runUntil([&] { return goodServer.messages.size() == 1; }));
  EXPECT_EQ(goodServer.messages[0], "still here");
  goodServer.channel->send("reply");
  ASSERT_TRUE(runUntil([&] { return good.messages.size() == 1; }));
  EXPECT_EQ(good.messages[0], "reply");
  EXPECT_TRUE(goodServer.closes.empty());
  EXPECT_TRUE(good.closes.empty());

  // And the listener still accepts new channels.
  connectClient();
  EXPECT_TRUE(runUntil([&] { return accepted_.size() == 3; }));
}

TEST_F(TcpChannelTest, TruncatedFrameThenCloseDeliversNothing) {
  // A body cut short, and a header cut short.
  const std::vector<std::string> frames = {std::string("\0\0\0\x64", 4) + "only ten b",
                                           std::string("\0\0", 2)};
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto raw = rawClient();
    ASSERT_TRUE(runUntil([&] { return accepted_.size() == i + 1; }));
    asio::write(raw, asio::buffer(frames[i]));
    raw.shutdown(asio::ip::tcp::socket::shutdown_send);
    raw.close();
    End& server = *accepted_[i];
    ASSERT_TRUE(runUntil([&] { return !server.closes.empty(); })) << "frame " << i;
    drain();
    EXPECT_EQ(server.closes.size(), 1u) << "frame " << i;
    EXPECT_TRUE(server.messages.empty()) << "frame " << i;
  }
}

TEST_F(TcpChannelTest, ConnectFailureNamesThePeer) {
  // A port that was just free: bind one, learn its number, let it go.
  std::uint16_t port = 0;
  {
    asio::ip::tcp::acceptor probe(io_, {asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  try {
    tcp::connect(io_, "127.0.0.1", port);
    FAIL() << "connected to a closed port";
  } catch (const ionet::Error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ionet::wan
