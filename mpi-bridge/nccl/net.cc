// ionet's NCCL network: links to the host's agent (see net.h and nccl_link.h).
#include "net.h"

#include <poll.h>
#include <sys/random.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "comm.h"
#include "direct_peer.h"
#include "ionet/bridge/nccl_link.h"
#include "ionet/bridge/nccl_socket.h"
#include "message_queue.h"

namespace ionet::bridge::nccl {
namespace {

using namespace std::chrono_literals;

// How long listen() and getProperties() wait for the agent's answer.
constexpr auto kAgentAnswerTimeout = 10s;

// The handle NCCL carries to the connecting rank (through its bootstrap, maybe to another
// process of that host): where the listener is, never a pointer. The tail is the connecting
// side's own scratch: NCCL calls connect() again with the same buffer until it succeeds.
struct Handle {
  char magic[4];             // "IONH"
  std::uint32_t vaddr;       // the listener's host, virtual IPv4, host byte order
  std::uint64_t key;         // the listener, as its agent knows it
  std::uint32_t directPort;  // the listener's TCP port for peers of its direct site; 0: none
  char pendingMagic[4];      // "PEND" while a connect() is under way
  std::uint32_t pendingSlot;
  std::uint64_t pendingNonce;
};
static_assert(sizeof(Handle) <= NCCL_NET_HANDLE_MAXSIZE);

struct PendingConnect {
  std::unique_ptr<Comm> comm;
  std::uint64_t nonce = 0;
};

// The process's network: set up by the first init, never torn down before exit (comms may
// outlive a finalize in NCCL's teardown order). Created on first use: nothing runs at load.
struct Network {
  std::mutex mutex;         // init, connect's pending slots
  bool configured = false;  // agent, vaddr and direct are set, and never change again
  std::string agent;        // $IONET_NCCL_AGENT
  std::uint32_t vaddr = 0;  // $IONET_VADDR
  // Hosts of our direct site ($IONET_DIRECT, "VADDR=IPV4,..."): NCCL connections to them go
  // straight over TCP, dialled at the virtual address (the shim connects it to the real one).
  std::set<std::uint32_t> direct;
  std::atomic<ncclDebugLogger_t> logger{nullptr};
  // getProperties' answer, asked once; its own lock, as asking takes up to a few seconds.
  std::mutex propsMutex;
  bool havePropsAnswer = false;
  DeviceProperties props;
  std::vector<PendingConnect> pending;  // connect()s under way, by handle slot
  std::uint64_t nextNonce = 1;
};

Network& network() {
  static Network* n = new Network;  // never destroyed: NCCL may call us from atexit handlers
  return *n;
}

// One iflush request, complete from the start (host memory needs no flush).
Request& flushedRequest() {
  static Request r = [] {
    Request q;
    q.inUse = true;
    q.complete = true;
    return q;
  }();
  return r;
}

template <typename... Args>
void warn(const char* fmt, Args... args) {
  char line[512];
  std::snprintf(line, sizeof(line), fmt, args...);
  if (auto logger = network().logger.load()) {
    logger(NCCL_LOG_WARN, NCCL_NET, __FILE__, __LINE__, "NET/ionet : %s", line);
  } else {
    std::fprintf(stderr, "NET/ionet : %s\n", line);
  }
}

template <typename... Args>
void info(const char* fmt, Args... args) {
  if (auto logger = network().logger.load()) {
    char line[512];
    std::snprintf(line, sizeof(line), fmt, args...);
    logger(NCCL_LOG_INFO, NCCL_INIT | NCCL_NET, __FILE__, __LINE__, "NET/ionet : %s", line);
  }
}

// Waits for one answer of the agent on socket; false on timeout, EOF or garbage.
bool awaitAnswer(int socket, ControlMessage* answer) {
  const auto deadline = Clock::now() + kAgentAnswerTimeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) return false;
    pollfd p{socket, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    int fds[kMaxPassedFds];
    return receiveControl(socket, answer, fds, 0, true) == 1;
  }
}

std::uint64_t randomKey() {
  std::uint64_t key = 0;
  while (key == 0) {
    if (::getrandom(&key, sizeof(key), 0) != sizeof(key)) {
      key = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()) ^
            (static_cast<std::uint64_t>(::getpid()) << 32);
    }
  }
  return key;
}

}  // namespace

