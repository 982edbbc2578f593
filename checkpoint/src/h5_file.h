// One rank's HDF5 file: written once (created exclusively, never updated in place) and read back.
// Serial HDF5 calls only; the library is not built thread-safe, so every call holds one mutex.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ionet/ckpt/dtype.h"

namespace ionet::ckpt {

// Attributes of every rank file; user metadata may not use these keys.
bool reservedAttribute(std::string_view key);

class RankFileWriter {
 public:
  // Creates the file (it must not exist) with attributes step, rank and nranks.
  RankFileWriter(std::filesystem::path path, std::int64_t step, int rank, int nranks);
  ~RankFileWriter();  // closes without reporting

  // Contiguous dataset written straight from data (no staging copy); data may be null only when
  // the shape has no elements.
  void writeDataset(std::string_view name, DType dtype, std::span<const std::uint64_t> dims,
                    const void* data);
  void setMetadata(std::string_view key, std::string_view value);
  // Flushes and closes; Error (kNoSpace for ENOSPC) when HDF5 could not.
  void close();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::int64_t file_ = -1;  // hid_t
};

class RankFileReader {
 public:
  explicit RankFileReader(std::filesystem::path path);  // read-only
  ~RankFileReader();

  DatasetInfo dataset(std::string_view name) const;
  void read(std::string_view name, DType dtype, void* buf, std::size_t bytes) const;
  std::string metadata(std::string_view key) const;
  std::vector<std::string> metadataKeys() const;

 private:
  std::filesystem::path path_;
  std::int64_t file_ = -1;  // hid_t
};

}  // namespace ionet::ckpt
