// The contract between libnccl-net-ionet.so (inside a rank) and its host's ionet-agent: one
// shared-memory link per NCCL connection, set up over a Unix seqpacket socket. Both sides are
// C++ and include this header; docs/protocol.md ("NCCL links") describes the same contract.
//
//   rank (plugin)                                 agent (NcclEndpoint)
//   listen():  socket -> $IONET_NCCL_AGENT, kListen{key}   -> registers key, answers kListenAck
//   connect(): memfd (LinkHeader + rings), new socket,
//              kConnect{vaddr,key} + memfd (SCM_RIGHTS)     -> opens a session channel "nccl" to
//              polls LinkHeader::state                        the host of vaddr; sets state
//   accept():  polls the listen socket for kIncoming        <- a peer's channel for key arrived:
//              + memfd + its end of a socketpair               memfd and socketpair made here
//   isend:     [u64 size][payload] into toAgent ring        -> ring bytes become channel messages
//   irecv/test: reads the toPlugin ring                     <- channel messages into the ring
//
// One copy each side (user buffer <-> ring), no system call per message: a side only writes a
// wake byte on the link's socket when the agent said it sleeps (agentWaiting). The plugin never
// sleeps (NCCL's progress thread polls test()), so the agent never wakes it. Closing the socket
// ends the link; the agent sees EOF when the rank closes a comm or dies.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>

namespace ionet::bridge::nccl {

// Environment of the ranks (set by the agent when the job uses the plugin).
inline constexpr const char* kAgentEnv = "IONET_NCCL_AGENT";  // "@name": abstract Unix socket

inline constexpr char kLinkMagic[8] = {'I', 'O', 'N', 'C', 'C', 'L', '1', '\0'};
inline constexpr std::uint32_t kLinkVersion = 1;
// Bytes of each ring; a power of two. 4 MiB holds one of NCCL's default 512 KiB steps eight
// times over; the pages of a direction a comm does not use are never touched.
inline constexpr std::uint32_t kRingBytes = 4u << 20;

// What the agent says about a link, in LinkHeader::state.
enum LinkState : std::int32_t {
  kConnecting = 0,  // connect(): the peer's agent has not answered yet
  kOpen = 1,
  kPeerClosed = 2,  // the peer closed its comm after its last byte (which stays readable)
  // Negative: failed, -errno (ECONNREFUSED: no such listener; EHOSTUNREACH: no session to the
  // host; ECONNRESET: the session to the peer's host ended; EPROTO: a broken frame).
};

struct alignas(64) RingCounter {
  std::atomic<std::uint64_t> value{0};  // bytes ever written (head) or read (tail)
};

// One direction: a single-producer single-consumer byte stream. head - tail bytes are
// readable; the data lives after the LinkHeader.
struct RingIndices {
  RingCounter head;
  RingCounter tail;
};

struct LinkHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t ringBytes;
  std::atomic<std::int32_t> state;
  // Set by the agent before it waits for the socket; whoever then moves a ring's head or tail
  // clears it and writes one byte to the socket.
  std::atomic<std::uint32_t> agentWaiting;
  alignas(64) RingIndices toAgent;  // plugin -> agent (a send comm's messages)
  RingIndices toPlugin;             // agent -> plugin (a recv comm's messages)
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free &&
                  std::atomic<std::int32_t>::is_always_lock_free &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "shared-memory atomics must be lock-free (address-free)");
static_assert(std::is_standard_layout_v<LinkHeader>);
inline constexpr std::size_t kLinkHeaderBytes = 4096;
static_assert(sizeof(LinkHeader) <= kLinkHeaderBytes);
inline constexpr std::size_t kLinkBytes = kLinkHeaderBytes + 2 * std::size_t{kRingBytes};

// Each message in a ring: its size (host byte order: both ends are on one host), then its bytes.
using FrameSize = std::uint64_t;

// Messages on the Unix sockets: fixed size, one per seqpacket.
enum class Op : std::uint32_t {
  kListen = 1,     // plugin: key. Agent answers kListenAck{error}.
  kListenAck = 2,  // agent: error (0 or errno)
  kConnect = 3,    // plugin: vaddr, key, with the link's memfd
  kIncoming = 4,   // agent, on a listen socket: with the link's memfd and the plugin's socket
  kProps = 5,      // plugin: asks what the link to the job's other hosts is like
  kPropsReply = 6  // agent: rttMicros, speedMbps
};
struct ControlMessage {
  char magic[4];  // "INC1"
  Op op;
  std::uint32_t vaddr;  // kConnect: the listener's host (virtual IPv4, host byte order)
  std::int32_t error;
  std::uint64_t key;  // the listener's key
  std::uint64_t rttMicros;
  std::uint64_t speedMbps;
};
static_assert(sizeof(ControlMessage) == 40);

