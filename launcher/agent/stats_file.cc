#include "agent/stats_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ionet/log.h"

namespace ionet::launcher {
namespace {

// The counters of DataLinkStats, in MonotoneLinks' order.
struct Field {
  std::uint64_t (control::DataLinkStats::*get)() const;
  void (control::DataLinkStats::*set)(std::uint64_t);
};
constexpr std::array<Field, 6> kFields = {{
    {&control::DataLinkStats::bytes_sent, &control::DataLinkStats::set_bytes_sent},
    {&control::DataLinkStats::bytes_received, &control::DataLinkStats::set_bytes_received},
    {&control::DataLinkStats::retransmitted_bytes,
     &control::DataLinkStats::set_retransmitted_bytes},
    {&control::DataLinkStats::duplicate_bytes, &control::DataLinkStats::set_duplicate_bytes},
    {&control::DataLinkStats::reconnects, &control::DataLinkStats::set_reconnects},
    {&control::DataLinkStats::resumes, &control::DataLinkStats::set_resumes},
}};

constexpr auto kInterval = std::chrono::seconds(1);

}  // namespace

void MonotoneLinks::apply(control::HostStats& stats) {
  std::map<std::string, control::DataLinkStats*> now;
  for (auto& link : *stats.mutable_links()) now[link.host()] = &link;
  for (auto& [host, counters] : peers_) {
    if (now.count(host)) continue;
    for (auto& c : counters) {  // no session to it any more: what it reached stays
      c.base += c.last;
      c.last = 0;
    }
  }
  for (auto& [host, link] : now) {
    auto& counters = peers_[host];
    for (std::size_t i = 0; i < kFields.size(); ++i) {
      auto& c = counters[i];
      const std::uint64_t value = (link->*kFields[i].get)();
      if (value < c.last) c.base += c.last;
      c.last = value;
      (link->*kFields[i].set)(c.base + value);
    }
  }
  for (const auto& [host, counters] : peers_) {
    if (now.count(host)) continue;
    auto* link = stats.add_links();
    link->set_host(host);
    for (std::size_t i = 0; i < kFields.size(); ++i) (link->*kFields[i].set)(counters[i].base);
  }
}

bool replaceFile(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const int saved = errno;
  ::close(fd);
  if (done < bytes.size()) {
    ::unlink(tmp.c_str());
    errno = saved;
    return false;
  }
  return ::rename(tmp.c_str(), path.c_str()) == 0;
}

HostStatsFile::HostStatsFile(asio::io_context& io, std::string path,
                             std::function<control::HostStats()> stats)
    : path_(std::move(path)), stats_(std::move(stats)), timer_(io) {
  write();
  schedule();
}

void HostStatsFile::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  write();
}

void HostStatsFile::write() {
  control::HostStats stats = stats_();
  links_.apply(stats);
  if (replaceFile(path_, stats.SerializeAsString()) || warned_) return;
  // The pool agent's metrics miss this host's part of the job; the job itself is fine.
  warned_ = true;
  log::warn("cannot write the host's stats to ", path_, ": ", std::strerror(errno));
}

void HostStatsFile::schedule() {
  timer_.expires_after(kInterval);
  timer_.async_wait([this](asio::error_code ec) {
    if (ec || stopped_) return;
    write();
    schedule();
  });
}

}  // namespace ionet::launcher
