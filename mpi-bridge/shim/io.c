/* Small helpers of the shim: IPv4 in AF_INET / v4-mapped AF_INET6 sockaddrs, and whole-buffer
 * socket transfers with a deadline that work whether or not the fd is non-blocking. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "shim.h"

int shimIpv4Of(const struct sockaddr* sa, socklen_t len, uint32_t* addr, uint16_t* port) {
  if (!sa) return 0;
  if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in* in = (const struct sockaddr_in*)sa;
    *addr = in->sin_addr.s_addr;
    *port = in->sin_port;
    return 1;
  }
  if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)sa;
    if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return 0;
    memcpy(addr, &in6->sin6_addr.s6_addr[12], 4);
    *port = in6->sin6_port;
    return 1;
  }
  return 0;
}

socklen_t shimSetIpv4(struct sockaddr_storage* ss, int family, uint32_t addr, uint16_t port) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET6) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = port;
    in6->sin6_addr.s6_addr[10] = 0xff;
    in6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&in6->sin6_addr.s6_addr[12], &addr, 4);
    return sizeof *in6;
  }
  struct sockaddr_in* in = (struct sockaddr_in*)ss;
  in->sin_family = AF_INET;
  in->sin_port = port;
  in->sin_addr.s_addr = addr;
  return sizeof *in;
}

static long long nowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events until the deadline: 0 ready, else an errno. EINTR restarts the wait. */
static int waitUntil(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - nowMs();
    if (left <= 0) return ETIMEDOUT;
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    int n = poll(&p, 1, (int)left);
    if (n > 0) return 0; /* readiness or an error: the next send/recv tells which */
    if (n < 0 && errno != EINTR) return errno;
  }
}

int shimSendAll(int fd, const void* buf, size_t len, int timeoutMs) {
  long long deadline = nowMs() + timeoutMs;
  const char* p = buf;
  while (len > 0) {
    /* MSG_DONTWAIT: the fd's own mode does not matter; MSG_NOSIGNAL: no SIGPIPE in the rank. */
    ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    int err = waitUntil(fd, POLLOUT, deadline);
    if (err) return err;
  }
  return 0;
}

int shimRecvAll(int fd, void* buf, size_t len, int timeoutMs) {
  long long deadline = nowMs() + timeoutMs;
  char* p = buf;
  while (len > 0) {
    ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n == 0) return ECONNRESET; /* EOF before the whole message */
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    int err = waitUntil(fd, POLLIN, deadline);
    if (err) return err;
  }
  return 0;
}

int shimWait(int fd, short events, int timeoutMs) {
  return waitUntil(fd, events, nowMs() + timeoutMs);
}
