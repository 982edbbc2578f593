// The session frame format (version 1), as written down in docs/protocol.md: what travels inside
// each TLS (or plain) TCP connection of a session. Encoding and a strict, incremental decoder.
// This file and frame.cc depend on nothing but the standard library, so the fuzz target can
// compile them alone.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ionet::wan {

inline constexpr std::uint8_t kFrameVersion = 1;
inline constexpr std::size_t kFrameHeaderBytes = 8;  // "IW", version, type, u32 body length
// Largest payload of one sequenced frame; messages are cut into segments no larger than this.
inline constexpr std::size_t kMaxSegmentBytes = 1u << 20;
inline constexpr std::size_t kMaxNameBytes = 256;     // node and channel names
inline constexpr std::size_t kMaxReasonBytes = 1024;  // close / goodbye / refuse reasons

enum class FrameType : std::uint8_t {
  hello = 1,     // first frame of a connection, from the connecting side
  helloAck = 2,  // the answer: the connection is now a link of the session
  data = 3,      // sequenced: a segment of a message on a channel
  ack = 4,       // cumulative: every sequenced frame below `ack` was received
  window = 5,    // cumulative: bytes of `channel` the receiver has consumed (credit)
  ping = 6,
  pong = 7,
  open = 8,      // sequenced: opens `channel`; payload = its name
  close = 9,     // sequenced: closes `channel`; payload = reason
  goodbye = 10,  // the session ends; payload = reason
  refuse = 11,   // answer to hello: the connection is not accepted; payload = reason
};

// Segment flags of data frames.
inline constexpr std::uint8_t kBeginMessage = 1;
inline constexpr std::uint8_t kEndMessage = 2;

using SessionId = std::array<std::uint8_t, 16>;

// One decoded frame. Which fields carry meaning depends on the type (see docs/protocol.md).
struct Frame {
  FrameType type = FrameType::ping;
  SessionId session{};        // hello, helloAck
  std::uint16_t link = 0;     // hello, helloAck: index of this connection in the session
  std::uint16_t streams = 0;  // hello, helloAck: parallel connections wanted / granted
  std::uint64_t seq = 0;      // data, open, close
  std::uint64_t ack = 0;      // hello, helloAck: receiver's next expected seq; ack
  std::uint32_t channel = 0;  // data, open, close, window
  std::uint8_t flags = 0;     // data: kBeginMessage / kEndMessage; helloAck: 1 = resumed
  std::uint64_t value = 0;    // window: consumed bytes; ping/pong: nonce
  std::string payload;        // data bytes; open: name; close/goodbye/refuse: reason; hello: node

  bool sequenced() const {
    return type == FrameType::data || type == FrameType::open || type == FrameType::close;
  }
};

// A frame that breaks the format. The message says what is wrong; the connection is closed.
class FrameError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Appends the encoding of `frame` to `out`.
void encodeFrame(const Frame& frame, std::string& out);

// Appends a sequenced frame (data, open, close) whose payload is borrowed, not copied into a
// Frame first: the bulk path.
void encodeSequenced(FrameType type, std::uint64_t seq, std::uint32_t channel, std::uint8_t flags,
                     std::string_view payload, std::string& out);

// Bytes of a frame on the wire, header included (for accounting).
std::size_t encodedSize(const Frame& frame);

const char* frameTypeName(FrameType type);

// Incremental decoder: feed bytes as they arrive, take whole frames out. Throws FrameError on the
// first malformed, oversized or unknown frame; after that the connection must be dropped.
class FrameReader {
 public:
  // Where the next `bytes` received go: read into it, then commit() what arrived. Saves the
  // copy that append() makes.
  struct Space {
    char* data;
    std::size_t size;
  };
  Space prepare(std::size_t bytes);
  void commit(std::size_t bytes);
  void append(std::string_view bytes);
  std::optional<Frame> next();
  std::size_t buffered() const { return end_ - offset_; }
  std::size_t storageBytes() const { return buffer_.size(); }

 private:
  // A partial frame is moved to the front at the latest once the buffer holds this many reads.
  static constexpr std::size_t kCompactAboveReads = 8;
  std::string buffer_;  // storage; bytes [offset_, end_) are received and not yet decoded
  std::size_t offset_ = 0;
  std::size_t end_ = 0;
};

}  // namespace ionet::wan
