#include "leftovers.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace ionet::test {
namespace fs = std::filesystem;

namespace {

std::set<std::string> listing() {
  std::set<std::string> names;
  for (const char* dir : {"/tmp", "/dev/shm"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) names.insert(e.path().string());
  }
  return names;
}

bool suspicious(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  for (const char* prefix : {"ionet-agent-", "ompi.", "pmix", "vader", "sm_segment", "openmpi"}) {
    if (name.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

LeftoverCheck::LeftoverCheck() : before_(listing()) {
  std::random_device rd;
  markerEnv_ = "IONET_TEST_MARKER=" + std::to_string(::getpid()) + "-" + std::to_string(rd());
}

std::vector<std::string> LeftoverCheck::survivors(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
      const std::string pid = e.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream env(e.path() / "environ", std::ios::binary);
      std::stringstream content;
      content << env.rdbuf();
      const std::string s = content.str();
      if (s.find(markerEnv_ + '\0') == std::string::npos &&
          !(s.size() >= markerEnv_.size() &&
            s.compare(s.size() - markerEnv_.size(), markerEnv_.size(), markerEnv_) == 0)) {
        continue;
      }
      std::ifstream cmd(e.path() / "cmdline", std::ios::binary);
      std::string line;
      std::getline(cmd, line, '\0');
      // A zombie has an empty cmdline and is harmless once reaped by init.
      std::ifstream stat(e.path() / "stat");
      std::string statLine;
      std::getline(stat, statLine);
      auto close = statLine.rfind(')');
      if (close != std::string::npos && statLine.size() > close + 2 && statLine[close + 2] == 'Z') {
        continue;
      }
      found.push_back(pid + " " + line);
    }
    if (found.empty() || std::chrono::steady_clock::now() >= deadline) return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling /proc, not waiting blind
  }
}

std::vector<std::string> LeftoverCheck::newFiles() const {
  std::vector<std::string> added;
  for (const auto& p : listing()) {
    if (!before_.count(p) && suspicious(p)) added.push_back(p);
  }
  return added;
}

}  // namespace ionet::test
