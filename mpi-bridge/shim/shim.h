/* Internals of libionet-shim.so shared by its parts: the configuration read from IONET_*, the
 * real libc functions (dlsym RTLD_NEXT), the per-fd record of virtual addresses, small I/O helpers.
 */
#pragma once

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ionet/bridge/shim_protocol.h"

/* Wrapped libc functions are the only symbols the library exports. */
#define SHIM_EXPORT __attribute__((visibility("default")))

/* The virtual interface's kernel index: far above what a container or host allocates. */
#define SHIM_IF_INDEX 10000
#define SHIM_IF_MTU 65536

typedef struct {
  int active;                   /* IONET_FORWARDER set and the rest valid */
  int emulateIf;                /* no real interface of that name exists */
  int debug;                    /* IONET_SHIM_DEBUG=1 */
  struct sockaddr_in forwarder; /* IONET_FORWARDER */
  uint32_t vaddr;               /* IONET_VADDR, network order */
  uint32_t vnet, vmask;         /* IONET_VNET, network order */
  uint32_t forwarderSource;     /* IONET_FORWARDER_SOURCE, network order */
  char vif[IFNAMSIZ];           /* IONET_VIF */
  int directCount;              /* IONET_DIRECT: peers dialled at their real address */
  uint32_t directVaddr[IONET_DIRECT_MAX], directReal[IONET_DIRECT_MAX]; /* network order */
} ShimConfig;

typedef struct {
  int (*bind)(int, const struct sockaddr*, socklen_t);
  int (*connect)(int, const struct sockaddr*, socklen_t);
  int (*accept)(int, struct sockaddr*, socklen_t*);
  int (*accept4)(int, struct sockaddr*, socklen_t*, int);
  int (*getpeername)(int, struct sockaddr*, socklen_t*);
  int (*getsockname)(int, struct sockaddr*, socklen_t*);
  int (*close)(int);
  int (*dup)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
  int (*fcntl)(int, int, ...);
  int (*fcntl64)(int, int, ...);
  int (*ioctl)(int, unsigned long, ...);
  int (*getifaddrs)(struct ifaddrs**);
  void (*freeifaddrs)(struct ifaddrs*);
  unsigned (*if_nametoindex)(const char*);
  char* (*if_indextoname)(unsigned, char*);
  struct if_nameindex* (*if_nameindex)(void);
} ShimReal;

extern ShimConfig shimConfig;
extern ShimReal shimReal;

/* Resolves the real functions and reads the environment, once; every wrapper calls it first. */
void shimInit(void);

static inline int shimActive(void) {
  shimInit();
  return shimConfig.active;
}

/* What the shim remembers about a socket: the virtual names getsockname/getpeername report.
 * The kernel's ports are kept too, so a record left by an fd closed behind the shim's back
 * (close_range, a raw syscall) is recognised as stale and ignored. */
typedef struct {
  uint8_t hasLocal, hasPeer;
  uint16_t realLocalPort, realPeerPort; /* network order */
  uint32_t localAddr, peerAddr;         /* virtual, network order */
  uint16_t localPort, peerPort;         /* virtual, network order */
} ShimRecord;

void shimRecordSet(int fd, const ShimRecord* record);
int shimRecordGet(int fd, ShimRecord* out); /* 1: found */
void shimRecordForget(int fd);
void shimRecordCopy(int from, int to); /* to's record becomes from's (or none) */

/* IPv4 address and port of an AF_INET or v4-mapped AF_INET6 sockaddr; 0 when neither. */
int shimIpv4Of(const struct sockaddr* sa, socklen_t len, uint32_t* addr, uint16_t* port);
/* Sets an AF_INET or AF_INET6 (v4-mapped) sockaddr to addr:port; returns its length. */
socklen_t shimSetIpv4(struct sockaddr_storage* ss, int family, uint32_t addr, uint16_t port);

/* Whole-buffer transfers on a socket of any blocking mode, bounded by a deadline:
 * 0 on success, else an errno (ETIMEDOUT, ECONNRESET for EOF, ...). */
int shimSendAll(int fd, const void* buf, size_t len, int timeoutMs);
int shimRecvAll(int fd, void* buf, size_t len, int timeoutMs);
/* Waits for poll events on fd: 0 (ready or an error condition), else ETIMEDOUT or poll's errno. */
int shimWait(int fd, short events, int timeoutMs);

/* "ionet-shim: ..." on stderr when IONET_SHIM_DEBUG=1. */
void shimDebug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
