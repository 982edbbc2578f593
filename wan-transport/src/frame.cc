// Frame encoding and the strict decoder (layout in docs/protocol.md). Integers are big-endian.
#include "ionet/wan/frame.h"

#include <cstring>

namespace ionet::wan {
namespace {

constexpr char kMagic0 = 'I';
constexpr char kMagic1 = 'W';
constexpr std::size_t kSequencedFixed = 8 + 4 + 1;       // seq, channel, flags
constexpr std::size_t kHelloFixed = 16 + 2 + 2 + 8;      // session, link, streams, ack
constexpr std::size_t kHelloAckBytes = kHelloFixed + 1;  // + flags

void putU16(std::string& out, std::uint16_t v) {
  out.push_back(char(v >> 8));
  out.push_back(char(v));
}
void putU32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(char(v >> shift));
}
void putU64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(char(v >> shift));
}

// Reads fixed-size fields from a body whose length was checked beforehand.
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : body_(body) {}
  std::uint64_t uint(int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(body_[pos_++]);
    return v;
  }
  void copy(void* dst, std::size_t n) {
    std::memcpy(dst, body_.data() + pos_, n);
    pos_ += n;
  }
  std::string rest() { return std::string(body_.substr(pos_)); }

 private:
  std::string_view body_;
  std::size_t pos_ = 0;
};

bool knownType(std::uint8_t t) { return t >= 1 && t <= 11; }

// Smallest and largest body a frame of this type may have.
std::pair<std::size_t, std::size_t> bodyBounds(FrameType type) {
  switch (type) {
    case FrameType::hello:
      return {kHelloFixed, kHelloFixed + kMaxNameBytes};
    case FrameType::helloAck:
      return {kHelloAckBytes, kHelloAckBytes};
    case FrameType::data:
      return {kSequencedFixed, kSequencedFixed + kMaxSegmentBytes};
    case FrameType::open:
      return {kSequencedFixed, kSequencedFixed + kMaxNameBytes};
    case FrameType::close:
      return {kSequencedFixed, kSequencedFixed + kMaxReasonBytes};
    case FrameType::ack:
    case FrameType::ping:
    case FrameType::pong:
      return {8, 8};
    case FrameType::window:
      return {12, 12};
    case FrameType::goodbye:
    case FrameType::refuse:
      return {0, kMaxReasonBytes};
  }
  return {0, 0};
}

std::size_t bodySize(const Frame& f) {
  switch (f.type) {
    case FrameType::hello:
      return kHelloFixed + f.payload.size();
    case FrameType::helloAck:
      return kHelloAckBytes;
    case FrameType::data:
    case FrameType::open:
    case FrameType::close:
      return kSequencedFixed + f.payload.size();
    case FrameType::ack:
    case FrameType::ping:
    case FrameType::pong:
      return 8;
    case FrameType::window:
      return 12;
    case FrameType::goodbye:
    case FrameType::refuse:
      return f.payload.size();
  }
  return 0;
}

Frame decodeBody(FrameType type, std::string_view body) {
  Frame f;
  f.type = type;
  BodyReader in(body);
  switch (type) {
    case FrameType::hello:
    case FrameType::helloAck:
      in.copy(f.session.data(), f.session.size());
      f.link = static_cast<std::uint16_t>(in.uint(2));
      f.streams = static_cast<std::uint16_t>(in.uint(2));
      f.ack = in.uint(8);
      if (type == FrameType::helloAck) {
        f.flags = static_cast<std::uint8_t>(in.uint(1));
      } else {
        f.payload = in.rest();
      }
      if (f.streams == 0)
        throw FrameError(std::string(frameTypeName(type)) + " asks for 0 streams");
      break;
    case FrameType::data:
    case FrameType::open:
    case FrameType::close:
      f.seq = in.uint(8);
      f.channel = static_cast<std::uint32_t>(in.uint(4));
      f.flags = static_cast<std::uint8_t>(in.uint(1));
      f.payload = in.rest();
      if (type == FrameType::data && (f.flags & ~(kBeginMessage | kEndMessage)) != 0) {
        throw FrameError("data frame with unknown flags " + std::to_string(f.flags));
      }
      break;
    case FrameType::ack:
      f.ack = in.uint(8);
      break;
    case FrameType::ping:
    case FrameType::pong:
      f.value = in.uint(8);
      break;
    case FrameType::window:
      f.channel = static_cast<std::uint32_t>(in.uint(4));
      f.value = in.uint(8);
      break;
    case FrameType::goodbye:
    case FrameType::refuse:
      f.payload = in.rest();
      break;
  }
  return f;
}

}  // namespace

const char* frameTypeName(FrameType type) {
  switch (type) {
    case FrameType::hello:
      return "hello";
    case FrameType::helloAck:
      return "hello-ack";
    case FrameType::data:
      return "data";
    case FrameType::ack:
      return "ack";
    case FrameType::window:
      return "window";
    case FrameType::ping:
      return "ping";
    case FrameType::pong:
      return "pong";
    case FrameType::open:
      return "open";
    case FrameType::close:
      return "close";
    case FrameType::goodbye:
      return "goodbye";
    case FrameType::refuse:
      return "refuse";
  }
  return "unknown";
}

std::size_t encodedSize(const Frame& frame) { return kFrameHeaderBytes + bodySize(frame); }

