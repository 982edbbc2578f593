// Drives libnccl-net-ionet.so the way NCCL does, with host buffers and no GPU (DESIGN.md
// section 5): dlopen as NCCL_NET_PLUGIN names it, look up ncclNetPlugin_v<N>, init, listen,
// pass the handle to the peer (over TCP from MASTER_ADDR:MASTER_PORT, as NCCL's bootstrap
// does), connect and accept on a service thread while a progress thread runs isend/irecv/test.
// Runs as a 2-rank job, one rank per host; each rank sends to the other and checks every byte.
//
//   nccl_net_harness [--abi 11|10|9|8]              the checked plan (sizes, windows, rules)
//   nccl_net_harness --stream BYTES [--msg N]       throughput: rank 0 sends, rank 1 receives
//   nccl_net_harness --tcp-stream BYTES [--msg N]   the same bytes over one TCP connection
//   nccl_net_harness --until-error                  sends until test() fails (peer lost)
//   nccl_net_harness --too-large                    rank 0 sends 1000 bytes into a 999-byte receive
//   nccl_net_harness --repeat N                     the plan N times (to reset links under it)
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "net_abi.h"
namespace {

using namespace harness;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// --- the data: byte i of message m from sender s, so order and origin are both checked ---------
unsigned char pattern(int sender, size_t message, size_t i) {
  uint64_t x = (static_cast<uint64_t>(sender) << 56) ^ (message * 0x9E3779B97F4A7C15ull) ^ i;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  return static_cast<unsigned char>(x >> 32);
}

void fill(std::vector<unsigned char>& b, int sender, size_t message, size_t size) {
  for (size_t i = 0; i < size; ++i) b[i] = pattern(sender, message, i);
}

size_t firstMismatch(const std::vector<unsigned char>& b, int sender, size_t message, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    if (b[i] != pattern(sender, message, i)) return i;
  }
  return SIZE_MAX;
}

// The plan every rank runs, the same on both sides: message m's size and the receive's slack.
std::vector<size_t> planSizes() {
  std::vector<size_t> sizes = {0,        1,
                               127,      128,
                               129,      4095,
                               4096,     4097,
                               65535,    65536,
                               65537,    (1u << 20) - 1,
                               1u << 20, (1u << 20) + 1,
                               4u << 20, 0,
                               3};
  uint64_t x = 12345;
  for (int i = 0; i < 48; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    sizes.push_back((x >> 33) % (1u << 18));
  }
  return sizes;
}
size_t slackOf(size_t message) { return message % 3 == 0 ? 100 + message : 0; }

struct Comms {
  void* listen = nullptr;
  void* send = nullptr;
  void* recv = nullptr;
};

// The service thread's part: connect and accept, neither of which may block.
Comms connectBoth(Net& net, Bootstrap& boot) {
  Comms c;
  char mine[NCCL_NET_HANDLE_MAXSIZE] = {}, theirs[NCCL_NET_HANDLE_MAXSIZE] = {};
  if (net.listen(mine, &c.listen) != ncclSuccess) die("listen failed");
  boot.nextHandle(mine, theirs);
  std::atomic<bool> ok{true};
  std::thread service([&] {
    const auto deadline = Clock::now() + 60s;
    int calls = 0;
    while (!c.send || !c.recv) {
      const auto before = Clock::now();
      if (!c.send && net.connect(theirs, &c.send) != ncclSuccess) return ok.store(false);
      if (!c.recv && net.accept(c.listen, &c.recv) != ncclSuccess) return ok.store(false);
      if (Clock::now() - before > 1s) {
        std::fprintf(stderr, "nccl_net_harness: connect/accept blocked for over 1 s\n");
        return ok.store(false);
      }
      ++calls;
      if (Clock::now() > deadline) return ok.store(false);
      std::this_thread::sleep_for(1ms);  // NCCL's service thread polls too
    }
    std::printf("connected after %d polls\n", calls);
  });
  service.join();
  if (!ok) die("connect/accept failed");
  return c;
}

// Waits for a request; returns the size test() reported.
int await(Net& net, void* req, const char* what, size_t message) {
  const auto deadline = Clock::now() + 120s;
  for (;;) {
    int done = 0, size = -1;
    const ncclResult_t r = net.test(req, &done, &size);
    if (r != ncclSuccess) die("test(%s of message %zu) = %d", what, message, r);
    if (done) return size;
    if (Clock::now() > deadline) die("%s of message %zu never completed", what, message);
  }
}

struct Buffers {
  std::vector<unsigned char> send, recv;
};

