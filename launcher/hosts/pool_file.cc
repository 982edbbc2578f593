// pool.toml (read with toml++) and hostfiles as pools: every key checked, every error one line
// naming file:line, so a typo is an error and never a silently ignored setting.
#include "hosts/pool_file.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "hosts/hostfile.h"
#include "ionet/error.h"

namespace ionet::launcher {
namespace {

using Keys = std::vector<std::string_view>;
const Keys kTopKeys = {"pool", "host", "batch"};
const Keys kBatchKeys = {"backend"};
const Keys kPoolKeys = {"name",
                        "credentials",
                        "psk",
                        "agent_port",
                        "relay_port",
                        "heartbeat_timeout",
                        "shared_checkpoint_dir",
                        "direct_sites",
                        "metrics_listen",
                        "web_listen"};
const Keys kHostKeys = {"name", "address", "port", "site",          "slots",
                        "gpus", "relay",   "via",  "metrics_listen"};

bool validName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string join(const Keys& keys) {
  std::string out;
  for (auto k : keys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

std::string typeName(const toml::node& node) {
  std::ostringstream out;
  out << node.type();
  return out.str();
}

// Reads one TOML document into a PoolFile; each error names path:line.
class PoolReader {
 public:
  explicit PoolReader(std::string path) : path_(std::move(path)) {}

  PoolFile read(const toml::table& doc) {
    PoolFile pool;
    pool.path = path_;
    checkKeys(doc, kTopKeys, "at the top level");
    const toml::node* poolNode = doc.get("pool");
    if (!poolNode) throw UsageError(path_ + ": no [pool] table (it names the pool)");
    const toml::table* poolTable = poolNode->as_table();
    if (!poolTable) fail(*poolNode, "'pool' must be a table ([pool]), got " + typeName(*poolNode));
    readPool(*poolTable, pool);
    if (const toml::node* batchNode = doc.get("batch")) {
      const toml::table* batch = batchNode->as_table();
      if (!batch)
        fail(*batchNode, "'batch' must be a table ([batch]), got " + typeName(*batchNode));
      checkKeys(*batch, kBatchKeys, "in [batch]");
      if (auto backend = string(*batch, "backend", "batch.backend")) {
        if (*backend != "embedded" && *backend != "slurm") {
          fail(*batch->get("backend"),
               "batch.backend must be \"embedded\" or \"slurm\", got \"" + *backend + "\"");
        }
        pool.batchBackend = *backend;
      }
    }

    const toml::node* hostNode = doc.get("host");
    const toml::array* hosts = hostNode ? hostNode->as_array() : nullptr;
    if (hostNode && !hosts) fail(*hostNode, "'host' must be an array of tables ([[host]])");
    if (!hosts || hosts->empty()) throw UsageError(path_ + ": defines no hosts ([[host]])");
    for (const toml::node& entry : *hosts) {
      const toml::table* table = entry.as_table();
      if (!table) fail(entry, "each host must be a table ([[host]]), got " + typeName(entry));
      pool.hosts.push_back(readHost(*table, pool));
    }
    checkHosts(pool);
    return pool;
  }

 private:
  std::string at(const toml::node& node) const {
    return path_ + ":" + std::to_string(node.source().begin.line);
  }
  [[noreturn]] void fail(const toml::node& node, const std::string& what) const {
    throw UsageError(at(node) + ": " + what);
  }

  // Unknown keys are errors, reported top to bottom, with the nearest known key as a hint.
  void checkKeys(const toml::table& table, const Keys& known, const std::string& context) const {
    std::vector<std::pair<toml::source_position, std::string>> unknown;
    for (auto&& [key, value] : table) {
      if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
        unknown.emplace_back(key.source().begin, std::string(key.str()));
      }
    }
    if (unknown.empty()) return;
    const auto& [pos, key] = *std::min_element(unknown.begin(), unknown.end());
    std::string hint;
    for (auto k : known) {
      if (editDistance(key, k) <= 2) hint = " (did you mean '" + std::string(k) + "'?)";
    }
    if (hint.empty()) hint = " (known: " + join(known) + ")";
    throw UsageError(path_ + ":" + std::to_string(pos.line) + ": unknown key '" + key + "' " +
                     context + hint);
  }

  std::optional<std::string> string(const toml::table& t, std::string_view key,
                                    const std::string& what) const {
    const toml::node* node = t.get(key);
    if (!node) return std::nullopt;
    const auto* value = node->as_string();
    if (!value) fail(*node, what + " must be a string, got " + typeName(*node));
    if (value->get().empty()) fail(*node, what + " must not be empty");
    return value->get();
  }

  std::optional<std::int64_t> integer(const toml::table& t, std::string_view key,
                                      const std::string& what, std::int64_t min,
                                      std::int64_t max) const {
    const toml::node* node = t.get(key);
    if (!node) return std::nullopt;
    const auto* value = node->as_integer();
    if (!value) fail(*node, what + " must be an integer, got " + typeName(*node));
    if (value->get() < min || value->get() > max) {
      fail(*node, what + " must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " +
                      std::to_string(value->get()));
    }
    return value->get();
  }

  std::string path(const toml::table& t, std::string_view key, const std::string& what) const {
    auto value = string(t, key, what);
    if (!value) return {};
    // Relative to the pool file, so a pool directory can be copied as a whole.
    std::filesystem::path p(*value);
    if (p.is_relative()) p = std::filesystem::path(path_).parent_path() / p;
    return p.string();
  }

  void readPool(const toml::table& t, PoolFile& pool) const {
    checkKeys(t, kPoolKeys, "in [pool]");
    auto name = string(t, "name", "pool.name");
    if (!name) fail(t, "[pool] needs a name (node certificates are issued for it)");
    if (!validName(*name)) {
      fail(*t.get("name"), "pool name '" + *name + "' must be 1-63 of A-Z a-z 0-9 . _ -");
    }
    pool.name = *name;
    pool.credentialsDir = path(t, "credentials", "pool.credentials");
    pool.pskFile = path(t, "psk", "pool.psk");
    if (!pool.credentialsDir.empty() && !pool.pskFile.empty()) {
      fail(*t.get("psk"), "give pool.credentials or pool.psk, not both");
    }
    if (auto port = integer(t, "agent_port", "pool.agent_port", 1, 65535)) {
      pool.agentPort = static_cast<std::uint16_t>(*port);
    }
    if (auto port = integer(t, "relay_port", "pool.relay_port", 1, 65535)) {
      pool.relayPort = static_cast<std::uint16_t>(*port);
    }
    if (const toml::node* shared = t.get("shared_checkpoint_dir")) {
      if (!shared->is_boolean()) fail(*shared, "pool.shared_checkpoint_dir must be true or false");
      pool.sharedCheckpointDir = shared->as_boolean()->get();
    }
    if (const toml::node* sites = t.get("direct_sites")) {
      const auto* list = sites->as_array();
      if (!list) fail(*sites, "pool.direct_sites must be a list of site names");
      for (const auto& site : *list) {
        if (!site.is_string() || site.as_string()->get().empty()) {
          fail(site, "pool.direct_sites must be a list of site names");
        }
        pool.directSites.insert(site.as_string()->get());
      }
    }
    if (auto listen = string(t, "metrics_listen", "pool.metrics_listen")) {
      pool.metricsListen = *listen;
      pool.metricsListenOrigin = at(*t.get("metrics_listen"));
    }
    if (auto listen = string(t, "web_listen", "pool.web_listen")) {
      pool.webListen = *listen;
      pool.webListenOrigin = at(*t.get("web_listen"));
    }
    if (auto text = string(t, "heartbeat_timeout", "pool.heartbeat_timeout")) {
      try {
        pool.heartbeatTimeout = parseDuration(*text, "pool.heartbeat_timeout");
      } catch (const UsageError& e) {
        fail(*t.get("heartbeat_timeout"), e.what());
      }
    }
  }

  PoolFileHost readHost(const toml::table& t, const PoolFile& pool) const {
    checkKeys(t, kHostKeys, "in [[host]]");
    PoolFileHost host;
    host.origin = at(t);
    auto name = string(t, "name", "host name");
    if (!name) fail(t, "[[host]] needs a name");
    if (!validName(*name)) {
      fail(*t.get("name"), "host name '" + *name + "' must be 1-63 of A-Z a-z 0-9 . _ -");
    }
    host.name = *name;
    const std::string what = "host '" + host.name + "': ";
    if (auto address = string(t, "address", what + "address")) {
      checkAddress(*t.get("address"), *address, what);
      host.address = *address;
    }
    host.port = static_cast<std::uint16_t>(
        integer(t, "port", what + "port", 1, 65535).value_or(pool.agentPort));
    host.site = string(t, "site", what + "site").value_or("");
    if (auto slots = integer(t, "slots", what + "slots", 1, UINT32_MAX)) {
      host.slots = static_cast<std::uint32_t>(*slots);
    }
    if (auto gpus = integer(t, "gpus", what + "gpus", 0, UINT32_MAX)) {
      host.gpus = static_cast<std::uint32_t>(*gpus);
    }
    if (const toml::node* relay = t.get("relay")) {
      if (!relay->is_boolean()) fail(*relay, what + "relay must be true or false");
      host.relay = relay->as_boolean()->get();
    }
    host.via = string(t, "via", what + "via").value_or("");
    if (auto listen = string(t, "metrics_listen", what + "metrics_listen")) {
      host.metricsListen = *listen;
      host.metricsListenOrigin = at(*t.get("metrics_listen"));
    }
    if (host.relay && !host.via.empty()) {
      fail(*t.get("via"), what + "a relay host cannot itself be behind a relay (via)");
    }
    if (host.relay && host.address.empty()) {
      fail(t, what + "a relay host needs an address that the others can reach");
    }
    if (host.address.empty() && host.via.empty()) {
      fail(t, what + "needs an address, or via = \"RELAY\" when it is behind NAT");
    }
    if (!host.address.empty() && !host.via.empty()) {
      fail(*t.get("via"), what + "give address or via, not both (via is for hosts behind NAT)");
    }
    return host;
  }

  void checkAddress(const toml::node& node, const std::string& a, const std::string& what) const {
    if (a.find_first_of(" \t/[]") != std::string::npos) {
      fail(node, what + "address '" + a + "' must be a host name or IP address");
    }
    // One colon is "host:port"; IPv6 addresses have at least two.
    if (std::count(a.begin(), a.end(), ':') == 1) {
      fail(node, what + "address '" + a + "' contains a port: give it as port = N");
    }
  }

  // Checks that need every host: unique names, via naming a relay host.
  void checkHosts(const PoolFile& pool) const {
    std::map<std::string, const PoolFileHost*> byName;
    for (const auto& h : pool.hosts) {
      auto [it, added] = byName.emplace(h.name, &h);
      if (!added) {
        throw UsageError(h.origin + ": host '" + h.name + "' is defined twice (first at " +
                         it->second->origin + ")");
      }
    }
    for (const auto& h : pool.hosts) {
      if (h.via.empty()) continue;
      auto it = byName.find(h.via);
      if (it == byName.end()) {
        throw UsageError(h.origin + ": host '" + h.name + "': via names unknown host '" + h.via +
                         "'");
      }
      if (!it->second->relay) {
        throw UsageError(h.origin + ": host '" + h.name + "': via host '" + h.via +
                         "' is not a relay (set relay = true at " + it->second->origin + ")");
      }
    }
  }

  std::string path_;
};

PoolFile poolFromHostfile(const std::string& path) {
  PoolFile pool;
  pool.path = path;
  for (const HostEntry& e : parseHostfile(path)) {
    if (!validName(e.name)) {
      throw UsageError(e.origin + ": host name '" + e.name +
                       "' must be 1-63 of A-Z a-z 0-9 . _ - to be used in a pool");
    }
    PoolFileHost host;
    host.name = e.name;
    host.address = e.name;
    host.port = pool.agentPort;
    if (e.slotsGiven) host.slots = e.slots;
    host.origin = e.origin;
    pool.hosts.push_back(std::move(host));
  }
  return pool;
}

std::string hostPort(const std::string& address, std::uint16_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace

const PoolFileHost* PoolFile::find(const std::string& hostName) const {
  for (const auto& h : hosts) {
    if (h.name == hostName) return &h;
  }
  return nullptr;
}

std::chrono::milliseconds parseDuration(const std::string& text, const std::string& what) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string unit(end, text.data() + text.size());
  std::uint64_t scale = 0;
  if (unit == "ms") scale = 1;
  if (unit == "s") scale = 1000;
  if (unit == "m") scale = 60'000;
  if (ec != std::errc() || end == text.data() || scale == 0) {
    throw UsageError(what + " '" + text + "' is not a duration (e.g. 500ms, 10s, 2m)");
  }
  if (value == 0) throw UsageError(what + " must be longer than 0, got '" + text + "'");
  if (value > (std::uint64_t(1) << 40) / scale) {
    throw UsageError(what + " '" + text + "' is too long");
  }
  return std::chrono::milliseconds(value * scale);
}

PoolFile parsePoolText(const std::string& text, const std::string& path) {
  toml::table doc;
  try {
    doc = toml::parse(std::string_view(text), std::string_view(path));
  } catch (const toml::parse_error& e) {
    throw UsageError(path + ":" + std::to_string(e.source().begin.line) + ":" +
                     std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
  return PoolReader(path).read(doc);
}

PoolFile loadPoolFile(const std::string& path) {
  const bool isToml = path.size() >= 5 && path.compare(path.size() - 5, 5, ".toml") == 0;
  if (!isToml) return poolFromHostfile(path);
  std::ifstream in(path);
  if (!in) throw UsageError(path + ": cannot open pool file: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return parsePoolText(text.str(), path);
}

std::string agentEndpoint(const PoolFile& pool, const PoolFileHost& host) {
  if (host.via.empty()) {
    if (host.address.empty()) {
      throw UsageError(host.origin + ": host '" + host.name + "' has neither address nor via");
    }
    return hostPort(host.address, host.port);
  }
  return relayEndpoint(pool, host, host.name);
}

std::string relayEndpoint(const PoolFile& pool, const PoolFileHost& host, const std::string& slot) {
  const PoolFileHost* relay = pool.find(host.via);
  if (!relay || !relay->relay || relay->address.empty()) {
    throw UsageError(host.origin + ": host '" + host.name + "': via host '" + host.via +
                     "' is not a relay host with an address");
  }
  return hostPort(relay->address, pool.relayPort) + "/" + slot;
}

std::string dataRelaySlot(const std::string& hostName, const std::string& jobId) {
  return hostName + "~" + jobId;
}

std::string dataEndpoint(const PoolFile& pool, const PoolFileHost& host, std::uint32_t dataPort,
                         const std::string& jobId) {
  if (!host.address.empty()) return hostPort(host.address, static_cast<std::uint16_t>(dataPort));
  return relayEndpoint(pool, host, dataRelaySlot(host.name, jobId));
}

wan::Credentials loadPoolCredentials(const PoolFile& pool, const std::string& nodeName) {
  if (!pool.credentialsDir.empty()) return wan::Credentials::loadDir(pool.credentialsDir);
  if (!pool.pskFile.empty()) return wan::Credentials::loadPskFile(pool.pskFile, nodeName);
  throw UsageError(pool.path + ": the pool names no credentials (credentials or psk)");
}

wan::SessionOptions poolSessionOptions(const PoolFile& pool) {
  wan::SessionOptions options;
  options.setDeadPeerTimeout(pool.heartbeatTimeout);
  return options;
}

}  // namespace ionet::launcher
