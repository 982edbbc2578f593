// The Unix seqpacket sockets of nccl_link.h, as both ends use them: the agent's abstract address,
// one ControlMessage per packet with file descriptors beside it (SCM_RIGHTS), and the link's
// shared memory (a memfd). Plain system calls, no exceptions: the plugin calls these at NCCL's
// C boundary.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "ionet/bridge/nccl_link.h"

namespace ionet::bridge::nccl {

inline constexpr int kMaxPassedFds = 2;

// "@name" is Linux's abstract namespace (no file to clean up; per network namespace, which is
// where the agent's ranks live); anything else a path.
inline socklen_t unixAddress(const std::string& name, sockaddr_un* address) {
  std::memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  const std::size_t n = std::min(name.size(), sizeof(address->sun_path) - 1);
  std::memcpy(address->sun_path, name.data(), n);
  if (n > 0 && name[0] == '@') address->sun_path[0] = '\0';
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
}

// A connected seqpacket socket to the agent at name, or -1 with errno set.
inline int connectAgent(const std::string& name) {
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un address;
  const socklen_t length = unixAddress(name, &address);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

// Sends one message with up to kMaxPassedFds descriptors. False with errno set on failure.
inline bool sendControl(int socket, const ControlMessage& message, const int* fds = nullptr,
                        int nfds = 0) {
  iovec iov{const_cast<ControlMessage*>(&message), sizeof(message)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  if (nfds > 0) {
    msg.msg_control = space;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do {
    n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(message));
}

// Receives one message and its descriptors (fds[i] = -1 where none came; extra ones closed).
// Returns 1: a message; 0: none waiting (dontWait); -1: end of stream or error (errno; 0 at
// EOF); -2: a packet that is not a ControlMessage.
inline int receiveControl(int socket, ControlMessage* message, int* fds, int maxFds,
                          bool dontWait) {
  for (int i = 0; i < maxFds; ++i) fds[i] = -1;
  iovec iov{message, sizeof(*message)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  msg.msg_control = space;
  msg.msg_controllen = sizeof(space);
  ssize_t n;
  do {
    n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC | (dontWait ? MSG_DONTWAIT : 0));
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  if (n <= 0) {
    if (n == 0) errno = 0;
    return -1;
  }
  int got = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const int count = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (got < maxFds) {
        fds[got++] = fd;
      } else {
        ::close(fd);
      }
    }
  }
  if (n != static_cast<ssize_t>(sizeof(*message)) || !isControl(*message) ||
      (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
    for (int i = 0; i < got; ++i) ::close(fds[i]);
    return -2;
  }
  return 1;
}

// A link's shared memory: a fresh memfd of kLinkBytes, or -1 with errno set.
inline int createLinkMemory() {
  const int fd = ::memfd_create("ionet-nccl-link", MFD_CLOEXEC);
  if (fd < 0) return -1;
  if (::ftruncate(fd, static_cast<off_t>(kLinkBytes)) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

// Maps a link's memory; null with errno set on failure (a memfd of another size included).
inline void* mapLinkMemory(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return nullptr;
  if (static_cast<std::size_t>(st.st_size) != kLinkBytes) {
    errno = EPROTO;
    return nullptr;
  }
  void* p = ::mmap(nullptr, kLinkBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? nullptr : p;
}

inline void unmapLinkMemory(void* link) {
  if (link) ::munmap(link, kLinkBytes);
}

// One wake byte; a full socket buffer already holds one, so EAGAIN is fine.
inline void wakeAgent(int socket) {
  const char byte = 1;
  [[maybe_unused]] ssize_t n = ::send(socket, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace ionet::bridge::nccl
