// An agent's place in the job's control tree (LaunchJob.tree_fanout, control_tree.h): the
// channel its parent opened to it, the channels it opens to its children over the data path's
// sessions, the launch passed down, fence contributions aggregated up and releases passed
// down. With the star none of this is active and the agent talks to the launcher alone.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/control_tree.h"
#include "common/fence_table.h"
#include "control.pb.h"
#include "ionet/bridge/forwarder.h"
#include "ionet/wan/session.h"

namespace ionet::launcher {

class AgentTree {
 public:
  struct Hooks {
    std::function<void(const control::LaunchJob&)> launch;      // arrived from the parent
    std::function<void(const control::Envelope&)> toLauncher;   // the agent's own channel
    std::function<void(const control::FenceRelease&)> release;  // for this host's ranks
    std::function<void()> childrenDone;                         // each child's subtree ended
    std::function<void(const std::string& host, const std::string& why)> linkLost;
  };

  AgentTree(std::string hostName, std::string token, Hooks hooks);

  // A control channel another agent opened to us: our parent, once its TreeJoin checks out.
  void adoptChannel(std::shared_ptr<wan::SessionChannel> channel);
  // The job is launched here: opens the channels to our children and passes the launch on.
  void start(const control::LaunchJob& job, bridge::Forwarder& forwarder);
  bool active() const { return shape_.has_value(); }

  // Our ranks' part of a fence; a release from the launcher or our parent.
  void contribute(const control::FenceContribution& fence);
  void release(const control::FenceRelease& release);

  bool childrenDone() const;
  // Our subtree is done: tell the parent; later channel ends are no loss.
  void finish(bool tellParent);

 private:
  struct Child {
    std::size_t host;
    std::shared_ptr<wan::Channel> channel;
    bool done = false;
  };

  void onParentMessage(const std::string& bytes);
  void onChildMessage(Child& child, const std::string& bytes);
  void contributeAs(std::size_t member, const control::FenceContribution& fence);
  void sendUp(const control::Envelope& e);
  void lost(const std::string& host, const std::string& why);
  std::string nameOf(std::size_t host) const;

  std::string hostName_, token_;
  Hooks hooks_;
  control::LaunchJob job_;
  std::size_t self_ = 0;
  std::optional<TreeShape> shape_;
  std::optional<FenceTable> fences_;
  std::shared_ptr<wan::Channel> parent_;
  std::optional<std::uint32_t> parentHost_;  // from its TreeJoin
  std::vector<std::unique_ptr<Child>> children_;
  bool finished_ = false;
};

}  // namespace ionet::launcher
