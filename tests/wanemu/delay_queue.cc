// Per-pair FIFOs with due times, the byte budget and the buffer pool of the delay line.
#include "delay_queue.h"

#include <arpa/inet.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace ionet::wanemu {

BufferPool::~BufferPool() {
  for (auto& list : free_) {
    for (char* b : list) std::free(b);
  }
}

char* BufferPool::take(std::size_t size, std::uint8_t& bucket) {
  int shift = std::max<int>(kMinShift, std::bit_width(size > 1 ? size - 1 : 1));
  bucket = static_cast<std::uint8_t>(shift - kMinShift);
  if (bucket < free_.size() && !free_[bucket].empty()) {
    char* b = free_[bucket].back();
    free_[bucket].pop_back();
    keptBytes_ -= std::size_t{1} << shift;
    return b;
  }
  char* b = static_cast<char*>(std::malloc(std::size_t{1} << shift));
  if (!b) throw std::bad_alloc();
  return b;
}

void BufferPool::give(char* buffer, std::uint8_t bucket) {
  std::size_t size = std::size_t{1} << (bucket + kMinShift);
  // Keep at most the queue's budget in reserve: the pool then never holds more than the
  // queue held at its peak.
  if (keptBytes_ + size > keepBytes_) {
    std::free(buffer);
    return;
  }
  if (bucket >= free_.size()) free_.resize(bucket + 1);
  free_[bucket].push_back(buffer);
  keptBytes_ += size;
}

DelayQueue::DelayQueue(std::size_t capacityBytes, std::uint64_t seed)
    : capacity_(capacityBytes), pool_(capacityBytes), random_(seed) {
  plan_ = std::make_shared<DelayPlan>();
  flows_.emplace_back();  // flow 0: non-IPv4 packets and the overflow beyond kMaxFlows
}

void DelayQueue::setPlan(std::shared_ptr<const DelayPlan> plan) {
  plan_ = std::move(plan);
  ++planSerial_;
}

std::uint32_t DelayQueue::flowFor(const char* ip, std::size_t len) {
  if (len < 20 || (static_cast<unsigned char>(ip[0]) >> 4) != 4) return 0;
  std::uint32_t src, dst;
  std::memcpy(&src, ip + 12, 4);
  std::memcpy(&dst, ip + 16, 4);
  src = ntohl(src);
  dst = ntohl(dst);
  std::uint64_t key = (std::uint64_t{src} << 32) | dst;
  auto it = flowIndex_.find(key);
  if (it != flowIndex_.end()) return it->second;
  if (flows_.size() >= kMaxFlows) return 0;
  auto index = static_cast<std::uint32_t>(flows_.size());
  flows_.emplace_back();
  flows_.back().src = src;
  flows_.back().dst = dst;
  flowIndex_.emplace(key, index);
  return index;
}

std::int64_t DelayQueue::delayOf(Flow& flow) {
  if (flow.planSerial != planSerial_) {
    flow.delayNs = plan_->delayFor(flow.src, flow.dst);
    flow.planSerial = planSerial_;
  }
  return flow.delayNs;
}

bool DelayQueue::push(const char* frame, std::size_t len, std::size_t ipOffset,
                      std::int64_t nowNs) {
  stats_.inPackets++;
  stats_.inBytes += len;
  if (heldBytes_ + len > capacity_) {
    stats_.dropPackets++;
    stats_.dropBytes += len;
    return false;
  }
  std::uint32_t index = len > ipOffset ? flowFor(frame + ipOffset, len - ipOffset) : 0;
  Flow& flow = flows_[index];
  std::int64_t due = nowNs + delayOf(flow);
  if (plan_->jitterNs > 0) {
    std::uniform_int_distribution<std::int64_t> spread(-plan_->jitterNs, plan_->jitterNs);
    due = std::max(nowNs, due + spread(random_));
  }
  // FIFO per pair: a packet never leaves before the one ahead of it (as on a real link, and
  // TCP would take reordering for loss).
  due = std::max(due, flow.lastDue);
  flow.lastDue = due;
  Packet p{due, static_cast<std::uint32_t>(len), 0, nullptr};
  p.data = pool_.take(len, p.bucket);
  std::memcpy(p.data, frame, len);
  if (flow.fifo.empty()) heads_.emplace(due, index);
  flow.fifo.push_back(p);
  heldBytes_ += len;
  return true;
}

std::int64_t DelayQueue::nextDue() const {
  return heads_.empty() ? std::numeric_limits<std::int64_t>::max() : heads_.top().first;
}

std::size_t DelayQueue::releaseDue(std::int64_t nowNs, const Emit& emit) {
  std::size_t released = 0;
  while (!heads_.empty() && heads_.top().first <= nowNs) {
    std::uint32_t index = heads_.top().second;
    heads_.pop();
    Flow& flow = flows_[index];
    // Everything due in this flow goes now; the flow re-enters the heap with its next head.
    while (!flow.fifo.empty() && flow.fifo.front().due <= nowNs) {
      Packet p = flow.fifo.front();
      flow.fifo.pop_front();
      emit(p.data, p.len, p.due);
      heldBytes_ -= p.len;
      stats_.outPackets++;
      stats_.outBytes += p.len;
      pool_.give(p.data, p.bucket);
      ++released;
    }
    if (!flow.fifo.empty()) heads_.emplace(flow.fifo.front().due, index);
  }
  return released;
}

}  // namespace ionet::wanemu
