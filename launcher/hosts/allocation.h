// A batch job's allocation as text, the form the queue stores and hands to ionet-run in
// IONET_ALLOCATION: "node0:2,node1:2", and with GPUs "node0:2:gpus=0+1,node1:2:gpus=2+3" (the
// NVML indices of the GPUs the job owns on that host; no other job is given them).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ionet::launcher {

struct AllocatedHost {
  AllocatedHost() = default;
  AllocatedHost(std::string n, std::uint32_t t, std::vector<std::uint32_t> g = {})
      : name(std::move(n)), tasks(t), gpus(std::move(g)) {}

  std::string name;
  std::uint32_t tasks = 0;
  std::vector<std::uint32_t> gpus;  // NVML indices, ascending; empty: none
  bool operator==(const AllocatedHost&) const = default;
};

std::string formatAllocation(const std::vector<AllocatedHost>& hosts);
// Throws UsageError naming the item that is not HOST:TASKS[:gpus=I+J...].
std::vector<AllocatedHost> parseAllocation(const std::string& text);

}  // namespace ionet::launcher
