// Slurm's jobs as ionet's JobRecords, from the machine-readable output of squeue and sacct and
// from the completion log (jobcomp/filetxt) a Slurm without slurmdbd keeps. Pure parsers: the
// commands are run by slurm_backend.cc.
#pragma once

#include <string>
#include <vector>

#include "ionet/jobscripts/job_record.h"
#include "ionet/jobscripts/queue_db.h"

namespace ionet::jobscripts {

// squeue -h -r -o with this format: one job or array task a line, '|' between fields, the
// free-text name last (it may hold a '|'; everything after the 16th '|' is the name).
inline constexpr const char* kSqueueFormat = "%A|%F|%K|%T|%r|%u|%P|%D|%C|%N|%l|%V|%S|%e|%E|%j";
std::vector<JobRecord> parseSqueue(const std::string& text);

// sacct -X -P -n -o with these fields (accounting through slurmdbd); the name last, as above.
inline constexpr const char* kSacctFields =
    "JobIDRaw,JobID,State,ExitCode,User,Partition,NNodes,AllocCPUS,NodeList,Timelimit,Submit,"
    "Start,End,WorkDir,JobName";
std::vector<JobRecord> parseSacct(const std::string& text);

// The jobcomp/filetxt log: one "JobId=5 UserId=root(0) Name=ok.sh JobState=COMPLETED ..."
// line per finished job. sacct -c reads it too, but loses array task ids and splits names at
// spaces, so ionet reads it itself.
std::vector<JobRecord> parseJobCompLog(const std::string& text);

// scontrol show config's "Key = value" lines: the value of `key`, "" if absent.
std::string configValue(const std::string& showConfig, const std::string& key);

// "n[1-3],gpu07" -> n1 n2 n3 gpu07; "(null)", "" and "None assigned" -> none.
std::vector<std::string> expandHostList(const std::string& list);

// "2026-12-06T18:17:47" in local time -> Unix seconds; 0 for "N/A", "Unknown", "None".
double parseSlurmTime(const std::string& text);

// Finished records first, then queued ones whose job id (as squeue prints it) is not among
// them: a job squeue still remembers as ended is better described by the history.
std::vector<JobRecord> mergeJobs(std::vector<JobRecord> finished,
                                 const std::vector<JobRecord>& queued);

// Whether `job` passes `filter` (the same rules as QueueDb::jobs: "12" is job 12 or every task
// of array 12, "12_3" one task).
bool matchesFilter(const JobFilter& filter, const JobRecord& job);

}  // namespace ionet::jobscripts
