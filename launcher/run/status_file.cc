#include "run/status_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ionet::launcher {
namespace {

using nlohmann::json;

template <typename T>
json orNull(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

json statusJson(const JobSnapshot& s, double now) {
  json hosts = json::array();
  for (const auto& h : s.hosts) {
    hosts.push_back({{"name", h.name},
                     {"up", h.up},
                     {"ranks", h.ranks},
                     {"ranks_total", h.ranksTotal},
                     {"ranks_running", h.ranksRunning}});
  }
  // The current run's links only: a lost host's sessions are history (their bytes stay in the
  // metrics' counters).
  json links = json::array();
  for (const auto& l : s.links) {
    if (!l.current) continue;
    links.push_back({{"from", l.from},
                     {"to", l.to},
                     {"rtt_ms", l.rttSeconds * 1000},
                     {"send_bytes_per_second", l.sendRate},
                     {"receive_bytes_per_second", l.receiveRate},
                     {"bytes_sent", l.bytesSent},
                     {"bytes_received", l.bytesReceived},
                     {"retransmitted_bytes", l.retransmittedBytes},
                     {"duplicate_bytes", l.duplicateBytes},
                     {"reconnects", l.reconnects},
                     {"resumes", l.resumes},
                     {"links_up", l.linksUp},
                     {"streams", l.streams}});
  }
  json restarts = json::array();
  for (const auto& r : s.restarts) {
    restarts.push_back({{"at", r.at},
                        {"cause", r.cause},
                        {"kind", r.kind},
                        {"resume_step", orNull(r.resumeStep)}});
  }
  return {{"pid", s.pid},
          {"job", s.job},
          {"updated", now},
          {"state", s.state},
          {"exit_code", orNull(s.exitCode)},
          {"elapsed_seconds", std::max(0.0, s.endedAt.value_or(now) - s.startedAt)},
          {"hosts", std::move(hosts)},
          {"links", std::move(links)},
          {"fences_completed", s.fencesCompleted},
          {"restarts", std::move(restarts)},
          {"resume_step", orNull(s.resumeStep)}};
}

std::filesystem::path statusFilePath(const std::filesystem::path& dir, int pid) {
  return dir / ("run-" + std::to_string(pid) + ".json");
}

std::string replaceFile(const std::filesystem::path& path, const std::string& text) {
  // A dot name: a reader listing run-*.json never picks the temporary file up.
  const auto tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + tmp.string() + ": " + std::strerror(errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return "cannot write " + tmp.string() + ": " + why;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "cannot rename " + tmp.string() + " to " + path.string() + ": " + why;
  }
  return "";
}

}  // namespace ionet::launcher
