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

// Bytes of a frame on the wire, header included (for accounting).
std::size_t encodedSize(const Frame& frame);

const char* frameTypeName(FrameType type);

// Incremental decoder: feed bytes as they arrive, take whole frames out. Throws FrameError on the
// first malformed, oversized or unknown frame; after that the connection must be dropped.
class FrameReader {
 public:
  void append(std::string_view bytes) { buffer_.append(bytes); }
  std::optional<Frame> next();
  std::size_t buffered() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  std::size_t offset_ = 0;
};

}  // namespace ionet::wan
