// The sequence/ack/resume state machine: two engines over a fake wire with a fake clock.
// Connections are dropped with bytes in flight, as a reset does; nothing may be lost,
// duplicated or reordered.
#include "src/session_core.h"

#include <gtest/gtest.h>

#include <random>

namespace ionet::wan {
namespace {

using namespace std::chrono_literals;

// Two engines joined by `links` simulated connections. Bytes pulled from one side sit "on the
// wire" until delivered; dropping a link throws them away.
class Wire {
 public:
  explicit Wire(SessionOptions options = {}) : a(options, true, now), b(options, false, now) {}

  void up(int link) {
    a.linkUp(link, b.receiveNext(), now);
    b.linkUp(link, a.receiveNext(), now);
    paths_[link] = Path{};
  }
  void down(int link) {
    paths_.erase(link);
    a.linkDown(link, "reset by test", now);
    b.linkDown(link, "reset by test", now);
  }
  // Moves bytes both ways on every link; `fraction` of what is on the wire gets delivered.
  void step(double fraction = 1.0) {
    for (auto& [link, path] : paths_) {
      a.pull(link, path.aToB, budget, now);
      b.pull(link, path.bToA, budget, now);
    }
    for (auto& [link, path] : paths_) {
      deliver(link, path.aToB, path.readerB, b, fraction);
      deliver(link, path.bToA, path.readerA, a, fraction);
    }
    a.tick(now);
    b.tick(now);
  }
  void run(int steps) {
    for (int i = 0; i < steps; ++i) step();
  }
  void advance(std::chrono::milliseconds d) {
    now += d;
    a.tick(now);
    b.tick(now);
  }

  // Messages B received on a channel, in order, and other events, drained from both sides.
  std::vector<std::string> messagesAt(SessionCore& side, std::uint32_t channel) {
    std::vector<std::string> out;
    auto& events = side.events();
    for (auto it = events.begin(); it != events.end();) {
      if (auto* m = std::get_if<event::Message>(&*it); m && m->channel == channel) {
        out.push_back(std::move(m->bytes));
        it = events.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }
  template <typename E>
  int count(SessionCore& side) {
    int n = 0;
    for (auto& e : side.events()) n += std::holds_alternative<E>(e);
    return n;
  }

  TimePoint now = TimePoint{} + 1h;
  std::size_t budget = 256 << 10;  // bytes pulled per link per step
  SessionCore a;
  SessionCore b;

 private:
  struct Path {
    std::string aToB, bToA;
    FrameReader readerA, readerB;
  };
  void deliver(int link, std::string& wire, FrameReader& reader, SessionCore& to, double fraction) {
    // At least a packet's worth, so a partly delivered frame always completes eventually.
    const std::size_t n = fraction >= 1.0 ? wire.size()
                                          : std::max(std::size_t(wire.size() * fraction),
                                                     std::min<std::size_t>(wire.size(), 1500));
    reader.append(std::string_view(wire).substr(0, n));
    wire.erase(0, n);
    while (auto f = reader.next()) to.receive(link, std::move(*f), now);
  }
  std::map<int, Path> paths_;
};

std::string pattern(std::size_t size, std::uint32_t seed) {
  std::string s(size, '\0');
  std::mt19937 rng(seed);
  for (auto& c : s) c = char(rng());
  return s;
}

TEST(SessionCore, DeliversMessagesInOrderOverOneLink) {
  Wire w;
  w.up(0);
  for (int i = 0; i < 100; ++i) w.a.send(0, "m" + std::to_string(i));
  w.run(3);
  auto got = w.messagesAt(w.b, 0);
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i], "m" + std::to_string(i));
}

TEST(SessionCore, StripesALargeMessageOverSeveralLinks) {
  SessionOptions options;
  options.segmentBytes = 64 << 10;
  Wire w(options);
  for (int l = 0; l < 4; ++l) w.up(l);
  const std::string big = pattern(5 << 20, 1);
  w.a.send(0, big);
  w.a.send(0, "");  // empty messages are messages too
  for (int i = 0; i < 200 && w.a.hasUnacknowledged(); ++i) w.step(0.5);
  auto got = w.messagesAt(w.b, 0);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0] == big);
  EXPECT_EQ(got[1], "");
  EXPECT_GT(w.a.counters().wireBytesSent, big.size());
}

