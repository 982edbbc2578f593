// libionet-coll's MPI entry points (PMPI interposition: preloaded, these definitions win over
// libmpi's). Each checks that it covers the call, else hands it to Open MPI unchanged:
// reductions with user-defined ops or other than predefined numeric types, intercommunicators,
// a communicator on one host, messages over 2 GiB. Bcast and Allgather take any datatype
// (packed locally). Non-blocking collectives are not defined here at all. Every check depends
// only on what MPI makes equal on every rank of the call (and the job's environment).
#include <mpi.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

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
  static std::atomic<bool> said{false};
  if (settings().debug && layout->rank == 0 && !said.exchange(true)) {
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

// count elements of type, in bytes (the type signature's size, the same on every rank of a
// collective); 0 for a count or type the library does not take.
std::size_t signatureBytes(int count, MPI_Datatype type) {
  int size = 0;
  if (count <= 0 || type == MPI_DATATYPE_NULL || PMPI_Type_size(type, &size) != MPI_SUCCESS ||
      size <= 0) {
    return 0;
  }
  return static_cast<std::size_t>(count) * static_cast<std::size_t>(size);
}

// MPI_Pack into exactly packed.size() bytes (native representation: no header on a homogeneous
// machine); anything else cannot be, since the other ranks are already in the collective.
void pack(const void* in, int count, MPI_Datatype type, std::vector<char>& packed, MPI_Comm comm) {
  int position = 0;
  PMPI_Pack(in, count, type, packed.data(), static_cast<int>(packed.size()), &position, comm);
  if (static_cast<std::size_t>(position) != packed.size()) {
    throw std::runtime_error("MPI_Pack gave " + std::to_string(position) + " bytes for " +
                             std::to_string(packed.size()));
  }
}

void unpack(const char* packed, std::size_t bytes, void* out, int count, MPI_Datatype type,
            MPI_Comm comm) {
  int position = 0;
  PMPI_Unpack(packed, static_cast<int>(bytes), &position, out, count, type, comm);
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
  // MPI_IN_PLACE at a non-root is erroneous: Open MPI's own answer (an error) is the one.
  if (!L || root < 0 || root >= L->size || (sendbuf == MPI_IN_PLACE && L->rank != root)) {
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

// Bcast and Allgather move bytes: MPI lets the ranks pass different datatypes of one type
// signature (a root's MPI_Type_vector, the others' doubles), so whether the library takes a
// call is decided on the byte count alone, the same on every rank, and a rank whose datatype
// is not plain bytes packs or unpacks its own buffer around the library's.
int MPI_Bcast(void* buf, int count, MPI_Datatype type, int root, MPI_Comm comm) {
  const std::size_t bytes = signatureBytes(count, type);
  const HostLayout* L = bytes > 0 && bytes <= INT_MAX ? covered(comm) : nullptr;
  if (!L || root < 0 || root >= L->size) return PMPI_Bcast(buf, count, type, root, comm);
  return run(comm, "MPI_Bcast", [&] {
    std::size_t size = 0;
    if (isPlainBytes(type, &size)) return bcast(*L, buf, bytes, root);
    std::vector<char> packed(bytes);
    if (L->rank == root) pack(buf, count, type, packed, comm);
    bcast(*L, packed.data(), bytes, root);
    if (L->rank != root) unpack(packed.data(), bytes, buf, count, type, comm);
  });
}

int MPI_Allgather(const void* sendbuf, int sendcount, MPI_Datatype sendtype, void* recvbuf,
                  int recvcount, MPI_Datatype recvtype, MPI_Comm comm) {
  const std::size_t block = signatureBytes(recvcount, recvtype);
  const HostLayout* L = block > 0 ? covered(comm) : nullptr;
  if (!L || block * static_cast<std::size_t>(L->size) > INT_MAX) {
    return PMPI_Allgather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
  }
  return run(comm, "MPI_Allgather", [&] {
    MPI_Aint lb = 0, extent = 0;
    PMPI_Type_get_extent(recvtype, &lb, &extent);
    char* out = static_cast<char*>(recvbuf);
    const std::size_t stride =
        static_cast<std::size_t>(recvcount) * static_cast<std::size_t>(extent);
    // This rank's block as bytes: in place, its slot of recvbuf; else sendbuf.
    const bool inPlace = sendbuf == MPI_IN_PLACE;
    const void* mine = inPlace ? out + static_cast<std::size_t>(L->rank) * stride : sendbuf;
    const int mineCount = inPlace ? recvcount : sendcount;
    const MPI_Datatype mineType = inPlace ? recvtype : sendtype;
    std::size_t size = 0;
    std::vector<char> packedMine;
    if (!isPlainBytes(mineType, &size) || signatureBytes(mineCount, mineType) != block) {
      packedMine.resize(block);
      pack(mine, mineCount, mineType, packedMine, comm);
      mine = packedMine.data();
    }
    if (isPlainBytes(recvtype, &size)) return allgather(*L, mine, recvbuf, block);
    std::vector<char> all(block * static_cast<std::size_t>(L->size));
    allgather(*L, mine, all.data(), block);
    for (int r = 0; r < L->size; ++r) {
      unpack(all.data() + static_cast<std::size_t>(r) * block, block,
             out + static_cast<std::size_t>(r) * stride, recvcount, recvtype, comm);
    }
  });
}

int MPI_Barrier(MPI_Comm comm) {
  const HostLayout* L = covered(comm);
  if (!L) return PMPI_Barrier(comm);
  return run(comm, "MPI_Barrier", [&] { barrier(*L); });
}

}  // extern "C"
