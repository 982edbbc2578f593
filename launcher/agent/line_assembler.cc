#include "agent/line_assembler.h"

namespace ionet::launcher {

std::string LineAssembler::feed(std::string_view bytes) {
  pending_.append(bytes);
  const auto lastNewline = pending_.rfind('\n');
  if (lastNewline == std::string::npos) {
    return pending_.size() >= maxLine_ ? flush() : std::string();
  }
  std::string lines = pending_.substr(0, lastNewline + 1);
  pending_.erase(0, lastNewline + 1);
  return lines;
}

std::string LineAssembler::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace ionet::launcher
