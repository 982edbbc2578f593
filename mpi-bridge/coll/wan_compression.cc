#include "wan_compression.h"

#include <cstring>
#include <span>

#include "ionet/kernels/compression.h"
#include "leader_exchange.h"

namespace ionet::coll {
namespace {

namespace k = ionet::kernels;

enum Tag : int { kCompressedTag = 11, kCompressedGatherTag };

// Every host's encoding of `n` floats of one segment, reduced in host order into out. The
// encoding of this host's own values is decoded too, so every leader sums the same numbers.
void sumEncoded(Compression c, const std::vector<char>& blobs, std::size_t blobBytes, int hosts,
                std::size_t n, float* out) {
  for (int h = 0; h < hosts; ++h) {
    decode(c, blobs.data() + static_cast<std::size_t>(h) * blobBytes, n, out, h > 0);
  }
}

void directSum(const HostLayout& L, Compression c, float* values, std::size_t n) {
  const int H = L.hostCount;
  const std::size_t blob = encodedBytes(c, n);
  std::vector<char> blobs(static_cast<std::size_t>(H) * blob);
  char* own = blobs.data() + static_cast<std::size_t>(L.host) * blob;
  encode(c, values, n, own);
  std::vector<MPI_Request> requests;
  for (int h = 0; h < H; ++h) {
    if (h == L.host) continue;
    requests.emplace_back();
    PMPI_Irecv(blobs.data() + static_cast<std::size_t>(h) * blob, mpiCount(blob), MPI_BYTE, h,
               kCompressedTag, L.leaders, &requests.back());
    requests.emplace_back();
    PMPI_Isend(own, mpiCount(blob), MPI_BYTE, h, kCompressedTag, L.leaders, &requests.back());
  }
  waitAll(requests);
  sumEncoded(c, blobs, blob, H, n, values);
}

// Reduce-scatter then allgather, both legs encoded: the leader of host h sums segment h from
// every host's encoding, then sends that sum encoded again. Its own segment is replaced by the
// decoding of what it sent, so all leaders agree.
void scatterGatherSum(const HostLayout& L, Compression c, float* values, std::size_t n) {
  const int H = L.hostCount;
  const int me = L.host;
  const Range mine = segment(n, H, me);
  const std::size_t mineBlob = encodedBytes(c, mine.count);
  std::vector<char> incoming(static_cast<std::size_t>(H) * mineBlob);
  std::vector<std::vector<char>> outgoing(static_cast<std::size_t>(H));
  std::vector<MPI_Request> requests;
  for (int h = 0; h < H; ++h) {
    const Range seg = segment(n, H, h);
    if (h == me) {
      encode(c, values + seg.first, seg.count,
             incoming.data() + static_cast<std::size_t>(h) * mineBlob);
      continue;
    }
    requests.emplace_back();
    PMPI_Irecv(incoming.data() + static_cast<std::size_t>(h) * mineBlob, mpiCount(mineBlob),
               MPI_BYTE, h, kCompressedTag, L.leaders, &requests.back());
    auto& blob = outgoing[static_cast<std::size_t>(h)];
    blob.resize(encodedBytes(c, seg.count));
    encode(c, values + seg.first, seg.count, blob.data());
    requests.emplace_back();
    PMPI_Isend(blob.data(), mpiCount(blob.size()), MPI_BYTE, h, kCompressedTag, L.leaders,
               &requests.back());
  }
  waitAll(requests);
  sumEncoded(c, incoming, mineBlob, H, mine.count, values + mine.first);

  std::vector<char> result(mineBlob);
  encode(c, values + mine.first, mine.count, result.data());
  decode(c, result.data(), mine.count, values + mine.first, false);
  std::vector<std::vector<char>> gathered(static_cast<std::size_t>(H));
  for (int h = 0; h < H; ++h) {
    if (h == me) continue;
    auto& blob = gathered[static_cast<std::size_t>(h)];
    blob.resize(encodedBytes(c, segment(n, H, h).count));
    requests.emplace_back();
    PMPI_Irecv(blob.data(), mpiCount(blob.size()), MPI_BYTE, h, kCompressedGatherTag, L.leaders,
               &requests.back());
    requests.emplace_back();
    PMPI_Isend(result.data(), mpiCount(result.size()), MPI_BYTE, h, kCompressedGatherTag, L.leaders,
               &requests.back());
  }
  waitAll(requests);
  for (int h = 0; h < H; ++h) {
    if (h == me) continue;
    const Range seg = segment(n, H, h);
    decode(c, gathered[static_cast<std::size_t>(h)].data(), seg.count, values + seg.first, false);
  }
}

}  // namespace

std::size_t encodedBytes(Compression c, std::size_t n) {
  if (c == Compression::kBf16) return 2 * n;
  return n + sizeof(float) * k::int8BlockCount(n, kInt8Block);
}

void encode(Compression c, const float* in, std::size_t n, char* out) {
  if (c == Compression::kBf16) {
    std::vector<std::uint16_t> half(n);
    k::cpu::floatToHalf(k::HalfFormat::kBf16, {in, n}, half);
    std::memcpy(out, half.data(), 2 * n);
    return;
  }
  const std::size_t blocks = k::int8BlockCount(n, kInt8Block);
  std::vector<float> scales(blocks);
  k::cpu::quantizeInt8({in, n}, kInt8Block, {reinterpret_cast<std::int8_t*>(out), n}, scales);
  std::memcpy(out + n, scales.data(), sizeof(float) * blocks);
}

void decode(Compression c, const char* in, std::size_t n, float* acc, bool add) {
  if (c == Compression::kBf16) {
    std::vector<std::uint16_t> half(n);
    std::memcpy(half.data(), in, 2 * n);
    if (!add) {
      k::cpu::halfToFloat(k::HalfFormat::kBf16, half, {acc, n});
      return;
    }
    std::vector<float> values(n);
    k::cpu::halfToFloat(k::HalfFormat::kBf16, half, values);
    for (std::size_t i = 0; i < n; ++i) acc[i] += values[i];
    return;
  }
  const std::size_t blocks = k::int8BlockCount(n, kInt8Block);
  std::vector<float> scales(blocks);
  std::memcpy(scales.data(), in + n, sizeof(float) * blocks);
  const std::span<const std::int8_t> q{reinterpret_cast<const std::int8_t*>(in), n};
  if (add) {
    k::cpu::dequantizeAccumulateInt8(q, scales, kInt8Block, {acc, n});
  } else {
    k::cpu::dequantizeInt8(q, scales, kInt8Block, {acc, n});
  }
}

void compressedLeadersAllreduce(const HostLayout& L, void* buf, std::size_t count, Element e,
                                Compression c, Exchange exchange) {
  if (L.hostCount < 2 || count == 0) return;
  // Doubles travel as floats first: the encodings are of floats.
  std::vector<float> converted;
  float* values = static_cast<float*>(buf);
  if (e == Element::kDouble) {
    converted.resize(count);
    const double* d = static_cast<const double*>(buf);
    for (std::size_t i = 0; i < count; ++i) converted[i] = static_cast<float>(d[i]);
    values = converted.data();
  }
  if (exchange == Exchange::kDirect || count < static_cast<std::size_t>(L.hostCount)) {
    directSum(L, c, values, count);
  } else {
    scatterGatherSum(L, c, values, count);
  }
  if (e == Element::kDouble) {
    double* d = static_cast<double*>(buf);
    for (std::size_t i = 0; i < count; ++i) d[i] = converted[i];
  }
}

}  // namespace ionet::coll
