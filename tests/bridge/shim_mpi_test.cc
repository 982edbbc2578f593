// Integration tests of libionet-shim.so: real mpirun jobs whose ranks only know the virtual
// interface; every byte of Open MPI's TCP BTL must pass through the test forwarders.
#include <gtest/gtest.h>

#include <iostream>

#include "command.h"
#include "crash_check.h"
#include "test_forwarder.h"

namespace ionet::test {
namespace {

using namespace std::chrono_literals;

const std::string kShim = IONET_SHIM_PATH;
const std::string kRing = IONET_MPI_RING;

// One mpirun app context: `ranks` ranks on the "host" that forwarder f serves.
std::vector<std::string> hostContext(int ranks, const TestForwarder& f, const std::string& vaddr) {
  return {"-np", std::to_string(ranks),
          "-x",  "LD_PRELOAD=" + kShim,
          "-x",  "IONET_FORWARDER=" + f.address(),
          "-x",  "IONET_VADDR=" + vaddr,
          "-x",  "IONET_VNET=100.64.0.0/10",
          "-x",  "IONET_VIF=ionet0",
          kRing};
}

// TCP only, even between ranks of one machine (no vader), over the virtual interface only.
std::vector<std::string> mpirun() {
  return {"mpirun",
          "--allow-run-as-root",
          "--oversubscribe",
          "--mca",
          "pml",
          "ob1",
          "--mca",
          "btl",
          "tcp,self",
          "--mca",
          "btl_tcp_if_include",
          "ionet0",
          "--mca",
          "btl_tcp_disable_family",
          "6"};
}

// Ranks 0-1 on host A (100.64.0.1), ranks 2-3 on host B (100.64.0.2), a forwarder each.
// (mpirun's -x applies to the app context it appears in, so each context repeats them.)
TEST(ShimMpi, TwoVirtualHostsTalkThroughForwarders) {
  TestForwarder hostA("100.64.0.1"), hostB("100.64.0.2");
  std::vector<std::string> argv = mpirun();
  for (auto& a : hostContext(2, hostA, "100.64.0.1")) argv.push_back(a);
  argv.push_back(":");
  for (auto& a : hostContext(2, hostB, "100.64.0.2")) argv.push_back(a);
  CommandResult r = run(argv, {}, "", 150s);
  ASSERT_TRUE(r.finished) << "mpirun hung\n" << r.out << r.err;
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(countLines(r.out, "mpi_ring OK ranks=4"), 1) << r.out << r.err;
  std::cout << "forwarded bytes: host A " << hostA.bytesCarried() << " (" << hostA.connected()
            << " connections), host B " << hostB.bytesCarried() << " (" << hostB.connected()
            << " connections), mpirun " << r.seconds() << " s\n";
  // Ring (4 x 4 MiB) and ping-pong (4 x 4 MiB): far more than 4 MiB, through both hosts.
  EXPECT_GT(hostA.bytesCarried() + hostB.bytesCarried(), 16u << 20);
  EXPECT_GT(hostA.bytesCarried(), 4u << 20);
  EXPECT_GT(hostB.bytesCarried(), 4u << 20);
  EXPECT_GT(hostA.connected(), 0);
  EXPECT_GT(hostB.connected(), 0);
}

// All four ranks share one virtual address and one forwarder, as ranks of one host do.
TEST(ShimMpi, OneVirtualAddressForAllRanks) {
  TestForwarder host("100.64.0.1");
  std::vector<std::string> argv = mpirun();
  for (auto& a : hostContext(4, host, "100.64.0.1")) argv.push_back(a);
  CommandResult r = run(argv, {}, "", 150s);
  ASSERT_TRUE(r.finished) << "mpirun hung\n" << r.out << r.err;
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(countLines(r.out, "mpi_ring OK ranks=4"), 1) << r.out << r.err;
  std::cout << "forwarded bytes: " << host.bytesCarried() << " (" << host.connected()
            << " connections), mpirun " << r.seconds() << " s\n";
  EXPECT_GT(host.bytesCarried(), 4u << 20);
}

}  // namespace
}  // namespace ionet::test
