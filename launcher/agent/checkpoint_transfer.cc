#include "agent/checkpoint_transfer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ionet/ckpt/manifest.h"

namespace ionet::launcher {
namespace fs = std::filesystem;

namespace {
constexpr std::size_t kPiece = 1u << 20;       // bytes of a file per message
constexpr std::size_t kHighWater = 16u << 20;  // queued on the channel before we wait
}  // namespace

bool safeFileName(const std::string& n) {
  if (n == ckpt::Manifest::kFileName) return true;
  if (n.size() < 9 || n.rfind("rank-", 0) != 0 || n.compare(n.size() - 3, 3, ".h5") != 0) {
    return false;
  }
  const std::string digits = n.substr(5, n.size() - 8);
  return digits.size() < 10 && digits.find_first_not_of("0123456789") == std::string::npos;
}

bool safeHostName(const std::string& h) {
  return !h.empty() && h != "." && h != ".." && h.find('/') == std::string::npos;
}

void sendMessage(wan::Channel& channel, const control::CkptMessage& m) {
  channel.send(m.SerializeAsString());
}

void fsyncPath(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// --- FileSender ------------------------------------------------------------------------------

FileSender::FileSender(std::shared_ptr<wan::SessionChannel> channel, Files files, std::string error)
    : channel_(std::move(channel)), files_(std::move(files)), error_(std::move(error)) {}

FileSender::~FileSender() {
  if (fd_ >= 0) ::close(fd_);
}

void FileSender::pump() {
  if (ended_) return;
  while (channel_->queuedBytes() < kHighWater) {
    if (!error_.empty() || next_ == files_.size()) return end();
    const auto& [name, path] = files_[next_];
    if (fd_ < 0 && (fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
      error_ = path.string() + ": " + std::strerror(errno);
      continue;
    }
    std::string piece(kPiece, '\0');
    ssize_t n = ::read(fd_, piece.data(), piece.size());
    if (n < 0) {
      error_ = path.string() + ": read: " + std::strerror(errno);
      continue;
    }
    piece.resize(static_cast<std::size_t>(n));
    control::CkptMessage m;
    m.mutable_file()->set_name(name);
    m.mutable_file()->set_data(std::move(piece));
    m.mutable_file()->set_last(n == 0);
    sendMessage(*channel_, m);
    if (n == 0) {
      ::close(fd_);
      fd_ = -1;
      ++next_;
    }
  }
  channel_->onWritable([self = shared_from_this()] { self->pump(); });
}

void FileSender::end() {
  ended_ = true;
  channel_->onWritable({});
  control::CkptMessage m;
  m.mutable_end()->set_error(error_);
  sendMessage(*channel_, m);
  channel_->close();
}

// --- FileReceiver ----------------------------------------------------------------------------

FileReceiver::FileReceiver(fs::path dir) : dir_(std::move(dir)) {
  fs::remove_all(dir_);
  fs::create_directories(dir_);
}

FileReceiver::~FileReceiver() {
  if (fd_ >= 0) ::close(fd_);
}

std::string FileReceiver::add(const control::CkptFile& f) {
  if (!safeFileName(f.name())) return "file name '" + f.name() + "' refused";
  if (fd_ < 0) {
    current_ = f.name();
    const fs::path p = dir_ / current_;
    fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) return p.string() + ": " + std::strerror(errno);
  } else if (f.name() != current_) {
    return "file " + f.name() + " began before " + current_ + " ended";
  }
  const std::string& d = f.data();
  for (std::size_t off = 0; off < d.size();) {
    ssize_t n = ::write(fd_, d.data() + off, d.size() - off);
    if (n < 0) return (dir_ / current_).string() + ": write: " + std::strerror(errno);
    off += static_cast<std::size_t>(n);
  }
  if (f.last()) {
    if (::fsync(fd_) != 0) return (dir_ / current_).string() + ": fsync: " + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    files_.push_back(current_);
  }
  return {};
}

// --- Fetch -----------------------------------------------------------------------------------

Fetch::Fetch(fs::path tmp, std::string what, std::function<void(const FileReceiver&)> done,
             std::function<void(const std::string&)> finish)
    : receiver_(std::move(tmp)),
      what_(std::move(what)),
      done_(std::move(done)),
      finish_(std::move(finish)) {}

void Fetch::start(wan::SessionChannel& channel) {
  channel.start({[self = shared_from_this()](std::string m) { self->onMessage(m); },
                 [self = shared_from_this()](const std::string& why) {
                   self->fail("channel closed (" + why + ")");
                 }});
}

void Fetch::fail(const std::string& why) {
  if (ended_) return;
  ended_ = true;
  std::error_code ec;
  fs::remove_all(receiver_.dir(), ec);
  finish_("cannot fetch " + what_ + ": " + why);
}

void Fetch::onMessage(const std::string& bytes) {
  if (ended_) return;
  control::CkptMessage m;
  if (!m.ParseFromString(bytes)) return fail("malformed message");
  if (m.has_file()) {
    if (auto why = receiver_.add(m.file()); !why.empty()) fail(why);
    return;
  }
  if (!m.has_end()) return fail("unexpected message");
  if (!m.end().error().empty()) return fail(m.end().error());
  if (!receiver_.complete()) return fail("a file was cut short");
  try {
    done_(receiver_);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  ended_ = true;
  finish_("");
}

}  // namespace ionet::launcher
