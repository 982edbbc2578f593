// ionet-run's standard input, for rank 0: read on a detached thread (stdin may be a regular
// file, which epoll refuses) and handed to the event loop chunk by chunk.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace ionet::launcher {

class StdinReader {
 public:
  // `chunk` runs on `io`'s thread for each read, the last one with eof set, while the reader
  // lives. The thread may outlive it (blocked in read(2)); what it reads then is dropped.
  using Chunk = std::function<void(std::string data, bool eof)>;
  StdinReader(asio::io_context& io, Chunk chunk);
  ~StdinReader();
  StdinReader(const StdinReader&) = delete;
  StdinReader& operator=(const StdinReader&) = delete;

 private:
  struct Link {
    std::mutex mutex;
    bool alive = true;
  };
  std::shared_ptr<Link> link_ = std::make_shared<Link>();
};

}  // namespace ionet::launcher
