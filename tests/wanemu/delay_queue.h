// The delay line's queue: one FIFO per (source, destination) address pair, each packet held until
// its due time, a bounded byte budget (drop tail), and a heap of the FIFO heads to find the next
// packet due. A FIFO per pair means a pair's packets never overtake each other, whatever the
// jitter or a live change of the delay does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <unordered_map>
#include <vector>

#include "delay_plan.h"

namespace ionet::wanemu {

// Recycles packet buffers in power-of-two sizes, so the steady state allocates nothing.
class BufferPool {
 public:
  explicit BufferPool(std::size_t keepBytes) : keepBytes_(keepBytes) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  char* take(std::size_t size, std::uint8_t& bucket);
  void give(char* buffer, std::uint8_t bucket);

 private:
  static constexpr int kMinShift = 7;  // 128 bytes: a bare TCP ACK with its headers
  std::vector<std::vector<char*>> free_;
  std::size_t keepBytes_;
  std::size_t keptBytes_ = 0;
};

struct DelayStats {
  std::uint64_t inPackets = 0, inBytes = 0;
  std::uint64_t outPackets = 0, outBytes = 0;
  std::uint64_t dropPackets = 0, dropBytes = 0;  // queue full
};

class DelayQueue {
 public:
  // capacityBytes: the most packet bytes held at once; seed: for jitter.
  DelayQueue(std::size_t capacityBytes, std::uint64_t seed);

  // Packets pushed from now on get delays from this plan; packets already held keep theirs.
  void setPlan(std::shared_ptr<const DelayPlan> plan);

  // Copies in a frame of len bytes whose IP header starts at ipOffset, arriving at nowNs.
  // False: dropped, the byte budget is spent.
  bool push(const char* frame, std::size_t len, std::size_t ipOffset, std::int64_t nowNs);

  // Due time of the earliest held packet; INT64_MAX when empty.
  std::int64_t nextDue() const;

  // Hands every packet due at or before nowNs to emit(frame, len, due), in due order per pair.
  using Emit = std::function<void(const char* frame, std::size_t len, std::int64_t dueNs)>;
  std::size_t releaseDue(std::int64_t nowNs, const Emit& emit);

  std::size_t heldBytes() const { return heldBytes_; }
  const DelayStats& stats() const { return stats_; }

 private:
  struct Packet {
    std::int64_t due;
    std::uint32_t len;
    std::uint8_t bucket;
    char* data;
  };
  struct Flow {
    std::deque<Packet> fifo;
    std::int64_t lastDue = 0;
    std::int64_t delayNs = 0;
    std::uint64_t planSerial = ~std::uint64_t{0};  // delayNs computed under this plan
    std::uint32_t src = 0, dst = 0;
  };
  using HeapEntry = std::pair<std::int64_t, std::uint32_t>;  // (due of head, flow index)

  std::uint32_t flowFor(const char* ip, std::size_t len);
  std::int64_t delayOf(Flow& flow);

  static constexpr std::size_t kMaxFlows = 4096;  // beyond: all new pairs share flow 0
  std::size_t capacity_;
  std::size_t heldBytes_ = 0;
  std::shared_ptr<const DelayPlan> plan_;
  std::uint64_t planSerial_ = 0;  // bumped by setPlan, invalidates every flow's cached delay
  std::vector<Flow> flows_;
  std::unordered_map<std::uint64_t, std::uint32_t> flowIndex_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> heads_;
  BufferPool pool_;
  std::mt19937_64 random_;
  DelayStats stats_;
};

}  // namespace ionet::wanemu