TEST(SessionCore, RandomLinkDropsLoseNothingDuplicateNothingReorderNothing) {
  SessionOptions options;
  options.segmentBytes = 4 << 10;
  options.retransmitBufferBytes = 256 << 10;
  Wire w(options);
  w.budget = 8 << 10;  // small batches: every link carries part of the stream
  std::mt19937 rng(7);
  std::vector<int> live = {0, 1, 2};
  int nextLink = 3;
  for (int l : live) w.up(l);
  std::vector<std::string> sentAB, sentBA;
  std::vector<std::string> gotAB, gotBA;
  for (int round = 0; round < 400; ++round) {
    for (int k = 0; k < 3; ++k) {
      sentAB.push_back(std::to_string(sentAB.size()) + ":" + pattern(rng() % 20000, rng()));
      w.a.send(0, sentAB.back());
      sentBA.push_back(std::to_string(sentBA.size()) + ":" + pattern(rng() % 3000, rng()));
      w.b.send(0, sentBA.back());
    }
    w.step(0.3 + (rng() % 70) / 100.0);  // partial delivery: frames cut mid-way
    if (rng() % 10 == 0) {  // a reset: one link and its bytes in flight are gone; redialled
      const std::size_t victim = rng() % live.size();
      w.down(live[victim]);
      live[victim] = nextLink++;
      w.up(live[victim]);
    }
    for (auto& m : w.messagesAt(w.b, 0)) gotAB.push_back(std::move(m));
    for (auto& m : w.messagesAt(w.a, 0)) gotBA.push_back(std::move(m));
  }
  for (int i = 0; i < 2000 && (w.a.hasUnacknowledged() || w.b.hasUnacknowledged()); ++i) {
    w.advance(10ms);
    w.step();
  }
  for (auto& m : w.messagesAt(w.b, 0)) gotAB.push_back(std::move(m));
  for (auto& m : w.messagesAt(w.a, 0)) gotBA.push_back(std::move(m));
  ASSERT_EQ(gotAB.size(), sentAB.size());
  ASSERT_EQ(gotBA.size(), sentBA.size());
  for (std::size_t i = 0; i < sentAB.size(); ++i) ASSERT_TRUE(gotAB[i] == sentAB[i]) << i;
  for (std::size_t i = 0; i < sentBA.size(); ++i) ASSERT_TRUE(gotBA[i] == sentBA[i]) << i;
  EXPECT_GT(w.a.counters().retransmittedBytes, 0u);
  EXPECT_GT(w.b.counters().duplicateBytes + w.a.counters().duplicateBytes, 0u)
      << "some resent data should have arrived twice and been dropped";
}

TEST(SessionCore, ResumesAfterLosingEveryLink) {
  Wire w;
  w.up(0);
  w.a.send(0, "before");
  w.step(0.5);  // half on the wire when it drops
  w.down(0);
  w.a.send(0, "during");
  w.advance(30s);
  EXPECT_EQ(w.count<event::Failed>(w.a), 0);
  w.up(1);
  w.run(3);
  auto got = w.messagesAt(w.b, 0);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "before");
  EXPECT_EQ(got[1], "during");
  EXPECT_EQ(w.a.counters().resumes, 1u);
}

TEST(SessionCore, FailsAfterTheDeadPeerTimeoutWithNoLink) {
  SessionOptions options;
  options.deadPeerTimeout = 60s;
  Wire w(options);
  w.up(0);
  w.down(0);
  w.advance(59s);
  EXPECT_EQ(w.count<event::Failed>(w.a), 0);
  EXPECT_LE(w.a.nextDeadline(), w.now + 1s);
  w.advance(1s);
  ASSERT_EQ(w.count<event::Failed>(w.a), 1);
  auto& failed = std::get<event::Failed>(w.a.events().back());
  EXPECT_NE(failed.reason.find("no connection to the peer for 60.0 s"), std::string::npos);
  EXPECT_NE(failed.reason.find("reset by test"), std::string::npos);
  EXPECT_FALSE(w.a.send(0, "too late"));
}

