/* The virtual interface ($IONET_VIF, $IONET_VADDR in $IONET_VNET) as programs enumerate it:
 * getifaddrs, ioctl SIOCGIFCONF and the per-name SIOCGIF* requests, if_nametoindex & co. */
#include <errno.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "shim.h"

/* Not IFF_LOOPBACK: Open MPI and NCCL skip loopback interfaces. */
#define SHIM_IF_FLAGS (IFF_UP | IFF_RUNNING | IFF_BROADCAST | IFF_MULTICAST)

static int emulating(void) { return shimActive() && shimConfig.emulateIf; }

static int isVif(const char* name) { return name && strncmp(name, shimConfig.vif, IFNAMSIZ) == 0; }

static void setInet(struct sockaddr* sa, uint32_t addr) {
  struct sockaddr_in* in = (struct sockaddr_in*)sa;
  memset(in, 0, sizeof *in);
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = addr;
}

static uint32_t broadcastAddr(void) { return shimConfig.vaddr | ~shimConfig.vmask; }

/* ---- getifaddrs ----
 * glibc returns its whole list as one allocation that freeifaddrs frees with one free(); the
 * virtual node is a separate allocation, marked by ifa_data pointing at nodeTag, which the
 * freeifaddrs wrapper unlinks and frees before handing the rest to glibc. */
typedef struct {
  struct ifaddrs ifa;
  struct sockaddr_in addr, netmask, broadcast;
  char name[IFNAMSIZ];
} VirtualIfaddr;

static char nodeTag;

SHIM_EXPORT int getifaddrs(struct ifaddrs** out) {
  shimInit();
  int rc = shimReal.getifaddrs(out);
  if (rc != 0 || !emulating()) return rc;
  VirtualIfaddr* node = calloc(1, sizeof *node);
  if (!node) return rc; /* still a valid list, only without the virtual interface */
  memcpy(node->name, shimConfig.vif, sizeof node->name);
  setInet((struct sockaddr*)&node->addr, shimConfig.vaddr);
  setInet((struct sockaddr*)&node->netmask, shimConfig.vmask);
  setInet((struct sockaddr*)&node->broadcast, broadcastAddr());
  node->ifa.ifa_name = node->name;
  node->ifa.ifa_flags = SHIM_IF_FLAGS;
  node->ifa.ifa_addr = (struct sockaddr*)&node->addr;
  node->ifa.ifa_netmask = (struct sockaddr*)&node->netmask;
  node->ifa.ifa_broadaddr = (struct sockaddr*)&node->broadcast;
  node->ifa.ifa_data = &nodeTag;
  struct ifaddrs** tail = out;
  while (*tail) tail = &(*tail)->ifa_next;
  *tail = &node->ifa;
  return rc;
}

SHIM_EXPORT void freeifaddrs(struct ifaddrs* list) {
  shimInit();
  struct ifaddrs** link = &list;
  while (*link) {
    struct ifaddrs* node = *link;
    if (node->ifa_data == &nodeTag) {
      *link = node->ifa_next;
      free(node); /* ifa is the first member of VirtualIfaddr */
    } else {
      link = &node->ifa_next;
    }
  }
  if (list) shimReal.freeifaddrs(list);
}

/* ---- ioctl ---- */

/* Linux semantics: a NULL buffer asks for the size needed; otherwise whole ifreqs are written
 * while they fit and ifc_len becomes the bytes written. Open MPI's posix_ipv4 grows its buffer
 * until two calls agree, so appending only when there is room is enough. */
static void appendIfconf(struct ifconf* ifc, int givenLen) {
  if (!ifc->ifc_req) {
    ifc->ifc_len += (int)sizeof(struct ifreq);
    return;
  }
  if (givenLen - ifc->ifc_len < (int)sizeof(struct ifreq)) return;
  struct ifreq* ifr = (struct ifreq*)(ifc->ifc_buf + ifc->ifc_len);
  memset(ifr, 0, sizeof *ifr);
  memcpy(ifr->ifr_name, shimConfig.vif, IFNAMSIZ);
  setInet(&ifr->ifr_addr, shimConfig.vaddr);
  ifc->ifc_len += (int)sizeof(struct ifreq);
}

