// A host's checkpoint store for jobs without a shared filesystem (ionet-run
// --checkpoint-storage partner; SCR's Partner scheme). The host's ranks write into
// DIR/host-<name>/; this agent copies each set committed there to its partner host (the next
// host of the job, i+1 mod n) over a
// "ckpt" channel of the data path's session, keeps the sets its own partners send in
// DIR/host-<name>/partner-<host>/, tells the launcher what it holds, and before a restart
// fetches the files of its ranks that it does not hold from a host that does.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <string>

#include "control.pb.h"
#include "ionet/bridge/forwarder.h"
#include "ionet/wan/session.h"

namespace ionet::launcher {

class CheckpointStore {
 public:
  using Report = std::function<void(const control::CheckpointHoldings&)>;
  CheckpointStore(asio::io_context& io, bridge::Forwarder& forwarder, std::string hostName,
                  std::string token, Report report);
  ~CheckpointStore();

  // A "ckpt" channel another agent of the job opened: a replica arriving, or a fetch.
  void adoptChannel(std::shared_ptr<wan::SessionChannel> channel);

  // The job is launched here with this plan: makes the host's directory and fetches what the
  // plan says this host needs; done gets "" when the ranks can start, else why not.
  void stage(const control::LaunchJob& job, std::function<void(const std::string&)> done);

  // The ranks run: copy each set they commit to the partner, report holdings as they change.
  void watch();

  // DIR/host-<name>: the ranks' IONET_CHECKPOINT_DIR.
  std::string hostDir() const;

  void stop();

  // What a host's directory holds (own sets and partners'), by step, for the launcher.
  static control::CheckpointHoldings scan(const std::string& hostDir);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ionet::launcher