ncclResult_t netInit(ncclDebugLogger_t logger) {
  Network& n = network();
  std::lock_guard<std::mutex> lock(n.mutex);
  if (logger) n.logger = logger;
  // Configured once per process: comms of an earlier communicator may still read it.
  if (n.configured) return ncclSuccess;
  const char* agent = std::getenv(kAgentEnv);
  if (!agent || !*agent) {
    warn("%s is not set: this process was not started by ionet-run with the NCCL plugin",
         kAgentEnv);
    return ncclInternalError;
  }
  if (!parseIpv4(std::getenv("IONET_VADDR"), &n.vaddr)) {
    warn("IONET_VADDR is not a virtual IPv4 address ('%s')",
         std::getenv("IONET_VADDR") ? std::getenv("IONET_VADDR") : "");
    return ncclInternalError;
  }
  n.agent = agent;
  if (!parseDirectPeers(std::getenv("IONET_DIRECT"), &n.direct)) n.direct.clear();
  info("using the ionet agent at %s (host %s)", agent, dottedIpv4(n.vaddr).c_str());
  n.configured = true;
  return ncclSuccess;
}

// The network stays for the comms NCCL may still close after it.
ncclResult_t netFinalize() { return ncclSuccess; }

ncclResult_t netDevices(int* ndev) {
  *ndev = 1;
  return ncclSuccess;
}

ncclResult_t netProperties(int dev, DeviceProperties* props) {
  if (dev != 0) return ncclInvalidArgument;
  Network& n = network();
  std::lock_guard<std::mutex> lock(n.propsMutex);
  if (!n.havePropsAnswer) {
    // Asked once per process: the agent measures its sessions to the job's other hosts.
    n.props = DeviceProperties{10000, 100};
    const int s = connectAgent(n.agent);
    ControlMessage answer{};
    if (s < 0 || !sendControl(s, makeControl(Op::kProps)) || !awaitAnswer(s, &answer) ||
        answer.op != Op::kPropsReply) {
      warn("no link properties from the agent at %s; assuming %d Mbit/s, %.0f us", n.agent.c_str(),
           n.props.speedMbps, static_cast<double>(n.props.latencyMicros));
    } else {
      if (answer.speedMbps > 0) n.props.speedMbps = static_cast<int>(answer.speedMbps);
      if (answer.rttMicros > 0) n.props.latencyMicros = static_cast<float>(answer.rttMicros);
    }
    if (s >= 0) ::close(s);
    n.havePropsAnswer = true;
    info("link to the job's other hosts: %d Mbit/s, %.0f us", n.props.speedMbps,
         static_cast<double>(n.props.latencyMicros));
  }
  *props = n.props;
  return ncclSuccess;
}

ncclResult_t netListen(int dev, void* handle, void** listenComm) {
  *listenComm = nullptr;
  if (dev != 0) return ncclInvalidArgument;
  Network& n = network();
  auto listener = std::make_unique<ListenComm>();
  listener->key = randomKey();
  listener->socket = connectAgent(n.agent);
  if (listener->socket < 0) {
    warn("listen: cannot reach the agent at %s: %s", n.agent.c_str(), std::strerror(errno));
    return ncclSystemError;
  }
  ControlMessage m = makeControl(Op::kListen);
  m.key = listener->key;
  ControlMessage answer{};
  if (!sendControl(listener->socket, m) || !awaitAnswer(listener->socket, &answer) ||
      answer.op != Op::kListenAck || answer.error != 0) {
    warn("listen: the agent at %s did not take the listener (%s)", n.agent.c_str(),
         answer.error ? std::strerror(answer.error) : "no answer");
    return ncclSystemError;
  }
  Handle h{};
  std::memcpy(h.magic, "IONH", 4);
  h.vaddr = n.vaddr;
  h.key = listener->key;
  if (!n.direct.empty()) {
    listener->tcp = listenDirect(n.vaddr, &h.directPort);
    if (listener->tcp < 0) {
      warn("listen: no TCP listener for the direct site's peers: %s", std::strerror(errno));
      return ncclSystemError;
    }
  }
  std::memset(handle, 0, NCCL_NET_HANDLE_MAXSIZE);
  std::memcpy(handle, &h, sizeof(h));
  *listenComm = listener.release();
  return ncclSuccess;
}

