// The dependency kinds, as Slurm defines them: after (the jobs have started or been
// cancelled), afterany (ended), afterok (ended COMPLETED), afternotok (ended otherwise),
// singleton (no older job of the same name and user is pending or running).
#include "ionet/jobscripts/dependency.h"

#include <map>

namespace ionet::jobscripts {
namespace {

using Rule = std::function<DependencyStatus(const JobRecord& dependee)>;

const std::map<std::string, Rule>& rules() {
  static const std::map<std::string, Rule> table = {
      {"after",
       [](const JobRecord& j) {
         return j.state != JobState::kPending || j.startTime > 0 ? DependencyStatus::kSatisfied
                                                                 : DependencyStatus::kWaiting;
       }},
      {"afterany",
       [](const JobRecord& j) {
         return isFinal(j.state) ? DependencyStatus::kSatisfied : DependencyStatus::kWaiting;
       }},
      {"afterok",
       [](const JobRecord& j) {
         if (!isFinal(j.state)) return DependencyStatus::kWaiting;
         return j.state == JobState::kCompleted ? DependencyStatus::kSatisfied
                                                : DependencyStatus::kNever;
       }},
      {"afternotok",
       [](const JobRecord& j) {
         if (!isFinal(j.state)) return DependencyStatus::kWaiting;
         return j.state == JobState::kCompleted ? DependencyStatus::kNever
                                                : DependencyStatus::kSatisfied;
       }},
  };
  return table;
}

}  // namespace

DependencyVerdict evaluateDependency(const JobRecord& job, const DependencyLookup& lookup) {
  DependencyVerdict verdict;
  for (const auto& term : job.dependency) {
    if (term.kind == "singleton") {
      if (lookup.olderSameName(job)) verdict.status = DependencyStatus::kWaiting;
      continue;
    }
    const Rule& rule = rules().at(term.kind);
    for (const auto& id : term.jobs) {
      const auto named = lookup.jobs(id);
      if (named.empty()) {
        return {DependencyStatus::kNever, term.kind + ":" + id + ": no such job"};
      }
      for (const auto& j : named) {
        switch (rule(j)) {
          case DependencyStatus::kNever:
            return {DependencyStatus::kNever,
                    term.kind + ":" + id + ": job " + j.displayId() + " " + stateName(j.state)};
          case DependencyStatus::kWaiting:
            verdict.status = DependencyStatus::kWaiting;
            break;
          case DependencyStatus::kSatisfied:
            break;
        }
      }
    }
  }
  return verdict;
}

}  // namespace ionet::jobscripts
