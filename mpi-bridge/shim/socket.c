/* Socket redirection: binds to $IONET_VADDR land on 127.0.0.1, TCP connects into $IONET_VNET
 * go through the local forwarder (shim_protocol.h), and the forwarder's accepted connections
 * have their AcceptPreamble consumed; getsockname/getpeername report the virtual names. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ionet/bridge/shim_protocol.h"
#include "shim.h"

_Static_assert(sizeof(IonetForwardRequest) == 16, "contract: 16-byte ForwardRequest");
_Static_assert(sizeof(IonetForwardReply) == 8, "contract: 8-byte ForwardReply");
_Static_assert(sizeof(IonetAcceptPreamble) == 16, "contract: 16-byte AcceptPreamble");

/* The forwarder answers only once the onward connection is up or failed: allow for a WAN. */
#define REPLY_TIMEOUT_MS 60000
/* The forwarder writes the preamble right after its local connect. */
#define PREAMBLE_TIMEOUT_MS 5000
/* Connecting to the forwarder on loopback. */
#define CONNECT_TIMEOUT_MS 10000

static int inVnet(uint32_t addr) { return (addr & shimConfig.vmask) == shimConfig.vnet; }

static int socketInt(int fd, int option) {
  int value = -1;
  socklen_t len = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, option, &value, &len) != 0) return -1;
  return value;
}

static uint16_t portOf(const struct sockaddr_storage* ss) {
  return ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6*)ss)->sin6_port
                                   : ((const struct sockaddr_in*)ss)->sin_port;
}

static uint16_t realLocalPort(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (shimReal.getsockname(fd, (struct sockaddr*)&ss, &len) != 0) return 0;
  return portOf(&ss);
}

/* The kernel's way of filling a caller's sockaddr: truncate, report the full length. */
static void copyOut(struct sockaddr* addr, socklen_t* addrLen, const struct sockaddr_storage* ss,
                    socklen_t len) {
  if (!addr || !addrLen) return;
  memcpy(addr, ss, *addrLen < len ? *addrLen : len);
  *addrLen = len;
}

static const char* ipv4Text(uint32_t addr, char* buf) {
  return inet_ntop(AF_INET, &addr, buf, INET_ADDRSTRLEN) ? buf : "?";
}

/* ---- bind ---- */

SHIM_EXPORT int bind(int fd, __CONST_SOCKADDR_ARG addrArg, socklen_t len) {
  const struct sockaddr* addr = addrArg.__sockaddr__;
  uint32_t a;
  uint16_t port;
  if (!shimActive() || !shimIpv4Of(addr, len, &a, &port) || a != shimConfig.vaddr)
    return shimReal.bind(fd, addr, len);
  /* The kernel has no such address: take the loopback one, same port, same family; with
   * direct peers every address, so that they reach the port at this host's real address. */
  struct sockaddr_storage local;
  memcpy(&local, addr, len < sizeof local ? len : sizeof local);
  uint32_t loopback = shimConfig.directCount > 0 ? htonl(INADDR_ANY) : htonl(INADDR_LOOPBACK);
  if (addr->sa_family == AF_INET6)
    memcpy(&((struct sockaddr_in6*)&local)->sin6_addr.s6_addr[12], &loopback, 4);
  else
    ((struct sockaddr_in*)&local)->sin_addr.s_addr = loopback;
  int rc = shimReal.bind(fd, (struct sockaddr*)&local, len);
  if (rc == 0) {
    int saved = errno;
    ShimRecord r = {0};
    r.hasLocal = 1;
    r.realLocalPort = r.localPort = realLocalPort(fd);
    r.localAddr = shimConfig.vaddr;
    shimRecordSet(fd, &r);
    errno = saved;
  }
  return rc;
}

/* ---- connect ---- */

