/* LD_PRELOAD for the bench's direct baseline: every TCP socket the ranks open uses CUBIC (a
 * stock Linux host's congestion control). A network namespace here cannot change its default
 * (BBR), but root may choose per socket; sockets accepted from a listener inherit its choice. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol) {
  static int (*real_socket)(int, int, int);
  if (!real_socket) real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
  int fd = real_socket(domain, type, protocol);
  if (fd >= 0 && (domain == AF_INET || domain == AF_INET6) && (type & 0xf) == SOCK_STREAM) {
    static const char cubic[] = "cubic";
    setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cubic, sizeof cubic - 1);
  }
  return fd;
}
