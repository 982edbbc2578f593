// File checksums of checkpoint sets: XXH3-64 over the file's bytes, read in 8 MiB blocks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace ionet::ckpt {

struct FileDigest {
  std::uint64_t size = 0;
  std::uint64_t checksum = 0;
};

// fsyncFirst: fsync the file before reading it (the commit path: its bytes are durable before
// they are recorded in the manifest). Throws Error naming the file.
FileDigest digestFile(const std::filesystem::path& file, bool fsyncFirst = false);

std::uint64_t checksumBytes(std::string_view bytes);

std::string hex64(std::uint64_t v);                              // 16 lowercase hex digits
std::optional<std::uint64_t> parseHex64(std::string_view text);  // exactly 16 hex digits

}  // namespace ionet::ckpt
