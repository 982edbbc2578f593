// Unit tests of the delay line's queue and rules: due times, per-pair delays, FIFO order under
// jitter and retuning, the byte budget.
#include "delay_queue.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "ionet/error.h"

namespace ionet::wanemu {
namespace {

constexpr std::int64_t kMs = 1'000'000;

// An IPv4 packet from src to dst whose last 4 bytes carry id.
std::vector<char> packet(const char* src, const char* dst, std::uint32_t id,
                         std::size_t size = 64) {
  std::vector<char> p(size, 0);
  p[0] = 0x45;
  in_addr a;
  ::inet_pton(AF_INET, src, &a);
  std::memcpy(p.data() + 12, &a, 4);
  ::inet_pton(AF_INET, dst, &a);
  std::memcpy(p.data() + 16, &a, 4);
  std::memcpy(p.data() + size - 4, &id, 4);
  return p;
}

std::uint32_t idOf(const char* data, std::size_t len) {
  std::uint32_t id;
  std::memcpy(&id, data + len - 4, 4);
  return id;
}

std::shared_ptr<DelayPlan> plan(double delayMs) {
  auto p = std::make_shared<DelayPlan>();
  p->delayNs = static_cast<std::int64_t>(delayMs * kMs);
  return p;
}

// Releases everything due by now; returns the ids in release order.
std::vector<std::uint32_t> release(DelayQueue& q, std::int64_t now) {
  std::vector<std::uint32_t> ids;
  q.releaseDue(now, [&](const char* d, std::size_t n, std::int64_t) { ids.push_back(idOf(d, n)); });
  return ids;
}

TEST(DelayQueue, HoldsEachPacketForTheDelay) {
  DelayQueue q(1 << 20, 1);
  q.setPlan(plan(10));
  auto p = packet("10.99.1.2", "10.99.2.2", 7);
  ASSERT_TRUE(q.push(p.data(), p.size(), 0, 5 * kMs));
  EXPECT_EQ(q.nextDue(), 15 * kMs);
  EXPECT_TRUE(release(q, 15 * kMs - 1).empty());
  EXPECT_EQ(release(q, 15 * kMs), std::vector<std::uint32_t>{7});
  EXPECT_EQ(q.nextDue(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(q.heldBytes(), 0u);
}

TEST(DelayQueue, PairRulesApplyBothWaysAndBeatTheDefault) {
  DelayPlan p;
  p.delayNs = 10 * kMs;
  p.addPair("10.99.1.0/24,10.99.3.0/24=40");
  p.addDestination("10.99.4.2=5");
  EXPECT_EQ(p.delayFor(0x0a630102, 0x0a630202), 10 * kMs);  // h1 -> h2: default
  EXPECT_EQ(p.delayFor(0x0a630102, 0x0a630302), 40 * kMs);  // h1 -> h3
  EXPECT_EQ(p.delayFor(0x0a630302, 0x0a630103), 40 * kMs);  // h3 -> h1 (readdressed)
  EXPECT_EQ(p.delayFor(0x0a630202, 0x0a630402), 5 * kMs);   // anyone -> 10.99.4.2
  EXPECT_EQ(p.delayFor(0x0a630402, 0x0a630202), 10 * kMs);  // not from it
}

TEST(DelayQueue, BadRulesAreUsageErrors) {
  DelayPlan p;
  EXPECT_THROW(p.addPair("10.99.1.0/24=40"), UsageError);
  EXPECT_THROW(p.addPair("10.99.1.0/33,10.99.2.0/24=40"), UsageError);
  EXPECT_THROW(p.addPair("10.99.1.0/24,10.99.2.0/24=-1"), UsageError);
  EXPECT_THROW(p.addDestination("host=4"), UsageError);
  EXPECT_THROW(p.addDestination("10.0.0.1=x"), UsageError);
}

TEST(DelayQueue, PairsDoNotWaitForEachOther) {
  DelayQueue q(1 << 20, 1);
  auto rules = plan(10);
  rules->addPair("10.99.1.0/24,10.99.3.0/24=40");
  q.setPlan(rules);
  auto slow = packet("10.99.1.2", "10.99.3.2", 1);
  auto fast = packet("10.99.1.2", "10.99.2.2", 2);
  q.push(slow.data(), slow.size(), 0, 0);
  q.push(fast.data(), fast.size(), 0, 1 * kMs);
  EXPECT_EQ(release(q, 11 * kMs), std::vector<std::uint32_t>{2});
  EXPECT_EQ(release(q, 40 * kMs), std::vector<std::uint32_t>{1});
}

TEST(DelayQueue, JitterNeverReordersAPair) {
  DelayQueue q(1 << 24, 42);
  auto rules = plan(10);
  rules->jitterNs = 5 * kMs;
  q.setPlan(rules);
  std::vector<std::int64_t> arrived;
  for (std::uint32_t i = 0; i < 2000; ++i) {
    auto p = packet("10.99.1.2", "10.99.2.2", i);
    arrived.push_back(i * 10'000);  // one every 10 us
    q.push(p.data(), p.size(), 0, arrived.back());
  }
  std::vector<std::uint32_t> order;
  for (std::int64_t now = 0; now < 100 * kMs; now += 100'000) {
    for (auto id : release(q, now)) {
      order.push_back(id);
      EXPECT_GE(now, arrived[id] + 5 * kMs);  // never earlier than delay - jitter
    }
  }
  ASSERT_EQ(order.size(), 2000u);
  for (std::uint32_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], i);
}

TEST(DelayQueue, ShorterDelayWaitsForPacketsAlreadyHeld) {
  DelayQueue q(1 << 20, 1);
  q.setPlan(plan(50));
  auto a = packet("10.99.1.2", "10.99.2.2", 1);
  auto b = packet("10.99.1.2", "10.99.2.2", 2);
  q.push(a.data(), a.size(), 0, 0);
  q.setPlan(plan(0));
  q.push(b.data(), b.size(), 0, 1 * kMs);
  EXPECT_TRUE(release(q, 49 * kMs).empty());
  EXPECT_EQ(release(q, 50 * kMs), (std::vector<std::uint32_t>{1, 2}));
}

TEST(DelayQueue, DropsTailBeyondTheByteBudget) {
  DelayQueue q(10'000, 1);
  q.setPlan(plan(10));
  int accepted = 0;
  for (std::uint32_t i = 0; i < 20; ++i) {
    auto p = packet("10.99.1.2", "10.99.2.2", i, 1000);
    accepted += q.push(p.data(), p.size(), 0, 0);
  }
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ(q.heldBytes(), 10'000u);
  EXPECT_EQ(q.stats().dropPackets, 10u);
  EXPECT_EQ(release(q, 10 * kMs).size(), 10u);
  auto p = packet("10.99.1.2", "10.99.2.2", 99, 1000);
  EXPECT_TRUE(q.push(p.data(), p.size(), 0, 11 * kMs));
}

TEST(DelayQueue, NonIpv4PacketsGetTheDefaultDelay) {
  DelayQueue q(1 << 20, 1);
  q.setPlan(plan(3));
  std::vector<char> v6(60, 0);
  v6[0] = 0x60;
  std::uint32_t id = 5;
  std::memcpy(v6.data() + 56, &id, 4);
  q.push(v6.data(), v6.size(), 0, 0);
  EXPECT_EQ(q.nextDue(), 3 * kMs);
  EXPECT_EQ(release(q, 3 * kMs), std::vector<std::uint32_t>{5});
}

}  // namespace
}  // namespace ionet::wanemu
