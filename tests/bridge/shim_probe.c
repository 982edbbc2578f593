/* shim_probe: what a rank sees through libionet-shim.so, printed as "key value" lines for
 * bridge_unit_tests, which runs it with and without LD_PRELOAD. One subcommand per check. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char* text(const struct sockaddr* sa, char* buf, size_t len) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in* in = (const void*)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6* in6 = (const void*)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  }
  snprintf(buf, len, "%s:%u", host, port);
  return buf;
}

static void printName(const char* key, int fd, int peer) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char buf[80];
  int rc = peer ? getpeername(fd, (struct sockaddr*)&ss, &len)
                : getsockname(fd, (struct sockaddr*)&ss, &len);
  if (rc != 0)
    printf("%s error %s\n", key, strerror(errno));
  else
    printf("%s %s len=%u\n", key, text((struct sockaddr*)&ss, buf, sizeof buf), (unsigned)len);
}

static double nowSeconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "ADDR" as AF_INET, or as v4-mapped AF_INET6 when family is 6. */
static socklen_t makeAddr(struct sockaddr_storage* ss, int family, const char* addr, int port) {
  memset(ss, 0, sizeof *ss);
  if (family == 6) {
    struct sockaddr_in6* in6 = (void*)ss;
    char mapped[64];
    snprintf(mapped, sizeof mapped, strchr(addr, ':') ? "%s" : "::ffff:%s", addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, mapped, &in6->sin6_addr) != 1) exit(2);
    return sizeof *in6;
  }
  struct sockaddr_in* in = (void*)ss;
  in->sin_family = AF_INET;
  in->sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &in->sin_addr) != 1) exit(2);
  return sizeof *in;
}

static int cmdIfaddrs(void) {
  struct ifaddrs* list;
  if (getifaddrs(&list) != 0) return 1;
  for (struct ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    char a[INET_ADDRSTRLEN], m[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((struct sockaddr_in*)i->ifa_addr)->sin_addr, a, sizeof a);
    inet_ntop(AF_INET, &((struct sockaddr_in*)i->ifa_netmask)->sin_addr, m, sizeof m);
    printf("ifaddr %s %s %s up=%d loopback=%d\n", i->ifa_name, a, m, !!(i->ifa_flags & IFF_UP),
           !!(i->ifa_flags & IFF_LOOPBACK));
  }
  freeifaddrs(list);
  /* freeifaddrs must free the virtual node too: heap use may not grow with the cycles. */
  struct mallinfo2 before = mallinfo2();
  for (int k = 0; k < 2000; k++) {
    if (getifaddrs(&list) != 0) return 1;
    freeifaddrs(list);
  }
  struct mallinfo2 after = mallinfo2();
  printf("heap-growth %ld\n", (long)after.uordblks - (long)before.uordblks);
  return 0;
}

