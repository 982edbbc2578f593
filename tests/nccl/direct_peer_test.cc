// The plugin's reading of $IONET_DIRECT: which peers it connects straight over TCP.
#include "direct_peer.h"

#include <gtest/gtest.h>

namespace ionet::bridge::nccl {
namespace {

TEST(DirectPeerTest, ReadsTheVirtualAddressesOfTheList) {
  std::set<std::uint32_t> peers;
  EXPECT_TRUE(parseDirectPeers("100.64.0.1=10.1.0.11,100.64.0.3=10.1.0.13", &peers));
  EXPECT_EQ(peers, (std::set<std::uint32_t>{0x64400001, 0x64400003}));
  EXPECT_TRUE(parseDirectPeers(nullptr, &peers));
  EXPECT_TRUE(peers.empty());
  EXPECT_TRUE(parseDirectPeers("", &peers));
  EXPECT_TRUE(peers.empty());
}

TEST(DirectPeerTest, AMalformedListRoutesNothingDirectly) {
  std::set<std::uint32_t> peers = {1};
  for (const char* bad : {"100.64.0.1=10.0.0.1,banana", "100.64.0.300=10.0.0.1", "100.64.0=x",
                          ",100.64.0.1=10.0.0.1x"}) {
    EXPECT_FALSE(parseDirectPeers(bad, &peers)) << bad;
    EXPECT_TRUE(peers.empty()) << bad;
  }
}

TEST(DirectPeerTest, Ipv4IsStrict) {
  std::uint32_t v = 0;
  EXPECT_TRUE(parseIpv4("100.64.0.2", &v));
  EXPECT_EQ(v, 0x64400002u);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "1.2.3.4 ", "256.1.1.1", "a.b.c.d"}) {
    EXPECT_FALSE(parseIpv4(bad, &v)) << bad;
  }
  EXPECT_FALSE(parseIpv4(nullptr, &v));
  EXPECT_EQ(dottedIpv4(0x64400002u), "100.64.0.2");
  EXPECT_TRUE(parseIpv4(dottedIpv4(0xfe000aff).c_str(), &v));
  EXPECT_EQ(v, 0xfe000affu);
}

}  // namespace
}  // namespace ionet::bridge::nccl
