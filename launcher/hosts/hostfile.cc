// Open MPI hostfile and -H parsing.
#include "hosts/hostfile.h"

#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "ionet/error.h"

namespace ionet::launcher {
namespace {

std::uint32_t positiveNumber(const std::string& text, const std::string& where,
                             const std::string& what) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) {
    throw UsageError(where + ": " + what + " must be a positive integer, got '" + text + "'");
  }
  return value;
}

}  // namespace

void mergeHosts(std::vector<HostEntry>& a, const std::vector<HostEntry>& b) {
  for (const auto& entry : b) {
    bool merged = false;
    for (auto& existing : a) {
      if (existing.name != entry.name) continue;
      existing.slots += entry.slots;
      existing.slotsGiven = existing.slotsGiven || entry.slotsGiven;
      merged = true;
      break;
    }
    if (!merged) a.push_back(entry);
  }
}

std::vector<HostEntry> parseHostfileText(const std::string& text, const std::string& path) {
  std::vector<HostEntry> hosts;
  std::istringstream in(text);
  std::string line;
  for (int lineNo = 1; std::getline(in, line); ++lineNo) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::string name;
    if (!(words >> name)) continue;  // blank or comment
    const std::string where = path + ":" + std::to_string(lineNo);
    if (name.find('=') != std::string::npos) {
      throw UsageError(where + ": expected a host name first, got '" + name + "'");
    }
    HostEntry entry{name, 1, false, where};
    std::optional<std::uint32_t> maxSlots;
    std::string attr;
    while (words >> attr) {
      auto eq = attr.find('=');
      std::string key = attr.substr(0, eq);
      if (eq == std::string::npos || eq + 1 == attr.size()) {
        throw UsageError(where + ": attribute '" + attr + "' needs a value (e.g. slots=4)");
      }
      std::string value = attr.substr(eq + 1);
      if (key == "slots" || key == "count" || key == "cpu") {
        entry.slots = positiveNumber(value, where, key);
        entry.slotsGiven = true;
      } else if (key == "max_slots" || key == "max-slots") {
        maxSlots = positiveNumber(value, where, key);
      } else {
        throw UsageError(where + ": unknown attribute '" + key + "' (known: slots, max_slots)");
      }
    }
    if (maxSlots && *maxSlots < entry.slots) {
      throw UsageError(where + ": max_slots=" + std::to_string(*maxSlots) +
                       " is less than slots=" + std::to_string(entry.slots));
    }
    mergeHosts(hosts, {entry});
  }
  if (hosts.empty()) throw UsageError(path + ": names no hosts");
  return hosts;
}

std::vector<HostEntry> parseHostfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError(path + ": cannot open hostfile: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return parseHostfileText(text.str(), path);
}

std::vector<HostEntry> parseHostList(const std::string& value) {
  std::vector<HostEntry> hosts;
  std::stringstream in(value);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) throw UsageError("-H " + value + ": empty host name");
    // As in mpirun 4.x, each mention is one slot the user stated (-H a,a: two slots on a).
    HostEntry entry{item, 1, true, "-H " + value};
    if (auto colon = item.rfind(':'); colon != std::string::npos) {
      entry.name = item.substr(0, colon);
      entry.slots = positiveNumber(item.substr(colon + 1), "-H " + value, "slot count");
      if (entry.name.empty()) throw UsageError("-H " + value + ": empty host name");
    }
    mergeHosts(hosts, {entry});
  }
  if (hosts.empty()) throw UsageError("-H: names no hosts");
  if (value.back() == ',') throw UsageError("-H " + value + ": empty host name");
  return hosts;
}

}  // namespace ionet::launcher
