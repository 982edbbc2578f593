// ionet-batch's work: a script and its options made into queue records (one per array task),
// checked against the pool, stored with a copy of the script.
#pragma once

#include <string>
#include <vector>

#include "ionet/jobscripts/batch_options.h"
#include "ionet/jobscripts/job_record.h"
#include "ionet/jobscripts/queue_db.h"
#include "ionet/jobscripts/queue_dir.h"

namespace ionet::jobscripts {

struct Submission {
  BatchOptions options;
  std::string scriptPath;  // as given; "" when read from standard input
  std::string scriptText;
  std::vector<std::string> scriptArgs;
};

// Parses ionet-batch's arguments (options, then the script and its arguments) and the script's
// directives; the command line wins. `stdinText` is the script when no path is given.
Submission parseSubmission(const std::vector<std::string>& args, const std::string& stdinText);

// The queue records for `s`: defaults filled in, paths made absolute against `cwd`, the
// environment chosen by --export from `environment`. Throws UsageError when the request can
// never run on the queue's hosts or names a dependency on an unknown job.
std::vector<JobRecord> makeJobs(const Submission& s, const QueueDir& q,
                                const std::vector<std::string>& environment,
                                const std::string& cwd);

// Stores the jobs and the script; returns the job id (the array's id for an array).
std::int64_t submitJobs(const QueueDir& q, QueueDb& db, std::vector<JobRecord>& jobs,
                        const std::string& scriptText);

}  // namespace ionet::jobscripts
