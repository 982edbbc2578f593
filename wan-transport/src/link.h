// One connection of a session: a byte stream (plain TCP or TLS over TCP) with its frame reader,
// a read loop that hands frames to the session, and one write in flight at a time.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <functional>
#include <memory>
#include <string>

#include "ionet/wan/frame.h"
#include "ionet/wan/session_options.h"

namespace ionet::wan {

// A connected, authenticated (or deliberately plain) byte stream.
class ByteStream {
 public:
  using Handler = std::function<void(const asio::error_code&, std::size_t)>;
  virtual ~ByteStream() = default;
  virtual void readSome(asio::mutable_buffer buffer, Handler handler) = 0;
  virtual void write(asio::const_buffer buffer, Handler handler) = 0;  // all of it
  virtual void close() = 0;
  virtual asio::ip::tcp::socket& socket() = 0;
  // The peer's name as proven by TLS; empty for a plain stream.
  virtual std::string authenticatedName() const = 0;
  std::string remote;      // "host:port" of the peer, for messages
  std::string congestion;  // TCP congestion control in use on the connection
};

// "address:port" of a socket's peer, or "unknown peer", for messages.
std::string describeRemote(const asio::ip::tcp::socket& socket);

std::shared_ptr<ByteStream> plainStream(asio::ip::tcp::socket socket);

// Runs the TLS handshake on a connected socket; `done` gets the stream or a one-line error.
void secureStream(asio::ip::tcp::socket socket, asio::ssl::context& context, bool client,
                  std::chrono::milliseconds timeout,
                  std::function<void(std::shared_ptr<ByteStream>, std::string error)> done);

// Socket options every session connection gets: TCP_NODELAY (control messages must not wait
// for Nagle), the congestion control asked for (BBR when the kernel has it), buffer sizes.
// Returns the congestion control the kernel really runs on the socket.
std::string tuneSocket(asio::ip::tcp::socket& socket, const SessionOptions& options);

// Reads exactly one frame (the hello or its answer) within `timeout`; bytes after it stay in
// the reader for the link that follows.
void readOneFrame(std::shared_ptr<ByteStream> stream, std::shared_ptr<FrameReader> reader,
                  std::chrono::milliseconds timeout,
                  std::function<void(std::optional<Frame>, std::string error)> done);

// Sends one frame; `done` gets an error text or "".
void writeOneFrame(std::shared_ptr<ByteStream> stream, const Frame& frame,
                   std::function<void(std::string)> done);

// What a link tells its session. All calls happen on the io_context thread.
class LinkOwner {
 public:
  virtual ~LinkOwner() = default;
  virtual void linkFrame(int link, Frame&& frame) = 0;
  virtual void linkWritten(int link) = 0;
  virtual void linkFailed(int link, const std::string& reason) = 0;
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(int id, std::shared_ptr<ByteStream> stream, std::shared_ptr<FrameReader> reader,
       std::weak_ptr<LinkOwner> owner);
  ~Link();

  void start();
  bool writing() const { return writing_; }
  // Writes `bytes` (taken); linkWritten follows. One write at a time.
  void write(std::string bytes);
  // An empty buffer to build the next write in: the last written one, capacity kept, so a
  // link under load does not allocate (and fault in) a fresh batch every write.
  std::string takeBuffer();
  void keepBuffer(std::string buffer) { spare_ = std::move(buffer); }
  // Closes the connection; no callback follows.
  void close();
  int id() const { return id_; }
  const std::string& remote() const { return stream_->remote; }

 private:
  void readMore();
  void fail(const std::string& reason);

  int id_;
  std::shared_ptr<ByteStream> stream_;
  std::shared_ptr<FrameReader> reader_;
  std::weak_ptr<LinkOwner> owner_;
  std::string writeBuffer_;
  std::string spare_;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace ionet::wan
