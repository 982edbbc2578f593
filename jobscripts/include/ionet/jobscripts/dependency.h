// --dependency: whether a pending job may start, given the jobs it names. Each kind is one
// small rule (dependency.cc); singleton looks for an older active job of the same name.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ionet/jobscripts/job_record.h"

namespace ionet::jobscripts {

enum class DependencyStatus { kSatisfied, kWaiting, kNever };

struct DependencyVerdict {
  DependencyStatus status = DependencyStatus::kSatisfied;
  std::string why;  // for kNever: "afterok:12: job 12 FAILED"
};

struct DependencyLookup {
  // Every job "12" (a job or all tasks of array 12) or "12_3" names; empty when unknown.
  std::function<std::vector<JobRecord>(const std::string&)> jobs;
  // An older PENDING or RUNNING job with the same name and user (for singleton).
  std::function<bool(const JobRecord&)> olderSameName;
};

DependencyVerdict evaluateDependency(const JobRecord& job, const DependencyLookup& lookup);

}  // namespace ionet::jobscripts
