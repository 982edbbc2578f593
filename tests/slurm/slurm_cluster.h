// A real Slurm for the Slurm tests: munged, slurmctld and one slurmd per fake node n1..nN on this
// machine (tests/slurm/slurm-cluster.sh), started once per test suite under a private directory
// and stopped after it. Clients reach it through SLURM_CONF in env().
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "command.h"

namespace ionet::test {

class SlurmCluster {
 public:
  // Starts the daemons; on failure started() is false and why() says what the script printed.
  explicit SlurmCluster(int nodes = 3, int cpusPerNode = 16);
  ~SlurmCluster();  // stops them
  SlurmCluster(const SlurmCluster&) = delete;
  SlurmCluster& operator=(const SlurmCluster&) = delete;

  bool started() const { return started_; }
  const std::string& why() const { return why_; }
  const std::string& dir() const { return dir_; }
  // "SLURM_CONF=..." for every Slurm client and for ionet's commands that call them.
  std::vector<std::string> env() const { return {"SLURM_CONF=" + dir_ + "/slurm.conf"}; }

  // Runs a Slurm client (sbatch, squeue, ...) against this cluster.
  CommandResult client(std::vector<std::string> argv,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // The job's state as squeue (pending/running) or the completion log says it, e.g. "RUNNING",
  // "COMPLETED"; empty when Slurm does not know the job.
  std::string jobState(const std::string& jobId) const;
  // Waits until the job has left the queue (any final state); returns that state, or nullopt
  // at the deadline.
  std::optional<std::string> waitJobDone(const std::string& jobId,
                                         std::chrono::milliseconds timeout) const;
  // Stops the daemons now (the destructor then does nothing); for "Slurm stopped" tests.
  void stop();

 private:
  std::string dir_, why_;
  bool started_ = false, stopped_ = false;
};

}  // namespace ionet::test