// Posts one isend / irecv with NCCL's preset request value; retries while the plugin says
// "not now" (a null request: backpressure).
void* post(Net& net, bool sending, void* comm, void* data, size_t size, int tag, void* mh,
           size_t message) {
  const auto deadline = Clock::now() + 60s;
  for (;;) {
    void* req = reinterpret_cast<void*>(0x1);  // NCCL presets it for LL/LL128 receives
    const ncclResult_t r = sending ? net.isend(comm, data, size, tag, mh, &req)
                                   : net.irecv(comm, data, size, tag, mh, &req);
    if (r != ncclSuccess) die("%s of message %zu = %d", sending ? "isend" : "irecv", message, r);
    if (req == reinterpret_cast<void*>(0x1)) die("the request pointer was left as preset");
    if (req) return req;
    if (Clock::now() > deadline) die("backpressure never released (message %zu)", message);
  }
}

void runPlan(Net& net, Comms& c, int rank, int size, int repeat) {
  const int peer = (rank + size - 1) % size;  // whom we receive from
  const auto sizes = planSizes();
  size_t largest = 0;
  for (size_t m = 0; m < sizes.size(); ++m) largest = std::max(largest, sizes[m] + slackOf(m));
  void *smh = nullptr, *rmh = nullptr;
  const int windows[] = {1, 2, 5, 8, 32};
  std::vector<Buffers> buffers(32);
  for (auto& b : buffers) b.send.resize(largest + 1), b.recv.resize(largest + 1);
  if (net.regMr(c.send, buffers[0].send.data(), largest, &smh) != ncclSuccess ||
      net.regMr(c.recv, buffers[0].recv.data(), largest, &rmh) != ncclSuccess) {
    die("regMr failed");
  }
  size_t message = 0, bytes = 0;
  for (int round = 0; round < repeat; ++round)
    for (int window : windows) {
      for (size_t base = 0; base < sizes.size(); base += static_cast<size_t>(window)) {
        const size_t count = std::min(static_cast<size_t>(window), sizes.size() - base);
        std::vector<void*> sends(count), recvs(count);
        for (size_t k = 0; k < count; ++k) {
          const size_t m = message + k;
          const size_t size = sizes[base + k];
          fill(buffers[k].send, rank, m, size);
          recvs[k] =
              post(net, false, c.recv, buffers[k].recv.data(), size + slackOf(m), peer, rmh, m);
          sends[k] = post(net, true, c.send, buffers[k].send.data(), size, rank, smh, m);
        }
        // NCCL's proxy tests every posted request in turn: a send progresses in its test().
        std::vector<int> recvSize(count, -1), sendSize(count, -1);
        const auto deadline = Clock::now() + 120s;
        for (size_t left = 2 * count; left > 0;) {
          for (size_t k = 0; k < count; ++k) {
            for (int* out : {&recvSize[k], &sendSize[k]}) {
              if (*out >= 0) continue;
              int done = 0, size = -1;
              void* req = out == &recvSize[k] ? recvs[k] : sends[k];
              const ncclResult_t res = net.test(req, &done, &size);
              if (res != ncclSuccess) die("test of message %zu = %d", message + k, res);
              if (done) *out = size, --left;
            }
          }
          if (Clock::now() > deadline) die("messages %zu.. never completed", message);
        }
        for (size_t k = 0; k < count; ++k) {
          const size_t m = message + k;
          const size_t size = sizes[base + k];
          if (static_cast<size_t>(recvSize[k]) != size) {
            die("message %zu: test reported %d bytes, the sender sent %zu", m, recvSize[k], size);
          }
          const size_t bad = firstMismatch(buffers[k].recv, peer, m, size);
          if (bad != SIZE_MAX) die("message %zu (%zu bytes): byte %zu differs", m, size, bad);
          if (static_cast<size_t>(sendSize[k]) != size)
            die("message %zu: the send's size is wrong", m);
          bytes += size;
        }
        message += count;
      }
    }
  // Backpressure: the 33rd request of a comm is refused with a null request, not queued.
  std::vector<void*> held;
  std::vector<unsigned char> sink(16);
  for (int k = 0; k < 40; ++k) {
    void* req = reinterpret_cast<void*>(0x1);
    if (net.irecv(c.recv, sink.data(), sink.size(), peer, rmh, &req) != ncclSuccess) die("irecv");
    if (!req) break;
    held.push_back(req);
  }
  if (held.size() != NCCL_NET_MAX_REQUESTS) {
    die("%zu receives accepted in flight; expected %d then a null request", held.size(),
        NCCL_NET_MAX_REQUESTS);
  }
  std::printf("nccl-net-harness OK rank=%d abi=%d messages=%zu bytes=%zu\n", rank, net.abi, message,
              bytes);
  // Closing with requests in flight (32 receives nobody will fill) must not hang or crash.
}

