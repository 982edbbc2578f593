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

// SIGKILLs every process in process group `group` whose environment holds
// IONET_JOB_ID=<jobId>: a job's processes, never another group that took the same id later
// (after a reboot, say). Returns how many it signalled.
int killJobProcesses(pid_t group, std::int64_t jobId);

// Sends `signal` to every process of process group `group` except `except` (the batch shell):
// what Slurm signals as "the job's steps". Returns how many it signalled.
int signalGroupExcept(pid_t group, int signal, pid_t except);

}  // namespace ionet::jobscripts
