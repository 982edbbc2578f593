#include "run/output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "ionet/log.h"

namespace ionet::launcher {

bool writeFully(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

OutputSink::~OutputSink() {
  for (auto& [key, fd] : files_) ::close(fd);
}

int OutputSink::fileFor(std::uint32_t rank, StreamId stream) {
  const int s = options_.mergeStderr ? 0 : static_cast<int>(stream);
  auto key = std::make_pair(rank, s);
  if (auto it = files_.find(key); it != files_.end()) return it->second;
  // Open MPI's layout: DIR/1/rank.R/stdout (the "1" is the job within the mpirun session).
  const std::string dir = options_.directory + "/1/rank." + std::to_string(rank);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string path = dir + (s == 0 ? "/stdout" : "/stderr");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) log::error("cannot open ", path, ": ", std::strerror(errno));
  files_[key] = fd;
  return fd;
}

void OutputSink::write(std::uint32_t rank, StreamId stream, const std::string& data) {
  if (data.empty()) return;
  if (!options_.directory.empty()) {
    int fd = fileFor(rank, stream);
    if (fd >= 0) writeFully(fd, data);
    return;
  }
  const bool toStderr = stream == StreamId::kStderr && !options_.mergeStderr;
  const int fd = toStderr ? STDERR_FILENO : STDOUT_FILENO;
  if (!options_.tag && !options_.timestamp) {
    writeFully(fd, data);
    return;
  }
  // mpirun's prefixes: "Wed Nov 25 07:07:46 2026[1,0]<stdout>:" (date and tag optional).
  std::string prefix;
  if (options_.timestamp) {
    char when[64];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&now, &tm);
    std::strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
    prefix += when;
  }
  if (options_.tag) prefix += "[1," + std::to_string(rank) + "]";
  prefix += toStderr ? "<stderr>:" : "<stdout>:";
  std::string out;
  out.reserve(data.size() + prefix.size() * 4);
  std::size_t start = 0;
  while (start < data.size()) {
    std::size_t end = data.find('\n', start);
    std::size_t next = end == std::string::npos ? data.size() : end + 1;
    out += prefix;
    out.append(data, start, next - start);
    start = next;
  }
  writeFully(fd, out);
}

}  // namespace ionet::launcher
