// libFuzzer target: any bytes as a job script's directives, or as ionet-batch's arguments.
// The parser may refuse them (UsageError) but must not crash, hang or throw anything else.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ionet/error.h"
#include "ionet/jobscripts/batch_options.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  ionet::jobscripts::BatchOptions options;
  try {
    ionet::jobscripts::applyDirectives(text, "fuzz.sh", options);
  } catch (const ionet::UsageError&) {
  }
  std::vector<std::string> args;
  std::string word;
  for (char c : text) {
    if (c == '\n' || c == ' ') {
      args.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  args.push_back(word);
  try {
    ionet::jobscripts::applyCommandLine(args, options);
  } catch (const ionet::UsageError&) {
  }
  return 0;
}
