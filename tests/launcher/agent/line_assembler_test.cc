// LineAssembler: whole lines out, partial lines held, over-long lines passed on.
#include "agent/line_assembler.h"

#include <gtest/gtest.h>

namespace ionet::launcher {
namespace {

TEST(LineAssembler, HoldsPartialLineUntilItsNewline) {
  LineAssembler lines;
  EXPECT_EQ(lines.feed("hel"), "");
  EXPECT_EQ(lines.feed("lo"), "");
  EXPECT_EQ(lines.feed(" world\nnext"), "hello world\n");
  EXPECT_EQ(lines.feed("\n"), "next\n");
  EXPECT_EQ(lines.flush(), "");
}

TEST(LineAssembler, SeveralLinesInOneChunk) {
  LineAssembler lines;
  EXPECT_EQ(lines.feed("a\nbb\n\nccc\ndd"), "a\nbb\n\nccc\n");
  EXPECT_EQ(lines.feed("d\ne\n"), "ddd\ne\n");
}

TEST(LineAssembler, EmptyFeedReturnsNothing) {
  LineAssembler lines;
  EXPECT_EQ(lines.feed(""), "");
  EXPECT_EQ(lines.feed("x"), "");
  EXPECT_EQ(lines.feed(""), "");
  EXPECT_EQ(lines.flush(), "x");
}

TEST(LineAssembler, FlushReturnsThePartialLineOnce) {
  LineAssembler lines;
  EXPECT_EQ(lines.feed("done\nno newline at end"), "done\n");
  EXPECT_EQ(lines.flush(), "no newline at end");
  EXPECT_EQ(lines.flush(), "");
  EXPECT_EQ(lines.feed("fresh\n"), "fresh\n");
}

TEST(LineAssembler, OverLongLineIsPassedOnInPieces) {
  LineAssembler lines(8);
  EXPECT_EQ(lines.feed("abcde"), "");              // 5 bytes: under the limit, held
  EXPECT_EQ(lines.feed("fghijk"), "abcdefghijk");  // 11 bytes: passed on without its end
  EXPECT_EQ(lines.feed("lm"), "");                 // the rest starts a new piece
  EXPECT_EQ(lines.feed("n\n"), "lmn\n");
  EXPECT_EQ(lines.flush(), "");
}

TEST(LineAssembler, OverLongLineInOneChunk) {
  LineAssembler lines(4);
  EXPECT_EQ(lines.feed(std::string(100, 'x')), std::string(100, 'x'));
  EXPECT_EQ(lines.flush(), "");
}

}  // namespace
}  // namespace ionet::launcher
