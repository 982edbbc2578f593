// MANIFEST of a checkpoint set: the step, the number of ranks, and every rank file with its size
// and checksum, closed by a checksum of the manifest's own bytes (format in docs/checkpoint.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ionet::ckpt {

struct ManifestEntry {
  std::string file;  // rank-<r>.h5, relative to the set directory
  std::uint64_t size = 0;
  std::uint64_t checksum = 0;  // XXH3-64 of the file's bytes
  bool operator==(const ManifestEntry&) const = default;
};

struct Manifest {
  static constexpr const char* kFileName = "MANIFEST";

  std::int64_t step = 0;
  int nranks = 0;
  std::vector<ManifestEntry> files;  // files[r] is rank r's

  // The text, ending with the "manifest-checksum" line.
  std::string format() const;
  // Throws Error(kCorrupt, "<where>: <what is wrong>") for a truncated, garbled or inconsistent
  // manifest.
  static Manifest parse(std::string_view text, const std::string& where);

  bool operator==(const Manifest&) const = default;
};

std::string rankFileName(int rank);  // "rank-<r>.h5"

}  // namespace ionet::ckpt
