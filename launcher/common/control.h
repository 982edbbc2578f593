// Encoding of launcher<->agent control messages (control.proto) on a wan::Channel.
#pragma once

#include <string>

#include "control.pb.h"
#include "ionet/wan/channel.h"

namespace ionet::launcher {

// Bumped when a message's meaning changes incompatibly.
inline constexpr unsigned kProtocolVersion = 2;  // 2: control tree, HostRanks.gpus

// The agents' own channels on the data path's sessions, beside the ranks' forwarded connections
// (whose channels the forwarder names by address): the control tree's links between agents, and
// checkpoint copies to partners and fetches from them (protocol.md).
inline constexpr const char* kTreeChannel = "ctl";
inline constexpr const char* kCheckpointChannel = "ckpt";

inline void sendEnvelope(wan::Channel& channel, const control::Envelope& envelope) {
  channel.send(envelope.SerializeAsString());
}

// False when the bytes are not a well-formed Envelope (a hostile or garbage frame).
inline bool parseEnvelope(const std::string& bytes, control::Envelope* envelope) {
  return envelope->ParseFromString(bytes) &&
         envelope->body_case() != control::Envelope::BODY_NOT_SET;
}

}  // namespace ionet::launcher
