// One rank's process on this host: fork/exec in its own process group with its environment,
// pipes for stdout/stderr (assembled into whole lines) and, for one rank, stdin.
#pragma once

#include <sys/types.h>

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/line_assembler.h"
#include "common/process_status.h"

namespace ionet::launcher {

struct RankSpec {
  std::uint32_t rank = 0;
  std::string path;               // resolved executable
  std::vector<std::string> argv;  // argv[0] as the user typed it
  std::vector<std::string> env;   // complete environment, "NAME=value"
  std::string workDir;
  bool withStdin = false;
};

class RankProcess {
 public:
  using OutputFn = std::function<void(std::uint32_t rank, StreamId stream, std::string data)>;

  // Forks and execs at once. The child dies with the forking thread (PR_SET_PDEATHSIG).
  RankProcess(asio::io_context& io, const RankSpec& spec, OutputFn onOutput);
  ~RankProcess();

  std::uint32_t rank() const { return rank_; }
  pid_t pid() const { return pid_; }
  bool exited() const { return status_.has_value(); }
  int waitStatus() const { return *status_; }

  // Signals the rank's whole process group (the rank and anything it started).
  void signal(int signum) const;

  void writeStdin(std::string data);
  void closeStdin();

  // The process was reaped: sends what is left in its pipes, then closes them.
  void markExited(int waitStatus);

 private:
  struct Pipe {
    explicit Pipe(asio::io_context& io) : fd(io) {}
    asio::posix::stream_descriptor fd;
    LineAssembler lines;
    bool open = false;
  };
  void watch(StreamId id);
  bool drain(StreamId id);  // false at EOF or error
  void closePipe(StreamId id);
  void pumpStdin();

  std::uint32_t rank_;
  pid_t pid_ = -1;
  OutputFn onOutput_;
  Pipe out_;
  Pipe err_;
  std::optional<asio::posix::stream_descriptor> stdin_;
  std::string stdinPending_;
  bool stdinWriting_ = false;
  bool stdinClosing_ = false;
  std::optional<int> status_;
};

// Finds an executable like execvp does (PATH of the rank's environment); "" when none.
std::string resolveExecutable(const std::string& name, const std::string& pathVar,
                              const std::string& workDir);

}  // namespace ionet::launcher
