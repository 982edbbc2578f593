// Tables of jobs as squeue and sacct print them: squeue's --format ("%.18i %.8j %R") and
// sacct's --format ("JobID,JobName%20,State"), with their default columns.
#pragma once

#include <string>
#include <vector>

#include "ionet/jobscripts/job_record.h"

namespace ionet::jobscripts {

struct Column {
  std::string header;
  int width = 0;  // 0: as wide as the value
  bool right = false;
  std::string field;  // squeue letter ("i") or sacct name ("jobid"), lowercased
};

struct JobTable {
  std::vector<Column> columns;
  std::vector<std::string> literals;  // squeue: text before each column, and after the last
  char separator = 0;                 // sacct --parsable: '|' between columns, no padding
};

inline constexpr const char* kSqueueDefault = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R";
inline constexpr const char* kSacctDefault =
    "JobID%-12,JobName,Partition,State,ExitCode,Elapsed,NNodes,NodeList%-20,Restarts";

JobTable parseSqueueFormat(const std::string& format);  // throws UsageError
JobTable parseSacctFormat(const std::string& format);   // throws UsageError

std::string tableHeader(const JobTable& table);
std::string tableRow(const JobTable& table, const JobRecord& job, const std::string& partition,
                     double now);

// "3-6,9%2": ascending array task ids as ranges, then the array's limit when it has one, as
// Slurm writes them (squeue's "12_[3-6,9%2]", sbatch's --array).
std::string taskIdRanges(std::vector<std::uint32_t> ids, std::uint32_t maxRunning);

// squeue's lines: the pending tasks of an array that wait for the same reason are one line
// (unless oneTaskPerLine, squeue's --array), written as Slurm writes them: "12_[3-6,9%2]"
// (task ranges, then the array's limit); every other job is a line of its own. A collapsed line
// stands where its first task did.
struct QueueLine {
  JobRecord job;             // the job, or the first of the collapsed tasks
  std::string pendingTasks;  // "[3-6,9%2]" on a collapsed line, else ""
};
std::vector<QueueLine> queueLines(std::vector<JobRecord> jobs, bool oneTaskPerLine);
// As tableRow, with the collapsed tasks as the job id ("12_[3-6,9%2]") and array task id.
std::string tableRow(const JobTable& table, const QueueLine& line, const std::string& partition,
                     double now);

}  // namespace ionet::jobscripts
