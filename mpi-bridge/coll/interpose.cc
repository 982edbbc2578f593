// libionet-coll's MPI entry points (PMPI interposition: preloaded, these definitions win over
// libmpi's). Each checks that it covers the call, else hands it to Open MPI unchanged:
// user-defined ops, derived or non-contiguous datatypes, intercommunicators, a communicator on
// one host, messages over 2 GiB. Non-blocking collectives are not defined here at all.
#include <mpi.h>

#include <climits>
#include <cstdio>
#include <exception>

#include "collectives.h"
#include "host_layout.h"
#include "settings.h"

namespace ionet::coll {
namespace {

// The layout of a communicator libionet-coll takes, or nullptr.
const HostLayout* covered(MPI_Comm comm) {
  if (!settings().enabled) return nullptr;
  const HostLayout* layout = hostLayout(comm);
  if (!layout || layout->hostCount < 2) return nullptr;
  static bool said = false;
  if (settings().debug && !said && layout->rank == 0) {
    said = true;
    std::fprintf(stderr,
                 "ionet-coll: %d ranks on %d hosts; rtt %.3f ms, rate %.0f Mbit/s, eager limit "
                 "%zu%s\n",
                 layout->size, layout->hostCount, settings().link.rttSeconds * 1e3,
                 settings().link.bytesPerSecond * 8 / 1e6, settings().link.eagerLimit,
                 settings().compression == Compression::kBf16   ? ", bf16"
                 : settings().compression == Compression::kInt8 ? ", int8"
                                                                : "");
  }
  return layout;
}

std::optional<Reduction> reductionOf(MPI_Datatype type, MPI_Op op) {
  const auto e = elementOf(type);
  const auto o = opOf(op);
  if (!e || !o) return std::nullopt;
  const Reducer reduce = reducerFor(*e, *o);
  if (!reduce) return std::nullopt;
  return Reduction{*e, *o, reduce};
}

bool fits(long long count, std::size_t elementSize) {
  return count >= 0 && static_cast<unsigned long long>(count) * elementSize <= INT_MAX;
}

// The algorithms throw only when memory runs out; the other ranks are mid-collective by then,
// so the job cannot go on.
template <typename F>
int run(MPI_Comm comm, const char* name, F&& body) {
  try {
    body();
    return MPI_SUCCESS;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ionet-coll: %s failed: %s\n", name, e.what());
  }
  PMPI_Abort(comm, 1);
  return MPI_ERR_INTERN;
}

}  // namespace
}  // namespace ionet::coll

using namespace ionet::coll;

extern "C" {

int MPI_Allreduce(const void* sendbuf, void* recvbuf, int count, MPI_Datatype type, MPI_Op op,
                  MPI_Comm comm) {
  const auto r = reductionOf(type, op);
  const HostLayout* L = r && count > 0 && fits(count, sizeOf(r->element)) ? covered(comm) : nullptr;
  if (!L) return PMPI_Allreduce(sendbuf, recvbuf, count, type, op, comm);
  const void* in = sendbuf == MPI_IN_PLACE ? recvbuf : sendbuf;
  return run(comm, "MPI_Allreduce",
             [&] { allreduce(*L, in, recvbuf, static_cast<std::size_t>(count), *r); });
}

int MPI_Reduce(const void* sendbuf, void* recvbuf, int count, MPI_Datatype type, MPI_Op op,
               int root, MPI_Comm comm) {
  const auto r = reductionOf(type, op);
  const HostLayout* L = r && count > 0 && fits(count, sizeOf(r->element)) ? covered(comm) : nullptr;
  if (!L || root < 0 || root >= L->size) {
    return PMPI_Reduce(sendbuf, recvbuf, count, type, op, root, comm);
  }
  const void* in = sendbuf == MPI_IN_PLACE ? recvbuf : sendbuf;
  return run(comm, "MPI_Reduce",
             [&] { reduce(*L, in, recvbuf, static_cast<std::size_t>(count), *r, root); });
}

int MPI_Reduce_scatter_block(const void* sendbuf, void* recvbuf, int recvcount, MPI_Datatype type,
                             MPI_Op op, MPI_Comm comm) {
  const auto r = reductionOf(type, op);
  const HostLayout* L = r && recvcount > 0 ? covered(comm) : nullptr;
  if (!L || !fits(static_cast<long long>(recvcount) * L->size, sizeOf(r->element))) {
    return PMPI_Reduce_scatter_block(sendbuf, recvbuf, recvcount, type, op, comm);
  }
  const std::vector<std::size_t> counts(static_cast<std::size_t>(L->size),
                                        static_cast<std::size_t>(recvcount));
  const void* in = sendbuf == MPI_IN_PLACE ? recvbuf : sendbuf;
  return run(comm, "MPI_Reduce_scatter_block", [&] { reduceScatter(*L, in, recvbuf, counts, *r); });
}

int MPI_Reduce_scatter(const void* sendbuf, void* recvbuf, const int recvcounts[],
                       MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
  const auto r = reductionOf(type, op);
  const HostLayout* L = r ? covered(comm) : nullptr;
  long long total = 0;
  bool valid = L != nullptr;
  std::vector<std::size_t> counts;
  for (int i = 0; valid && i < L->size; ++i) {
    valid = recvcounts[i] >= 0;
    counts.push_back(static_cast<std::size_t>(recvcounts[i]));
    total += recvcounts[i];
  }
  if (!valid || total == 0 || !fits(total, sizeOf(r->element))) {
    return PMPI_Reduce_scatter(sendbuf, recvbuf, recvcounts, type, op, comm);
  }
  const void* in = sendbuf == MPI_IN_PLACE ? recvbuf : sendbuf;
  return run(comm, "MPI_Reduce_scatter", [&] { reduceScatter(*L, in, recvbuf, counts, *r); });
}

int MPI_Bcast(void* buf, int count, MPI_Datatype type, int root, MPI_Comm comm) {
  std::size_t size = 0;
  const HostLayout* L =
      count > 0 && isPlainBytes(type, &size) && fits(count, size) ? covered(comm) : nullptr;
  if (!L || root < 0 || root >= L->size) return PMPI_Bcast(buf, count, type, root, comm);
  return run(comm, "MPI_Bcast",
             [&] { bcast(*L, buf, static_cast<std::size_t>(count) * size, root); });
}

int MPI_Allgather(const void* sendbuf, int sendcount, MPI_Datatype sendtype, void* recvbuf,
                  int recvcount, MPI_Datatype recvtype, MPI_Comm comm) {
  std::size_t size = 0;
  const bool inPlace = sendbuf == MPI_IN_PLACE;
  const bool plain = isPlainBytes(recvtype, &size) &&
                     (inPlace || (sendtype == recvtype && sendcount == recvcount));
  const HostLayout* L = plain && recvcount > 0 ? covered(comm) : nullptr;
  if (!L || !fits(static_cast<long long>(recvcount) * L->size, size)) {
    return PMPI_Allgather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
  }
  return run(comm, "MPI_Allgather", [&] {
    allgather(*L, inPlace ? nullptr : sendbuf, recvbuf, static_cast<std::size_t>(recvcount) * size);
  });
}

int MPI_Barrier(MPI_Comm comm) {
  const HostLayout* L = covered(comm);
  if (!L) return PMPI_Barrier(comm);
  return run(comm, "MPI_Barrier", [&] { barrier(*L); });
}

}  // extern "C"
