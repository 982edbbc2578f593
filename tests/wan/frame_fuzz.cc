// libFuzzer target for the frame decoder: arbitrary bytes, fed in arbitrary pieces, must either
// decode or raise FrameError — never crash, hang, over-read or allocate without bound. Frames
// that decode must re-encode to the same bytes (the codec has one canonical form).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ionet/wan/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ionet::wan;
  if (size == 0) return 0;
  // The first byte chooses how the rest is split into reads, as TCP would.
  const std::size_t piece = 1 + data[0] % 64;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  FrameReader reader;
  std::string consumed;
  try {
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
      reader.append(bytes.substr(at, piece));
      while (auto frame = reader.next()) {
        std::string again;
        encodeFrame(*frame, again);
        if (again.size() != encodedSize(*frame)) std::abort();
        consumed += again;
      }
    }
  } catch (const FrameError&) {
    return 0;  // rejected: the connection would be closed
  }
  if (bytes.substr(0, consumed.size()) != consumed) std::abort();  // canonical re-encoding
  return 0;
}
