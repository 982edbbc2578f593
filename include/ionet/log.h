// Minimal leveled logging to stderr, one whole line per write so lines never interleave.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "ionet/error.h"

namespace ionet::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// IONET_LOG_LEVEL=debug|info|warn|error (default: warn for daemons, set by each main).
inline Level& threshold() {
  static Level level = [] {
    const char* v = std::getenv("IONET_LOG_LEVEL");
    std::string s = v ? v : "";
    if (s == "debug") return Level::kDebug;
    if (s == "info") return Level::kInfo;
    if (s == "error") return Level::kError;
    return Level::kWarn;
  }();
  return level;
}

inline std::string& prefix() {
  static std::string p = "ionet";
  return p;
}

template <typename... Args>
void write(Level level, const Args&... args) {
  if (level < threshold()) return;
  std::string line = prefix() + ": " + detail::concat(args...) + "\n";
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

template <typename... Args>
void debug(const Args&... args) {
  write(Level::kDebug, args...);
}
template <typename... Args>
void info(const Args&... args) {
  write(Level::kInfo, args...);
}
template <typename... Args>
void warn(const Args&... args) {
  write(Level::kWarn, args...);
}
template <typename... Args>
void error(const Args&... args) {
  write(Level::kError, args...);
}

}  // namespace ionet::log
