/* The shim's per-fd records (virtual local/peer names of redirected sockets) and the wrappers
 * that keep them in step with the fd's life: close, dup, dup2, dup3, fcntl(F_DUPFD*). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "shim.h"

/* Two levels so that only the fd ranges in use cost memory: chunks of 1024 records are
 * calloc'ed on first use (malloc never calls back into a wrapped function). */
#define CHUNK_BITS 10
#define CHUNK_SIZE (1 << CHUNK_BITS)
#define MAX_CHUNKS 1024 /* fds up to 2^20; sockets above that are not tracked */

static ShimRecord* chunks[MAX_CHUNKS];
static pthread_mutex_t tableLock = PTHREAD_MUTEX_INITIALIZER;
/* Set once the first record exists; until then close/dup skip the lock entirely. */
static int anyRecord;

static int hasAnyRecord(void) { return __atomic_load_n(&anyRecord, __ATOMIC_ACQUIRE); }

/* The slot of fd, or NULL; create allocates its chunk. Called with tableLock held. */
static ShimRecord* slot(int fd, int create) {
  if (fd < 0 || (fd >> CHUNK_BITS) >= MAX_CHUNKS) return NULL;
  ShimRecord** chunk = &chunks[fd >> CHUNK_BITS];
  if (!*chunk && create) *chunk = calloc(CHUNK_SIZE, sizeof(ShimRecord));
  return *chunk ? &(*chunk)[fd & (CHUNK_SIZE - 1)] : NULL;
}

static int present(const ShimRecord* r) { return r && (r->hasLocal || r->hasPeer); }

void shimRecordSet(int fd, const ShimRecord* record) {
  pthread_mutex_lock(&tableLock);
  ShimRecord* r = slot(fd, 1);
  if (r) {
    *r = *record;
    __atomic_store_n(&anyRecord, 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&tableLock);
}

int shimRecordGet(int fd, ShimRecord* out) {
  if (!hasAnyRecord()) return 0;
  pthread_mutex_lock(&tableLock);
  ShimRecord* r = slot(fd, 0);
  int found = present(r);
  if (found) *out = *r;
  pthread_mutex_unlock(&tableLock);
  return found;
}

void shimRecordForget(int fd) {
  if (!hasAnyRecord()) return;
  pthread_mutex_lock(&tableLock);
  ShimRecord* r = slot(fd, 0);
  if (r) r->hasLocal = r->hasPeer = 0;
  pthread_mutex_unlock(&tableLock);
}

void shimRecordCopy(int from, int to) {
  if (!hasAnyRecord() || from == to) return;
  pthread_mutex_lock(&tableLock);
  ShimRecord* src = slot(from, 0);
  if (present(src)) {
    ShimRecord copy = *src;
    ShimRecord* dst = slot(to, 1);
    if (dst) *dst = copy;
  } else {
    ShimRecord* dst = slot(to, 0);
    if (dst) dst->hasLocal = dst->hasPeer = 0;
  }
  pthread_mutex_unlock(&tableLock);
}

SHIM_EXPORT int close(int fd) {
  shimInit();
  /* Forget before closing: once closed, another thread may get the same number. */
  if (shimConfig.active) shimRecordForget(fd);
  return shimReal.close(fd);
}

SHIM_EXPORT int dup(int fd) {
  shimInit();
  int newFd = shimReal.dup(fd);
  if (newFd >= 0 && shimConfig.active) shimRecordCopy(fd, newFd);
  return newFd;
}

SHIM_EXPORT int dup2(int fd, int newFd) {
  shimInit();
  int rc = shimReal.dup2(fd, newFd);
  if (rc >= 0 && shimConfig.active) shimRecordCopy(fd, rc);
  return rc;
}

SHIM_EXPORT int dup3(int fd, int newFd, int flags) {
  shimInit();
  int rc = shimReal.dup3(fd, newFd, flags);
  if (rc >= 0 && shimConfig.active) shimRecordCopy(fd, rc);
  return rc;
}

/* fcntl is variadic; like glibc's own wrapper, pass the optional argument on as a pointer-sized
 * value (an int argument arrives intact in the low bits). */
static int fcntlCommon(int (*real)(int, int, ...), int fd, int cmd, void* arg) {
  int rc = real(fd, cmd, arg);
  if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && shimConfig.active)
    shimRecordCopy(fd, rc);
  return rc;
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...) {
  shimInit();
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntlCommon(shimReal.fcntl, fd, cmd, arg);
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...) {
  shimInit();
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntlCommon(shimReal.fcntl64, fd, cmd, arg);
}