inline ControlMessage makeControl(Op op) {
  ControlMessage m{};
  std::memcpy(m.magic, "INC1", 4);
  m.op = op;
  return m;
}
inline bool isControl(const ControlMessage& m) { return std::memcmp(m.magic, "INC1", 4) == 0; }

// A ring of a mapped link, as either end sees it.
class Ring {
 public:
  Ring(RingIndices* indices, char* data, std::uint32_t bytes)
      : indices_(indices), data_(data), mask_(bytes - 1) {}

  std::size_t readable() const {
    return indices_->head.value.load(std::memory_order_acquire) -
           indices_->tail.value.load(std::memory_order_relaxed);
  }
  std::size_t writable() const {
    return mask_ + 1 -
           (indices_->head.value.load(std::memory_order_relaxed) -
            indices_->tail.value.load(std::memory_order_acquire));
  }
  // Producer: copies up to n bytes in, returns how many.
  std::size_t write(const void* from, std::size_t n) {
    const std::uint64_t head = indices_->head.value.load(std::memory_order_relaxed);
    n = std::min(n, writable());
    copyAround(head, static_cast<const char*>(from), n, /*in=*/true, nullptr);
    indices_->head.value.store(head + n, std::memory_order_seq_cst);
    return n;
  }
  // Consumer: appends up to n bytes to out, without zero-filling it first; returns how many.
  std::size_t readAppend(std::string& out, std::size_t n) {
    const std::uint64_t tail = indices_->tail.value.load(std::memory_order_relaxed);
    n = std::min(n, readable());
    const std::size_t offset = tail & mask_;
    const std::size_t first = std::min(n, mask_ + 1 - offset);
    out.append(data_ + offset, first);
    out.append(data_, n - first);
    indices_->tail.value.store(tail + n, std::memory_order_seq_cst);
    return n;
  }
  // Consumer: copies up to n bytes out (to may be null: skip them), returns how many.
  std::size_t read(void* to, std::size_t n) {
    const std::uint64_t tail = indices_->tail.value.load(std::memory_order_relaxed);
    n = std::min(n, readable());
    if (to) copyAround(tail, nullptr, n, /*in=*/false, static_cast<char*>(to));
    indices_->tail.value.store(tail + n, std::memory_order_seq_cst);
    return n;
  }

 private:
  void copyAround(std::uint64_t at, const char* from, std::size_t n, bool in, char* to) {
    const std::size_t offset = at & mask_;
    const std::size_t first = std::min(n, mask_ + 1 - offset);
    if (in) {
      std::memcpy(data_ + offset, from, first);
      std::memcpy(data_, from + first, n - first);
    } else {
      std::memcpy(to, data_ + offset, first);
      std::memcpy(to + first, data_, n - first);
    }
  }

  RingIndices* indices_;
  char* data_;
  std::size_t mask_;
};

// The two rings of a mapped link.
inline Ring toAgentRing(void* link) {
  auto* h = static_cast<LinkHeader*>(link);
  return Ring(&h->toAgent, static_cast<char*>(link) + kLinkHeaderBytes, h->ringBytes);
}
inline Ring toPluginRing(void* link) {
  auto* h = static_cast<LinkHeader*>(link);
  return Ring(&h->toPlugin, static_cast<char*>(link) + kLinkHeaderBytes + h->ringBytes,
              h->ringBytes);
}

// Fills a fresh mapping's header (the side that creates the memfd does this).
inline void initLinkHeader(void* link) {
  auto* h = new (link) LinkHeader{};
  std::memcpy(h->magic, kLinkMagic, sizeof(kLinkMagic));
  h->version = kLinkVersion;
  h->ringBytes = kRingBytes;
  h->state.store(kConnecting);
}
inline bool validLinkHeader(const void* link) {
  const auto* h = static_cast<const LinkHeader*>(link);
  return std::memcmp(h->magic, kLinkMagic, sizeof(kLinkMagic)) == 0 && h->version == kLinkVersion &&
         h->ringBytes == kRingBytes;
}

// After moving a ring's head or tail: true when the agent asked to be woken (the caller then
// writes one byte to the link's socket). The seq_cst store in Ring and the exchange here pair
// with the agent's store of agentWaiting and its re-check of the rings: one of the two sides
// sees the other's write, so a wake-up is never lost.
inline bool agentWantsWake(void* link) {
  auto* h = static_cast<LinkHeader*>(link);
  if (h->agentWaiting.load(std::memory_order_seq_cst) == 0) return false;
  return h->agentWaiting.exchange(0, std::memory_order_seq_cst) != 0;
}

}  // namespace ionet::bridge::nccl