static int cmdIfconf(const char* vif) {
  int sd = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifconf ifc = {.ifc_len = 0, .ifc_req = NULL};
  if (ioctl(sd, SIOCGIFCONF, &ifc) != 0) return 1;
  printf("ifconf-needed %d entries=%d\n", ifc.ifc_len, ifc.ifc_len / (int)sizeof(struct ifreq));
  int needed = ifc.ifc_len;
  /* Exactly the size asked for, then one entry short: the shim never overruns the buffer. */
  for (int shortBy = 0; shortBy <= 1; shortBy++) {
    int size = needed - shortBy * (int)sizeof(struct ifreq);
    char* buf = malloc((size_t)size + sizeof(struct ifreq));
    memset(buf, 0x5a, (size_t)size + sizeof(struct ifreq));
    ifc.ifc_len = size;
    ifc.ifc_buf = buf;
    if (ioctl(sd, SIOCGIFCONF, &ifc) != 0) return 1;
    printf("ifconf-given %d returned %d guard-intact %d\n", size, ifc.ifc_len,
           (unsigned char)buf[size] == 0x5a);
    for (int off = 0; shortBy == 0 && off < ifc.ifc_len; off += (int)sizeof(struct ifreq)) {
      struct ifreq* r = (struct ifreq*)(buf + off);
      char a[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &((struct sockaddr_in*)&r->ifr_addr)->sin_addr, a, sizeof a);
      printf("ifconf %s %s\n", r->ifr_name, a);
    }
    free(buf);
  }
  struct ifreq r;
  char a[INET_ADDRSTRLEN];
#define QUERY(req, what)                              \
  memset(&r, 0, sizeof r);                            \
  snprintf(r.ifr_name, sizeof r.ifr_name, "%s", vif); \
  if (ioctl(sd, req, &r) != 0) {                      \
    printf("%s error %s\n", what, strerror(errno));   \
  } else
#define INET(field) inet_ntop(AF_INET, &((struct sockaddr_in*)&r.field)->sin_addr, a, sizeof a)
  QUERY(SIOCGIFFLAGS, "flags")
  printf("flags up=%d running=%d loopback=%d\n", !!(r.ifr_flags & IFF_UP),
         !!(r.ifr_flags & IFF_RUNNING), !!(r.ifr_flags & IFF_LOOPBACK));
  QUERY(SIOCGIFADDR, "addr") printf("addr %s\n", INET(ifr_addr));
  QUERY(SIOCGIFNETMASK, "netmask") printf("netmask %s\n", INET(ifr_netmask));
  QUERY(SIOCGIFBRDADDR, "broadcast") printf("broadcast %s\n", INET(ifr_broadaddr));
  QUERY(SIOCGIFINDEX, "index") printf("index %d\n", r.ifr_ifindex);
  QUERY(SIOCGIFMTU, "mtu") printf("mtu %d\n", r.ifr_mtu);
  QUERY(SIOCGIFHWADDR, "hwaddr") {
    int zero = 1;
    for (int k = 0; k < 6; k++) zero &= r.ifr_hwaddr.sa_data[k] == 0;
    printf("hwaddr zero=%d\n", zero);
  }
  unsigned index = if_nametoindex(vif);
  char name[IF_NAMESIZE] = "";
  printf("nametoindex %u indextoname %s\n", index, if_indextoname(index, name) ? name : "(none)");
  struct if_nameindex* all = if_nameindex();
  for (struct if_nameindex* p = all; p && p->if_index; p++)
    printf("nameindex %u %s\n", p->if_index, p->if_name);
  if_freenameindex(all);
  close(sd);
  return 0;
}

static int cmdBind(const char* addr, int family) {
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  struct sockaddr_storage ss;
  socklen_t len = makeAddr(&ss, family, addr, 0);
  int rc = bind(fd, (struct sockaddr*)&ss, len);
  printf("bind rc=%d errno=%s\n", rc, rc ? strerror(errno) : "0");
  if (rc == 0) printName("sockname", fd, 0);
  return 0;
}

/* Accepts count connections one after the other and echoes each until EOF. */
static int cmdServe(const char* addr, int family, int count) {
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_storage ss;
  socklen_t len = makeAddr(&ss, family, addr, 0);
  if (bind(fd, (struct sockaddr*)&ss, len) != 0 || listen(fd, 16) != 0) {
    printf("listen error %s\n", strerror(errno));
    return 1;
  }
  len = sizeof ss;
  getsockname(fd, (struct sockaddr*)&ss, &len);
  printf("listening %u\n", ntohs(family == 6 ? ((struct sockaddr_in6*)&ss)->sin6_port
                                             : ((struct sockaddr_in*)&ss)->sin_port));
  fflush(stdout);
  for (int k = 0; k < count; k++) {
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    /* Alternate accept4 (non-blocking, as Python's and event loops' are) and plain accept
     * (Open MPI's). */
    int nonblocking = k % 2 == 0;
    int c = nonblocking ? accept4(fd, (struct sockaddr*)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC)
                        : accept(fd, (struct sockaddr*)&peer, &plen);
    if (c < 0) {
      printf("accept error %s\n", strerror(errno));
      fflush(stdout);
      continue;
    }
    char buf[80];
    printf("accepted %s\n", text((struct sockaddr*)&peer, buf, sizeof buf));
    printName("peername", c, 1);
    printName("sockname", c, 0);
    fflush(stdout);
    if (nonblocking) fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);
    char data[65536];
    ssize_t n;
    while ((n = read(c, data, sizeof data)) > 0) write(c, data, (size_t)n);
    close(c);
  }
  return 0;
}

