// Where a restarted job resumes: the newest checkpoint set that libionet-ckpt verifies (its
// MANIFEST and every rank file's size and checksum), as the ranks' own restore would choose it.
#include "ionet/ckpt/checkpoint.h"
#include "run/restart.h"

namespace ionet::launcher {

ResumePoint findResumePoint(const std::string& dir) {
  ResumePoint point;
  for (const auto& set : ckpt::listSets(dir)) {  // newest step first
    if (auto why = ckpt::verifySet(set.path)) {
      point.skipped.push_back(set.path.filename().string() + ": " + *why);
      continue;
    }
    point.path = set.path.string();
    break;
  }
  return point;
}

}  // namespace ionet::launcher
