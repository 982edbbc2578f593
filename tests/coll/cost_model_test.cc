// The exchange the leaders pick: by the model's arithmetic, for the links of issue 18.
#include "cost_model.h"

#include <gtest/gtest.h>

namespace ionet::coll {
namespace {

LinkModel wan() {  // 50 ms RTT, 1 Gbit/s, eager limit raised to the bandwidth-delay product
  LinkModel l;
  l.rttSeconds = 0.05;
  l.bytesPerSecond = 125e6;
  l.eagerLimit = 6250496;
  return l;
}

TEST(CostModel, TwoHostsAlwaysExchangeDirectly) {
  for (std::size_t bytes : {8ul, 1ul << 20, 64ul << 20}) {
    EXPECT_EQ(chooseExchange(2, bytes, wan()), Exchange::kDirect) << bytes;
  }
}

TEST(CostModel, SmallAndMediumDirectLargeReduceScatterAllgather) {
  // Three hosts: direct costs RTT/2 + 2n/B, the two steps RTT + (4/3)n/B: they cross where
  // (2/3)n/B = RTT/2, n = 4.7 MB.
  EXPECT_EQ(chooseExchange(3, 8, wan()), Exchange::kDirect);
  EXPECT_EQ(chooseExchange(3, 1 << 20, wan()), Exchange::kDirect);
  EXPECT_EQ(chooseExchange(3, 4 << 20, wan()), Exchange::kDirect);
  EXPECT_EQ(chooseExchange(3, 6 << 20, wan()), Exchange::kReduceScatterAllgather);
  EXPECT_EQ(chooseExchange(3, 64 << 20, wan()), Exchange::kReduceScatterAllgather);
  EXPECT_NEAR(exchangeSeconds(Exchange::kDirect, 3, 1 << 20, wan()), 0.025 + 2 * 8.388608e-3, 1e-9);
}

TEST(CostModel, ARendezvousRoundTripCountsAboveTheEagerLimit) {
  LinkModel l = wan();
  l.eagerLimit = 65536;
  // 1 MiB direct now waits for a rendezvous: one RTT more.
  EXPECT_NEAR(exchangeSeconds(Exchange::kDirect, 3, 1 << 20, l) -
                  exchangeSeconds(Exchange::kDirect, 3, 1 << 20, wan()),
              0.05, 1e-9);
}

TEST(CostModel, OneHostCostsNothing) {
  EXPECT_EQ(exchangeSeconds(Exchange::kDirect, 1, 1 << 20, wan()), 0);
}

}  // namespace
}  // namespace ionet::coll