/* connect ADDR PORT FAMILY MODE: MODE "block" or "nonblock"; then a 1 MiB echo round trip. */
static int cmdConnect(const char* addr, int port, int family, const char* mode) {
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  int nonblock = strcmp(mode, "nonblock") == 0;
  if (nonblock) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  struct sockaddr_storage ss;
  socklen_t len = makeAddr(&ss, family, addr, port);
  double start = nowSeconds();
  int rc = connect(fd, (struct sockaddr*)&ss, len);
  int err = rc ? errno : 0;
  if (rc != 0 && err == EINPROGRESS) { /* wait briefly for the outcome, as callers do */
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    socklen_t elen = sizeof err;
    if (poll(&p, 1, 500) == 1)
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
    else
      err = EINPROGRESS;
    rc = err ? -1 : 0;
  }
  printf("connect rc=%d errno=%s seconds=%.3f nonblock-kept=%d\n", rc, err ? strerror(err) : "0",
         nowSeconds() - start, !!(fcntl(fd, F_GETFL) & O_NONBLOCK) == nonblock);
  if (rc != 0) return 0;
  printName("sockname", fd, 0);
  printName("peername", fd, 1);
  fflush(stdout);
  if (nonblock) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  size_t total = 1 << 20;
  char* out = malloc(total);
  char* in = malloc(total);
  for (size_t k = 0; k < total; k++) out[k] = (char)(k * 7 + 3);
  size_t sent = 0, got = 0;
  while (got < total) { /* interleave so neither side's buffers fill up */
    if (sent < total) {
      ssize_t n = write(fd, out + sent, total - sent < 65536 ? total - sent : 65536);
      if (n <= 0) break;
      sent += (size_t)n;
    }
    ssize_t n = read(fd, in + got, total - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  printf("echo %s\n", got == total && memcmp(in, out, total) == 0 ? "ok" : "bad");
  /* The record follows dup'ed fds and is dropped on close. */
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 100);
  close(fd);
  printName("dup-peername", copy, 1);
  int second = dup(copy);
  close(copy);
  printName("dup2-peername", second, 1);
  close(second);
  return 0;
}

static int cmdUdp(const char* addr, int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_storage ss;
  socklen_t len = makeAddr(&ss, 4, addr, port);
  int rc = connect(fd, (struct sockaddr*)&ss, len);
  printf("udp-connect rc=%d errno=%s\n", rc, rc ? strerror(errno) : "0");
  if (rc == 0) printName("peername", fd, 1);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "ifaddrs") == 0) return cmdIfaddrs();
  if (argc >= 3 && strcmp(argv[1], "ifconf") == 0) return cmdIfconf(argv[2]);
  if (argc >= 4 && strcmp(argv[1], "bind") == 0) return cmdBind(argv[2], atoi(argv[3]));
  if (argc >= 5 && strcmp(argv[1], "serve") == 0)
    return cmdServe(argv[2], atoi(argv[3]), atoi(argv[4]));
  if (argc >= 6 && strcmp(argv[1], "connect") == 0)
    return cmdConnect(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5]);
  if (argc >= 4 && strcmp(argv[1], "udp") == 0) return cmdUdp(argv[2], atoi(argv[3]));
  fprintf(stderr,
          "usage: shim_probe ifaddrs | ifconf VIF | bind ADDR 4|6 | serve ADDR 4|6 COUNT |\n"
          "       connect ADDR PORT 4|6 block|nonblock | udp ADDR PORT\n");
  return 2;
}
