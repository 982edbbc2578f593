// The step log of a batch job ($IONET_STEP_LOG): ionet-run appends where it placed each rank of
// each run and how the run ended; the queue's shepherd reads it back (placements for
// ionet-acct --placement, a lost host for NODE_FAIL). Its one format lives here:
//   place RESTART RANK HOST GPUS      GPUS "0,1" or "-"
//   end CAUSE HOST                    CAUSE as endCauseName, HOST "-" when none
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ionet::launcher {

// How a run of a job ended: the first failure decides it (later ones are its consequences).
enum class EndCause {
  kSuccess,
  kRankFailed,    // a rank exited non-zero, was killed, or skipped MPI_Finalize
  kHostLost,      // an agent died, was cut off, or never connected
  kAborted,       // a rank called MPI_Abort
  kLaunchFailed,  // the program could not be started (not found, PMIx setup)
  kInterrupted,   // the user signalled ionet-run
  kTimeout,       // --timeout
};

// "success", "rank-failed", "host-lost", ...: the name in the log.
std::string_view endCauseName(EndCause cause);
std::optional<EndCause> parseEndCause(std::string_view name);

struct StepPlacement {
  std::uint32_t restart = 0;  // ionet-run's --max-restarts run, from 0
  std::uint32_t rank = 0;
  std::string host;
  std::string gpus;  // CUDA_VISIBLE_DEVICES of the rank; empty: none
  bool operator==(const StepPlacement&) const = default;
};

struct StepEnd {
  EndCause cause = EndCause::kSuccess;
  std::string host;  // where it happened; empty when not on one host
  bool operator==(const StepEnd&) const = default;
};

// One line each, with its newline.
std::string formatStepPlacement(const StepPlacement& placement);
std::string formatStepEnd(const StepEnd& end);

struct StepLog {
  std::vector<StepPlacement> placements;
  std::optional<StepEnd> lastEnd;  // the last run's end, if it was written
};

// Reads a log's text. Lines that are not in the format (a run killed mid-write leaves half a
// line) are skipped: the log is provenance, and a torn line must not cost the job its record.
StepLog parseStepLog(std::string_view text);
// The same from a file; an absent file is an empty log.
StepLog readStepLog(const std::string& path);

// Appends text to the log at path; nothing when path is empty (not in a batch job).
void appendStepLog(const std::string& path, const std::string& text);

}  // namespace ionet::launcher
