// Where ranks' output goes: ionet-run's stdout/stderr (optionally tagged and timestamped) or
// per-rank files (--output-filename). Each call writes whole lines with one write(2), so lines
// of different ranks never interleave.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/process_status.h"

namespace ionet::launcher {

struct OutputOptions {
  bool tag = false;
  bool timestamp = false;
  bool mergeStderr = false;
  std::string directory;  // non-empty: DIR/1/rank.R/{stdout,stderr}
};

class OutputSink {
 public:
  explicit OutputSink(OutputOptions options) : options_(std::move(options)) {}
  ~OutputSink();

  // data: whole lines, except a final partial line at the end of a rank's stream.
  void write(std::uint32_t rank, StreamId stream, const std::string& data);

 private:
  int fileFor(std::uint32_t rank, StreamId stream);

  OutputOptions options_;
  std::map<std::pair<std::uint32_t, int>, int> files_;
};

// Writes all of data to fd, retrying short writes and EINTR; false on error.
bool writeFully(int fd, const std::string& data);

}  // namespace ionet::launcher