// This process's CPU seconds so far (the bench subtracts the ranks' from the agents' totals).
double cpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Throughput: rank 0 sends `total` bytes in `msg`-byte messages, 8 in flight as NCCL keeps.
void runStream(Net& net, Comms& c, int rank, size_t total, size_t msg, int boot) {
  std::vector<unsigned char> buffer(msg * 8);
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<unsigned char>(i * 31);
  void* mh = nullptr;
  void* comm = rank == 0 ? c.send : c.recv;
  net.regMr(comm, buffer.data(), buffer.size(), &mh);
  const size_t messages = (total + msg - 1) / msg;
  char go = 1;
  if (rank == 1) writeAll(boot, &go, 1);  // the receiver is ready: start the clock
  if (rank == 0) readAll(boot, &go, 1);
  const auto start = Clock::now();
  std::vector<void*> reqs(8, nullptr);
  for (size_t m = 0; m < messages + 8; ++m) {
    const size_t slot = m % 8;
    if (reqs[slot]) await(net, reqs[slot], rank == 0 ? "send" : "receive", m - 8);
    reqs[slot] = nullptr;
    if (m < messages) {
      reqs[slot] = post(net, rank == 0, comm, buffer.data() + slot * msg, msg, 0, mh, m);
    }
  }
  if (rank == 1) {
    if (buffer[msg * 8 - 1] != static_cast<unsigned char>((msg * 8 - 1) * 31)) die("stream bytes");
    const double s = seconds(start);
    std::printf("nccl-net-stream bytes=%zu seconds=%.3f MBps=%.1f\n", messages * msg, s,
                double(messages * msg) / s / 1e6);
    writeAll(boot, &go, 1);
  } else {
    readAll(boot, &go, 1);  // the receiver has it all
  }
  std::printf("rank-cpu rank=%d seconds=%.3f\n", rank, cpuSeconds());
}

// The shim path's equivalent: the same bytes as one TCP stream between the ranks.
void runTcpStream(int rank, size_t total, size_t msg) {
  auto boot = connectBootstrap(rank, 2);
  const int s = boot->peer();
  std::vector<unsigned char> buffer(msg);
  const auto start = Clock::now();
  size_t moved = 0;
  if (rank == 0) {
    while (moved < total) {
      const size_t n = std::min(msg, total - moved);
      writeAll(s, buffer.data(), n);
      moved += n;
    }
    char ack;
    readAll(s, &ack, 1);
  } else {
    while (moved < total) {
      const ssize_t r = ::recv(s, buffer.data(), msg, 0);
      if (r <= 0) die("tcp stream read");
      moved += static_cast<size_t>(r);
    }
    const double sec = seconds(start);
    std::printf("tcp-stream bytes=%zu seconds=%.3f MBps=%.1f\n", moved, sec,
                double(moved) / sec / 1e6);
    char ack = 1;
    writeAll(s, &ack, 1);
  }
  std::printf("rank-cpu rank=%d seconds=%.3f\n", rank, cpuSeconds());
}

// Until the peer is lost: both ranks exchange messages; prints how long test() took to fail.
void runUntilError(Net& net, Comms& c, int rank) {
  // A teardown's SIGTERM must not end us before the plugin reports the lost peer (the agents'
  // kill grace then ends us with SIGKILL if it never does).
  std::signal(SIGTERM, SIG_IGN);
  std::vector<unsigned char> out(1 << 16), in(1 << 16);
  void* mh = nullptr;
  net.regMr(c.send, out.data(), out.size(), &mh);
  std::printf("exchanging until the link fails\n");
  std::fflush(stdout);
  for (size_t m = 0;; ++m) {
    void* r = post(net, false, c.recv, in.data(), in.size(), 1 - rank, mh, m);
    void* s = post(net, true, c.send, out.data(), out.size(), rank, mh, m);
    for (void* req : {r, s}) {
      for (;;) {
        int done = 0, size = 0;
        const ncclResult_t res = net.test(req, &done, &size);
        if (res != ncclSuccess) {
          std::printf("test failed with %d (%s) after %zu messages\n", res,
                      res == ncclRemoteError ? "ncclRemoteError" : "other", m);
          std::exit(3);
        }
        if (done) break;
      }
    }
  }
}