/* The requests answered for the virtual interface; all take a struct ifreq. */
static int isIfreqRequest(unsigned long req) {
  switch (req) {
    case SIOCGIFFLAGS:
    case SIOCGIFADDR:
    case SIOCGIFNETMASK:
    case SIOCGIFBRDADDR:
    case SIOCGIFINDEX:
    case SIOCGIFMTU:
    case SIOCGIFMETRIC:
    case SIOCGIFHWADDR:
    case SIOCGIFNAME:
      return 1;
    default:
      return 0;
  }
}

/* Answers a per-name request (one isIfreqRequest accepts) for the virtual interface. */
static void answerIfreq(unsigned long req, struct ifreq* ifr) {
  switch (req) {
    case SIOCGIFFLAGS:
      ifr->ifr_flags = SHIM_IF_FLAGS;
      return;
    case SIOCGIFADDR:
      setInet(&ifr->ifr_addr, shimConfig.vaddr);
      return;
    case SIOCGIFNETMASK:
      setInet(&ifr->ifr_netmask, shimConfig.vmask);
      return;
    case SIOCGIFBRDADDR:
      setInet(&ifr->ifr_broadaddr, broadcastAddr());
      return;
    case SIOCGIFINDEX:
      ifr->ifr_ifindex = SHIM_IF_INDEX;
      return;
    case SIOCGIFMTU:
      ifr->ifr_mtu = SHIM_IF_MTU;
      return;
    case SIOCGIFMETRIC:
      ifr->ifr_metric = 0;
      return;
    case SIOCGIFHWADDR: /* no link layer, like a TUN device */
      memset(&ifr->ifr_hwaddr, 0, sizeof ifr->ifr_hwaddr);
      ifr->ifr_hwaddr.sa_family = ARPHRD_NONE;
      return;
    default:
      return;
  }
}

SHIM_EXPORT int ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  shimInit();
  /* Only the interface queries are looked at; everything else goes straight through. */
  if ((req != SIOCGIFCONF && !isIfreqRequest(req)) || !arg || !emulating())
    return shimReal.ioctl(fd, req, arg);

  if (req == SIOCGIFCONF) {
    struct ifconf* ifc = arg;
    int givenLen = ifc->ifc_len;
    int rc = shimReal.ioctl(fd, req, arg);
    if (rc == 0) appendIfconf(ifc, givenLen);
    return rc;
  }
  struct ifreq* ifr = arg;
  if (req == SIOCGIFNAME && ifr->ifr_ifindex == SHIM_IF_INDEX) {
    memcpy(ifr->ifr_name, shimConfig.vif, IFNAMSIZ);
    return 0;
  }
  if (req != SIOCGIFNAME && isVif(ifr->ifr_name)) {
    answerIfreq(req, ifr);
    return 0;
  }
  return shimReal.ioctl(fd, req, arg);
}

/* ---- if_nametoindex & co ---- */

SHIM_EXPORT unsigned if_nametoindex(const char* name) {
  if (emulating() && isVif(name)) return SHIM_IF_INDEX;
  return shimReal.if_nametoindex(name);
}

SHIM_EXPORT char* if_indextoname(unsigned index, char name[IF_NAMESIZE]) {
  if (emulating() && index == SHIM_IF_INDEX) {
    memcpy(name, shimConfig.vif, IF_NAMESIZE);
    return name;
  }
  return shimReal.if_indextoname(index, name);
}

/* glibc's if_freenameindex frees each name and then the array with free(), so the array can
 * be grown with realloc and the extra name strdup'ed: no if_freenameindex wrapper is needed. */
SHIM_EXPORT struct if_nameindex* if_nameindex(void) {
  shimInit();
  struct if_nameindex* list = shimReal.if_nameindex();
  if (!list || !emulating()) return list;
  size_t n = 0;
  while (list[n].if_index != 0 || list[n].if_name != NULL) n++;
  char* name = strdup(shimConfig.vif);
  struct if_nameindex* grown = name ? realloc(list, (n + 2) * sizeof *list) : NULL;
  if (!grown) {
    free(name);
    return list;
  }
  grown[n].if_index = SHIM_IF_INDEX;
  grown[n].if_name = name;
  grown[n + 1].if_index = 0;
  grown[n + 1].if_name = NULL;
  return grown;
}
