#include "leader_exchange.h"

#include <algorithm>
#include <climits>
#include <cstring>

namespace ionet::coll {
namespace {

// Tags on the leaders' private communicator: only libionet-coll talks there, and collectives
// are called in the same order everywhere, so (source, tag) order matches sends to receives.
enum Tag : int { kDirectTag = 1, kScatterTag, kGatherTag, kBcastTag, kAllgatherTag, kBarrierTag };

// Pieces of a leader's segment in the pipelined reduce-scatter (settings().pieceBytes): few
// enough to post at once.
constexpr std::size_t kMaxPieces = 64;

std::size_t pieceElements(std::size_t segmentCount, std::size_t elementSize) {
  std::size_t n = std::max<std::size_t>(1, settings().pieceBytes / elementSize);
  if (segmentCount > n * kMaxPieces) n = (segmentCount + kMaxPieces - 1) / kMaxPieces;
  return n;
}

void directAllreduce(const HostLayout& L, char* buf, std::size_t count, std::size_t es,
                     Reducer reduce) {
  const std::size_t bytes = count * es;
  const int H = L.hostCount;
  // parts[h] for every host but this one; this host's partial stays in buf.
  std::vector<char> parts(static_cast<std::size_t>(H) * bytes);
  auto part = [&](int h) {
    return h == L.host ? buf : parts.data() + static_cast<std::size_t>(h) * bytes;
  };
  std::vector<MPI_Request> requests;
  for (int h = 0; h < H; ++h) {
    if (h == L.host) continue;
    requests.emplace_back();
    PMPI_Irecv(part(h), mpiCount(bytes), MPI_BYTE, h, kDirectTag, L.leaders, &requests.back());
  }
  for (int h = 0; h < H; ++h) {
    if (h == L.host) continue;
    requests.emplace_back();
    PMPI_Isend(buf, mpiCount(bytes), MPI_BYTE, h, kDirectTag, L.leaders, &requests.back());
  }
  waitAll(requests);
  char* acc = part(0);  // host 0's slot (or buf itself on host 0) accumulates
  for (int h = 1; h < H; ++h) reduce(acc, part(h), count);
  if (acc != buf) std::memcpy(buf, acc, bytes);
}

// Reduce-scatter then allgather, pipelined: the leader of host h reduces segment h piece by
// piece as the pieces arrive and forwards each reduced piece at once.
void pipelinedAllreduce(const HostLayout& L, char* buf, std::size_t count, std::size_t es,
                        Reducer reduce) {
  const int H = L.hostCount;
  const int me = L.host;
  const Range mine = segment(count, H, me);
  const std::size_t perPiece = pieceElements(mine.count, es);
  const std::size_t pieces = mine.count == 0 ? 0 : (mine.count + perPiece - 1) / perPiece;
  auto pieceRange = [&](Range seg, std::size_t p) {
    const std::size_t n = pieceElements(seg.count, es);
    const std::size_t first = p * n;
    return Range{seg.first + first, std::min(n, seg.count - first)};
  };
  auto piecesOf = [&](Range seg) {
    const std::size_t n = pieceElements(seg.count, es);
    return seg.count == 0 ? std::size_t{0} : (seg.count + n - 1) / n;
  };

  // Incoming pieces of my segment from every other host: received[h] is segment-sized.
  std::vector<char> received(static_cast<std::size_t>(H) * mine.count * es);
  auto slot = [&](int h, Range piece) {
    return received.data() +
           (static_cast<std::size_t>(h) * mine.count + piece.first - mine.first) * es;
  };
  std::vector<MPI_Request> scatterRecv;  // (host, piece) in host-major order
  for (int h = 0; h < H; ++h) {
    if (h == me) continue;
    for (std::size_t p = 0; p < pieces; ++p) {
      const Range piece = pieceRange(mine, p);
      scatterRecv.emplace_back();
      PMPI_Irecv(slot(h, piece), mpiCount(piece.count * es), MPI_BYTE, h, kScatterTag, L.leaders,
                 &scatterRecv.back());
    }
  }
  // The others' segments of the result arrive in `gathered` (buf is still being sent from).
  std::vector<char> gathered(count * es);
  std::vector<MPI_Request> others;
  for (int h = 0; h < H; ++h) {
    if (h == me) continue;
    const Range seg = segment(count, H, h);
    for (std::size_t p = 0; p < piecesOf(seg); ++p) {
      const Range piece = pieceRange(seg, p);
      others.emplace_back();
      PMPI_Irecv(gathered.data() + piece.first * es, mpiCount(piece.count * es), MPI_BYTE, h,
                 kGatherTag, L.leaders, &others.back());
    }
  }
  for (int h = 0; h < H; ++h) {
    if (h == me) continue;
    const Range seg = segment(count, H, h);
    for (std::size_t p = 0; p < piecesOf(seg); ++p) {
      const Range piece = pieceRange(seg, p);
      others.emplace_back();
      PMPI_Isend(buf + piece.first * es, mpiCount(piece.count * es), MPI_BYTE, h, kScatterTag,
                 L.leaders, &others.back());
    }
  }

  // Reduce my pieces in order as they complete; send each on to every other host.
  std::vector<int> arrived(pieces, 0);
  std::vector<int> done(scatterRecv.size());
  std::size_t next = 0;
  while (next < pieces) {
    int n = 0;
    PMPI_Waitsome(static_cast<int>(scatterRecv.size()), scatterRecv.data(), &n, done.data(),
                  MPI_STATUSES_IGNORE);
    for (int i = 0; i < n && n != MPI_UNDEFINED; ++i) {
      ++arrived[static_cast<std::size_t>(done[static_cast<std::size_t>(i)]) % pieces];
    }
    if (n == MPI_UNDEFINED) n = 0;
    for (; next < pieces && arrived[next] == H - 1; ++next) {
      const Range piece = pieceRange(mine, next);
      char* own = buf + piece.first * es;
      char* acc = me == 0 ? own : slot(0, piece);
      for (int h = 1; h < H; ++h) reduce(acc, h == me ? own : slot(h, piece), piece.count);
      if (acc != own) std::memcpy(own, acc, piece.count * es);
      for (int h = 0; h < H; ++h) {
        if (h == me) continue;
        others.emplace_back();
        PMPI_Isend(own, mpiCount(piece.count * es), MPI_BYTE, h, kGatherTag, L.leaders,
                   &others.back());
      }
    }
  }
  waitAll(others);
  for (int h = 0; h < H; ++h) {
    if (h == me) continue;
    const Range seg = segment(count, H, h);
    std::memcpy(buf + seg.first * es, gathered.data() + seg.first * es, seg.count * es);
  }
}

}  // namespace

Range segment(std::size_t count, int hosts, int h) {
  const auto first = count * static_cast<std::size_t>(h) / static_cast<std::size_t>(hosts);
  const auto end = count * static_cast<std::size_t>(h + 1) / static_cast<std::size_t>(hosts);
  return {first, end - first};
}

void waitAll(std::vector<MPI_Request>& requests) {
  PMPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
  requests.clear();
}

void leadersAllreduce(const HostLayout& L, void* buf, std::size_t count, Element e, Reducer reduce,
                      Exchange exchange) {
  if (L.hostCount < 2 || count == 0) return;
  const std::size_t es = sizeOf(e);
  if (exchange == Exchange::kDirect || count < static_cast<std::size_t>(L.hostCount)) {
    directAllreduce(L, static_cast<char*>(buf), count, es, reduce);
  } else {
    pipelinedAllreduce(L, static_cast<char*>(buf), count, es, reduce);
  }
}

void leadersBcast(const HostLayout& L, void* buf, std::size_t bytes, int rootHost,
                  Exchange exchange) {
  const int H = L.hostCount;
  if (H < 2 || bytes == 0) return;
  char* data = static_cast<char*>(buf);
  std::vector<MPI_Request> requests;
  if (exchange == Exchange::kDirect || bytes < static_cast<std::size_t>(H)) {
    if (L.host == rootHost) {
      for (int h = 0; h < H; ++h) {
        if (h == rootHost) continue;
        requests.emplace_back();
        PMPI_Isend(data, mpiCount(bytes), MPI_BYTE, h, kBcastTag, L.leaders, &requests.back());
      }
    } else {
      requests.emplace_back();
      PMPI_Irecv(data, mpiCount(bytes), MPI_BYTE, rootHost, kBcastTag, L.leaders, &requests.back());
    }
    waitAll(requests);
    return;
  }
  // Scatter then allgather (van de Geijn): the root's host sends each host 1/H of the bytes,
  // then every host sends its piece to every other.
  const Range mine = segment(bytes, H, L.host);
  if (L.host == rootHost) {
    for (int h = 0; h < H; ++h) {
      if (h == rootHost) continue;
      const Range piece = segment(bytes, H, h);
      requests.emplace_back();
      PMPI_Isend(data + piece.first, mpiCount(piece.count), MPI_BYTE, h, kBcastTag, L.leaders,
                 &requests.back());
    }
  } else {
    PMPI_Recv(data + mine.first, mpiCount(mine.count), MPI_BYTE, rootHost, kBcastTag, L.leaders,
              MPI_STATUS_IGNORE);
  }
  // Every host's piece goes to every host but the root's, which has them all.
  for (int h = 0; h < H; ++h) {
    if (h == L.host) continue;
    if (L.host != rootHost) {
      const Range piece = segment(bytes, H, h);
      requests.emplace_back();
      PMPI_Irecv(data + piece.first, mpiCount(piece.count), MPI_BYTE, h, kAllgatherTag, L.leaders,
                 &requests.back());
    }
    if (h != rootHost) {
      requests.emplace_back();
      PMPI_Isend(data + mine.first, mpiCount(mine.count), MPI_BYTE, h, kAllgatherTag, L.leaders,
                 &requests.back());
    }
  }
  waitAll(requests);
}

void leadersAllgather(const HostLayout& L, char* blocks,
                      const std::vector<std::size_t>& hostBytes) {
  const int H = L.hostCount;
  std::vector<std::size_t> offset(hostBytes.size(), 0);
  for (std::size_t h = 1; h < hostBytes.size(); ++h) offset[h] = offset[h - 1] + hostBytes[h - 1];
  const auto me = static_cast<std::size_t>(L.host);
  std::vector<MPI_Request> requests;
  for (int h = 0; h < H; ++h) {
    const auto i = static_cast<std::size_t>(h);
    if (i == me) continue;
    requests.emplace_back();
    PMPI_Irecv(blocks + offset[i], mpiCount(hostBytes[i]), MPI_BYTE, h, kAllgatherTag, L.leaders,
               &requests.back());
    requests.emplace_back();
    PMPI_Isend(blocks + offset[me], mpiCount(hostBytes[me]), MPI_BYTE, h, kAllgatherTag, L.leaders,
               &requests.back());
  }
  waitAll(requests);
}

void leadersBarrier(const HostLayout& L) {
  std::vector<MPI_Request> requests;
  for (int h = 0; h < L.hostCount; ++h) {
    if (h == L.host) continue;
    requests.emplace_back();
    PMPI_Irecv(nullptr, 0, MPI_BYTE, h, kBarrierTag, L.leaders, &requests.back());
    requests.emplace_back();
    PMPI_Isend(nullptr, 0, MPI_BYTE, h, kBarrierTag, L.leaders, &requests.back());
  }
  waitAll(requests);
}

}  // namespace ionet::coll
