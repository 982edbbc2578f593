// Test helper: the message of the UsageError fn throws (a test failure when it throws none).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "ionet/error.h"

namespace ionet::launcher {

inline std::string usageError(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no UsageError";
  return {};
}

}  // namespace ionet::launcher
