// What the queue's web view knows of a pool's hosts: a session to every host's pool agent, held
// open and redialled when it ends, the way ionet-run reaches them (directly, or through the
// pool's relay for a host behind NAT; never HTTP to the host). A host is up while its agent's
// session has a live link and it has registered; its registration says what it offers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hosts/pool_file.h"

namespace ionet::observe {

struct WatchedGpu {
  unsigned index = 0;
  std::string model;
  std::uint64_t memoryBytes = 0;
  bool checked = false;
  std::string healthFailure;  // "" : passed (or unchecked)
  double tflops = 0;
};

struct WatchedHost {
  std::string name, site;
  bool relayed = false;  // behind NAT, reached through `via`
  bool up = false;
  std::string why;   // when down: the last error ("" while it was never reached)
  double since = 0;  // Unix seconds of the last change of `up`
  double rttMs = 0;  // the watch session's round trip
  unsigned cores = 0;
  std::uint64_t memoryBytes = 0;
  std::vector<WatchedGpu> gpus;
  std::string gpuError;
};

class PoolWatch {
 public:
  // Starts a thread with its own event loop; throws UsageError when the pool file names no
  // credentials for the launcher.
  explicit PoolWatch(launcher::PoolFile pool);
  ~PoolWatch();
  PoolWatch(const PoolWatch&) = delete;
  PoolWatch& operator=(const PoolWatch&) = delete;

  // The hosts in pool-file order, as of the last check (every half second).
  std::vector<WatchedHost> hosts() const;
  const std::string& poolName() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ionet::observe
