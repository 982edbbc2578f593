// N ranks as N threads of one process (Gloo's way of unit-testing collectives): a Comm over
// shared slots and a barrier, and a helper that runs one function per rank.
#pragma once

#include <barrier>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "ionet/ckpt/comm.h"

namespace ionet::ckpt::test {

class ThreadGroup {
 public:
  explicit ThreadGroup(int size) : size_(size), barrier_(size), slots_(size) {}
  int size() const { return size_; }

 private:
  friend class ThreadComm;
  int size_;
  std::barrier<> barrier_;
  std::vector<std::string> slots_;
};

class ThreadComm : public Comm {
 public:
  ThreadComm(ThreadGroup& group, int rank) : g_(group), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return g_.size_; }

  int firstFailed(bool ok) override {
    auto all = exchange(ok ? "1" : "0");
    for (int r = 0; r < g_.size_; ++r)
      if (all[r] == "0") return r;
    return -1;
  }
  std::string broadcast(const std::string& bytes, int root) override {
    return exchange(bytes)[root];
  }
  std::vector<std::string> gather(const std::string& bytes, int root) override {
    auto all = exchange(bytes);
    return rank_ == root ? all : std::vector<std::string>{};
  }

 private:
  // Every rank's bytes on every rank; the second barrier keeps a fast rank from overwriting its
  // slot before the others have read it.
  std::vector<std::string> exchange(const std::string& bytes) {
    g_.slots_[rank_] = bytes;
    g_.barrier_.arrive_and_wait();
    auto all = g_.slots_;
    g_.barrier_.arrive_and_wait();
    return all;
  }

  ThreadGroup& g_;
  int rank_;
};

// Runs body(comm) on `size` threads, one per rank; rethrows the first exception a rank threw
// (a rank that throws between collectives would hang the others: bodies catch what they expect).
inline void runRanks(int size, const std::function<void(std::shared_ptr<Comm>)>& body) {
  ThreadGroup group(size);
  std::vector<std::exception_ptr> errors(size);
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back([&, r] {
      try {
        body(std::make_shared<ThreadComm>(group, r));
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace ionet::ckpt::test
