// Cuts a byte stream into whole lines so that output of different ranks never interleaves
// mid-line. A line longer than the limit is passed on in pieces (memory stays bounded).
#pragma once

#include <string>
#include <string_view>

namespace ionet::launcher {

class LineAssembler {
 public:
  explicit LineAssembler(std::size_t maxLine = 1 << 20) : maxLine_(maxLine) {}

  // Appends bytes; returns the complete lines now available (each ending in '\n'), or an
  // over-long partial line.
  std::string feed(std::string_view bytes);

  // The pending partial line (at end of stream).
  std::string flush();

 private:
  std::size_t maxLine_;
  std::string pending_;
};

}  // namespace ionet::launcher
