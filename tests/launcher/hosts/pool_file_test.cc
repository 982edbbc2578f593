// pool.toml and hostfiles as pools: what a good file yields, agent endpoints (direct and through
// a relay), and every way a file is refused, each with its file:line.
#include "hosts/pool_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "ionet/error.h"
#include "usage_error.h"

namespace ionet::launcher {
namespace {

using namespace std::chrono_literals;

const char* kLab = R"(# the lab pool
[pool]
name = "lab"
credentials = "/etc/ionet/creds"
agent_port = 7460
relay_port = 7461
heartbeat_timeout = "15s"
shared_checkpoint_dir = true
direct_sites = ["fra", "ams"]

[[host]]
name = "gpu1"
address = "203.0.113.7"
site = "fra"
slots = 8
gpus = 2
relay = true

[[host]]
name = "gpu2"
address = "2001:db8::2"
port = 9000

[[host]]
name = "nat-box"
via = "gpu1"
gpus = 1
)";

std::string poolError(const std::string& text) {
  return usageError([&] { parsePoolText(text, "pool.toml"); });
}

// A minimal valid file with extra lines for one host appended (line 6 on).
std::string withHost(const std::string& hostLines) {
  return "[pool]\nname = \"p\"\n\n[[host]]\nname = \"a\"\n" + hostLines;
}

class TempDir {
 public:
  TempDir() {
    char dir[] = "/tmp/ionet-pool-test-XXXXXX";
    EXPECT_NE(::mkdtemp(dir), nullptr);
    path_ = dir;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = path_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(PoolFile, ReadsEveryKey) {
  const PoolFile pool = parsePoolText(kLab, "pool.toml");
  EXPECT_EQ(pool.path, "pool.toml");
  EXPECT_EQ(pool.name, "lab");
  EXPECT_EQ(pool.credentialsDir, "/etc/ionet/creds");
  EXPECT_EQ(pool.pskFile, "");
  EXPECT_EQ(pool.agentPort, 7460);
  EXPECT_EQ(pool.relayPort, 7461);
  EXPECT_EQ(pool.heartbeatTimeout, 15s);
  EXPECT_TRUE(pool.sharedCheckpointDir);
  EXPECT_EQ(pool.directSites, (std::set<std::string>{"fra", "ams"}));
  ASSERT_EQ(pool.hosts.size(), 3u);

  const PoolFileHost& gpu1 = pool.hosts[0];
  EXPECT_EQ(gpu1.name, "gpu1");
  EXPECT_EQ(gpu1.address, "203.0.113.7");
  EXPECT_EQ(gpu1.port, 7460);  // the pool's agent_port
  EXPECT_EQ(gpu1.site, "fra");
  EXPECT_EQ(gpu1.slots, 8u);
  EXPECT_EQ(gpu1.gpus, 2u);
  EXPECT_TRUE(gpu1.relay);
  EXPECT_EQ(gpu1.via, "");
  EXPECT_EQ(gpu1.origin, "pool.toml:11");

  const PoolFileHost& gpu2 = pool.hosts[1];
  EXPECT_EQ(gpu2.port, 9000);
  EXPECT_FALSE(gpu2.slots.has_value());
  EXPECT_FALSE(gpu2.gpus.has_value());
  EXPECT_FALSE(gpu2.relay);
  EXPECT_EQ(gpu2.origin, "pool.toml:19");

  const PoolFileHost& nat = pool.hosts[2];
  EXPECT_EQ(nat.address, "");
  EXPECT_EQ(nat.via, "gpu1");
  EXPECT_EQ(nat.origin, "pool.toml:24");

  EXPECT_EQ(pool.find("gpu2"), &pool.hosts[1]);
  EXPECT_EQ(pool.find("gpu9"), nullptr);
}

TEST(PoolFile, Defaults) {
  const PoolFile pool = parsePoolText(withHost("address = \"10.0.0.1\"\n"), "p.toml");
  EXPECT_EQ(pool.agentPort, 7450);
  EXPECT_EQ(pool.relayPort, 7451);
  EXPECT_EQ(pool.heartbeatTimeout, 10s);
  EXPECT_FALSE(pool.sharedCheckpointDir);
  EXPECT_TRUE(pool.directSites.empty());
  EXPECT_EQ(pool.credentialsDir, "");
  ASSERT_EQ(pool.hosts.size(), 1u);
  EXPECT_EQ(pool.hosts[0].port, 7450);
  EXPECT_EQ(pool.hosts[0].site, "");
  EXPECT_FALSE(pool.hosts[0].relay);
}

// The pool agents' Prometheus listeners: the pool's, overridden per host; the agent parses them
// (poold/pool_metrics.h) and names the line kept here when one is bad.
TEST(PoolFile, MetricsListenOfThePoolAndOfAHost) {
  const PoolFile pool = parsePoolText(
      "[pool]\nname = \"p\"\nmetrics_listen = \"9450\"\n\n"
      "[[host]]\nname = \"a\"\naddress = \"h\"\nmetrics_listen = \"0.0.0.0:9451\"\n\n"
      "[[host]]\nname = \"b\"\naddress = \"h2\"\n",
      "pool.toml");
  EXPECT_EQ(pool.metricsListen, "9450");
  EXPECT_EQ(pool.metricsListenOrigin, "pool.toml:3");
  ASSERT_EQ(pool.hosts.size(), 2u);
  EXPECT_EQ(pool.hosts[0].metricsListen, "0.0.0.0:9451");
  EXPECT_EQ(pool.hosts[0].metricsListenOrigin, "pool.toml:8");
  EXPECT_EQ(pool.hosts[1].metricsListen, "");
  EXPECT_EQ(parsePoolText(withHost("address = \"h\"\n"), "p.toml").metricsListen, "");
}

TEST(PoolFile, WebListenOfThePoolsQueue) {
  const PoolFile pool = parsePoolText("[pool]\nname = \"p\"\nweb_listen = \"0.0.0.0:9400\"\n\n" +
                                          std::string("[[host]]\nname = \"a\"\naddress = \"h\"\n"),
                                      "pool.toml");
  EXPECT_EQ(pool.webListen, "0.0.0.0:9400");
  EXPECT_EQ(pool.webListenOrigin, "pool.toml:3");
  EXPECT_EQ(parsePoolText(withHost("address = \"h\"\n"), "p.toml").webListen, "");
}

TEST(PoolFile, Endpoints) {
  const PoolFile pool = parsePoolText(kLab, "pool.toml");
  EXPECT_EQ(agentEndpoint(pool, pool.hosts[0]), "203.0.113.7:7460");
  EXPECT_EQ(agentEndpoint(pool, pool.hosts[1]), "[2001:db8::2]:9000");
  EXPECT_EQ(agentEndpoint(pool, pool.hosts[2]), "203.0.113.7:7461/nat-box");  // the relay port
}

TEST(PoolFile, EndpointOfHandBuiltHostWithoutRelayRefused) {
  PoolFile pool;
  pool.hosts.push_back({"r", "", 7450, "", {}, {}, false, "", "x:1", "", ""});
  pool.hosts.push_back({"n", "", 7450, "", {}, {}, false, "r", "x:2", "", ""});
  const auto msg = usageError([&] { agentEndpoint(pool, pool.hosts[1]); });
  EXPECT_NE(msg.find("x:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a relay"), std::string::npos) << msg;
  EXPECT_NE(usageError([&] { agentEndpoint(pool, pool.hosts[0]); }).find("neither address"),
            std::string::npos);
}

TEST(PoolFile, RelativePathsAreRelativeToTheFile) {
  TempDir dir;
  const std::string path =
      dir.write("pool.toml",
                "[pool]\nname = \"p\"\npsk = \"keys/pool.psk\"\n[[host]]\nname = \"a\"\n"
                "address = \"a.example.org\"\n");
  const PoolFile pool = loadPoolFile(path);
  EXPECT_EQ(pool.pskFile, dir.path() + "/keys/pool.psk");
  EXPECT_EQ(pool.hosts[0].origin, path + ":4");
}

TEST(PoolFile, Durations) {
  EXPECT_EQ(parseDuration("500ms", "t"), 500ms);
  EXPECT_EQ(parseDuration("10s", "t"), 10s);
  EXPECT_EQ(parseDuration("2m", "t"), 2min);
  for (const char* bad : {"10", "10x", "s", "", "-1s", "1.5s", " 1s", "10 s", "10S"}) {
    const auto msg = usageError([&] { parseDuration(bad, "pool.heartbeat_timeout"); });
    EXPECT_NE(msg.find("not a duration"), std::string::npos) << bad << ": " << msg;
  }
  EXPECT_NE(usageError([] { parseDuration("0s", "t"); }).find("longer than 0"), std::string::npos);
  EXPECT_NE(usageError([] { parseDuration("99999999999999m", "t"); }).find("too long"),
            std::string::npos);
}

struct Refusal {
  std::string text;
  std::string where;  // "pool.toml:N:"
  std::string what;
};

TEST(PoolFile, EachErrorNamesFileLineAndWhatIsWrong) {
  const std::string top = "[pool]\nname = \"p\"\n";  // lines 1-2
  const std::vector<Refusal> cases = {
      {withHost("address = \"h\"\nslot = 4\n"),
       "pool.toml:7:", "unknown key 'slot' in [[host]] (did you mean 'slots'?)"},
      {withHost("address = \"h\"\ncolour = \"red\"\n"),
       "pool.toml:7:", "unknown key 'colour' in [[host]] (known: name, address, port"},
      {"[pool]\nname = \"p\"\nagentport = 1\n",
       "pool.toml:3:", "unknown key 'agentport' in [pool] (did you mean 'agent_port'?)"},
      {top + "[[hosts]]\nname = \"a\"\n",
       "pool.toml:3:", "unknown key 'hosts' at the top level (did you mean 'host'?)"},
      {withHost("address = \"h\"\n") + "[[host]]\nname = \"a\"\naddress = \"h2\"\n",
       "pool.toml:7:", "host 'a' is defined twice (first at pool.toml:4)"},
      {withHost("").replace(withHost("").find("\"a\""), 3, "\"gpu 1\""),
       "pool.toml:5:", "host name 'gpu 1' must be 1-63 of A-Z a-z 0-9 . _ -"},
      {withHost("").replace(withHost("").find("\"a\""), 3, "\"" + std::string(64, 'x') + "\""),
       "pool.toml:5:", "must be 1-63 of"},
      {withHost("site = \"fra\"\n"),
       "pool.toml:4:", "host 'a': needs an address, or via = \"RELAY\" when it is behind NAT"},
      {withHost("via = \"r\"\n"), "pool.toml:4:", "host 'a': via names unknown host 'r'"},
      {withHost("via = \"b\"\n") + "[[host]]\nname = \"b\"\naddress = \"h\"\n",
       "pool.toml:4:", "host 'a': via host 'b' is not a relay (set relay = true at pool.toml:7)"},
      {withHost("relay = true\nvia = \"b\"\n"),
       "pool.toml:7:", "host 'a': a relay host cannot itself be behind a relay (via)"},
      {withHost("relay = true\nsite = \"x\"\n"),
       "pool.toml:4:", "host 'a': a relay host needs an address that the others can reach"},
      {withHost("address = \"h\"\nvia = \"b\"\n"),
       "pool.toml:7:", "host 'a': give address or via, not both"},
      {withHost("address = \"h\"\nslots = 0\n"),
       "pool.toml:7:", "host 'a': slots must be 1..4294967295, got 0"},
      {withHost("address = \"h\"\nslots = \"4\"\n"),
       "pool.toml:7:", "host 'a': slots must be an integer, got string"},
      {withHost("address = \"h\"\nport = 70000\n"),
       "pool.toml:7:", "host 'a': port must be 1..65535, got 70000"},
      {withHost("address = \"h\"\nrelay = \"yes\"\n"),
       "pool.toml:7:", "host 'a': relay must be true or false"},
      {withHost("address = \"h\"\ngpus = -1\n"), "pool.toml:7:", "gpus must be 0..4294967295"},
      {withHost("address = 10\n"),
       "pool.toml:6:", "host 'a': address must be a string, got integer"},
      {withHost("address = \"\"\n"), "pool.toml:6:", "host 'a': address must not be empty"},
      {withHost("address = \"10.0.0.1:7450\"\n"),
       "pool.toml:6:", "address '10.0.0.1:7450' contains a port: give it as port = N"},
      {withHost("address = \"[::1]\"\n"), "pool.toml:6:", "must be a host name or IP address"},
      {"[pool]\nname = 7\n", "pool.toml:2:", "pool.name must be a string, got integer"},
      {"[pool]\nname = \"p\"\nheartbeat_timeout = \"10\"\n",
       "pool.toml:3:", "pool.heartbeat_timeout '10' is not a duration (e.g. 500ms, 10s, 2m)"},
      {"[pool]\nname = \"p\"\nheartbeat_timeout = 10\n",
       "pool.toml:3:", "pool.heartbeat_timeout must be a string, got integer"},
      {"[pool]\nname = \"p\"\nheartbeat_timeout = \"0ms\"\n", "pool.toml:3:", "longer than 0"},
      {"[pool]\nname = \"p\"\ncredentials = \"/c\"\npsk = \"/k\"\n",
       "pool.toml:4:", "give pool.credentials or pool.psk, not both"},
      {"[pool]\nname = \"p\"\nrelay_port = 0\n",
       "pool.toml:3:", "pool.relay_port must be 1..65535, got 0"},
      {"[pool]\nsite = \"x\"\n", "pool.toml:2:", "unknown key 'site' in [pool]"},
      {"[pool]\nname = \"p\"\nshared_checkpoint_dir = \"yes\"\n",
       "pool.toml:3:", "pool.shared_checkpoint_dir must be true or false"},
      {"[pool]\nname = \"p\"\ndirect_sites = \"fra\"\n",
       "pool.toml:3:", "pool.direct_sites must be a list of site names"},
      {"[pool]\nname = \"p\"\ndirect_sites = [\"fra\", 3]\n",
       "pool.toml:3:", "pool.direct_sites must be a list of site names"},
      {"[pool]\ncredentials = \"/c\"\n", "pool.toml:1:", "[pool] needs a name"},
      {"pool = 3\n", "pool.toml:1:", "'pool' must be a table ([pool]), got integer"},
      {"host = 3\n" + top, "pool.toml:1:", "'host' must be an array of tables ([[host]])"},
      {"host = [3]\n" + top, "pool.toml:1:", "each host must be a table ([[host]]), got integer"},
      {withHost("address = \"h\"\n") + "[[host]]\naddress = \"h2\"\n",
       "pool.toml:7:", "[[host]] needs a name"},
      {withHost("address = \"h\"\nmetrics_listen = 9450\n"),
       "pool.toml:7:", "host 'a': metrics_listen must be a string, got integer"},
      {"[pool]\nname = \"p\"\nmetrics_listen = \"\"\n",
       "pool.toml:3:", "pool.metrics_listen must not be empty"},
      {"[pool]\nname = \"p\"\nmetrics_port = \"9450\"\n",
       "pool.toml:3:", "unknown key 'metrics_port' in [pool]"},
  };
  for (const auto& c : cases) {
    const auto msg = poolError(c.text);
    EXPECT_EQ(msg.rfind(c.where, 0), 0u) << c.text << "\n=> " << msg;
    EXPECT_NE(msg.find(c.what), std::string::npos) << c.text << "\n=> " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;  // one line
  }
}

TEST(PoolFile, ErrorsWithoutALine) {
  EXPECT_EQ(poolError(""), "pool.toml: no [pool] table (it names the pool)");
  EXPECT_EQ(poolError("[pool]\nname = \"p\"\n"), "pool.toml: defines no hosts ([[host]])");
}

TEST(PoolFile, SyntaxErrorsNameLineAndColumn) {
  for (const char* text :
       {"[pool]\nname = \"p\"\nagent_port = \n", "[pool]\nname = \"p\"\nname = \"q\"\n",
        "[pool]\nname = \"p\"\n[pool\n"}) {
    const auto msg = poolError(text);
    EXPECT_TRUE(std::regex_search(msg, std::regex("^pool\\.toml:3:[0-9]+: \\S"))) << msg;
  }
}

TEST(PoolFile, MissingFile) {
  const auto msg = usageError([] { loadPoolFile("/nonexistent/ionet/pool.toml"); });
  EXPECT_NE(msg.find("/nonexistent/ionet/pool.toml: cannot open pool file"), std::string::npos)
      << msg;
}

TEST(PoolFile, HostfileIsAPoolOfDirectHosts) {
  TempDir dir;
  const std::string path = dir.write("hosts.txt", "# lab\nn1 slots=4\nn2.example.org\nn1\n");
  const PoolFile pool = loadPoolFile(path);
  EXPECT_EQ(pool.name, "");
  EXPECT_EQ(pool.path, path);
  EXPECT_EQ(pool.agentPort, 7450);
  ASSERT_EQ(pool.hosts.size(), 2u);
  EXPECT_EQ(pool.hosts[0].name, "n1");
  EXPECT_EQ(pool.hosts[0].address, "n1");
  EXPECT_EQ(pool.hosts[0].port, 7450);
  EXPECT_EQ(pool.hosts[0].slots, 5u);  // 4 + 1: duplicates add up, as in any hostfile
  EXPECT_EQ(pool.hosts[0].origin, path + ":2");
  EXPECT_EQ(pool.hosts[1].address, "n2.example.org");
  EXPECT_FALSE(pool.hosts[1].slots.has_value());  // the agent's cores
  EXPECT_EQ(agentEndpoint(pool, pool.hosts[1]), "n2.example.org:7450");
}

TEST(PoolFile, HostfileErrorsKeepTheirLine) {
  TempDir dir;
  const std::string bad = dir.write("bad.txt", "a\nb slots=0\n");
  EXPECT_NE(usageError([&] { loadPoolFile(bad); }).find(bad + ":2:"), std::string::npos);
  const std::string odd = dir.write("odd.hosts", "a\nb:c\n");
  const auto msg = usageError([&] { loadPoolFile(odd); });
  EXPECT_NE(msg.find(odd + ":2: host name 'b:c'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace ionet::launcher
