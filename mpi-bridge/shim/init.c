/* libionet-shim.so start-up: resolves the real libc functions and reads the rank's IONET_*
 * environment once. Without IONET_FORWARDER the shim stays inactive and every call passes through.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ionet/bridge/shim_protocol.h"
#include "shim.h"

ShimConfig shimConfig;
ShimReal shimReal;

static pthread_once_t initOnce = PTHREAD_ONCE_INIT;

static void* realSymbol(const char* name) { return dlsym(RTLD_NEXT, name); }

static void resolveReal(void) {
  /* Casting void* to function pointers is what dlsym's contract requires. */
  shimReal.bind = realSymbol("bind");
  shimReal.connect = realSymbol("connect");
  shimReal.accept = realSymbol("accept");
  shimReal.accept4 = realSymbol("accept4");
  shimReal.getpeername = realSymbol("getpeername");
  shimReal.getsockname = realSymbol("getsockname");
  shimReal.close = realSymbol("close");
  shimReal.dup = realSymbol("dup");
  shimReal.dup2 = realSymbol("dup2");
  shimReal.dup3 = realSymbol("dup3");
  shimReal.fcntl = realSymbol("fcntl");
  shimReal.fcntl64 = realSymbol("fcntl64");
  if (!shimReal.fcntl64) shimReal.fcntl64 = shimReal.fcntl;
  shimReal.ioctl = realSymbol("ioctl");
  shimReal.getifaddrs = realSymbol("getifaddrs");
  shimReal.freeifaddrs = realSymbol("freeifaddrs");
  shimReal.if_nametoindex = realSymbol("if_nametoindex");
  shimReal.if_indextoname = realSymbol("if_indextoname");
  shimReal.if_nameindex = realSymbol("if_nameindex");
}

/* "127.0.0.1:PORT" */
static int parseForwarder(const char* text, struct sockaddr_in* out) {
  const char* colon = strrchr(text, ':');
  if (!colon || colon == text || (size_t)(colon - text) >= INET_ADDRSTRLEN) return 0;
  char host[INET_ADDRSTRLEN];
  memcpy(host, text, (size_t)(colon - text));
  host[colon - text] = '\0';
  char* end;
  long port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) return 0;
  memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  out->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, host, &out->sin_addr) == 1;
}

/* "100.64.0.0/10" */
static int parseNet(const char* text, uint32_t* net, uint32_t* mask) {
  const char* slash = strchr(text, '/');
  if (!slash || (size_t)(slash - text) >= INET_ADDRSTRLEN) return 0;
  char host[INET_ADDRSTRLEN];
  memcpy(host, text, (size_t)(slash - text));
  host[slash - text] = '\0';
  char* end;
  long bits = strtol(slash + 1, &end, 10);
  if (*end != '\0' || bits < 1 || bits > 32) return 0;
  struct in_addr a;
  if (inet_pton(AF_INET, host, &a) != 1) return 0;
  *mask = htonl(bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits));
  *net = a.s_addr & *mask;
  return 1;
}

/* "VADDR=IPV4,..." into the direct table; 0 on a malformed list (then nothing is direct). */
static int parseDirect(const char* text) {
  char item[64];
  const char* p = text;
  int n = 0;
  while (*p) {
    const char* end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 0 || len >= sizeof item || n >= IONET_DIRECT_MAX) return 0;
    memcpy(item, p, len);
    item[len] = '\0';
    char* eq = strchr(item, '=');
    struct in_addr v, r;
    if (!eq) return 0;
    *eq = '\0';
    if (inet_pton(AF_INET, item, &v) != 1 || inet_pton(AF_INET, eq + 1, &r) != 1) return 0;
    shimConfig.directVaddr[n] = v.s_addr;
    shimConfig.directReal[n] = r.s_addr;
    ++n;
    p = end ? end + 1 : p + len;
  }
  shimConfig.directCount = n;
  return 1;
}

static void readConfig(void) {
  const char* forwarder = getenv(IONET_ENV_FORWARDER);
  if (!forwarder || !*forwarder) return;
  const char* debug = getenv("IONET_SHIM_DEBUG");
  shimConfig.debug = debug && strcmp(debug, "1") == 0;

  const char* vaddr = getenv(IONET_ENV_VADDR);
  const char* vnet = getenv(IONET_ENV_VNET);
  const char* vif = getenv(IONET_ENV_VIF);
  struct in_addr a;
  if (!parseForwarder(forwarder, &shimConfig.forwarder) || !vaddr ||
      inet_pton(AF_INET, vaddr, &a) != 1 ||
      !parseNet(vnet && *vnet ? vnet : "100.64.0.0/10", &shimConfig.vnet, &shimConfig.vmask)) {
    dprintf(STDERR_FILENO,
            "ionet-shim: bad environment (%s=%s %s=%s %s=%s); the shim stays inactive\n",
            IONET_ENV_FORWARDER, forwarder, IONET_ENV_VADDR, vaddr ? vaddr : "(unset)",
            IONET_ENV_VNET, vnet ? vnet : "(unset)");
    return;
  }
  shimConfig.vaddr = a.s_addr;
  inet_pton(AF_INET, IONET_FORWARDER_SOURCE, &a);
  shimConfig.forwarderSource = a.s_addr;
  snprintf(shimConfig.vif, sizeof shimConfig.vif, "%s", vif && *vif ? vif : "ionet0");
  /* An interface of that name that really exists (an agent-made TUN) is left as the kernel
   * reports it. */
  shimConfig.emulateIf = shimReal.if_nametoindex(shimConfig.vif) == 0;
  const char* direct = getenv(IONET_ENV_DIRECT);
  if (direct && *direct && !parseDirect(direct)) {
    shimConfig.directCount = 0;
    dprintf(STDERR_FILENO, "ionet-shim: bad %s=%s; every host goes through the forwarder\n",
            IONET_ENV_DIRECT, direct);
  }
  shimConfig.active = 1;
}

static void initOnceBody(void) {
  resolveReal();
  readConfig();
}

void shimInit(void) { pthread_once(&initOnce, initOnceBody); }

/* Early, while the process is single-threaded: later calls only check the once-flag. */
__attribute__((constructor)) static void shimConstructor(void) { shimInit(); }

void shimDebug(const char* fmt, ...) {
  if (!shimConfig.debug) return;
  static const char prefix[] = "ionet-shim: ";
  char line[256];
  memcpy(line, prefix, sizeof prefix - 1);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line + sizeof prefix - 1, sizeof line - sizeof prefix, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  n += (int)sizeof prefix - 1;
  if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  /* One write per line so lines of concurrent ranks and threads do not interleave. */
  ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
  (void)ignored;
}
