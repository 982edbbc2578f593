// --wan-compress: float and double sums travel between host leaders as bf16 or blockwise int8
// (kernels' CPU references). The decompressed values, not the originals, are summed, by every
// leader in host order, so every rank still gets the same bits. Error bounds: docs/collectives.md.
#pragma once

#include <cstddef>
#include <vector>

#include "host_layout.h"
#include "reduction.h"
#include "settings.h"

namespace ionet::coll {

constexpr std::size_t kInt8Block = 256;  // elements per int8 scale

// The encoded size of n floats.
std::size_t encodedBytes(Compression c, std::size_t n);
void encode(Compression c, const float* in, std::size_t n, char* out);
// acc[i] = decoded[i] (add == false) or acc[i] += decoded[i].
void decode(Compression c, const char* in, std::size_t n, float* acc, bool add);

// leadersAllreduce for a SUM of floats or doubles (e is kFloat or kDouble) sent compressed.
void compressedLeadersAllreduce(const HostLayout& layout, void* buf, std::size_t count, Element e,
                                Compression c, Exchange exchange);

}  // namespace ionet::coll