TEST(SessionCore, ExpiresALinkThatHearsNothing) {
  SessionOptions options;
  options.linkTimeout = 10s;
  Wire w(options);
  w.up(0);
  w.run(1);
  w.advance(9s);
  EXPECT_EQ(w.count<event::LinkExpired>(w.a), 0);
  w.advance(1s);  // no step: the peer is silent (partitioned)
  EXPECT_EQ(w.count<event::LinkExpired>(w.a), 1);
}

TEST(SessionCore, PingsKeepAnIdleLinkAliveAndMeasureRtt) {
  SessionOptions options;
  options.linkTimeout = 3s;
  Wire w(options);
  w.up(0);
  for (int i = 0; i < 10; ++i) {
    w.advance(1s);
    w.step();
  }
  EXPECT_EQ(w.count<event::LinkExpired>(w.a), 0);
  EXPECT_EQ(w.count<event::LinkExpired>(w.b), 0);
}

TEST(SessionCore, RetransmitBufferBoundsMemoryWhenTheReceiverIsSilent) {
  SessionOptions options;
  options.retransmitBufferBytes = 1 << 20;
  options.priorityReserveBytes = 64 << 10;
  options.segmentBytes = 64 << 10;
  Wire w(options);
  w.up(0);
  std::uint32_t bulk = w.a.openChannel("bulk");
  for (int i = 0; i < 64; ++i) w.a.send(bulk, std::string(64 << 10, 'b'));
  std::string sink;
  for (int i = 0; i < 100; ++i) w.a.pull(0, sink, 1 << 20, w.now);
  // The bound is checked before cutting a segment, so it may be passed by one segment.
  EXPECT_LE(w.a.counters().unackedBytes, std::size_t((1 << 20) + (64 << 10)));
  EXPECT_GT(w.a.queuedBytes(bulk), 0u) << "the rest waits: backpressure, not memory";
  // ... yet a control message still goes out (from the priority reserve).
  w.a.send(0, "heartbeat");
  std::string more;
  w.a.pull(0, more, 1 << 20, w.now);
  EXPECT_NE(more.find("heartbeat"), std::string::npos);
}

TEST(SessionCore, ControlChannelOvertakesABulkBacklog) {
  SessionOptions options;
  options.segmentBytes = 64 << 10;
  Wire w(options);
  w.up(0);
  std::uint32_t bulk = w.a.openChannel("bulk");
  w.a.send(bulk, std::string(32 << 20, 'b'));
  w.step(0.5);
  w.a.send(0, "fence");
  for (int i = 0; i < 4; ++i) w.step(0.5);
  auto got = w.messagesAt(w.b, 0);
  ASSERT_EQ(got.size(), 1u) << "the fence message must not wait behind 32 MiB of bulk";
  EXPECT_GT(w.a.queuedBytes(bulk), std::size_t(30 << 20));
}

TEST(SessionCore, PausedChannelStopsItsSenderButNotOthers) {
  SessionOptions options;
  options.channelWindowBytes = 256 << 10;
  options.segmentBytes = 16 << 10;
  Wire w(options);
  w.up(0);
  std::uint32_t slow = w.a.openChannel("slow");
  std::uint32_t fast = w.a.openChannel("fast");
  w.run(2);
  ASSERT_EQ(w.count<event::ChannelOpened>(w.b), 2);
  w.b.pause(slow);
  for (int i = 0; i < 64; ++i) w.a.send(slow, std::string(16 << 10, 's'));
  for (int i = 0; i < 64; ++i) w.a.send(fast, std::string(16 << 10, 'f'));
  w.run(50);
  EXPECT_EQ(w.messagesAt(w.b, fast).size(), 64u);
  EXPECT_EQ(w.messagesAt(w.b, slow).size(), 0u);
  // The sender stopped at the window: what is left waits in its queue, not on the wire.
  EXPECT_EQ(w.a.queuedBytes(slow), std::size_t((64 << 10 << 4) - (256 << 10)));
  w.b.resume(slow, w.now);
  w.run(50);
  EXPECT_EQ(w.messagesAt(w.b, slow).size(), 64u);
}