/* Connects fd (blocking or not) to the forwarder and waits for the connection: 0 or errno. */
static int connectForwarder(int fd, int family) {
  struct sockaddr_storage fwd;
  socklen_t len = shimSetIpv4(&fwd, family, shimConfig.forwarder.sin_addr.s_addr,
                              shimConfig.forwarder.sin_port);
  if (shimReal.connect(fd, (struct sockaddr*)&fwd, len) == 0) return 0;
  if (errno != EINPROGRESS && errno != EINTR) return errno;
  /* Non-blocking, or a blocking connect interrupted by a signal: the handshake goes on in the
   * kernel (at once, on loopback). Writability ends it; SO_ERROR tells how. */
  int err = shimWait(fd, POLLOUT, CONNECT_TIMEOUT_MS);
  if (err) return err;
  int soError = socketInt(fd, SO_ERROR);
  return soError < 0 ? errno : soError;
}

/* Leaves fd unconnected again (TCP supports connect(AF_UNSPEC)), so a failed virtual connect
 * looks like a failed real one and the fd may be reused. */
static void disconnect(int fd) {
  struct sockaddr unspec;
  memset(&unspec, 0, sizeof unspec);
  unspec.sa_family = AF_UNSPEC;
  shimReal.connect(fd, &unspec, sizeof unspec);
}

/* The forwarder handshake on a connected fd: 0 or the errno connect() must report. */
static int forwardHandshake(int fd, uint32_t dst, uint16_t dstPort, uint16_t localPort) {
  IonetForwardRequest req;
  memcpy(req.magic, "IOF1", 4);
  req.dstAddr = dst; /* both already network order */
  req.dstPort = dstPort;
  req.srcPort = localPort;
  req.reserved = 0;
  int err = shimSendAll(fd, &req, sizeof req, REPLY_TIMEOUT_MS);
  if (err) return ECONNREFUSED;
  IonetForwardReply reply;
  err = shimRecvAll(fd, &reply, sizeof reply, REPLY_TIMEOUT_MS);
  if (err == ETIMEDOUT) return ETIMEDOUT;
  if (err || memcmp(reply.magic, "IOR1", 4) != 0) return ECONNREFUSED;
  int32_t status = (int32_t)ntohl((uint32_t)reply.error);
  return status < 0 ? ECONNREFUSED : status;
}

/* The end of a virtual connect, either way: says how it went and, when it worked, records the
 * virtual names (the kernel's peer port is realPeerPort). connect()'s result. */
static int connected(int fd, int err, const char* how, uint32_t dst, uint16_t dstPort,
                     uint16_t localPort, uint16_t realPeerPort) {
  char text[INET_ADDRSTRLEN];
  shimDebug("connect %s:%u %s: %s", ipv4Text(dst, text), ntohs(dstPort), how,
            err ? strerror(err) : "ok");
  if (err) {
    errno = err;
    return -1;
  }
  ShimRecord r = {0};
  r.hasLocal = r.hasPeer = 1;
  r.realLocalPort = r.localPort = localPort;
  r.localAddr = shimConfig.vaddr;
  r.realPeerPort = realPeerPort;
  r.peerAddr = dst;
  r.peerPort = dstPort;
  shimRecordSet(fd, &r);
  /* 0 even on a non-blocking socket: the connection is up, and callers handle immediate
   * success (poll reports it writable with SO_ERROR 0 either way). */
  return 0;
}

/* The real address of a direct peer's virtual one, or 0. */
static uint32_t directRealOf(uint32_t vaddr) {
  for (int i = 0; i < shimConfig.directCount; ++i)
    if (shimConfig.directVaddr[i] == vaddr) return shimConfig.directReal[i];
  return 0;
}

static int isDirectReal(uint32_t real) {
  for (int i = 0; i < shimConfig.directCount; ++i)
    if (shimConfig.directReal[i] == real) return 1;
  return 0;
}

/* A direct peer: the kernel connects to its real address; the preamble the forwarder would
 * have written goes first, from here. */