// A message larger than its receive: the receiver's test() must fail, not hang.
void runTooLarge(Net& net, Comms& c, int rank, int boot) {
  std::vector<unsigned char> buffer(1000, 7);
  void* mh = nullptr;
  net.regMr(rank == 0 ? c.send : c.recv, buffer.data(), buffer.size(), &mh);
  char sync = 1;
  if (rank == 0) {
    void* req = post(net, true, c.send, buffer.data(), 1000, 0, mh, 0);
    await(net, req, "send", 0);
    readAll(boot, &sync, 1);
    return;
  }
  void* req = post(net, false, c.recv, buffer.data(), 999, 0, mh, 0);
  const auto start = Clock::now();
  for (;;) {
    int done = 0, size = 0;
    const ncclResult_t r = net.test(req, &done, &size);
    if (done) die("a 1000-byte message completed a 999-byte receive");
    if (r != ncclSuccess) {
      std::printf("too-large message: test returned %d after %.3f s\n", r, seconds(start));
      break;
    }
    if (seconds(start) > 30) die("a too-large message hung the receive");
  }
  writeAll(boot, &sync, 1);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int abi = 11;
  size_t stream = 0, tcpStream = 0, msg = 4u << 20;
  bool untilError = false, tooLarge = false;
  int repeat = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) die("%s needs a value", a.c_str());
      return std::string(argv[++i]);
    };
    if (a == "--abi")
      abi = std::stoi(value());
    else if (a == "--stream")
      stream = std::stoull(value());
    else if (a == "--tcp-stream")
      tcpStream = std::stoull(value());
    else if (a == "--msg")
      msg = std::stoull(value());
    else if (a == "--until-error")
      untilError = true;
    else if (a == "--too-large")
      tooLarge = true;
    else if (a == "--repeat")
      repeat = std::stoi(value());
    else
      die("unknown argument %s", a.c_str());
  }
  const char* r = std::getenv("RANK");
  const char* w = std::getenv("WORLD_SIZE");
  if (!r || !w) die("run as a job (RANK, WORLD_SIZE)");
  const int rank = std::atoi(r), size = std::atoi(w);
  const bool plan = stream == 0 && tcpStream == 0 && !tooLarge && !untilError;
  if (size < 2 || (size != 2 && !plan))
    die("run as a 2-rank job (a ring of N ranks: the plan only)");
  if (tcpStream > 0) {
    runTcpStream(rank, tcpStream, msg);
    return 0;
  }

  Net net = load(abi);
  // finalize after a failed init: NCCL does that (v11 has a finalize).
  if (abi == 11) {
    const char* agent = std::getenv("IONET_NCCL_AGENT");
    const std::string saved = agent ? agent : "";
    ::unsetenv("IONET_NCCL_AGENT");
    void* ctx = reinterpret_cast<void*>(0x2);
    if (net.v11->init(&ctx, 7, nullptr, logger, nullptr) == ncclSuccess) {
      die("init succeeded without IONET_NCCL_AGENT");
    }
    if (net.v11->finalize(ctx) != ncclSuccess) die("finalize after a failed init failed");
    ::setenv("IONET_NCCL_AGENT", saved.c_str(), 1);
  }
  if (net.init() != ncclSuccess) die("init failed");
  int ndev = 0;
  if (net.devices(&ndev) != ncclSuccess || ndev != 1) die("devices: %d", ndev);
  int speed = 0, maxRecvs = 0, ptr = 0;
  float latency = 0;
  net.properties(&speed, &latency, &maxRecvs, &ptr);
  std::printf("plugin %s abi=%d speed=%dMbps latency=%.0fus maxRecvs=%d ptrSupport=%d\n",
              net.name(), abi, speed, latency, maxRecvs, ptr);
  if (maxRecvs != 1 || ptr != NCCL_PTR_HOST) die("maxRecvs must be 1 and ptrSupport host");

  auto boot = connectBootstrap(rank, size);
  Comms c = connectBoth(net, *boot);
  if (stream > 0) {
    runStream(net, c, rank, stream, msg, boot->peer());
  } else if (tooLarge) {
    runTooLarge(net, c, rank, boot->peer());
  } else if (untilError) {
    runUntilError(net, c, rank);
  } else {
    runPlan(net, c, rank, size, repeat);
    boot->barrier();  // every rank finishes its checks before any closes
  }
  if (net.closeSend(c.send) != ncclSuccess || net.closeRecv(c.recv) != ncclSuccess ||
      net.closeListen(c.listen) != ncclSuccess || net.finalize() != ncclSuccess) {
    die("close/finalize failed");
  }
  return 0;
}
