#include "agent/agent_tree.h"

#include "common/control.h"
#include "ionet/log.h"

namespace ionet::launcher {

AgentTree::AgentTree(std::string hostName, std::string token, Hooks hooks)
    : hostName_(std::move(hostName)), token_(std::move(token)), hooks_(std::move(hooks)) {}

std::string AgentTree::nameOf(std::size_t host) const {
  return host < static_cast<std::size_t>(job_.hosts_size()) ? job_.hosts(host).host_name()
                                                            : "#" + std::to_string(host);
}

void AgentTree::adoptChannel(std::shared_ptr<wan::SessionChannel> channel) {
  if (parent_ || finished_) {
    log::warn("host ", hostName_, ": refusing a second control-tree channel from ",
              channel->peer());
    return channel->close();
  }
  parent_ = channel;
  std::weak_ptr<wan::Channel> weak = channel;
  channel->start({[this](std::string m) { onParentMessage(m); },
                  [this, weak](const std::string& why) {
                    if (!parentHost_) {  // never joined: not our parent, nothing lost
                      if (parent_ == weak.lock()) parent_.reset();
                      return;
                    }
                    lost(nameOf(*parentHost_), why);
                  }});
}

void AgentTree::onParentMessage(const std::string& bytes) {
  control::Envelope e;
  if (!parseEnvelope(bytes, &e)) {
    log::warn("host ", hostName_, ": malformed control-tree message from ", parent_->peer(),
              "; ignoring it");
    return;
  }
  if (!parentHost_) {
    if (!e.has_tree_join() || e.tree_join().token() != token_) {
      log::warn("host ", hostName_, ": control-tree channel from ", parent_->peer(),
                " without this job's token; closing it");
      auto channel = std::move(parent_);
      return channel->close();
    }
    parentHost_ = e.tree_join().from_host();
    return;
  }
  switch (e.body_case()) {
    case control::Envelope::kLaunch:
      return hooks_.launch(e.launch());
    case control::Envelope::kFenceRelease:
      return release(e.fence_release());
    default:
      log::warn("host ", hostName_, ": unexpected control-tree message ", e.body_case(),
                " from host ", nameOf(*parentHost_), "; ignoring it");
  }
}

void AgentTree::start(const control::LaunchJob& job, bridge::Forwarder& forwarder) {
  job_ = job;
  self_ = job.host_index();
  shape_.emplace(job.hosts_size(), job.tree_fanout());
  if (parentHost_ && shape_->parent(self_) != *parentHost_) {
    log::warn("host ", hostName_, ": host ", nameOf(*parentHost_),
              " launched us but is not our parent in the control tree");
  }
  std::vector<std::vector<std::uint32_t>> ranks;
  for (const auto& h : job.hosts()) ranks.emplace_back(h.ranks().begin(), h.ranks().end());
  std::vector<HostRange> members = {{self_, self_ + 1}};
  for (auto c : shape_->children(self_)) members.push_back(shape_->subtree(c));
  fences_.emplace(ranks, std::move(members));

  for (auto c : shape_->children(self_)) {
    children_.push_back(std::make_unique<Child>(Child{c, nullptr}));
    Child* child = children_.back().get();
    forwarder.openChannel(
        c, kTreeChannel,
        [this, child](std::shared_ptr<wan::SessionChannel> channel, const std::string& error) {
          if (!channel) return lost(nameOf(child->host), error);
          child->channel = channel;
          channel->start({[this, child](std::string m) { onChildMessage(*child, m); },
                          [this, child](const std::string& why) {
                            if (!child->done) lost(nameOf(child->host), why);
                          }});
          control::Envelope join;
          join.mutable_tree_join()->set_token(token_);
          join.mutable_tree_join()->set_from_host(static_cast<std::uint32_t>(self_));
          sendEnvelope(*channel, join);
          control::Envelope launch;
          *launch.mutable_launch() = job_;
          launch.mutable_launch()->set_host_index(static_cast<std::uint32_t>(child->host));
          sendEnvelope(*channel, launch);
          log::debug("host ", hostName_, ": control tree: launch passed to host ",
                     nameOf(child->host));
        });
  }
}

void AgentTree::onChildMessage(Child& child, const std::string& bytes) {
  control::Envelope e;
  if (!parseEnvelope(bytes, &e)) {
    log::warn("host ", hostName_, ": malformed control-tree message from host ", nameOf(child.host),
              "; ignoring it");
    return;
  }
  switch (e.body_case()) {
    case control::Envelope::kFence:
      return contributeAs(child.host, e.fence());
    case control::Envelope::kJobDone:
      child.done = true;
      if (childrenDone()) hooks_.childrenDone();
      return;
    default:
      log::warn("host ", hostName_, ": unexpected control-tree message ", e.body_case(),
                " from host ", nameOf(child.host), "; ignoring it");
  }
}

void AgentTree::contribute(const control::FenceContribution& fence) { contributeAs(self_, fence); }

// Our subtree's contribution goes up once every member below us that takes part has given its.
void AgentTree::contributeAs(std::size_t member, const control::FenceContribution& fence) {
  std::optional<FenceTable::Release> complete;
  try {
    complete = fences_->contribute(member, fence.signature(), fence.fence_id(), fence.data());
  } catch (const std::exception& ex) {
    log::warn("host ", hostName_, ": bad fence contribution from host ", nameOf(member), ": ",
              ex.what());
    return;
  }
  if (!complete) return;
  control::Envelope up;
  auto* f = up.mutable_fence();
  f->set_fence_id(fence.fence_id());
  f->set_signature(fence.signature());
  f->set_data(std::move(complete->data));
  sendUp(up);
}

void AgentTree::release(const control::FenceRelease& r) {
  std::vector<std::size_t> members;
  try {
    members = fences_->members(r.signature());
  } catch (const std::exception& ex) {
    log::warn("host ", hostName_, ": release of a bad fence: ", ex.what());
    return;
  }
  control::Envelope down;
  *down.mutable_fence_release() = r;
  for (auto m : members) {
    if (m == self_) continue;
    for (auto& c : children_) {
      if (c->host == m && c->channel) sendEnvelope(*c->channel, down);
    }
  }
  if (!members.empty() && members.front() == self_) hooks_.release(r);
}

void AgentTree::sendUp(const control::Envelope& e) {
  if (shape_->parent(self_) == TreeShape::kLauncher) return hooks_.toLauncher(e);
  if (parent_) sendEnvelope(*parent_, e);
}

bool AgentTree::childrenDone() const {
  for (const auto& c : children_) {
    if (!c->done) return false;
  }
  return true;
}

void AgentTree::finish(bool tellParent) {
  if (finished_) return;
  finished_ = true;
  if (tellParent && parent_ && parentHost_) {
    control::Envelope done;
    done.mutable_job_done();
    sendEnvelope(*parent_, done);
  }
}

void AgentTree::lost(const std::string& host, const std::string& why) {
  if (finished_) return;
  hooks_.linkLost(host, why);
}

}  // namespace ionet::launcher