static int directConnect(int fd, int family, uint32_t dst, uint16_t dstPort, uint32_t real) {
  struct sockaddr_storage to;
  socklen_t len = shimSetIpv4(&to, family, real, dstPort);
  int err = 0;
  if (shimReal.connect(fd, (struct sockaddr*)&to, len) != 0) {
    err = errno;
    if (err == EINPROGRESS || err == EINTR) {
      err = shimWait(fd, POLLOUT, REPLY_TIMEOUT_MS);
      if (!err) {
        int soError = socketInt(fd, SO_ERROR);
        err = soError < 0 ? errno : soError;
      }
    }
  }
  uint16_t localPort = 0;
  if (!err) {
    localPort = realLocalPort(fd);
    IonetAcceptPreamble pre;
    memcpy(pre.magic, "IOA1", 4);
    pre.srcAddr = shimConfig.vaddr;
    pre.srcPort = localPort;
    pre.dstPort = dstPort;
    pre.dstAddr = dst;
    if (shimSendAll(fd, &pre, sizeof pre, REPLY_TIMEOUT_MS) != 0) err = ECONNRESET;
  }
  if (err && err != EISCONN && err != EALREADY && err != EBADF && err != ENOTSOCK) disconnect(fd);
  return connected(fd, err, "direct", dst, dstPort, localPort, dstPort);
}

static int redirectConnect(int fd, int family, uint32_t dst, uint16_t dstPort) {
  int err = connectForwarder(fd, family);
  uint16_t localPort = 0;
  if (err) {
    /* Misuse of the fd (already connected, bad fd) is reported as the kernel would; any other
     * failure means no forwarder: as if nobody listened at the destination. */
    if (err != EISCONN && err != EALREADY && err != EBADF && err != ENOTSOCK && err != EINVAL) {
      disconnect(fd); /* abandons a handshake still in progress after a timeout */
      err = ECONNREFUSED;
    }
  } else {
    localPort = realLocalPort(fd);
    err = forwardHandshake(fd, dst, dstPort, localPort);
    if (err) disconnect(fd);
  }
  return connected(fd, err, "via forwarder", dst, dstPort, localPort,
                   shimConfig.forwarder.sin_port);
}

SHIM_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addrArg, socklen_t len) {
  const struct sockaddr* addr = addrArg.__sockaddr__;
  uint32_t dst;
  uint16_t port;
  if (!shimActive() || !shimIpv4Of(addr, len, &dst, &port) || !inVnet(dst))
    return shimReal.connect(fd, addr, len);
  /* Only TCP: the resolver connects UDP sockets. A family mismatch is the kernel's error. */
  if (socketInt(fd, SO_TYPE) != SOCK_STREAM || socketInt(fd, SO_DOMAIN) != addr->sa_family)
    return shimReal.connect(fd, addr, len);
  ShimRecord r;
  if (shimRecordGet(fd, &r) && r.hasPeer) {
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (shimReal.getpeername(fd, (struct sockaddr*)&peer, &plen) == 0 &&
        portOf(&peer) == r.realPeerPort) {
      errno = EISCONN;
      return -1;
    }
  }
  uint32_t real = directRealOf(dst);
  if (real) return directConnect(fd, addr->sa_family, dst, port, real);
  return redirectConnect(fd, addr->sa_family, dst, port);
}

/* ---- accept ---- */

/* On a connection from the forwarder: consumes the preamble, records the virtual names and
 * rewrites *peer to the virtual source. 0, or -1 with the fd closed and errno ECONNABORTED. */
