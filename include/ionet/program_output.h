// Running a program to completion with its output collected: stdin fed from a string, stdout
// and stderr read apart. ionet-run asks scontrol with it, the batch commands Slurm's clients.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "ionet/error.h"

extern char** environ;

namespace ionet {

struct ProgramOutput {
  int status = 0;  // exit status; 128+N when killed by signal N; 127 when it could not be run
  std::string out, err;
};

// Runs the program at `path` (argv[0] is its name) with `environment` (nullopt: this process's)
// and `input` on its standard input, and waits for it.
inline ProgramOutput runProgram(const std::string& path, const std::vector<std::string>& argv,
                                const std::optional<std::vector<std::string>>& environment = {},
                                const std::string& input = "") {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  if (environment) {
    for (const auto& e : *environment) env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(nullptr);
  }
  int in[2], out[2], err[2];
  IONET_ENFORCE(
      ::pipe2(in, O_CLOEXEC) == 0 && ::pipe2(out, O_CLOEXEC) == 0 && ::pipe2(err, O_CLOEXEC) == 0,
      "pipe: ", std::strerror(errno));
  const pid_t pid = ::fork();
  IONET_ENFORCE(pid >= 0, "fork: ", std::strerror(errno));
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execve(path.c_str(), args.data(), environment ? env.data() : environ);
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  // A reader gone early (one rejecting its options) must not kill us with SIGPIPE.
  if (!input.empty()) ::signal(SIGPIPE, SIG_IGN);
  ProgramOutput reply;
  std::size_t written = 0;
  if (input.empty()) ::close(in[1]);
  pollfd fds[3] = {
      {out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {input.empty() ? -1 : in[1], POLLOUT, 0}};
  int open = 2;
  while (open > 0 || fds[2].fd >= 0) {
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[8192];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? reply.out : reply.err).append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = ::write(fds[2].fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 && errno != EINTR && errno != EAGAIN) written = input.size();
      if (written >= input.size()) {
        ::close(fds[2].fd);
        fds[2].fd = -1;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  reply.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return reply;
}

}  // namespace ionet
