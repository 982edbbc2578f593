// An NCCL program as users write them, run by ionet-run on a pool or on emulated hosts:
// AllReduce (sum) and a Send/Recv ring from 0 B to --max-bytes, every result checked on the
// host, with the bus bandwidth of each size. The unique id travels from rank 0 over TCP to
// MASTER_ADDR:MASTER_PORT (torchrun's variables, which ionet-run sets), as NCCL's own
// bootstrap would: across hosts that connection goes through ionet's shim.
//
//   ionet-run --local-hosts 2 -np 2 -N 1 -x NCCL_DEBUG=INFO examples/nccl_check [--max-bytes N]
#include <arpa/inet.h>
#include <cuda_runtime.h>
#include <nccl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "nccl_check: %s\n", what.c_str());
  std::exit(1);
}

#define CUDA_CHECK(call)                                                           \
  do {                                                                             \
    cudaError_t e = (call);                                                        \
    if (e != cudaSuccess) fail(std::string(#call) + ": " + cudaGetErrorString(e)); \
  } while (0)
#define NCCL_CHECK(call)                                                           \
  do {                                                                             \
    ncclResult_t r = (call);                                                       \
    if (r != ncclSuccess) fail(std::string(#call) + ": " + ncclGetErrorString(r)); \
  } while (0)

int env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) fail(std::string(name) + " is not set: start me with ionet-run (or torchrun)");
  return std::atoi(v);
}

void exact(int s, void* p, size_t n, bool sending) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t k = sending ? ::send(s, c, n, MSG_NOSIGNAL) : ::recv(s, c, n, 0);
    if (k <= 0) fail("unique id exchange: connection lost");
    c += k, n -= static_cast<size_t>(k);
  }
}

// Rank 0 makes the id and hands it to every other rank over TCP.
ncclUniqueId shareUniqueId(int rank, int size) {
  ncclUniqueId id;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(env("MASTER_PORT")));
  if (rank == 0) {
    NCCL_CHECK(ncclGetUniqueId(&id));
    const int l = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(l, size) != 0) {
      fail("cannot listen on MASTER_PORT");
    }
    for (int peer = 1; peer < size; ++peer) {
      const int s = ::accept(l, nullptr, nullptr);
      exact(s, &id, sizeof(id), true);
      ::close(s);
    }
    ::close(l);
    return id;
  }
  const char* addr = std::getenv("MASTER_ADDR");
  if (!addr || ::inet_pton(AF_INET, addr, &a.sin_addr) != 1) fail("MASTER_ADDR is not IPv4");
  for (int attempt = 0;; ++attempt) {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
      exact(s, &id, sizeof(id), false);
      ::close(s);
      return id;
    }
    ::close(s);
    if (attempt > 600) fail("cannot reach rank 0 at MASTER_ADDR:MASTER_PORT");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // rank 0 not listening yet
  }
}

float valueOf(int rank, size_t i) { return static_cast<float>((rank + 1) * (i % 97)); }

}  // namespace

int main(int argc, char** argv) {
  size_t maxBytes = 256u << 20;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--max-bytes" && i + 1 < argc) maxBytes = std::stoull(argv[++i]);
  }
  const int rank = env("RANK"), size = env("WORLD_SIZE"), local = env("LOCAL_RANK");
  int devices = 0;
  CUDA_CHECK(cudaGetDeviceCount(&devices));
  if (devices == 0) fail("no GPU");
  CUDA_CHECK(cudaSetDevice(local % devices));
  const ncclUniqueId id = shareUniqueId(rank, size);
  ncclComm_t comm;
  NCCL_CHECK(ncclCommInitRank(&comm, size, id, rank));
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreate(&stream));

  const size_t maxCount = maxBytes / sizeof(float);
  float *send = nullptr, *recv = nullptr;
  CUDA_CHECK(cudaMalloc(&send, std::max<size_t>(maxCount, 1) * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&recv, std::max<size_t>(maxCount, 1) * sizeof(float)));
  std::vector<float> host(maxCount), back(maxCount);
  if (rank == 0) std::printf("%12s %12s %12s %12s\n", "bytes", "op", "time(us)", "busbw(GB/s)");

  std::vector<size_t> counts = {0};
  for (size_t c = 1; c <= maxCount; c *= 4) counts.push_back(c);
  for (size_t count : counts) {
    const size_t bytes = count * sizeof(float);
    // AllReduce: element i is the sum over ranks of (r + 1) * (i % 97).
    for (size_t i = 0; i < count; ++i) host[i] = valueOf(rank, i);
    CUDA_CHECK(cudaMemcpy(send, host.data(), bytes, cudaMemcpyHostToDevice));
    const auto t0 = std::chrono::steady_clock::now();
    NCCL_CHECK(ncclAllReduce(send, recv, count, ncclFloat, ncclSum, comm, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    CUDA_CHECK(cudaMemcpy(back.data(), recv, bytes, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < count; ++i) {
      const float want = static_cast<float>(size * (size + 1) / 2) * static_cast<float>(i % 97);
      if (back[i] != want) {
        fail("AllReduce of " + std::to_string(bytes) + " bytes: element " + std::to_string(i) +
             " is " + std::to_string(back[i]) + ", expected " + std::to_string(want));
      }
    }
    if (rank == 0) {
      const double busbw = us > 0 ? bytes * 2.0 * (size - 1) / size / us / 1e3 : 0;
      std::printf("%12zu %12s %12.1f %12.3f\n", bytes, "allreduce", us, busbw);
    }

    // Send/Recv ring: rank r sends its values to r + 1 and receives r - 1's.
    const int next = (rank + 1) % size, prev = (rank + size - 1) % size;
    const auto t1 = std::chrono::steady_clock::now();
    NCCL_CHECK(ncclGroupStart());
    NCCL_CHECK(ncclSend(send, count, ncclFloat, next, comm, stream));
    NCCL_CHECK(ncclRecv(recv, count, ncclFloat, prev, comm, stream));
    NCCL_CHECK(ncclGroupEnd());
    CUDA_CHECK(cudaStreamSynchronize(stream));
    const double us2 =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t1).count();
    CUDA_CHECK(cudaMemcpy(back.data(), recv, bytes, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < count; ++i) {
      if (back[i] != valueOf(prev, i)) {
        fail("Send/Recv of " + std::to_string(bytes) + " bytes: element " + std::to_string(i) +
             " is not rank " + std::to_string(prev) + "'s");
      }
    }
    if (rank == 0) {
      std::printf("%12zu %12s %12.1f %12.3f\n", bytes, "sendrecv", us2,
                  us2 > 0 ? bytes / us2 / 1e3 : 0);
    }
  }
  NCCL_CHECK(ncclCommDestroy(comm));
  CUDA_CHECK(cudaFree(send));
  CUDA_CHECK(cudaFree(recv));
  std::printf("nccl-check OK rank=%d ranks=%d max_bytes=%zu\n", rank, size, maxBytes);
  return 0;
}
