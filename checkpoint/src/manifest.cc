// MANIFEST text: "<key> <values>" lines; the last line, "manifest-checksum <hex>", is XXH3-64 of
// every byte before it, so a truncated or garbled manifest is told apart from a valid one.
#include "ionet/ckpt/manifest.h"

#include <charconv>
#include <sstream>

#include "ionet/ckpt/checksum.h"
#include "ionet/ckpt/status.h"

namespace ionet::ckpt {
namespace {

constexpr std::string_view kMagic = "ionet-checkpoint-manifest 1";
constexpr std::string_view kTrailer = "manifest-checksum ";
constexpr std::string_view kAlgorithm = "xxh3-64";

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    std::size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    out.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

template <typename T>
bool number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

std::string rankFileName(int rank) { return "rank-" + std::to_string(rank) + ".h5"; }

std::string Manifest::format() const {
  std::ostringstream out;
  out << kMagic << "\nstep " << step << "\nnranks " << nranks << "\nchecksum " << kAlgorithm
      << "\n";
  for (const auto& f : files)
    out << "file " << f.file << " " << f.size << " " << hex64(f.checksum) << "\n";
  std::string body = out.str();
  return body + std::string(kTrailer) + hex64(checksumBytes(body)) + "\n";
}

Manifest Manifest::parse(std::string_view text, const std::string& where) {
  auto bad = [&](const std::string& what) { return Error(Status::kCorrupt, where + ": " + what); };
  if (text.empty()) throw bad("empty");

  // The trailer first: without it the manifest was cut short (or never finished).
  std::size_t cut = text.size() >= 2 ? text.rfind('\n', text.size() - 2) : std::string_view::npos;
  cut = cut == std::string_view::npos ? 0 : cut + 1;
  std::string_view last = text.substr(cut);
  if (text.back() != '\n' || !last.starts_with(kTrailer))
    throw bad("truncated (no manifest-checksum line at the end)");
  std::string_view body = text.substr(0, cut);
  auto recorded = parseHex64(last.substr(kTrailer.size(), last.size() - kTrailer.size() - 1));
  if (!recorded) throw bad("garbled manifest-checksum line");
  std::uint64_t computed = checksumBytes(body);
  if (*recorded != computed)
    throw bad("manifest checksum mismatch (recorded " + hex64(*recorded) + ", computed " +
              hex64(computed) + ")");

  Manifest m;
  int lineNo = 0;
  bool haveStep = false, haveRanks = false, haveAlgorithm = false;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t eol = body.find('\n', pos);
    std::string_view line = body.substr(pos, eol - pos);
    pos = eol + 1;
    ++lineNo;
    auto lineError = [&](const std::string& what) {
      return bad("line " + std::to_string(lineNo) + ": " + what + ": '" + std::string(line) + "'");
    };
    if (lineNo == 1) {
      if (line != kMagic) throw lineError("not an ionet checkpoint manifest (version 1)");
      continue;
    }
    auto w = words(line);
    if (w.size() == 2 && w[0] == "step") {
      if (haveStep || !number(w[1], m.step) || m.step < 0) throw lineError("bad step");
      haveStep = true;
    } else if (w.size() == 2 && w[0] == "nranks") {
      if (haveRanks || !number(w[1], m.nranks) || m.nranks < 1) throw lineError("bad nranks");
      haveRanks = true;
    } else if (w.size() == 2 && w[0] == "checksum") {
      if (w[1] != kAlgorithm) throw lineError("unknown checksum algorithm");
      haveAlgorithm = true;
    } else if (w.size() == 4 && w[0] == "file") {
      ManifestEntry e{std::string(w[1]), 0, 0};
      auto sum = parseHex64(w[3]);
      if (!number(w[2], e.size) || !sum) throw lineError("bad file line");
      e.checksum = *sum;
      // Rank r's file is rank-<r>.h5 and nothing else: a manifest cannot point outside its set.
      if (e.file != rankFileName(static_cast<int>(m.files.size())))
        throw lineError("expected " + rankFileName(static_cast<int>(m.files.size())));
      m.files.push_back(std::move(e));
    } else {
      throw lineError("unexpected line");
    }
  }
  if (!haveStep || !haveRanks || !haveAlgorithm)
    throw bad(std::string("missing the ") +
              (!haveStep    ? "step"
               : !haveRanks ? "nranks"
                            : "checksum") +
              " line");
  if (static_cast<int>(m.files.size()) != m.nranks)
    throw bad("lists " + std::to_string(m.files.size()) + " files for " + std::to_string(m.nranks) +
              " ranks");
  return m;
}

}  // namespace ionet::ckpt
