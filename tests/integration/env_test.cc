// The environment contract, checked in real ranks on two emulated hosts (-np 5 by node, so
// the hosts hold ranks 0,2,4 and 1,3).
#include <map>
#include <regex>

#include "fixture.h"

namespace ionet::test {
namespace {

// rank -> (name -> value) from envdump's "env[R] NAME=value" lines.
std::map<int, std::map<std::string, std::string>> parse(const std::string& out) {
  std::map<int, std::map<std::string, std::string>> env;
  std::regex line(R"(env\[(\d+)\] ([A-Za-z0-9_]+)=(.*))");
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) env[std::stoi(m[1])][m[2]] = m[3];
  }
  return env;
}

TEST_F(IonetTest, EnvironmentContract) {
  auto r = ionetRun({"--local-hosts",
                     "2",
                     "--map-by",
                     "node",
                     "-np",
                     "5",
                     "-x",
                     "IONET_T1=one",
                     "-x",
                     "IONET_T2",
                     "--mca",
                     "btl_base_verbose",
                     "0",
                     example("envdump"),
                     "IONET_T1",
                     "IONET_T2",
                     "OMPI_MCA_btl_base_verbose",
                     "OMPI_MCA_schizo",
                     "PMIX_RANK",
                     "PMIX_NAMESPACE",
                     "IONET_VADDR",
                     "OMPI_MCA_btl_tcp_if_include",
                     "GLOO_SOCKET_IFNAME",
                     "LD_PRELOAD"},
                    {"IONET_T2=two"});
  EXPECT_FINISHED(r);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto env = parse(r.out);
  ASSERT_EQ(env.size(), 5u) << r.out;
  const std::map<int, std::pair<int, int>> where = {// rank -> (host, local rank)
                                                    {0, {0, 0}},
                                                    {1, {1, 0}},
                                                    {2, {0, 1}},
                                                    {3, {1, 1}},
                                                    {4, {0, 2}}};
  const std::string jobId = env[0]["IONET_JOB_ID"];
  EXPECT_FALSE(jobId.empty());
  for (const auto& [rank, place] : where) {
    auto& e = env[rank];
    const auto [host, local] = place;
    const std::string localSize = host == 0 ? "3" : "2";
    const std::string rs = std::to_string(rank);
    EXPECT_EQ(e["OMPI_COMM_WORLD_RANK"], rs);
    EXPECT_EQ(e["OMPI_COMM_WORLD_SIZE"], "5");
    EXPECT_EQ(e["OMPI_COMM_WORLD_LOCAL_RANK"], std::to_string(local));
    EXPECT_EQ(e["OMPI_COMM_WORLD_LOCAL_SIZE"], localSize);
    EXPECT_EQ(e["OMPI_COMM_WORLD_NODE_RANK"], std::to_string(local));  // mpirun's meaning
    EXPECT_EQ(e["RANK"], rs);
    EXPECT_EQ(e["LOCAL_RANK"], std::to_string(local));
    EXPECT_EQ(e["WORLD_SIZE"], "5");
    EXPECT_EQ(e["LOCAL_WORLD_SIZE"], localSize);
    EXPECT_EQ(e["GROUP_RANK"], std::to_string(host));
    // Hosts of a job get 100.64.0.1, .2, ... in node order (docs/environment.md); ranks meet
    // on those virtual addresses through the data path, rank 0's host's is MASTER_ADDR.
    EXPECT_EQ(e["MASTER_ADDR"], "100.64.0.1");
    EXPECT_EQ(e["IONET_VADDR"], host == 0 ? "100.64.0.1" : "100.64.0.2");
    EXPECT_EQ(e["OMPI_MCA_btl_tcp_if_include"], "ionet0");
    EXPECT_EQ(e["GLOO_SOCKET_IFNAME"], "ionet0");
    EXPECT_NE(e["LD_PRELOAD"].find("libionet-shim.so"), std::string::npos);
    EXPECT_EQ(e["MASTER_PORT"], env[0]["MASTER_PORT"]);
    EXPECT_EQ(e["IONET_JOB_ID"], jobId);
    EXPECT_EQ(e["IONET_RANK"], rs);
    EXPECT_EQ(e["IONET_HOST"], host == 0 ? "node0" : "node1");
    EXPECT_EQ(e["IONET_T1"], "one");
    EXPECT_EQ(e["IONET_T2"], "two");
    EXPECT_EQ(e["OMPI_MCA_btl_base_verbose"], "0");
    EXPECT_EQ(e["OMPI_MCA_schizo"], "ompi");
    EXPECT_EQ(e["PMIX_RANK"], rs);
    EXPECT_EQ(e["PMIX_NAMESPACE"], "ionet." + jobId);
  }
  const int port = std::stoi(env[0]["MASTER_PORT"]);
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);
}

