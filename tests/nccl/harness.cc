// The harness's plugin tables, bootstrap and failure (see harness.h).
#include "harness.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace harness {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

[[noreturn]] void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "nccl_net_harness: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::exit(1);
}

void logger(ncclDebugLogLevel level, unsigned long, const char* file, int line, const char* fmt,
            ...) {
  if (level > NCCL_LOG_INFO) return;
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "[plugin %s %s:%d] %s\n", level == NCCL_LOG_WARN ? "WARN" : "INFO", file,
               line, text);
}

// NCCL's loading rule: each NCCL_NET_PLUGIN entry as given (a path), else libnccl-net-<e>.so.
Net load(int abi) {
  const char* plugin = std::getenv("NCCL_NET_PLUGIN");
  if (!plugin || !*plugin) die("NCCL_NET_PLUGIN is not set (ionet-run sets it with the plugin on)");
  void* lib = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const std::string name = std::string("libnccl-net-") + plugin + ".so";
    lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
  if (!lib) die("dlopen %s: %s", plugin, dlerror());
  Net net;
  net.abi = abi;
  const std::string symbol = "ncclNetPlugin_v" + std::to_string(abi);
  void* table = dlsym(lib, symbol.c_str());
  if (!table) die("%s has no %s", plugin, symbol.c_str());
  if (abi == 11) net.v11 = static_cast<const ncclNet_v11_t*>(table);
  if (abi == 10) net.v10 = static_cast<const ncclNet_v10_t*>(table);
  if (abi == 9) net.v9 = static_cast<const ncclNet_v9_t*>(table);
  if (abi == 8) net.v8 = static_cast<const ncclNet_v8_t*>(table);
  if (!net.v11 && !net.v10 && !net.v9 && !net.v8) die("unknown ABI %d", abi);
  return net;
}

void writeAll(int s, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::send(s, c, n, MSG_NOSIGNAL);
    if (w <= 0) die("bootstrap write: %s", std::strerror(errno));
    c += w, n -= static_cast<size_t>(w);
  }
}

void readAll(int s, void* p, size_t n) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t r = ::recv(s, c, n, 0);
    if (r <= 0) die("bootstrap read: %s", r == 0 ? "peer closed" : std::strerror(errno));
    c += r, n -= static_cast<size_t>(r);
  }
}

std::unique_ptr<Bootstrap> connectBootstrap(int rank, int size) {
  const char* addr = std::getenv("MASTER_ADDR");
  const char* port = std::getenv("MASTER_PORT");
  if (!addr || !port) die("MASTER_ADDR/MASTER_PORT not set");
  auto b = std::make_unique<Bootstrap>();
  b->rank = rank;
  b->size = size;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(port)));
  if (rank == 0) {
    const int l = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(l, size) != 0) {
      die("bootstrap listen on %s: %s", port, std::strerror(errno));
    }
    b->sockets.assign(size, -1);
    for (int k = 1; k < size; ++k) {
      const int s = ::accept(l, nullptr, nullptr);
      if (s < 0) die("bootstrap accept: %s", std::strerror(errno));
      int32_t who = 0;
      readAll(s, &who, sizeof(who));
      if (who <= 0 || who >= size || b->sockets[who] >= 0) die("bootstrap: bad rank %d", who);
      b->sockets[who] = s;
    }
    ::close(l);
    return b;
  }
  if (::inet_pton(AF_INET, addr, &a.sin_addr) != 1) die("MASTER_ADDR %s", addr);
  const auto deadline = Clock::now() + 30s;
  for (;;) {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
      const int32_t me = rank;
      writeAll(s, &me, sizeof(me));
      b->sockets = {s};
      return b;
    }
    ::close(s);
    if (Clock::now() > deadline)
      die("bootstrap connect %s:%s: %s", addr, port, std::strerror(errno));
    std::this_thread::sleep_for(50ms);  // rank 0 is not listening yet: NCCL's bootstrap retries too
  }
}

}  // namespace harness
