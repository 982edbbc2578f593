// XXH3-64 over a file's bytes: at 8 MiB per read() the hash (>10 GB/s) is not the limit, the
// page cache or the disk is.
#include "ionet/ckpt/checksum.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "ionet/ckpt/status.h"

namespace ionet::ckpt {
namespace {

constexpr std::size_t kBlock = 8 << 20;

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct XxhState {
  XXH3_state_t* s = XXH3_createState();
  ~XxhState() { XXH3_freeState(s); }
};

}  // namespace

FileDigest digestFile(const std::filesystem::path& file, bool fsyncFirst) {
  Fd f{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) throwErrno(errno, file.string() + ": open");
  // Linux accepts fsync on a read-only descriptor: it flushes the file, not the descriptor.
  if (fsyncFirst && ::fsync(f.fd) != 0) throwErrno(errno, file.string() + ": fsync");
  ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  XxhState state;
  if (!state.s) throw Error(Status::kInternal, "out of memory for the checksum state");
  XXH3_64bits_reset(state.s);
  std::unique_ptr<char[]> buf(new char[kBlock]);
  FileDigest d;
  for (;;) {
    ssize_t n = ::read(f.fd, buf.get(), kBlock);
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno(errno, file.string() + ": read");
    }
    if (n == 0) break;
    XXH3_64bits_update(state.s, buf.get(), static_cast<std::size_t>(n));
    d.size += static_cast<std::uint64_t>(n);
  }
  d.checksum = XXH3_64bits_digest(state.s);
  return d;
}

std::uint64_t checksumBytes(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

std::string hex64(std::uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::optional<std::uint64_t> parseHex64(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else
      return std::nullopt;
    v = v << 4 | static_cast<std::uint64_t>(d);
  }
  return v;
}

}  // namespace ionet::ckpt
