// FIFO matching of a comm's requests against its ring (see message_queue.h).
#include "message_queue.h"

#include <algorithm>
#include <cstring>

#include "socket_stream.h"

namespace ionet::bridge::nccl {

Request* MessageQueue::post(void* data, std::size_t capacity, std::size_t size) {
  if (order_.size() >= slots_.size()) return nullptr;
  auto free = std::find_if(slots_.begin(), slots_.end(), [](const Request& r) { return !r.inUse; });
  *free = Request{};
  free->inUse = true;
  free->data = static_cast<char*>(data);
  free->capacity = capacity;
  free->size = size;
  if (order_.capacity() < slots_.size()) order_.reserve(slots_.size());
  order_.push_back(&*free);
  return &*free;
}

Request* MessageQueue::postSend(const void* data, std::size_t size) {
  Request* r = post(const_cast<void*>(data), size, size);
  if (r) {
    const FrameSize frame = size;
    std::memcpy(r->header, &frame, sizeof(frame));
  }
  return r;
}

Request* MessageQueue::postRecv(void* data, std::size_t capacity) {
  return post(data, capacity, 0);
}

template <typename Stream>
bool MessageQueue::pushSends(Stream& ring) {
  bool moved = false;
  for (Request* r : order_) {
    if (r->complete) continue;
    if (r->moved < sizeof(FrameSize)) {
      const std::size_t n = ring.write(r->header + r->moved, sizeof(FrameSize) - r->moved);
      r->moved += n;
      moved |= n > 0;
      if (r->moved < sizeof(FrameSize)) return moved;
    }
    const std::size_t done = r->moved - sizeof(FrameSize);
    const std::size_t n = ring.write(r->data + done, r->size - done);
    r->moved += n;
    moved |= n > 0;
    if (r->moved < sizeof(FrameSize) + r->size) return moved;
    r->complete = true;
  }
  return moved;
}

template <typename Stream>
bool MessageQueue::pullRecvs(Stream& ring) {
  bool moved = false;
  for (Request* r : order_) {
    if (r->complete) continue;
    if (error_ != QueueError::kNone) return moved;
    if (r->moved < sizeof(FrameSize)) {
      const std::size_t n = ring.read(r->header + r->moved, sizeof(FrameSize) - r->moved);
      r->moved += n;
      moved |= n > 0;
      if (r->moved < sizeof(FrameSize)) return moved;
      FrameSize frame;
      std::memcpy(&frame, r->header, sizeof(frame));
      if (frame > r->capacity) {
        error_ = QueueError::kTooLarge;
        r->size = frame;
        return moved;
      }
      r->size = static_cast<std::size_t>(frame);
    }
    const std::size_t done = r->moved - sizeof(FrameSize);
    const std::size_t n = ring.read(r->data + done, r->size - done);
    r->moved += n;
    moved |= n > 0;
    if (r->moved < sizeof(FrameSize) + r->size) return moved;
    r->complete = true;
  }
  return moved;
}

template bool MessageQueue::pushSends(Ring&);
template bool MessageQueue::pullRecvs(Ring&);
template bool MessageQueue::pushSends(SocketStream&);
template bool MessageQueue::pullRecvs(SocketStream&);

void MessageQueue::release(Request* request) {
  auto it = std::find(order_.begin(), order_.end(), request);
  if (it == order_.end()) return;
  order_.erase(it);
  request->inUse = false;
}

bool MessageQueue::idle() const {
  return std::all_of(order_.begin(), order_.end(), [](const Request* r) { return r->complete; });
}

}  // namespace ionet::bridge::nccl
