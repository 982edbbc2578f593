// The collectives libionet-coll does host-aware: the host's ranks meet at their leader through
// shared memory (Open MPI's own collectives on HostLayout::local), the leaders exchange across
// hosts (leader_exchange.h), and the leader hands the result back within its host.
// Callers (interpose.cc) have checked that the datatypes and ops are covered.
#pragma once

#include <cstddef>
#include <vector>

#include "host_layout.h"
#include "reduction.h"

namespace ionet::coll {

struct Reduction {
  Element element;
  Op op;
  Reducer reduce;
};

// `input` may equal `output` (MPI_IN_PLACE). Results: rank order within a host, then host order.
void allreduce(const HostLayout& L, const void* input, void* output, std::size_t count,
               const Reduction& r);
// output is significant at root only.
void reduce(const HostLayout& L, const void* input, void* output, std::size_t count,
            const Reduction& r, int root);
// input holds sum(counts) elements; this rank gets its counts[rank] of the result.
void reduceScatter(const HostLayout& L, const void* input, void* output,
                   const std::vector<std::size_t>& counts, const Reduction& r);
void bcast(const HostLayout& L, void* buf, std::size_t bytes, int root);
// Every rank's `block` bytes into output, by rank; input == nullptr: already in place.
void allgather(const HostLayout& L, const void* input, void* output, std::size_t block);
void barrier(const HostLayout& L);

}  // namespace ionet::coll