TEST(SessionCore, ChannelsOpenAndCloseInOrderWithTheirData) {
  Wire w;
  w.up(0);
  std::uint32_t c = w.a.openChannel("fwd:1->2");
  EXPECT_EQ(c % 2, 1u) << "the initiator opens odd channels";
  w.a.send(c, "last words");
  w.a.closeChannel(c, "eof");
  EXPECT_FALSE(w.a.send(c, "after close"));
  w.run(3);
  auto& events = w.b.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(std::get<event::ChannelOpened>(events[0]).name, "fwd:1->2");
  EXPECT_EQ(std::get<event::Message>(events[1]).bytes, "last words");
  EXPECT_EQ(std::get<event::ChannelClosed>(events[2]).reason, "eof");
}

TEST(SessionCore, ProtocolViolationsAreRefused) {
  Wire w;
  w.up(0);
  Frame ack;
  ack.type = FrameType::ack;
  ack.ack = 5;  // nothing was sent
  EXPECT_THROW(w.a.receive(0, Frame(ack), w.now), ProtocolError);
  Frame data;
  data.type = FrameType::data;
  data.channel = 9;
  data.flags = kBeginMessage | kEndMessage;
  EXPECT_THROW(w.b.receive(0, Frame(data), w.now), ProtocolError);  // unknown channel
  Frame open;
  open.type = FrameType::open;
  open.seq = 1;
  open.channel = 2;  // even: the acceptor's to open, not the initiator's
  Frame first = data;
  first.seq = 0;
  first.channel = 0;
  w.b.receive(0, std::move(first), w.now);
  EXPECT_THROW(w.b.receive(0, std::move(open), w.now), ProtocolError);
  EXPECT_THROW(w.a.linkUp(1, 1000, w.now), ProtocolError);
}

TEST(SessionCore, BadFramingOnAPausedChannelIsRefusedOnArrival) {
  Wire w;
  w.up(0);
  std::uint32_t c = w.a.openChannel("c");
  w.run(2);
  w.b.pause(c);
  Frame continuation;
  continuation.type = FrameType::data;
  continuation.seq = w.b.receiveNext();
  continuation.channel = c;
  continuation.flags = 0;  // no beginning: must fail now, not later inside resume()
  EXPECT_THROW(w.b.receive(0, std::move(continuation), w.now), ProtocolError);
}

TEST(SessionCore, ResumingAChannelWhosePeerClosedItIsSafe) {
  Wire w;
  w.up(0);
  std::uint32_t c = w.a.openChannel("c");
  w.run(2);
  w.b.pause(c);
  w.a.send(c, "last");
  w.a.closeChannel(c, "eof");
  w.run(3);
  w.b.closeChannel(c, "bye");
  w.run(3);  // b's close is cut: the channel is closed both ways while its data is held
  w.b.resume(c, w.now);
  EXPECT_EQ(w.messagesAt(w.b, c), std::vector<std::string>{"last"});
  EXPECT_EQ(w.count<event::ChannelClosed>(w.b), 1);
}

TEST(SessionCore, APingFloodCostsOnePong) {
  Wire w;
  w.up(0);
  for (int i = 1; i <= 100000; ++i) {
    Frame ping;
    ping.type = FrameType::ping;
    ping.value = std::uint64_t(i);
    w.b.receive(0, std::move(ping), w.now);
  }
  std::string out;
  w.b.pull(0, out, 1 << 20, w.now);
  EXPECT_LT(out.size(), 200u);
}

TEST(SessionCore, NoDeadlineInThePastWithoutALinkToActOnIt) {
  Wire w;
  w.up(0);
  w.a.send(0, "x");
  w.step();
  w.down(0);  // an ack is now due, but there is no link to carry it
  EXPECT_GT(w.a.nextDeadline(), w.now) << "the timer would spin until a link comes back";
  w.up(1);
  w.a.setWriting(1, true);
  w.advance(2s);  // a ping is due on a busy link: its write completion will pull it
  EXPECT_GT(w.a.nextDeadline(), w.now);
}

TEST(SessionCore, AFloodOfOutOfOrderSegmentsIsBounded) {
  Wire w;
  w.up(0);
  Frame data;
  data.type = FrameType::data;
  data.channel = 0;
  data.flags = kBeginMessage | kEndMessage;
  data.payload.assign(1 << 20, 'x');
  EXPECT_THROW(
      for (std::uint64_t seq = 1; seq < 2000; ++seq) {
        Frame f = data;
        f.seq = seq;  // seq 0 never comes
        w.b.receive(0, std::move(f), w.now);
      },
      ProtocolError);
}

}  // namespace
}  // namespace ionet::wan
