// MANIFEST: format/parse round trip, and every way a manifest can be damaged is rejected with a
// message that names it and says what is wrong.
#include "ionet/ckpt/manifest.h"

#include <gtest/gtest.h>

#include "ionet/ckpt/checksum.h"
#include "ionet/ckpt/status.h"

namespace ionet::ckpt {
namespace {

Manifest sample() {
  Manifest m;
  m.step = 30;
  m.nranks = 3;
  for (int r = 0; r < 3; ++r)
    m.files.push_back({rankFileName(r), 1000u + r, 0xa1b2c3d4e5f60718ull * (r + 1)});
  return m;
}

// The parse error's message, or "" when it parsed.
std::string rejection(const std::string& text) {
  try {
    Manifest::parse(text, "step-30/MANIFEST");
    return "";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kCorrupt) << e.what();
    return e.what();
  }
}

// Re-seals a hand-edited body with a correct trailer, to reach the checks behind the checksum.
std::string sealed(const std::string& body) {
  return body + "manifest-checksum " + hex64(checksumBytes(body)) + "\n";
}

TEST(Manifest, RoundTrip) {
  Manifest m = sample();
  std::string text = m.format();
  EXPECT_EQ(Manifest::parse(text, "MANIFEST"), m);
  EXPECT_EQ(text.substr(0, text.find('\n')), "ionet-checkpoint-manifest 1");
  EXPECT_NE(text.find("\nfile rank-1.h5 1001 "), std::string::npos) << text;
}

TEST(Manifest, EveryTruncationIsRejected) {
  std::string text = sample().format();
  for (std::size_t n = 0; n < text.size(); ++n)
    EXPECT_NE(rejection(text.substr(0, n)), "") << "accepted a manifest cut to " << n << " bytes";
  EXPECT_EQ(rejection(text.substr(0, text.size() / 2)),
            "step-30/MANIFEST: truncated (no manifest-checksum line at the end)");
  EXPECT_EQ(rejection(""), "step-30/MANIFEST: empty");
}

TEST(Manifest, GarbledBytesAreRejected) {
  std::string text = sample().format();
  std::string garbled = text;
  garbled[text.find("1001")] = '7';  // a size digit
  std::string why = rejection(garbled);
  EXPECT_NE(why.find("step-30/MANIFEST: manifest checksum mismatch (recorded "), std::string::npos)
      << why;
  // Every single-byte change of the body is caught.
  for (std::size_t i = 0; i < text.rfind("manifest-checksum"); ++i) {
    std::string t = text;
    t[i] ^= 0x01;
    EXPECT_NE(rejection(t), "") << "accepted a flip at byte " << i;
  }
  std::string badTrailer = text;
  badTrailer[text.size() - 3] = 'z';
  EXPECT_EQ(rejection(badTrailer), "step-30/MANIFEST: garbled manifest-checksum line");
}

TEST(Manifest, InconsistentContentIsRejectedEvenWhenSealed) {
  const std::string head = "ionet-checkpoint-manifest 1\nstep 30\nnranks 2\nchecksum xxh3-64\n";
  const std::string f0 = "file rank-0.h5 10 00000000000000aa\n";
  EXPECT_EQ(rejection(sealed(head + f0)), "step-30/MANIFEST: lists 1 files for 2 ranks");
  EXPECT_NE(rejection(sealed(head + f0 + "file ../../etc/passwd 10 00000000000000aa\n"))
                .find("line 6: expected rank-1.h5"),
            std::string::npos);
  EXPECT_NE(rejection(sealed(head + f0 + "file rank-1.h5 -4 00000000000000aa\n"))
                .find("line 6: bad file line"),
            std::string::npos);
  EXPECT_NE(rejection(sealed("ionet-checkpoint-manifest 2\n")).find("version 1"),
            std::string::npos);
  EXPECT_EQ(rejection(sealed("ionet-checkpoint-manifest 1\nstep 30\n")),
            "step-30/MANIFEST: missing the nranks line");
  EXPECT_NE(rejection(sealed(head + f0 + f0)).find("expected rank-1.h5"), std::string::npos);
  EXPECT_EQ(rejection(sealed(head + f0 + "file rank-1.h5 10 00000000000000aa\n")), "");
}

TEST(Checksum, HexRoundTrip) {
  EXPECT_EQ(hex64(0x0123456789abcdefull), "0123456789abcdef");
  EXPECT_EQ(parseHex64("0123456789abcdef"), 0x0123456789abcdefull);
  EXPECT_FALSE(parseHex64("0123456789ABCDEF"));
  EXPECT_FALSE(parseHex64("0123"));
}

}  // namespace
}  // namespace ionet::ckpt