// torchrun-style rendezvous: rank 0 listens on MASTER_PORT, the others connect to it.
TEST_F(IonetTest, MasterPortIsUsableByRankZero) {
  const std::string script = R"(
import os, socket, time
rank = int(os.environ['RANK']); port = int(os.environ['MASTER_PORT'])
addr = os.environ['MASTER_ADDR']
if rank == 0:
    s = socket.socket(); s.bind((addr, port)); s.listen(8)
    for _ in range(int(os.environ['WORLD_SIZE']) - 1): s.accept()[0].close()
    print('rendezvous OK')
else:
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection((addr, port)).close(); break
        except OSError:
            if time.time() > deadline: raise
            time.sleep(0.05)
)";
  auto r = ionetRun({"--local-hosts", "2", "-np", "3", kPython, "-c", script});
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "rendezvous OK\n");
}

// A rank that writes and exits at once: its bytes must still reach the peer on the other host,
// as TCP delivers what was written before a process exits (the data path drains, not drops).
TEST_F(IonetTest, BytesWrittenJustBeforeExitReachThePeer) {
  const std::string script = R"(
import hashlib, os, random, socket, time
rank = int(os.environ['RANK']); port = int(os.environ['MASTER_PORT'])
addr = os.environ['MASTER_ADDR']
data = random.Random(7).randbytes(32 << 20)
if rank == 0:
    s = socket.socket(); s.bind((addr, port)); s.listen(1)
    c = s.accept()[0]; c.sendall(data); c.close()
    os._exit(0)  # no linger, no goodbye: straight out
deadline = time.time() + 20
while True:
    try:
        c = socket.create_connection((addr, port)); break
    except OSError:
        if time.time() > deadline: raise
        time.sleep(0.05)
got = bytearray()
while True:
    chunk = c.recv(1 << 20)
    if not chunk: break
    got += chunk
same = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
print(len(got), 'bytes', 'intact' if same else 'CORRUPT')
)";
  auto r = ionetRun({"--local-hosts", "2", "-np", "2", "-N", "1", kPython, "-c", script});
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, std::to_string(32 << 20) + " bytes intact\n");
}

// ionet-run --status-interval: hosts, ranks, fences and the data link with its rate, while an
// MPI program (mpi4py: MPI_Init and barriers are fences) streams over a socket between hosts.
TEST_F(IonetTest, StatusIntervalReportsHostsRanksFencesAndLinks) {
  const std::string script = R"(
from mpi4py import MPI
import os, socket, time
comm = MPI.COMM_WORLD
addr = os.environ['MASTER_ADDR']; port = int(os.environ['MASTER_PORT'])
buf = bytearray(1 << 20)
if comm.Get_rank() == 0:
    s = socket.socket(); s.bind((addr, port)); s.listen(1)
    comm.Barrier()
    c = s.accept()[0]
    while c.recv_into(buf): pass
else:
    comm.Barrier()
    c = socket.create_connection((addr, port))
    end = time.time() + 3
    while time.time() < end: c.sendall(buf)
    c.close()
comm.Barrier()
)";
  auto r = ionetRun({"--local-hosts", "2", "-np", "2", "-N", "1", "--status-interval", "0.5",
                     kPython, "-c", script});
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(std::regex_search(
      r.err, std::regex("ionet-run: status at [0-9.]+ s: hosts 2/2 up, ranks 2/2 running, "
                        "fences [1-9][0-9]* done")))
      << r.err;
  // The sender's link to node0 carried the stream at some point: its rate is not zero.
  double best = 0;
  const std::regex link("  node1: .*-> node0 rtt [0-9.]+ ms out ([0-9.]+) (Mbit|Gbit)/s");
  for (auto it = std::sregex_iterator(r.err.begin(), r.err.end(), link);
       it != std::sregex_iterator(); ++it) {
    best = std::max(best, std::stod((*it)[1]) * ((*it)[2] == "Gbit" ? 1000 : 1));
  }
  EXPECT_GT(best, 10.0) << r.err;
}

}  // namespace
}  // namespace ionet::test
