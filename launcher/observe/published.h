// A value one thread publishes and others read: the daemon's event loop swaps in a fresh
// snapshot, HTTP threads take a reference to the current one. Neither waits for the other
// longer than a pointer copy.
#pragma once

#include <memory>
#include <mutex>

namespace ionet::observe {

template <typename T>
class Published {
 public:
  void set(T value) {
    auto next = std::make_shared<const T>(std::move(value));
    std::lock_guard lock(mutex_);
    value_.swap(next);
  }
  // Null until the first set().
  std::shared_ptr<const T> get() const {
    std::lock_guard lock(mutex_);
    return value_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> value_;
};

}  // namespace ionet::observe
