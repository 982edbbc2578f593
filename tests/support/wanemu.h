// WanEmulator: a WAN of network-namespace hosts for integration tests, set up by the
// tests/wanemu/wanemu script on construction and removed on destruction (RAII), so a failing
// test leaves no namespace behind. Hosts are numbered 1..N as in the script (h1..hN).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "command.h"

namespace ionet::test {

struct WanOptions {
  int hosts = 2;
  double delayMs = 0;  // one-way per pass through the router: RTT = 2 * delayMs
  double jitterMs = 0;
  std::string rate{};                    // tc syntax, "100mbit", "1gbit"; empty: unlimited
  double lossPercent = 0;                // per packet, per direction
  std::string lossMode{};                // "delayline" (default) or "nft"
  std::string queueBytes{};              // delay line budget, "32M" by default
  std::vector<int> natHosts{};           // behind their own NAT, all with the same private address
  std::vector<std::string> extraArgs{};  // more `wanemu up` options, e.g. --pair-delay h1,h3=40
};

// What `wanemu shape` changes; unset fields stay as they are.
struct WanShape {
  std::optional<double> delayMs{}, jitterMs{}, lossPercent{};
  std::optional<std::string> rate{};  // "none" removes the limit
  std::optional<std::string> lossMode{};
};

class WanEmulator {
 public:
  // Runs `wanemu up`; throws ionet::Error with the script's message when it fails.
  explicit WanEmulator(const WanOptions& options = {});
  ~WanEmulator();  // `wanemu down`
  WanEmulator(const WanEmulator&) = delete;
  WanEmulator& operator=(const WanEmulator&) = delete;

  // Empty when tests can run here; else why not (not root, no TUN, no script or delay line).
  static std::string unavailableReason();
  static std::string scriptPath();
  static std::string delayLinePath();

  const std::string& name() const { return name_; }
  int hosts() const { return hosts_; }
  std::string netns(int host) const;  // "NAME-hI"

  void shape(const WanShape& shape);
  void partition(int a, int b);
  void isolate(int host);
  void heal();  // every partition and isolation
  void heal(int a, int b);
  // Force-resets host's TCP connections (optionally only those matching an ss filter such as
  // "dport = :7000"); returns how many.
  int reset(int host, const std::string& ssFilter = "");
  std::string readdress(int host);      // returns the new address
  std::string address(int host);        // the host's own address (a NAT'd host: the private one)
  std::string publicAddress(int host);  // what other hosts see
  // {"ip", "netns", "exec", "NAME-hI"}: prepend to run a real command in a host.
  std::vector<std::string> execPrefix(int host) const;
  // Runs fn on a thread that has joined host's network namespace: sockets it creates live
  // there and can then be used from any thread.
  void inHost(int host, const std::function<void()>& fn) const;
  // Runs `wanemu ARGS...` (NAME is not added); throws on failure, returns stdout.
  std::string wanemu(std::vector<std::string> args) const;

  // Runs `wanemu down` now (the destructor then does nothing).
  void down();

 private:
  std::string name_;
  int hosts_;
  bool up_ = false;
};

}  // namespace ionet::test
