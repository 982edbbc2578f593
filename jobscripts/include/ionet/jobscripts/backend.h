// Which queue the batch commands talk to: ionet's embedded queue or a real Slurm. Chosen by
// --backend, else $IONET_BATCH_BACKEND, else the pool file's [batch] backend; default embedded.
#pragma once

#include <string>

namespace ionet::jobscripts {

enum class Backend { kEmbedded, kSlurm };

// "embedded" or "slurm"; throws UsageError naming `what` (the flag or variable) otherwise.
Backend parseBackend(const std::string& text, const std::string& what);

// The precedence rule, with no I/O: the first non-empty of flag, environment, pool key.
Backend chooseBackend(const std::string& flag, const std::string& environment,
                      const std::string& poolKey);

// chooseBackend with $IONET_BATCH_BACKEND and the [batch] backend of `pool` ("" : $IONET_POOL;
// only a .toml pool file has the key).
Backend resolveBackend(const std::string& flag, const std::string& pool);

}  // namespace ionet::jobscripts
