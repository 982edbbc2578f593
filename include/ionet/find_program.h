// A command as the shell finds it on PATH: ionet-run looks up srun and the batch commands look
// up sbatch, squeue, scancel, sacct and scontrol this way, before running them by full path.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

namespace ionet {

// The first executable `command` in $PATH's directories (an empty entry is the current
// directory); "" when there is none.
inline std::string findOnPath(const std::string& command) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + command;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace ionet
