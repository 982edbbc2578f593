// The WAN leg of libionet-coll: exchanges among the host leaders (HostLayout::leaders), one
// message per host pair and step. Every leader of the communicator calls the same function with
// the same sizes; hosts are reduced in host order, so every leader gets the same bits.
#pragma once

#include <cstddef>
#include <vector>

#include "cost_model.h"
#include "host_layout.h"
#include "reduction.h"
#include "settings.h"

namespace ionet::coll {

// Elements [first, first + count) of a buffer.
struct Range {
  std::size_t first, count;
};
// Host h's share of count elements split among hosts, the same on every leader.
Range segment(std::size_t count, int hosts, int h);

// The byte counts of libionet-coll's messages: callers keep them within INT_MAX.
inline int mpiCount(std::size_t bytes) { return static_cast<int>(bytes); }
// Waits for every request and empties the list.
void waitAll(std::vector<MPI_Request>& requests);

// buf (count elements of e) holds this host's partial result; on return, every host's partials
// reduced in host order: p0 op p1 op ... op p(H-1), element by element.
void leadersAllreduce(const HostLayout& layout, void* buf, std::size_t count, Element e,
                      Reducer reduce, Exchange exchange);

// The leader of rootHost holds bytes at buf; on return every leader does.
void leadersBcast(const HostLayout& layout, void* buf, std::size_t bytes, int rootHost,
                  Exchange exchange);

// Each leader holds its host's block (hostBytes[host] bytes at blocks + offset of that host,
// offsets = prefix sums of hostBytes); on return every leader holds every host's block.
void leadersAllgather(const HostLayout& layout, char* blocks,
                      const std::vector<std::size_t>& hostBytes);

// Returns once every leader has called it.
void leadersBarrier(const HostLayout& layout);

}  // namespace ionet::coll
