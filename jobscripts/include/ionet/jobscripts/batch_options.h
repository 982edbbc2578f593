// What a batch job asks for: sbatch's options, read from #IONET/#SBATCH directives at the top of
// a script and from ionet-batch's command line (which overrides them), with Slurm's syntax.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ionet::jobscripts {

// --array=0-15:4%2 or 1,3,7: the task ids and how many may run at once (0: no limit).
struct ArraySpec {
  std::vector<std::uint32_t> ids;
  std::uint32_t maxRunning = 0;
  bool operator==(const ArraySpec&) const = default;
};

// --signal=[{R|B}:]SIG[@SECONDS]: SIG goes to the job SECONDS before its time limit.
struct SignalSpec {
  int signal = 0;
  std::uint32_t secondsBefore = 60;
  bool batchOnly = false;  // B: only the batch shell, not its children
  bool operator==(const SignalSpec&) const = default;
};

// One term of --dependency: afterok:12:13 has kind "afterok" and jobs {"12","13"}; a job is
// "12" (every task of an array) or "12_3" (one task).
struct DependencyTerm {
  std::string kind;  // after, afterany, afterok, afternotok, singleton
  std::vector<std::string> jobs;
  bool operator==(const DependencyTerm&) const = default;
};

struct BatchOptions {
  std::string jobName;                         // -J/--job-name; default: the script's file name
  std::optional<std::uint32_t> nodes;          // -N/--nodes
  std::optional<std::uint32_t> ntasks;         // -n/--ntasks
  std::optional<std::uint32_t> ntasksPerNode;  // --ntasks-per-node
  std::uint32_t cpusPerTask = 1;               // -c/--cpus-per-task
  std::uint32_t gpus = 0;                      // -G/--gpus: for the whole job
  std::uint32_t gpusPerTask = 0;               // --gpus-per-task
  std::string gpuType, gpuPerTaskType;         // "a100" of --gpus=a100:2 (a real Slurm uses it)
  std::uint64_t memMegabytes = 0;              // --mem, per node; 0: no request
  std::uint64_t timeLimitSeconds = 0;          // -t/--time; 0: none
  std::string output, error;                   // -o/-e patterns; "" = the default
  std::optional<ArraySpec> array;              // -a/--array
  std::vector<DependencyTerm> dependency;      // -d/--dependency (all must hold)
  std::optional<bool> requeue;                 // --requeue/--no-requeue; default: requeue
  std::optional<SignalSpec> signal;            // --signal
  std::string chdir;                           // -D/--chdir; default: where it was submitted
  std::string exportSpec = "ALL";              // --export=ALL|NONE|VAR[=value],...
  std::string checkpointDir;                   // --checkpoint-dir (ionet)
  std::optional<std::uint32_t> maxRestarts;    // --max-restarts (ionet)
  std::string pool;                            // --pool (ionet)
  bool parsable = false;                       // --parsable: print only the job id
  bool wait = false;                           // -W/--wait: return when the job has ended
  std::string backend;                         // --backend (command line only): embedded, slurm
  std::vector<std::string> notes;              // accepted Slurm options with no effect here
  // The same options as given ("--partition=debug"): a real Slurm gives them their meaning.
  std::vector<std::string> slurmOnly;
  // Where each option (long name) was last set by a directive: "job.sh:4"; absent when the
  // command line set it. Errors about an option's value name it.
  std::map<std::string, std::string> origins;
};

// Reads the directives at the top of a script, as sbatch does: after the #! line, every line
// starting "#IONET" or "#SBATCH" until the first line that is neither a comment nor blank.
// Applies them in order to `options`. `path` names the script in errors ("job.sh:4: ...").
// Throws UsageError for an unknown or malformed directive; nothing is applied then.
void applyDirectives(const std::string& scriptText, const std::string& path, BatchOptions& options);

// Applies command-line options (up to the script's path); returns the index of the first
// argument that is not an option (the script), or args.size().
std::size_t applyCommandLine(const std::vector<std::string>& args, BatchOptions& options);

// The pieces, for tests and for other commands (ionet-cancel --signal, ionet-queue --format).
std::uint64_t parseTimeLimit(const std::string& text);  // seconds; 0 for UNLIMITED
std::uint64_t parseMemoryMegabytes(const std::string& text);
ArraySpec parseArray(const std::string& text);
std::vector<DependencyTerm> parseDependency(const std::string& text);
SignalSpec parseSignalSpec(const std::string& text);
int parseSignalName(const std::string& text);  // USR1, SIGUSR1, 10
std::string signalName(int signal);            // "USR1"

// "1-00:00:00", "2:03:04", "5:00" as squeue/sacct print durations.
std::string formatDuration(std::uint64_t seconds);

}  // namespace ionet::jobscripts
