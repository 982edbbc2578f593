// Choosing the batch backend: command line, then environment, then the pool file.
#include "ionet/jobscripts/backend.h"

#include <cstdlib>

#include "hosts/pool_file.h"
#include "ionet/error.h"

namespace ionet::jobscripts {

Backend parseBackend(const std::string& text, const std::string& what) {
  if (text == "embedded") return Backend::kEmbedded;
  if (text == "slurm") return Backend::kSlurm;
  throw UsageError(what + ": '" + text + "' is not a batch backend (embedded, slurm)");
}

Backend chooseBackend(const std::string& flag, const std::string& environment,
                      const std::string& poolKey) {
  if (!flag.empty()) return parseBackend(flag, "--backend");
  if (!environment.empty()) return parseBackend(environment, "IONET_BATCH_BACKEND");
  if (!poolKey.empty()) return parseBackend(poolKey, "[batch] backend");
  return Backend::kEmbedded;
}

Backend resolveBackend(const std::string& flag, const std::string& poolArg) {
  const char* env = std::getenv("IONET_BATCH_BACKEND");
  const std::string environment = env ? env : "";
  std::string poolKey;
  // The pool file is read only when neither the flag nor the variable decides.
  if (flag.empty() && environment.empty()) {
    std::string pool = poolArg;
    if (pool.empty()) {
      if (const char* p = std::getenv("IONET_POOL")) pool = p;
    }
    const std::string suffix = ".toml";
    if (pool.size() > suffix.size() &&
        pool.compare(pool.size() - suffix.size(), suffix.size(), suffix) == 0) {
      poolKey = launcher::loadPoolFile(pool).batchBackend;
    }
  }
  return chooseBackend(flag, environment, poolKey);
}

}  // namespace ionet::jobscripts
