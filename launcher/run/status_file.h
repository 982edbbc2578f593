// $IONET_STATUS_DIR/run-<pid>.json: the job's state for the batch queue's web view, rewritten
// every second and once at the end. Only what the snapshot holds goes in: never a token, key,
// environment variable or the program's arguments.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "run/job_snapshot.h"

namespace ionet::launcher {

// The document (schema in docs/man/ionet-run.1.md, STATUS FILE) at `now`, unix seconds.
nlohmann::json statusJson(const JobSnapshot& snapshot, double now);

// dir/run-<pid>.json
std::filesystem::path statusFilePath(const std::filesystem::path& dir, int pid);

// Writes text to path whole: a temporary file beside it, then rename(2), so a reader never
// sees half a document. Returns "" or what went wrong.
std::string replaceFile(const std::filesystem::path& path, const std::string& text);

}  // namespace ionet::launcher
