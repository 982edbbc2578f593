#include "collectives.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "leader_exchange.h"
#include "settings.h"
#include "wan_compression.h"

namespace ionet::coll {
namespace {

enum Tag : int { kResultTag = 21 };

Exchange exchangeFor(const HostLayout& L, std::size_t bytes) {
  const auto& s = settings();
  return s.exchange.value_or(chooseExchange(L.hostCount, bytes, s.link));
}

bool compressed(const Reduction& r) {
  return settings().compression != Compression::kNone && r.op == Op::kSum && isFloating(r.element);
}

// The host's inputs reduced in local rank order into `out` at the leader (gathered through
// shared memory in pieces of settings().localChunkBytes).
void reduceToLeader(const HostLayout& L, const void* input, void* out, std::size_t count,
                    const Reduction& r) {
  const std::size_t es = sizeOf(r.element);
  const int localSize = L.localSize();
  if (localSize == 1) {
    if (input != out) std::memmove(out, input, count * es);
    return;
  }
  const std::size_t chunk = std::max<std::size_t>(1, settings().localChunkBytes / es);
  std::vector<char> gathered(L.leader() ? std::min(chunk, count) * es * localSize : 0);
  const char* in = static_cast<const char*>(input);
  char* acc = static_cast<char*>(out);
  for (std::size_t first = 0; first < count; first += chunk) {
    const std::size_t n = std::min(chunk, count - first);
    const std::size_t bytes = n * es;
    PMPI_Gather(in + first * es, mpiCount(bytes), MPI_BYTE, gathered.data(), mpiCount(bytes),
                MPI_BYTE, 0, L.local);
    if (!L.leader()) continue;
    std::memcpy(acc + first * es, gathered.data(), bytes);
    for (int i = 1; i < localSize; ++i) {
      r.reduce(acc + first * es, gathered.data() + static_cast<std::size_t>(i) * bytes, n);
    }
  }
}

// At the leaders: every host's partial in `buf`, reduced in host order.
void reduceAcrossHosts(const HostLayout& L, void* buf, std::size_t count, const Reduction& r) {
  const std::size_t es = sizeOf(r.element);
  if (compressed(r)) {
    const auto c = settings().compression;
    compressedLeadersAllreduce(L, buf, count, r.element, c, exchangeFor(L, encodedBytes(c, count)));
    return;
  }
  leadersAllreduce(L, buf, count, r.element, r.reduce, exchangeFor(L, count * es));
}

void bcastLocal(const HostLayout& L, void* buf, std::size_t bytes, int localRoot) {
  const int localSize = L.localSize();
  if (localSize > 1 && bytes > 0) {
    PMPI_Bcast(buf, mpiCount(bytes), MPI_BYTE, localRoot, L.local);
  }
}

}  // namespace

void allreduce(const HostLayout& L, const void* input, void* output, std::size_t count,
               const Reduction& r) {
  reduceToLeader(L, input, output, count, r);
  if (L.leader()) reduceAcrossHosts(L, output, count, r);
  bcastLocal(L, output, count * sizeOf(r.element), 0);
}

void reduce(const HostLayout& L, const void* input, void* output, std::size_t count,
            const Reduction& r, int root) {
  const std::size_t bytes = count * sizeOf(r.element);
  // The leader of root's host ends with the result; every other leader works in scratch.
  const bool rootHere = L.rank == root;
  std::vector<char> scratch(L.leader() && !rootHere ? bytes : 0);
  void* partial = L.leader() && !rootHere ? scratch.data() : output;
  reduceToLeader(L, input, partial, count, r);
  if (L.leader()) reduceAcrossHosts(L, partial, count, r);
  const int rootHost = L.hostOf[static_cast<std::size_t>(root)];
  if (L.host != rootHost || L.localRankOf(root) == 0) return;
  if (L.leader()) {
    PMPI_Send(partial, mpiCount(bytes), MPI_BYTE, L.localRankOf(root), kResultTag, L.local);
  } else if (rootHere) {
    PMPI_Recv(output, mpiCount(bytes), MPI_BYTE, 0, kResultTag, L.local, MPI_STATUS_IGNORE);
  }
}

void reduceScatter(const HostLayout& L, const void* input, void* output,
                   const std::vector<std::size_t>& counts, const Reduction& r) {
  const std::size_t es = sizeOf(r.element);
  std::size_t total = 0, first = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (static_cast<int>(i) == L.rank) first = total;
    total += counts[i];
  }
  std::vector<char> all(total * es);
  allreduce(L, input, all.data(), total, r);
  const std::size_t mine = counts[static_cast<std::size_t>(L.rank)] * es;
  if (mine > 0) std::memcpy(output, all.data() + first * es, mine);  // output may be NULL if 0
}

void bcast(const HostLayout& L, void* buf, std::size_t bytes, int root) {
  const int rootHost = L.hostOf[static_cast<std::size_t>(root)];
  const int rootLocal = L.localRankOf(root);
  // On root's host the data reaches every rank (the leader among them) in one local step.
  if (L.host == rootHost) bcastLocal(L, buf, bytes, rootLocal);
  if (L.leader()) leadersBcast(L, buf, bytes, rootHost, exchangeFor(L, bytes));
  if (L.host != rootHost) bcastLocal(L, buf, bytes, 0);
}

void allgather(const HostLayout& L, const void* input, void* output, std::size_t block) {
  char* out = static_cast<char*>(output);
  const char* mine =
      input ? static_cast<const char*>(input) : out + static_cast<std::size_t>(L.rank) * block;
  // The leader packs host by host: host h's ranks' blocks in rank order.
  std::vector<std::size_t> hostBytes;
  for (const auto& ranks : L.ranksOf) hostBytes.push_back(ranks.size() * block);
  std::vector<char> packed;
  std::size_t myOffset = 0;
  for (int h = 0; h < L.host; ++h) myOffset += hostBytes[static_cast<std::size_t>(h)];
  if (L.leader()) packed.resize(static_cast<std::size_t>(L.size) * block);
  PMPI_Gather(mine, mpiCount(block), MPI_BYTE, L.leader() ? packed.data() + myOffset : nullptr,
              mpiCount(block), MPI_BYTE, 0, L.local);
  if (L.leader()) {
    leadersAllgather(L, packed.data(), hostBytes);
    const char* from = packed.data();
    for (const auto& ranks : L.ranksOf) {
      for (int r : ranks) {
        std::memcpy(out + static_cast<std::size_t>(r) * block, from, block);
        from += block;
      }
    }
  }
  bcastLocal(L, out, static_cast<std::size_t>(L.size) * block, 0);
}

void barrier(const HostLayout& L) {
  PMPI_Barrier(L.local);
  if (L.leader()) leadersBarrier(L);
  PMPI_Barrier(L.local);
}

}  // namespace ionet::coll
