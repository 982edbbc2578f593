// Helpers of the checkpoint tests: a scratch directory removed afterwards, file surgery (flip a
// byte, truncate) and a quick way to commit a set with known contents.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "ionet/ckpt/checkpoint.h"

namespace ionet::ckpt::test {

namespace fs = std::filesystem;

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "ckpt-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// Inverts every bit of the byte at the middle of the file.
inline void flipMiddleByte(const fs::path& p) {
  std::string bytes = slurp(p);
  ASSERT_FALSE(bytes.empty()) << p;
  bytes[bytes.size() / 2] = static_cast<char>(~bytes[bytes.size() / 2]);
  spit(p, bytes);
}

// The values set `step` holds for `rank` in dataset "x" (n doubles).
inline std::vector<double> valuesOf(std::int64_t step, int rank, std::size_t n = 1000) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), step * 1e6 + rank * 1e3);
  return v;
}

// Writes dataset "x" = valuesOf(step, rank) and commits.
inline CheckpointSet commitStep(CheckpointDir& dir, std::int64_t step, std::size_t n = 1000) {
  SetWriter w = dir.begin(step);
  auto v = valuesOf(step, dir.comm().rank(), n);
  w.write<double>("x", v);
  w.setMetadata("note", "step " + std::to_string(step));
  return w.commit();
}

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old, had_ = true;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_)
      ::setenv(name_, old_.c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

}  // namespace ionet::ckpt::test
