// Moving checkpoint files between agents on a "ckpt" channel (docs/protocol.md, "Checkpoint
// channels"): sending files with the channel's backpressure, receiving them into a fresh
// directory, the fetching side of a transfer, and the names a peer may use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "control.pb.h"
#include "ionet/wan/session.h"

namespace ionet::launcher {

// What a peer may name: MANIFEST or rank-<digits>.h5; a host name that is one path element.
bool safeFileName(const std::string& name);
bool safeHostName(const std::string& host);

void sendMessage(wan::Channel& channel, const control::CkptMessage& m);
void fsyncPath(const std::filesystem::path& p);  // best effort: a file's or a directory's

// Sends files (name as the peer sees it, path here), then CkptEnd (with `error` if one was
// found before or while reading), and closes the channel. Pieces of at most 1 MiB; waits for the
// channel to drain below 16 MiB queued between them.
class FileSender : public std::enable_shared_from_this<FileSender> {
 public:
  using Files = std::vector<std::pair<std::string, std::filesystem::path>>;
  FileSender(std::shared_ptr<wan::SessionChannel> channel, Files files, std::string error);
  ~FileSender();
  void pump();

 private:
  void end();

  std::shared_ptr<wan::SessionChannel> channel_;
  Files files_;
  std::string error_;
  std::size_t next_ = 0;
  int fd_ = -1;
  bool ended_ = false;
};

// Writes the files of one transfer into a fresh directory (removed and made again by the
// constructor, which throws on failure), each fsynced when complete.
class FileReceiver {
 public:
  explicit FileReceiver(std::filesystem::path dir);
  ~FileReceiver();
  const std::filesystem::path& dir() const { return dir_; }
  const std::vector<std::string>& files() const { return files_; }
  bool complete() const { return fd_ < 0; }
  // "" or what is wrong with the piece.
  std::string add(const control::CkptFile& f);

 private:
  std::filesystem::path dir_;
  int fd_ = -1;
  std::string current_;
  std::vector<std::string> files_;
};

// The fetching side of a "ckpt" channel: the files arrive into a receiver; at the clean end
// `done` places them (and may throw), and `finish` gets "" or why the fetch failed
// ("cannot fetch <what>: <why>").
class Fetch : public std::enable_shared_from_this<Fetch> {
 public:
  Fetch(std::filesystem::path tmp, std::string what, std::function<void(const FileReceiver&)> done,
        std::function<void(const std::string&)> finish);
  void start(wan::SessionChannel& channel);
  void fail(const std::string& why);

 private:
  void onMessage(const std::string& bytes);

  FileReceiver receiver_;
  std::string what_;
  std::function<void(const FileReceiver&)> done_;
  std::function<void(const std::string&)> finish_;
  bool ended_ = false;
};

}  // namespace ionet::launcher