static int takePreamble(int fd, struct sockaddr_storage* peer, socklen_t* peerLen,
                        const char* how) {
  IonetAcceptPreamble pre;
  int err = shimRecvAll(fd, &pre, sizeof pre, PREAMBLE_TIMEOUT_MS);
  if (err || memcmp(pre.magic, "IOA1", 4) != 0) {
    shimDebug("accept %s: bad preamble (%s)", how, err ? strerror(err) : "magic");
    shimReal.close(fd);
    errno = ECONNABORTED;
    return -1;
  }
  ShimRecord r = {0};
  r.hasLocal = r.hasPeer = 1;
  r.realLocalPort = realLocalPort(fd);
  r.realPeerPort = portOf(peer);
  r.localAddr = pre.dstAddr;
  r.localPort = pre.dstPort;
  r.peerAddr = pre.srcAddr;
  r.peerPort = pre.srcPort;
  shimRecordSet(fd, &r);
  *peerLen = shimSetIpv4(peer, peer->ss_family, pre.srcAddr, pre.srcPort);
  char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
  shimDebug("accept %s:%u -> %s:%u %s: ok", ipv4Text(pre.srcAddr, src), ntohs(pre.srcPort),
            ipv4Text(pre.dstAddr, dst), ntohs(pre.dstPort), how);
  return 0;
}

static int acceptCommon(int fd, struct sockaddr* addr, socklen_t* addrLen, int flags,
                        int withFlags) {
  struct sockaddr_storage peer;
  socklen_t peerLen = sizeof peer;
  int newFd = withFlags ? shimReal.accept4(fd, (struct sockaddr*)&peer, &peerLen, flags)
                        : shimReal.accept(fd, (struct sockaddr*)&peer, &peerLen);
  if (newFd < 0) return newFd;
  shimRecordForget(newFd);
  uint32_t a;
  uint16_t port;
  /* The forwarder and direct peers write a preamble first; anyone else is passed through. */
  if (shimIpv4Of((struct sockaddr*)&peer, peerLen, &a, &port) &&
      (a == shimConfig.forwarderSource || isDirectReal(a)) &&
      takePreamble(newFd, &peer, &peerLen,
                   a == shimConfig.forwarderSource ? "via forwarder" : "direct") != 0)
    return -1;
  copyOut(addr, addrLen, &peer, peerLen);
  return newFd;
}

SHIM_EXPORT int accept(int fd, __SOCKADDR_ARG addrArg, socklen_t* addrLen) {
  struct sockaddr* addr = addrArg.__sockaddr__;
  if (!shimActive()) return shimReal.accept(fd, addr, addrLen);
  return acceptCommon(fd, addr, addrLen, 0, 0);
}

SHIM_EXPORT int accept4(int fd, __SOCKADDR_ARG addrArg, socklen_t* addrLen, int flags) {
  struct sockaddr* addr = addrArg.__sockaddr__;
  if (!shimActive()) return shimReal.accept4(fd, addr, addrLen, flags);
  return acceptCommon(fd, addr, addrLen, flags, 1);
}

/* ---- names ---- */

/* The real name, replaced by the virtual one when fd's record matches the kernel's port. */
static int virtualName(int fd, struct sockaddr* addr, socklen_t* addrLen, int peerSide) {
  int (*real)(int, struct sockaddr*, socklen_t*) =
      peerSide ? shimReal.getpeername : shimReal.getsockname;
  if (!shimActive() || !addr || !addrLen) return real(fd, addr, addrLen);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (real(fd, (struct sockaddr*)&ss, &len) != 0) return -1;
  ShimRecord r;
  if ((ss.ss_family == AF_INET || ss.ss_family == AF_INET6) && shimRecordGet(fd, &r)) {
    if (peerSide && r.hasPeer && portOf(&ss) == r.realPeerPort)
      len = shimSetIpv4(&ss, ss.ss_family, r.peerAddr, r.peerPort);
    else if (!peerSide && r.hasLocal && portOf(&ss) == r.realLocalPort)
      len = shimSetIpv4(&ss, ss.ss_family, r.localAddr, r.localPort);
  }
  copyOut(addr, addrLen, &ss, len);
  return 0;
}

SHIM_EXPORT int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t* addrLen) {
  return virtualName(fd, addr.__sockaddr__, addrLen, 1);
}

SHIM_EXPORT int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t* addrLen) {
  return virtualName(fd, addr.__sockaddr__, addrLen, 0);
}
