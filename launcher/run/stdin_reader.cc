// The stdin thread of ionet-run: blocking reads, posted to the loop while the reader lives.
#include "run/stdin_reader.h"

#include <unistd.h>

#include <cerrno>
#include <thread>

namespace ionet::launcher {

StdinReader::StdinReader(asio::io_context& io, Chunk chunk) {
  std::thread([link = link_, &io, chunk = std::move(chunk)] {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      std::string data = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
      {
        std::lock_guard<std::mutex> lock(link->mutex);
        if (!link->alive) return;  // io may be gone with the reader's owner
        // Checked again on the loop: the reader may be destroyed before the chunk runs.
        asio::post(io, [link, chunk, data = std::move(data), eof = n <= 0] {
          std::lock_guard<std::mutex> lock(link->mutex);
          if (link->alive) chunk(data, eof);
        });
      }
      if (n <= 0) return;
    }
  }).detach();
}

StdinReader::~StdinReader() {
  std::lock_guard<std::mutex> lock(link_->mutex);
  link_->alive = false;
}

}  // namespace ionet::launcher
