// Host lists in Open MPI's syntax: hostfiles ("host slots=N max_slots=M", # comments) and
// -H values ("a,b:2,a").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ionet::launcher {

struct HostEntry {
  std::string name;
  std::uint32_t slots = 1;
  bool slotsGiven = false;  // slots came from the user, not a default
  std::string origin;       // "hosts.txt:3" or "-H": where it was named, for errors
};

// Duplicates add their slots to the first mention (Open MPI's behaviour).
// Throws UsageError("path:line: what is wrong").
std::vector<HostEntry> parseHostfile(const std::string& path);
std::vector<HostEntry> parseHostfileText(const std::string& text, const std::string& path);
std::vector<HostEntry> parseHostList(const std::string& value);

// Appends b to a, merging duplicates.
void mergeHosts(std::vector<HostEntry>& a, const std::vector<HostEntry>& b);

}  // namespace ionet::launcher