ncclResult_t netConnect(int dev, void* handleBytes, void** sendComm) {
  *sendComm = nullptr;
  if (dev != 0) return ncclInvalidArgument;
  Handle h;
  std::memcpy(&h, handleBytes, sizeof(h));
  if (std::memcmp(h.magic, "IONH", 4) != 0) {
    warn("connect: the handle is not an ionet handle");
    return ncclInvalidArgument;
  }
  Network& n = network();
  if (h.directPort != 0 && n.direct.count(h.vaddr)) {
    // A peer of our direct site: TCP straight to it, no agent, no session.
    auto comm = std::make_unique<Comm>();
    comm->sending = true;
    comm->direct = dialDirect(h.vaddr, static_cast<std::uint16_t>(h.directPort));
    if (comm->direct < 0) {
      warn("connect to %s:%u (direct site) failed: %s", dottedIpv4(h.vaddr).c_str(), h.directPort,
           std::strerror(errno));
      return ncclRemoteError;
    }
    info("send comm to %s: direct (same site)", dottedIpv4(h.vaddr).c_str());
    *sendComm = comm.release();
    return ncclSuccess;
  }
  std::lock_guard<std::mutex> lock(n.mutex);
  if (std::memcmp(h.pendingMagic, "PEND", 4) != 0) {
    // First call: hand the agent a fresh link and the listener's address; it dials.
    auto comm = std::make_unique<Comm>();
    comm->sending = true;
    const int memory = createLinkMemory();
    if (memory < 0) {
      warn("connect: no shared memory for the link: %s", std::strerror(errno));
      return ncclSystemError;
    }
    comm->link.memory = mapLinkMemory(memory);
    if (comm->link.memory) initLinkHeader(comm->link.memory);
    comm->link.socket = comm->link.memory ? connectAgent(n.agent) : -1;
    ControlMessage m = makeControl(Op::kConnect);
    m.vaddr = h.vaddr;
    m.key = h.key;
    const bool sent = comm->link.socket >= 0 && sendControl(comm->link.socket, m, &memory, 1);
    const int saved = errno;
    ::close(memory);
    if (!sent) {
      warn("connect: cannot hand the link to the agent at %s: %s", n.agent.c_str(),
           std::strerror(saved));
      return ncclSystemError;
    }
    std::size_t slot = 0;
    while (slot < n.pending.size() && n.pending[slot].comm) ++slot;
    if (slot == n.pending.size()) n.pending.emplace_back();
    n.pending[slot].comm = std::move(comm);
    n.pending[slot].nonce = n.nextNonce++;
    std::memcpy(h.pendingMagic, "PEND", 4);
    h.pendingSlot = static_cast<std::uint32_t>(slot);
    h.pendingNonce = n.pending[slot].nonce;
    std::memcpy(handleBytes, &h, sizeof(h));
  }
  if (h.pendingSlot >= n.pending.size() || !n.pending[h.pendingSlot].comm ||
      n.pending[h.pendingSlot].nonce != h.pendingNonce) {
    warn("connect: called again with a handle this process did not start");
    return ncclInvalidArgument;
  }
  auto& slot = n.pending[h.pendingSlot];
  const std::int32_t state = slot.comm->link.header()->state.load(std::memory_order_acquire);
  if (state == kConnecting && slot.comm->link.agentAlive()) return ncclSuccess;
  std::unique_ptr<Comm> comm = std::move(slot.comm);
  std::memset(reinterpret_cast<char*>(handleBytes) + offsetof(Handle, pendingMagic), 0, 4);
  if (state == kOpen) {
    info("send comm to %s: through the agents", dottedIpv4(h.vaddr).c_str());
    *sendComm = comm.release();
    return ncclSuccess;
  }
  warn("connect to %s failed: %s", dottedIpv4(h.vaddr).c_str(),
       describeFailure(state == kConnecting ? -EPIPE : state));
  return ncclRemoteError;
}

