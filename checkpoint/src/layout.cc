// Directory operations of the commit protocol; every step that must survive a crash is followed
// by the fsync that makes it durable (file data, then the directory entry naming it).
#include "layout.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include "ionet/ckpt/checkpoint.h"
#include "ionet/ckpt/status.h"

namespace ionet::ckpt::layout {
namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string setName(std::int64_t step) { return "step-" + std::to_string(step); }

std::optional<std::int64_t> parseSetName(std::string_view name) {
  constexpr std::string_view prefix = "step-";
  if (!name.starts_with(prefix) || name.size() == prefix.size()) return std::nullopt;
  std::string_view digits = name.substr(prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::int64_t step = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return step;
}

std::string readFile(const fs::path& file) {
  Fd f{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) throwErrno(errno, file.string() + ": open");
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throwErrno(errno, file.string() + ": read");
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

void writeFileDurably(const fs::path& file, std::string_view bytes) {
  Fd f{::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)};
  if (f.fd < 0) throwErrno(errno, file.string() + ": create");
  while (!bytes.empty()) {
    ssize_t n = ::write(f.fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throwErrno(errno, file.string() + ": write");
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(f.fd) != 0) throwErrno(errno, file.string() + ": fsync");
  int fd = f.fd;
  f.fd = -1;
  // close can report a deferred write error (NFS): it is part of durability here.
  if (::close(fd) != 0) throwErrno(errno, file.string() + ": close");
}

void fsyncDir(const fs::path& dir) {
  Fd f{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (f.fd < 0) throwErrno(errno, dir.string() + ": open directory");
  if (::fsync(f.fd) != 0) throwErrno(errno, dir.string() + ": fsync directory");
}

void removeTree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) throwErrno(ec.value(), p.string() + ": remove");
}

void removeStale(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.starts_with("step-") && name.ends_with(".tmp")) removeTree(e.path());
  }
  if (ec) throwErrno(ec.value(), dir.string() + ": list");
}

void publishDir(const fs::path& tmp, const fs::path& final) {
  if (::rename(tmp.c_str(), final.c_str()) != 0) {
    if (errno != ENOTEMPTY && errno != EEXIST) throwErrno(errno, tmp.string() + ": rename");
    // final exists: swap the two in one step, so step-N is always one whole set or the other.
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final.c_str(), RENAME_EXCHANGE) != 0)
      throwErrno(errno, final.string() + ": replace (renameat2 RENAME_EXCHANGE)");
    fsyncDir(final.parent_path());
    removeTree(tmp);  // now the replaced set
    return;
  }
  fsyncDir(final.parent_path());
}

void setLatest(const fs::path& dir, const std::string& setName) {
  fs::path tmp = dir / (std::string(kLatest) + ".tmp");
  ::unlink(tmp.c_str());
  if (::symlink(setName.c_str(), tmp.c_str()) != 0) throwErrno(errno, tmp.string() + ": symlink");
  fs::path latest = dir / kLatest;
  if (::rename(tmp.c_str(), latest.c_str()) != 0) throwErrno(errno, latest.string() + ": rename");
  fsyncDir(dir);
}

std::string prune(const fs::path& dir, int keep, std::int64_t newest) {
  std::string problems;
  int kept = 0;
  for (const auto& set : listSets(dir)) {  // newest step first
    bool stays = set.step <= newest && kept < keep;
    if (stays) {
      ++kept;
      continue;
    }
    // Renamed first, so a crash halfway through leaves a stale *.tmp, not a half-deleted set.
    fs::path doomed = dir / (set.path.filename().string() + ".pruned.tmp");
    std::error_code ec;
    if (::rename(set.path.c_str(), doomed.c_str()) != 0) {
      problems += set.path.string() + ": cannot prune: " + std::strerror(errno) + "; ";
      continue;
    }
    fs::remove_all(doomed, ec);
    if (ec) problems += doomed.string() + ": cannot remove: " + ec.message() + "; ";
  }
  return problems;
}

}  // namespace ionet::ckpt::layout
