// The plugin's matching engine with a ring in plain memory standing in for the agent: FIFO
// matching, sizes, backpressure and the too-large rule, without sockets or threads.
#include "message_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <vector>

namespace ionet::bridge::nccl {
namespace {

// One ring of a link, in ordinary memory.
struct PlainRing {
  explicit PlainRing(std::uint32_t bytes = 64) : data(bytes), ring(&indices, data.data(), bytes) {}
  RingIndices indices;
  std::vector<char> data;
  Ring ring;
};

std::vector<char> bytes(std::size_t n, char seed) {
  std::vector<char> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<char>(seed + i * 7);
  return v;
}

// Moves bytes from the sender's ring to the receiver's, as the two agents would.
void carry(PlainRing& from, PlainRing& to) {
  char chunk[17];
  for (;;) {
    const std::size_t n = std::min({from.ring.readable(), to.ring.writable(), sizeof(chunk)});
    if (n == 0) return;
    from.ring.read(chunk, n);
    to.ring.write(chunk, n);
  }
}

TEST(RingTest, WrapsAroundAndKeepsOrder) {
  PlainRing r(16);
  std::vector<char> out(10);
  for (int round = 0; round < 20; ++round) {
    auto in = bytes(10, static_cast<char>(round));
    ASSERT_EQ(r.ring.write(in.data(), in.size()), 10u);
    EXPECT_EQ(r.ring.writable(), 6u);
    ASSERT_EQ(r.ring.read(out.data(), out.size()), 10u);
    EXPECT_EQ(out, in) << "round " << round;
  }
  auto big = bytes(40, 1);
  EXPECT_EQ(r.ring.write(big.data(), big.size()), 16u) << "a full ring takes no more";
}

TEST(MessageQueueTest, MessagesMatchReceivesInPostingOrderAcrossASmallRing) {
  MessageQueue sender, receiver;
  PlainRing a(64), b(32);  // far smaller than the messages: every one goes in pieces
  const std::vector<std::size_t> sizes = {0, 1, 127, 128, 129, 300, 0, 64, 65};
  std::vector<std::vector<char>> sent, got;
  std::vector<Request*> sends, recvs;
  for (std::size_t m = 0; m < sizes.size(); ++m) {
    sent.push_back(bytes(sizes[m], static_cast<char>(m)));
    got.emplace_back(sizes[m] + 10, 'x');  // receives larger than the messages
    sends.push_back(sender.postSend(sent[m].data(), sent[m].size()));
    recvs.push_back(receiver.postRecv(got[m].data(), got[m].size()));
    ASSERT_NE(sends.back(), nullptr);
    ASSERT_NE(recvs.back(), nullptr);
  }
  for (int step = 0; step < 1000 && !receiver.idle(); ++step) {
    sender.pushSends(a.ring);
    carry(a, b);
    receiver.pullRecvs(b.ring);
  }
  ASSERT_TRUE(receiver.idle());
  EXPECT_TRUE(sender.idle());
  for (std::size_t m = 0; m < sizes.size(); ++m) {
    EXPECT_TRUE(recvs[m]->complete);
    EXPECT_EQ(recvs[m]->size, sizes[m]) << "the real size, not the receive's";
    EXPECT_TRUE(std::equal(sent[m].begin(), sent[m].end(), got[m].begin())) << "message " << m;
    EXPECT_EQ(got[m][sizes[m]], 'x') << "nothing written past the message";
  }
  EXPECT_EQ(receiver.error(), QueueError::kNone);
}

TEST(MessageQueueTest, ASendCompletesOnlyWhenItsLastByteIsInTheRing) {
  MessageQueue sender;
  PlainRing a(32);
  auto data = bytes(40, 3);
  Request* r = sender.postSend(data.data(), data.size());
  sender.pushSends(a.ring);
  EXPECT_FALSE(r->complete) << "8 + 40 bytes do not fit in 32";
  char sink[32];
  a.ring.read(sink, sizeof(sink));
  sender.pushSends(a.ring);
  EXPECT_TRUE(r->complete);
}

TEST(MessageQueueTest, TheThirtyThirdRequestIsRefusedUntilOneIsReleased) {
  MessageQueue q;
  char buffer[4];
  std::vector<Request*> held;
  for (int i = 0; i < kMaxRequests; ++i) held.push_back(q.postRecv(buffer, sizeof(buffer)));
  EXPECT_EQ(std::count(held.begin(), held.end(), nullptr), 0);
  EXPECT_EQ(q.postRecv(buffer, sizeof(buffer)), nullptr);
  EXPECT_EQ(q.postSend(buffer, sizeof(buffer)), nullptr);
  q.release(held[5]);
  EXPECT_NE(q.postRecv(buffer, sizeof(buffer)), nullptr);
}

TEST(MessageQueueTest, AMessageLargerThanItsReceiveFailsTheComm) {
  MessageQueue sender, receiver;
  PlainRing a(256);
  auto data = bytes(100, 1);
  std::vector<char> small(99);
  sender.postSend(data.data(), data.size());
  sender.pushSends(a.ring);
  Request* r = receiver.postRecv(small.data(), small.size());
  receiver.pullRecvs(a.ring);
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(receiver.error(), QueueError::kTooLarge);
  // A later receive does not take the rest of that message as its own.
  std::vector<char> later(200);
  Request* next = receiver.postRecv(later.data(), later.size());
  receiver.pullRecvs(a.ring);
  EXPECT_FALSE(next->complete);
}

TEST(MessageQueueTest, RequestsReleasedOutOfOrderFreeTheirSlots) {
  MessageQueue sender;
  PlainRing a(1024);
  char data[8] = {};
  Request* first = sender.postSend(data, sizeof(data));
  Request* second = sender.postSend(data, sizeof(data));
  sender.pushSends(a.ring);
  ASSERT_TRUE(first->complete && second->complete);
  sender.release(second);  // NCCL may test the later request first
  EXPECT_EQ(sender.inFlight(), 1);
  sender.release(first);
  EXPECT_EQ(sender.inFlight(), 0);
}

}  // namespace
}  // namespace ionet::bridge::nccl
