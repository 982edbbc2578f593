// The GPU health check in a child process, and its results on NVML's GPUs.
#include "poold/gpu_health.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/control.h"

namespace ionet::launcher {
namespace {

void writeAll(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

[[noreturn]] void childMain(const GpuChecker& check, int fd) {
  control::GpuCheckRun out;
  try {
    const GpuCheckRun run = check();
    for (const auto& g : run.gpus) {
      auto* r = out.add_gpus();
      r->set_uuid(g.uuid);
      r->set_passed(g.passed);
      r->set_failure(g.failure);
      r->set_tflops(g.tflops);
      r->set_h2d_gbps(g.h2dGBps);
      r->set_d2h_gbps(g.d2hGBps);
      r->set_seconds(g.seconds);
    }
    out.set_error(run.error);
  } catch (const std::exception& e) {
    out.Clear();
    out.set_error(e.what());
  }
  writeAll(fd, out.SerializeAsString());
  ::_exit(0);
}

GpuCheckRun failed(const std::string& why) {
  GpuCheckRun run;
  run.error = why;
  return run;
}

}  // namespace

GpuCheckRun runGpuCheckInChild(const GpuChecker& check, std::chrono::milliseconds limit) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return failed(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return failed(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    childMain(check, fds[1]);
  }
  ::close(fds[1]);

  std::string bytes;
  bool timedOut = false;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child is done writing
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (timedOut) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut) {
    return failed("the GPU health check did not finish in " + std::to_string(limit.count() / 1000) +
                  " s (killed)");
  }
  if (WIFSIGNALED(status)) {
    return failed("the GPU health check died of signal " + std::to_string(WTERMSIG(status)) + " (" +
                  strsignal(WTERMSIG(status)) + ")");
  }
  control::GpuCheckRun in;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !in.ParseFromString(bytes)) {
    return failed("the GPU health check ended without a report");
  }
  GpuCheckRun run;
  run.error = in.error();
  for (const auto& r : in.gpus()) {
    run.gpus.push_back(
        {r.uuid(), r.passed(), r.failure(), r.tflops(), r.h2d_gbps(), r.d2h_gbps(), r.seconds()});
  }
  return run;
}

void applyGpuChecks(std::vector<GpuInfo>& gpus, const GpuCheckRun& run) {
  for (auto& gpu : gpus) {
    gpu.checked = true;
    gpu.tflops = 0;
    if (!run.error.empty()) {
      gpu.healthFailure = "health check: " + run.error;
      continue;
    }
    auto found = std::find_if(run.gpus.begin(), run.gpus.end(),
                              [&](const GpuCheck& c) { return c.uuid == gpu.uuid; });
    if (found == run.gpus.end()) {
      gpu.healthFailure = "health check: CUDA does not see this GPU";
    } else if (!found->passed) {
      gpu.healthFailure = "health check: " + found->failure;
    } else {
      gpu.healthFailure.clear();
      gpu.tflops = found->tflops;
    }
  }
}

}  // namespace ionet::launcher
