// libionet-coll's settings, read once from the environment ionet-run gives the ranks
// (docs/collectives.md lists them). Every rank of a job sees the same values, so every leader
// makes the same choices.
#pragma once

#include <cstddef>
#include <optional>

#include "cost_model.h"

namespace ionet::coll {

enum class Compression { kNone, kBf16, kInt8 };

struct Settings {
  // IONET_COLL=1: take the covered calls. ionet-run sets it for links of 10 ms and more
  // (launcher/run/wan_tuning.h says why); unset or anything else: every call to Open MPI.
  bool enabled = false;
  LinkModel link;                    // IONET_COLL_RTT_US, IONET_COLL_RATE_MBPS, the eager limit
  std::optional<Exchange> exchange;  // IONET_COLL_EXCHANGE=direct|rsag forces one
  Compression compression = Compression::kNone;  // IONET_WAN_COMPRESS=bf16|int8
  std::size_t localChunkBytes = 8u << 20;        // the gather to a host's leader goes in pieces
  // IONET_COLL_PIECE_BYTES: the pipelined reduce-scatter's pieces (at most 64 per segment):
  // small enough that reducing and forwarding the first overlaps the arrival of the rest.
  std::size_t pieceBytes = 1u << 20;
  bool debug = false;  // IONET_COLL_DEBUG=1: one line per communicator set up
};

const Settings& settings();

}  // namespace ionet::coll
