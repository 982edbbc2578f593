#include "test_forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "ionet/bridge/shim_protocol.h"

namespace ionet::test {
namespace {

bool readAll(int fd, void* buf, size_t len) {
  char* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool writeAll(int fd, const void* buf, size_t len) {
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

void reply(int fd, int32_t error) {
  IonetForwardReply r;
  std::memcpy(r.magic, "IOR1", 4);
  r.error = static_cast<int32_t>(htonl(static_cast<uint32_t>(error)));
  writeAll(fd, &r, sizeof r);
}

}  // namespace

TestForwarder::TestForwarder(std::string hostVaddr) : hostVaddr_(std::move(hostVaddr)) {
  if (inet_pton(AF_INET, hostVaddr_.c_str(), &hostVaddrN_) != 1)
    throw std::runtime_error("TestForwarder: bad vaddr " + hostVaddr_);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) throw std::runtime_error("TestForwarder: pipe2");
  wakeRead_ = wake[0];
  wakeWrite_ = wake[1];
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listenFd_ < 0 || ::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listenFd_, 128) != 0 ||
      ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error(std::string("TestForwarder: listen: ") + std::strerror(errno));
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

TestForwarder::~TestForwarder() {
  stopping_ = true;
  char b = 0;
  (void)!::write(wakeWrite_, &b, 1);  // wakes the acceptor and every relay's poll
  acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    threads.swap(threads_);
    for (int fd : live_) ::shutdown(fd, SHUT_RDWR);  // unblocks writes to a stalled reader
  }
  for (auto& t : threads) t.join();
  ::close(listenFd_);
  ::close(wakeRead_);
  ::close(wakeWrite_);
}

void TestForwarder::refusePort(uint16_t port) {
  std::lock_guard<std::mutex> lock(mutex_);
  refused_.insert(port);
}

void TestForwarder::acceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listenFd_, POLLIN, 0}, {wakeRead_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (stopping_) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int client = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    threads_.emplace_back([this, client] { serve(client); });
  }
}

void TestForwarder::serve(int client) {
  IonetForwardRequest req;
  if (!readAll(client, &req, sizeof req) || std::memcmp(req.magic, "IOF1", 4) != 0) {
    ::close(client);
    return;
  }
  ++requests_;
  uint16_t dstPort = ntohs(req.dstPort);
  bool refuse;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    refuse = refused_.count(dstPort) > 0;
  }
  if (refuse) {
    reply(client, ECONNREFUSED);
    ::close(client);
    return;
  }
  // Every host is this machine: dial the rank's port on loopback from the forwarder source.
  int onward = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in src{}, dst{};
  src.sin_family = dst.sin_family = AF_INET;
  inet_pton(AF_INET, IONET_FORWARDER_SOURCE, &src.sin_addr);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  dst.sin_port = req.dstPort;
  if (::bind(onward, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      ::connect(onward, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    reply(client, errno);
    ::close(onward);
    ::close(client);
    return;
  }
  IonetAcceptPreamble pre;
  std::memcpy(pre.magic, "IOA1", 4);
  pre.srcAddr = hostVaddrN_;
  pre.srcPort = req.srcPort;
  pre.dstPort = req.dstPort;
  pre.dstAddr = req.dstAddr;
  if (!writeAll(onward, &pre, sizeof pre)) {
    reply(client, ECONNRESET);
    ::close(onward);
    ::close(client);
    return;
  }
  ++connected_;
  reply(client, 0);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      ::shutdown(client, SHUT_RDWR);
      ::shutdown(onward, SHUT_RDWR);
    }
    live_.insert(client);
    live_.insert(onward);
  }
  // One thread per direction: a blocked write one way never stalls the other.
  std::thread back([this, onward, client] { relay(onward, client); });
  relay(client, onward);
  back.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    live_.erase(client);
    live_.erase(onward);
  }
  ::close(onward);
  ::close(client);
}

// Copies from -> to until EOF (then half-closes to) or an error, or the forwarder stops.
void TestForwarder::relay(int from, int to) {
  std::vector<char> buf(256 * 1024);
  for (;;) {
    pollfd fds[2] = {{from, POLLIN, 0}, {wakeRead_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (stopping_) break;
    if (!fds[0].revents) continue;
    ssize_t n = ::read(from, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!writeAll(to, buf.data(), static_cast<size_t>(n))) break;
    bytes_ += static_cast<uint64_t>(n);
  }
  ::shutdown(to, SHUT_WR);
}

}  // namespace ionet::test
