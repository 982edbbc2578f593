// The frame codec: every type round-trips; the decoder rejects what docs/protocol.md forbids and
// waits for truncated input.
#include "ionet/wan/frame.h"

#include <gtest/gtest.h>

#include <cstring>

namespace ionet::wan {
namespace {

std::string encode(const Frame& f) {
  std::string out;
  encodeFrame(f, out);
  return out;
}

Frame roundTrip(const Frame& f) {
  FrameReader reader;
  reader.append(encode(f));
  auto decoded = reader.next();
  EXPECT_TRUE(decoded.has_value());
  EXPECT_EQ(reader.buffered(), 0u);
  return decoded.value_or(Frame{});
}

TEST(Frame, HelloRoundTrips) {
  Frame f;
  f.type = FrameType::hello;
  for (std::size_t i = 0; i < f.session.size(); ++i) f.session[i] = std::uint8_t(i * 7);
  f.link = 3;
  f.streams = 8;
  f.ack = 0x0102030405060708ull;
  f.payload = "node-a";
  Frame d = roundTrip(f);
  EXPECT_EQ(d.type, FrameType::hello);
  EXPECT_EQ(d.session, f.session);
  EXPECT_EQ(d.link, 3);
  EXPECT_EQ(d.streams, 8);
  EXPECT_EQ(d.ack, f.ack);
  EXPECT_EQ(d.payload, "node-a");
}

TEST(Frame, SequencedAndControlFramesRoundTrip) {
  Frame data;
  data.type = FrameType::data;
  data.seq = 1ull << 40;
  data.channel = 0xdeadbeef;
  data.flags = kBeginMessage | kEndMessage;
  data.payload = std::string(1000, 'x') + std::string(1, '\0') + "tail";
  Frame d = roundTrip(data);
  EXPECT_EQ(d.seq, data.seq);
  EXPECT_EQ(d.channel, data.channel);
  EXPECT_EQ(d.flags, data.flags);
  EXPECT_EQ(d.payload, data.payload);

  Frame window;
  window.type = FrameType::window;
  window.channel = 7;
  window.value = 123456789;
  d = roundTrip(window);
  EXPECT_EQ(d.channel, 7u);
  EXPECT_EQ(d.value, 123456789u);

  Frame ack;
  ack.type = FrameType::ack;
  ack.ack = 99;
  EXPECT_EQ(roundTrip(ack).ack, 99u);

  Frame bye;
  bye.type = FrameType::goodbye;
  bye.payload = "done";
  EXPECT_EQ(roundTrip(bye).payload, "done");
  EXPECT_EQ(encodedSize(bye), encode(bye).size());
}

TEST(Frame, WaitsForTruncatedInputByteByByte) {
  Frame f;
  f.type = FrameType::data;
  f.seq = 5;
  f.flags = kBeginMessage;
  f.payload = "hello world";
  const std::string wire = encode(f) + encode(f);
  FrameReader reader;
  int frames = 0;
  for (char c : wire) {
    reader.append(std::string_view(&c, 1));
    while (auto d = reader.next()) {
      EXPECT_EQ(d->payload, "hello world");
      ++frames;
    }
  }
  EXPECT_EQ(frames, 2);
}

void expectRejected(const std::string& bytes, const std::string& words) {
  FrameReader reader;
  reader.append(bytes);
  try {
    reader.next();
    ADD_FAILURE() << "accepted a frame that should be rejected (" << words << ")";
  } catch (const FrameError& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(Frame, RejectsBadMagicVersionAndType) {
  Frame f;
  f.type = FrameType::ping;
  std::string good = encode(f);
  std::string bad = good;
  bad[0] = 'G';  // e.g. an HTTP client: "GET "
  expectRejected(bad, "magic");
  bad = good;
  bad[2] = 2;
  expectRejected(bad, "version 2");
  bad = good;
  bad[3] = 42;
  expectRejected(bad, "unknown frame type 42");
}

TEST(Frame, RejectsOversizedAndUndersizedBodiesFromTheHeaderAlone) {
  // A header announcing 4 GiB must fail before any body arrives.
  std::string header = {'I', 'W', 1, char(FrameType::data), '\xff', '\xff', '\xff', '\xff'};
  expectRejected(header, "body of 4294967295 bytes");
  std::string shortAck = {'I', 'W', 1, char(FrameType::ack), 0, 0, 0, 4, 0, 0, 0, 0};
  expectRejected(shortAck, "ack frame with a body of 4 bytes");
}

TEST(Frame, RejectsZeroStreamsAndUnknownDataFlags) {
  Frame hello;
  hello.type = FrameType::hello;
  hello.streams = 1;
  std::string wire = encode(hello);
  wire[8 + 16 + 2 + 1] = 0;  // streams low byte
  expectRejected(wire, "0 streams");
  Frame data;
  data.type = FrameType::data;
  data.flags = 0x80;
  EXPECT_THROW(
      {
        FrameReader r;
        r.append(encode(data));
        r.next();
      },
      FrameError);
}

TEST(Frame, RefusesToEncodeAnOversizedSegment) {
  Frame f;
  f.type = FrameType::data;
  f.payload.assign(kMaxSegmentBytes + 1, 'x');
  std::string out;
  EXPECT_THROW(encodeFrame(f, out), FrameError);
}


// Reads straight into the decoder (prepare/commit) in uneven pieces, with a partial frame left
// over each time: the bytes that come out are the ones that went in.
TEST(Frame, PrepareAndCommitCarryPartialFramesAcrossReads) {
  std::string wire;
  std::vector<std::string> payloads;
  for (int i = 0; i < 40; ++i) {
    payloads.push_back(std::string(1000 + 7919 * i, char('a' + i % 26)));
    encodeSequenced(FrameType::data, i, 3, kBeginMessage | kEndMessage, payloads.back(), wire);
  }
  FrameReader reader;
  std::size_t at = 0;
  int decoded = 0;
  for (std::size_t piece = 1; at < wire.size(); piece = piece * 3 % 65521 + 1) {
    const std::size_t n = std::min(piece, wire.size() - at);
    auto space = reader.prepare(65536);
    ASSERT_GE(space.size, n);
    std::memcpy(space.data, wire.data() + at, n);
    reader.commit(n);
    at += n;
    while (auto f = reader.next()) {
      ASSERT_LT(decoded, 40);
      EXPECT_EQ(f->seq, std::uint64_t(decoded));
      EXPECT_EQ(f->payload, payloads[decoded]);
      ++decoded;
    }
  }
  EXPECT_EQ(decoded, 40);
  EXPECT_EQ(reader.buffered(), 0u);
}

// A bulk link: frames a little over each 256 KiB read, so a partial frame is always left over.
// The partial frame is not moved after every read, yet the reader's storage stays bounded, and
// every byte comes out as it went in.
TEST(Frame, BulkFramesKeepTheReadersStorageBounded) {
  constexpr std::size_t kRead = 256u << 10;
  FrameReader reader;
  std::string wire;
  std::size_t at = 0;
  int decoded = 0;
  std::size_t largest = 0;
  for (int i = 0; i < 200; ++i) {
    wire.erase(0, at);
    at = 0;
    encodeSequenced(FrameType::data, i, 1, kBeginMessage | kEndMessage,
                    std::string(kRead + 40 * (i % 5), char('a' + i % 26)), wire);
    while (wire.size() - at >= kRead || (i == 199 && at < wire.size())) {
      const std::size_t n = std::min(kRead, wire.size() - at);
      auto space = reader.prepare(kRead);
      std::memcpy(space.data, wire.data() + at, n);
      reader.commit(n);
      at += n;
      largest = std::max(largest, reader.storageBytes());
      while (auto f = reader.next()) {
        ASSERT_EQ(f->seq, std::uint64_t(decoded));
        ASSERT_EQ(f->payload.size(), kRead + 40 * (decoded % 5));
        ASSERT_EQ(f->payload.front(), char('a' + decoded % 26));
        ++decoded;
      }
    }
  }
  EXPECT_EQ(decoded, 200);
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_LE(largest, 10 * kRead);
}

}  // namespace
}  // namespace ionet::wan
