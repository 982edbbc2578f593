// What a job's agent tells the launcher first (Hello, control.proto), and the host facts in it:
// its private scratch directories and a free port for torchrun's MASTER_PORT.
#pragma once

#include <cstdint>
#include <string>

#include "agent/agent.h"
#include "common/control.h"

namespace ionet::launcher {

control::Hello makeHello(const AgentOptions& options, const std::string& tmpDir,
                         const std::string& shmDir, std::uint32_t dataPort);

// root/stemXXXXXX, made private (mkdtemp). Throws Error naming root.
std::string makePrivateDir(const std::string& root, const std::string& stem);

// A TCP port nobody listens on right now (torchrun's MASTER_PORT when rank 0 is here); 0 when
// none could be had.
std::uint32_t freeTcpPort();

}  // namespace ionet::launcher
