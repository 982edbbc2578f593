// Allocations as text: HOST:TASKS[:gpus=I+J...], comma separated.
#include "hosts/allocation.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "ionet/error.h"

namespace ionet::launcher {
namespace {

bool parseNumber(const std::string& text, std::uint32_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

std::string formatAllocation(const std::vector<AllocatedHost>& hosts) {
  std::string out;
  for (const auto& h : hosts) {
    out += (out.empty() ? "" : ",") + h.name + ":" + std::to_string(h.tasks);
    for (std::size_t i = 0; i < h.gpus.size(); ++i) {
      out += (i ? "+" : ":gpus=") + std::to_string(h.gpus[i]);
    }
  }
  return out;
}

std::vector<AllocatedHost> parseAllocation(const std::string& text) {
  static const std::string kGpus = ":gpus=";
  std::vector<AllocatedHost> hosts;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    auto bad = [&](const std::string& what) {
      return UsageError("'" + item + "' is not HOST:TASKS[:gpus=I+J...]: " + what);
    };
    AllocatedHost h;
    std::string rest = item;
    if (const auto g = rest.find(kGpus); g != std::string::npos) {
      const std::string indices = rest.substr(g + kGpus.size());
      if (indices.empty() || indices.back() == '+') throw bad("a GPU index missing after gpus=");
      std::istringstream list(indices);
      for (std::string n; std::getline(list, n, '+');) {
        std::uint32_t index = 0;
        if (!parseNumber(n, index)) throw bad("'" + n + "' is not a GPU index");
        h.gpus.push_back(index);
      }
      std::sort(h.gpus.begin(), h.gpus.end());
      if (std::adjacent_find(h.gpus.begin(), h.gpus.end()) != h.gpus.end())
        throw bad("a GPU named twice");
      rest.resize(g);
    }
    const auto colon = rest.rfind(':');
    h.name = rest.substr(0, colon);
    h.tasks = 1;
    if (colon != std::string::npos && !parseNumber(rest.substr(colon + 1), h.tasks))
      throw bad("'" + rest.substr(colon + 1) + "' is not a task count");
    if (h.name.empty()) throw bad("no host name");
    if (h.tasks == 0) throw bad("no tasks");
    hosts.push_back(std::move(h));
  }
  return hosts;
}

}  // namespace ionet::launcher
