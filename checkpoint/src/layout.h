// The checkpoint directory on disk: names of sets, durable writes and renames (file and directory
// fsyncs), the `latest` link, stale *.tmp directories and retention.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace ionet::ckpt::layout {

namespace fs = std::filesystem;

std::string setName(std::int64_t step);                      // "step-<N>"
std::optional<std::int64_t> parseSetName(std::string_view);  // exactly step-<digits>
inline std::string tmpName(std::int64_t step) { return setName(step) + ".tmp"; }
constexpr const char* kLatest = "latest";

// Reads a whole (small) file; Error naming it on failure.
std::string readFile(const fs::path& file);
// Creates file (which must not exist), writes bytes, fsyncs, closes.
void writeFileDurably(const fs::path& file, std::string_view bytes);
void fsyncDir(const fs::path& dir);
void removeTree(const fs::path& p);  // Error naming p on failure

// Removes step-*.tmp entries left by a crashed or failed commit (and by replaced/pruned sets).
void removeStale(const fs::path& dir);

// Renames tmp to final; an existing final (the same step written again after a restart) is
// swapped out atomically and removed. Then fsyncs the parent directory.
void publishDir(const fs::path& tmp, const fs::path& final);

// Points dir/latest at setName (a relative symlink, replaced by rename), fsyncs dir.
void setLatest(const fs::path& dir, const std::string& setName);

// Keeps the `keep` newest sets up to `newest`; removes older ones, and newer ones (left by a run
// that was restarted from an older set, so restore would otherwise go back to them). Returns a
// message when something could not be removed (the commit stands), empty otherwise.
std::string prune(const fs::path& dir, int keep, std::int64_t newest);

}  // namespace ionet::ckpt::layout