void encodeSequenced(FrameType type, std::uint64_t seq, std::uint32_t channel, std::uint8_t flags,
                     std::string_view payload, std::string& out) {
  const std::size_t body = kSequencedFixed + payload.size();
  const bool sequenced =
      type == FrameType::data || type == FrameType::open || type == FrameType::close;
  if (!sequenced || body > bodyBounds(type).second) {
    throw FrameError(std::string("refusing to encode a ") + frameTypeName(type) + " frame of " +
                     std::to_string(body) + " body bytes");
  }
  out.push_back(kMagic0);
  out.push_back(kMagic1);
  out.push_back(char(kFrameVersion));
  out.push_back(char(type));
  putU32(out, static_cast<std::uint32_t>(body));
  putU64(out, seq);
  putU32(out, channel);
  out.push_back(char(flags));
  out.append(payload);
}

void encodeFrame(const Frame& f, std::string& out) {
  if (f.sequenced()) return encodeSequenced(f.type, f.seq, f.channel, f.flags, f.payload, out);
  const std::size_t body = bodySize(f);
  const auto [low, high] = bodyBounds(f.type);
  if (body < low || body > high) {
    throw FrameError(std::string("refusing to encode a ") + frameTypeName(f.type) + " frame of " +
                     std::to_string(body) + " body bytes");
  }
  out.push_back(kMagic0);
  out.push_back(kMagic1);
  out.push_back(char(kFrameVersion));
  out.push_back(char(f.type));
  putU32(out, static_cast<std::uint32_t>(body));
  switch (f.type) {
    case FrameType::hello:
    case FrameType::helloAck:
      out.append(reinterpret_cast<const char*>(f.session.data()), f.session.size());
      putU16(out, f.link);
      putU16(out, f.streams);
      putU64(out, f.ack);
      if (f.type == FrameType::helloAck) {
        out.push_back(char(f.flags));
      } else {
        out += f.payload;
      }
      break;
    case FrameType::data:
    case FrameType::open:
    case FrameType::close:
      break;  // encodeSequenced above
    case FrameType::ack:
      putU64(out, f.ack);
      break;
    case FrameType::ping:
    case FrameType::pong:
      putU64(out, f.value);
      break;
    case FrameType::window:
      putU32(out, f.channel);
      putU64(out, f.value);
      break;
    case FrameType::goodbye:
    case FrameType::refuse:
      out += f.payload;
      break;
  }
}

std::optional<Frame> FrameReader::next() {
  const std::size_t available = end_ - offset_;
  if (available < kFrameHeaderBytes) return std::nullopt;
  const auto* h = reinterpret_cast<const unsigned char*>(buffer_.data() + offset_);
  if (h[0] != kMagic0 || h[1] != kMagic1) {
    throw FrameError("bad magic bytes 0x" + std::to_string(h[0]) + " 0x" + std::to_string(h[1]) +
                     " (not an ionet session frame)");
  }
  if (h[2] != kFrameVersion) {
    throw FrameError("unsupported frame version " + std::to_string(h[2]) + " (this side speaks " +
                     std::to_string(kFrameVersion) + ")");
  }
  if (!knownType(h[3])) throw FrameError("unknown frame type " + std::to_string(h[3]));
  const auto type = static_cast<FrameType>(h[3]);
  const std::uint32_t body = (std::uint32_t(h[4]) << 24) | (std::uint32_t(h[5]) << 16) |
                             (std::uint32_t(h[6]) << 8) | std::uint32_t(h[7]);
  const auto [low, high] = bodyBounds(type);
  if (body < low || body > high) {
    throw FrameError(std::string(frameTypeName(type)) + " frame with a body of " +
                     std::to_string(body) + " bytes (allowed " + std::to_string(low) + ".." +
                     std::to_string(high) + ")");
  }
  if (available < kFrameHeaderBytes + body) return std::nullopt;
  Frame frame =
      decodeBody(type, std::string_view(buffer_).substr(offset_ + kFrameHeaderBytes, body));
  offset_ += kFrameHeaderBytes + body;
  if (offset_ == end_) offset_ = end_ = 0;  // the usual case: everything read was whole frames
  return frame;
}

FrameReader::Space FrameReader::prepare(std::size_t bytes) {
  if (end_ + bytes > buffer_.size() && offset_ > 0) {
    // The partial frame at the end moves to the front when that is cheap (a control frame's
    // bytes) or once the buffer holds several reads. Moving it after every read, as before,
    // copied nearly every byte of a bulk link once more (frames and reads both ~256 KiB).
    const std::size_t partial = end_ - offset_;
    if (partial <= bytes / 4 || buffer_.size() >= kCompactAboveReads * bytes) {
      std::memmove(buffer_.data(), buffer_.data() + offset_, partial);
      end_ = partial;
      offset_ = 0;
    }
  }
  if (end_ + bytes > buffer_.size()) buffer_.resize(end_ + bytes);  // zero-fills only on growth
  return {buffer_.data() + end_, bytes};
}

void FrameReader::commit(std::size_t bytes) { end_ += bytes; }

void FrameReader::append(std::string_view bytes) {
  auto space = prepare(bytes.size());
  std::memcpy(space.data, bytes.data(), bytes.size());
  commit(bytes.size());
}

}  // namespace ionet::wan
