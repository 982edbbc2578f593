// C++ API of libionet-ckpt: a checkpoint directory, the set being written (SetWriter, committed
// with the protocol of DESIGN.md §2) and the set restored from it (SetReader).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "comm.h"
#include "dtype.h"
#include "manifest.h"
#include "status.h"

namespace ionet::ckpt {

class RankFileWriter;
class RankFileReader;

struct Options {
  std::filesystem::path dir;   // empty: $IONET_CHECKPOINT_DIR
  int keep = 2;                // committed sets retained; < 2 is rejected
  std::shared_ptr<Comm> comm;  // null: defaultComm()
};

// A committed set on disk.
struct CheckpointSet {
  std::int64_t step = 0;
  std::filesystem::path path;  // <dir>/step-<step>
};

// Committed sets of dir (exact step-<N> directories; *.tmp and others ignored), newest step first.
std::vector<CheckpointSet> listSets(const std::filesystem::path& dir);

// Verifies a whole set from one process: MANIFEST (own checksum, step against the directory
// name), and every rank file's existence, size and checksum. nullopt when valid, else the reason
// (e.g. "rank-1.h5 checksum mismatch (manifest a1b2..., file c3d4...)").
std::optional<std::string> verifySet(const std::filesystem::path& setDir);

// For programs that write their rank files without the library's collectives (the PyTorch
// example through `ionet-ckpt begin/commit`): prepareSet does begin's part of rank 0 (stale
// *.tmp removed, step-<step>.tmp/ created and made durable) and returns the tmp directory;
// once every rank has written and fsynced its rank-<r>.h5 there, commitFiles checksums them,
// writes the MANIFEST and publishes the set as SetWriter::commit does, then keeps `keep` sets.
// Throws Error naming the missing or unreadable file.
std::filesystem::path prepareSet(const std::filesystem::path& dir, std::int64_t step);
CheckpointSet commitFiles(const std::filesystem::path& dir, std::int64_t step, int nranks,
                          int keep);

class SetWriter;
class SetReader;

struct Restored {
  std::unique_ptr<SetReader> set;    // null: no valid set
  std::vector<std::string> skipped;  // one line per skipped set: "step-30: <reason>"
};

class CheckpointDir {
 public:
  explicit CheckpointDir(Options options);  // throws Error (no directory, keep < 2)

  const std::filesystem::path& path() const { return dir_; }
  int keep() const { return keep_; }
  Comm& comm() const { return *comm_; }

  // Collective: the publisher of each directory removes stale step-*.tmp directories and
  // creates step-<step>.tmp/.
  SetWriter begin(std::int64_t step);

  // Collective: chooses $IONET_RESUME_FROM if it verifies, else the newest set that verifies,
  // and opens this rank's file of it. Every rank gets the same choice and the same skipped list.
  Restored restore();

 private:
  bool publisher();  // collective on first use

  std::filesystem::path dir_;
  int keep_;
  std::shared_ptr<Comm> comm_;
  std::optional<bool> publisher_;
};

// This rank's part of a set being written. Its file is created at the first write.
class SetWriter {
 public:
  SetWriter(SetWriter&&) noexcept;
  SetWriter& operator=(SetWriter&&) noexcept;
  ~SetWriter();  // an uncommitted set is abandoned, as by abort()

  std::int64_t step() const { return step_; }
  const std::filesystem::path& tmpPath() const { return tmp_; }

  // Local. A throw here also makes commit() fail on every rank.
  void write(std::string_view name, DType dtype, std::span<const std::uint64_t> dims,
             const void* data);
  template <typename T>
  void write(std::string_view name, std::span<const T> data, std::vector<std::uint64_t> dims = {}) {
    if (dims.empty()) dims = {data.size()};
    write(name, dtypeOf<T>(), dims, data.data());
  }
  void setMetadata(std::string_view key, std::string_view value);
  // Records a failure of this rank found outside the writer (a check of the caller's): the
  // commit then fails on every rank with this error.
  void markFailed(const Error& e);

  // Collective, also after a failed write (it then throws on every rank and nothing is
  // committed). Returns on any rank only once the set is durable.
  CheckpointSet commit();
  // Local: closes and deletes this rank's file; the tmp directory goes at the next begin.
  void abort() noexcept;

 private:
  friend class CheckpointDir;
  SetWriter(std::filesystem::path dir, int keep, std::shared_ptr<Comm> comm, std::int64_t step,
            bool publisher);
  RankFileWriter& file();
  Manifest manifestOf(const std::vector<std::string>& entries) const;  // rank 0

  std::filesystem::path dir_, tmp_;
  int keep_ = 2;
  std::shared_ptr<Comm> comm_;
  std::int64_t step_ = 0;
  std::unique_ptr<RankFileWriter> file_;
  std::optional<Error> failure_;  // first local failure: reported by commit on every rank
  bool publisher_ = false;        // this rank writes the MANIFEST into dir_ and renames the set
  bool done_ = false;
};

// This rank's file of a restored set.
class SetReader {
 public:
  SetReader(std::filesystem::path setDir, Manifest manifest, int rank);  // throws Error
  ~SetReader();

  std::int64_t step() const { return manifest_.step; }
  int rank() const { return rank_; }
  int nranks() const { return manifest_.nranks; }
  const std::filesystem::path& path() const { return dir_; }
  const Manifest& manifest() const { return manifest_; }

  DatasetInfo dataset(std::string_view name) const;  // Error(kNotFound) if absent
  // buf must hold dataset(name).bytes(); dtype must be the stored one (kMismatch otherwise).
  void read(std::string_view name, DType dtype, void* buf, std::size_t bytes) const;
  template <typename T>
  std::vector<T> read(std::string_view name) const {
    std::vector<T> out(dataset(name).elements());
    read(name, dtypeOf<T>(), out.data(), out.size() * sizeof(T));
    return out;
  }
  std::string metadata(std::string_view key) const;  // Error(kNotFound) if absent
  std::vector<std::string> metadataKeys() const;

 private:
  std::filesystem::path dir_;
  Manifest manifest_;
  int rank_;
  std::unique_ptr<RankFileReader> file_;
};

}  // namespace ionet::ckpt
