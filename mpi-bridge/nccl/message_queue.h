// The requests of one NCCL comm and how they move through its ring: NCCL's matching rules
// (DESIGN.md section 5) as pure code over a nccl::Ring, with no socket and no clock, so the unit
// tests drive it with a ring in plain memory standing in for the agent.
//   - Messages match strictly in FIFO order per comm: the n-th isend fills the n-th irecv.
//   - A ring frame is [u64 size][size bytes]; a receive larger than the message completes with
//     the real size; a message larger than its receive fails the comm (kTooLarge), never hangs.
//   - At most kMaxRequests in flight: a post beyond that returns null (NCCL calls again).
//   - A send completes when its last byte is in the ring: the buffer is the caller's again.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ionet/bridge/nccl_link.h"

namespace ionet::bridge::nccl {

inline constexpr int kMaxRequests = 32;  // NCCL_NET_MAX_REQUESTS

struct Request {
  void* owner = nullptr;  // the comm that posted it (the plugin sets it)
  bool inUse = false;
  bool complete = false;
  char* data = nullptr;
  std::size_t capacity = 0;  // send: the message's size; receive: the buffer's
  std::size_t size = 0;      // the message's size (a receive knows it from the frame)
  std::size_t moved = 0;     // frame bytes (size field included) through the ring so far
  char header[sizeof(FrameSize)] = {};
};

enum class QueueError { kNone, kTooLarge, kPeerGone };

class MessageQueue {
 public:
  // Queues a send of size bytes from data; null when kMaxRequests are in flight.
  Request* postSend(const void* data, std::size_t size);
  // Queues a receive into data of up to capacity bytes; null when kMaxRequests are in flight.
  Request* postRecv(void* data, std::size_t capacity);

  // Moves what it can: sends' bytes into the stream, or the stream's bytes into receives. True
  // when it moved any byte (the caller may then owe the agent a wake-up). A stream has
  // `std::size_t write(const void*, std::size_t)` and `read(void*, std::size_t)`, each moving
  // what it can now: a link's Ring, or a direct peer's socket (net.cc).
  template <typename Stream>
  bool pushSends(Stream& stream);
  template <typename Stream>
  bool pullRecvs(Stream& stream);

  // The comm is over for its requests: the peer is gone (peerGone) or a frame did not fit.
  void fail(QueueError error) {
    if (error_ == QueueError::kNone) error_ = error;
  }
  QueueError error() const { return error_; }

  // A finished request is released; released requests' slots are reused.
  void release(Request* request);
  int inFlight() const { return static_cast<int>(order_.size()); }
  // True when no posted request is waiting for bytes.
  bool idle() const;

 private:
  Request* post(void* data, std::size_t capacity, std::size_t size);

  std::array<Request, kMaxRequests> slots_{};
  std::vector<Request*> order_;  // posted, not yet released, in posting order
  QueueError error_ = QueueError::kNone;
};

}  // namespace ionet::bridge::nccl
