// A process named by pid and start time, so a recycled pid is never taken for the shepherd
// that once had it.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace ionet::jobscripts {

// The start time of `pid` in clock ticks since boot (/proc/PID/stat field 22); 0 if gone.
std::int64_t processStartTime(pid_t pid);

// Whether the process `pid` that started at `startTime` still runs (and is not a zombie).
bool processAlive(pid_t pid, std::int64_t startTime);

}  // namespace ionet::jobscripts
