// Which ranks of a communicator share a host, and the communicators libionet-coll talks on:
// `local` (the host's ranks, MPI_Comm_split_type SHARED) and `leaders` (the lowest rank of each
// host). Built once per communicator on its first covered collective, cached as an attribute.
#pragma once

#include <mpi.h>

#include <vector>

namespace ionet::coll {

struct HostLayout {
  MPI_Comm local = MPI_COMM_NULL;    // this host's ranks, in the user's rank order
  MPI_Comm leaders = MPI_COMM_NULL;  // one rank per host, hosts in the order of their lowest rank
  int rank = 0;                      // in the user's communicator
  int size = 0;
  int host = 0;       // this rank's host: its rank in `leaders`
  int hostCount = 1;  // 1: the communicator lives on one host, Open MPI's own is used
  int localRank = 0;
  std::vector<int> hostOf;                // by rank of the user's communicator
  std::vector<std::vector<int>> ranksOf;  // by host, ascending
  bool leader() const { return localRank == 0; }
  int localSize() const { return static_cast<int>(ranksOf[static_cast<std::size_t>(host)].size()); }
  int localRankOf(int rank) const;
};

// The layout of `comm` (collective over comm on its first call), or nullptr when libionet-coll
// leaves comm to Open MPI: an intercommunicator, or MPI not initialised or finalised.
const HostLayout* hostLayout(MPI_Comm comm);

}  // namespace ionet::coll
