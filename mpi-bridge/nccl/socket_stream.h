// A direct peer's TCP connection as a MessageQueue stream (same direct site: no agent between):
// non-blocking send and recv straight between the user's buffers and the kernel.
#pragma once

#include <errno.h>
#include <sys/socket.h>

#include <cstddef>

namespace ionet::bridge::nccl {

struct SocketStream {
  int fd = -1;
  bool ended = false;  // the peer closed its end
  int error = 0;       // errno of a failed send or recv

  std::size_t write(const void* from, std::size_t n) {
    if (n == 0 || error) return 0;
    const ssize_t k = ::send(fd, from, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (k > 0) return static_cast<std::size_t>(k);
    if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) error = errno;
    return 0;
  }
  std::size_t read(void* to, std::size_t n) {
    if (n == 0 || error || ended) return 0;
    const ssize_t k = ::recv(fd, to, n, MSG_DONTWAIT);
    if (k > 0) return static_cast<std::size_t>(k);
    if (k == 0) {
      ended = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      error = errno;
    }
    return 0;
  }
};

}  // namespace ionet::bridge::nccl