ncclResult_t netAccept(void* listenComm, void** recvComm) {
  *recvComm = nullptr;
  auto* listener = static_cast<ListenComm*>(listenComm);
  if (listener->tcp >= 0) {
    // A peer of our direct site (the shim has taken its preamble).
    const int fd = ::accept4(listener->tcp, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      auto comm = std::make_unique<Comm>();
      comm->direct = fd;
      tuneDirect(fd);
      *recvComm = comm.release();
      return ncclSuccess;
    }
  }
  ControlMessage m{};
  int fds[2];
  const int r = receiveControl(listener->socket, &m, fds, 2, true);
  if (r == 0) return ncclSuccess;  // nobody yet: NCCL calls again
  if (r < 0 || m.op != Op::kIncoming || fds[0] < 0 || fds[1] < 0) {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
    warn("accept: %s",
         r == -1 ? "the agent closed the listener" : "a broken message from the agent");
    return ncclSystemError;
  }
  auto comm = std::make_unique<Comm>();
  comm->link.memory = mapLinkMemory(fds[0]);
  ::close(fds[0]);
  comm->link.socket = fds[1];
  if (!comm->link.memory || !validLinkHeader(comm->link.memory)) {
    warn("accept: the agent's link memory is not usable");
    return ncclSystemError;
  }
  *recvComm = comm.release();
  return ncclSuccess;
}

ncclResult_t netRegMr(void* comm, void* data, std::size_t size, int type, void** mhandle) {
  (void)data;
  (void)size;
  if (type != NCCL_PTR_HOST) {
    warn("regMr: only host memory (type %d asked)", type);
    return ncclInternalError;
  }
  *mhandle = comm;  // nothing to register: the bytes are copied into the ring
  return ncclSuccess;
}

ncclResult_t netDeregMr(void*, void*) { return ncclSuccess; }

ncclResult_t netIsend(void* sendComm, void* data, std::size_t size, void** request) {
  auto* c = static_cast<Comm*>(sendComm);
  Request* r = c->queue.postSend(data, size);
  *request = r;  // null: kMaxRequests in flight, NCCL calls again
  if (!r) return ncclSuccess;
  r->owner = c;
  progress(*c);
  return ncclSuccess;
}

ncclResult_t netIrecv(void* recvComm, int n, void** data, const std::size_t* sizes,
                      void** request) {
  *request = nullptr;
  if (n != 1) {
    warn("irecv: %d grouped receives asked; maxRecvs is 1", n);
    return ncclInternalError;
  }
  auto* c = static_cast<Comm*>(recvComm);
  Request* r = c->queue.postRecv(data[0], sizes[0]);
  *request = r;
  if (r) r->owner = c;
  return ncclSuccess;
}

ncclResult_t netIflush(void*, void** request) {
  *request = &flushedRequest();
  return ncclSuccess;
}

ncclResult_t netTest(void* request, int* done, std::size_t* size) {
  auto* r = static_cast<Request*>(request);
  *done = 0;
  if (r == &flushedRequest()) {
    *done = 1;
    if (size) *size = 0;
    return ncclSuccess;
  }
  auto* c = static_cast<Comm*>(r->owner);
  progress(*c);
  if (r->complete) {
    *done = 1;
    if (size) *size = r->size;
    c->queue.release(r);
    return ncclSuccess;
  }
  switch (c->queue.error()) {
    case QueueError::kNone:
      return ncclSuccess;
    case QueueError::kTooLarge:
      if (!c->reported)
        warn("a %zu-byte message arrived for a %zu-byte receive", r->size, r->capacity);
      c->reported = true;
      return ncclInvalidUsage;
    case QueueError::kPeerGone:
      if (!c->reported) {
        warn("%s: %s", c->sending ? "send" : "receive", describeFailure(c->failure));
      }
      c->reported = true;
      return ncclRemoteError;
  }
  return ncclInternalError;
}

ncclResult_t netCloseSend(void* sendComm) {
  delete static_cast<Comm*>(sendComm);
  return ncclSuccess;
}

ncclResult_t netCloseRecv(void* recvComm) {
  delete static_cast<Comm*>(recvComm);
  return ncclSuccess;
}

ncclResult_t netCloseListen(void* listenComm) {
  delete static_cast<ListenComm*>(listenComm);
  return ncclSuccess;
}

}  // namespace ionet::bridge::nccl
