// The few collectives the commit and restore protocols need, over MPI, over a single rank, or
// (in tests) over threads of one process.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

namespace ionet::ckpt {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Collective "all valid": the lowest rank that passed ok=false, or -1 when every rank
  // passed true.
  virtual int firstFailed(bool ok) = 0;
  // root's bytes on every rank. Collective.
  virtual std::string broadcast(const std::string& bytes, int root) = 0;
  // Every rank's bytes, in rank order, on root (an empty vector elsewhere). Collective.
  virtual std::vector<std::string> gather(const std::string& bytes, int root) = 0;
};

std::shared_ptr<Comm> soloComm();
// Uses comm as given (no dup, so nothing is left to free after MPI_Finalize): do not run other
// collectives on it from another thread during begin/commit/restore.
std::shared_ptr<Comm> mpiComm(MPI_Comm comm);
// MPI_COMM_WORLD when MPI is initialized and not finalized, a single rank otherwise.
std::shared_ptr<Comm> defaultComm();

}  // namespace ionet::ckpt
