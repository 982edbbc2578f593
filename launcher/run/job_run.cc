// The launcher's side of the control protocol (control.proto), for one job.
#include "run/job_run.h"

#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <asio.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "common/agent_process.h"
#include "common/control.h"
#include "common/control_tree.h"
#include "common/fence_table.h"
#include "common/process_status.h"
#include "common/rank_env.h"
#include "ionet/bridge/forwarder.h"
#include "ionet/error.h"
#include "ionet/log.h"
#include "ionet/wan/credentials.h"
#include "ionet/wan/session.h"
#include "run/checkpoint_messages.h"
#include "run/job_hosts.h"
#include "run/job_observer.h"
#include "run/launch_message.h"
#include "run/local_launcher.h"
#include "run/output.h"
#include "run/stdin_reader.h"

namespace ionet::launcher {
namespace {

std::string currentDirectory() {
  std::error_code ec;
  auto p = std::filesystem::current_path(ec);
  return ec ? std::string("/") : p.string();
}

using Cause = JobOutcome::Cause;

class JobRun {
 public:
  JobRun(const JobSpec& spec, const Placement& placement, const RunSettings& settings,
         AgentLauncher& agents, asio::io_context& io, JobObserver& observer)
      : spec_(spec),
        placement_(placement),
        settings_(settings),
        io_(io),
        output_({spec.tagOutput, spec.timestampOutput, spec.mergeStderrToStdout, spec.outputDir}),
        agents_(agents),
        observer_(observer),
        signals_(io_, SIGINT, SIGTERM, SIGCHLD),
        connectTimer_(io_),
        jobTimer_(io_),
        watchdog_(io_),
        statusTimer_(io_),
        tree_(placement.hosts.size(), usesDataPath() ? settings.treeFanout : 0),
        fences_(ranksByHost(), launcherMembers()) {
    signals_.add(SIGHUP);
    // Forwarded to the ranks and nothing else, as mpirun does (a batch job's --signal).
    signals_.add(SIGUSR1);
    signals_.add(SIGUSR2);
    jobId_ = randomHex(6);
    token_ = randomHex(16);
    hosts_.resize(placement.hosts.size());
  }

  JobOutcome run() {
    listener_ = wan::SessionServer::listen(io_, agents_.listenAddress(), 0,
                                           agents_.serverSecurity(), agents_.sessionOptions());
    listener_->onSession([this](std::shared_ptr<wan::Session> s) {
      if (stopped_) return s->close("job over", std::chrono::milliseconds(0));
      sessions_.push_back(s);
      onConnection(s);
    });
    std::vector<std::string> names;
    for (const auto& h : placement_.hosts) names.push_back(h.name);
    agents_.start(names, jobId_,
                  agents_.advertisedAddress() + ":" + std::to_string(listener_->port()), token_,
                  [this](std::size_t host, const std::string& how, bool failed) {
                    onAgentExit(host, how, failed);
                  });
    waitSignals();
    connectTimer_.expires_after(std::chrono::milliseconds(settings_.connectTimeoutMs));
    connectTimer_.async_wait([this](asio::error_code ec) {
      if (ec) return;
      for (std::size_t h = 0; h < hosts_.size(); ++h) {
        if (!hosts_[h].channel) {
          return fail(1,
                      "agent for host " + placement_.hosts[h].name + " did not connect within " +
                          std::to_string(settings_.connectTimeoutMs / 1000) + " s",
                      Cause::kHostLost, placement_.hosts[h].name);
        }
      }
    });
    if (spec_.timeoutSeconds > 0) {
      jobTimer_.expires_after(std::chrono::seconds(spec_.timeoutSeconds));
      jobTimer_.async_wait([this](asio::error_code ec) {
        if (ec) return;
        fail(
            124,
            "job exceeded --timeout " + std::to_string(spec_.timeoutSeconds) + " s; terminating it",
            Cause::kTimeout);
      });
    }
    if (spec_.statusIntervalSeconds > 0) scheduleStatus();
    JobObserver::RunWatch watch(observer_, io_, jobId_,
                                [this] { return runView(hosts_, launched_); });
    io_.run();
    removeAgentLeftovers();
    JobOutcome outcome = failure_.value_or(JobOutcome());
    if (failure_) {
      // Ranks ending because the user signalled the job are no failure to restart from.
      if (userSignals_ > 0) outcome.cause = Cause::kInterrupted;
      log::error(outcome.message);
    }
    outcome.holdings = holdings_;
    return outcome;
  }

 private:
  bool usesDataPath() const { return settings_.dataPath && placement_.hosts.size() > 1; }

  std::vector<std::vector<std::uint32_t>> ranksByHost() const {
    std::vector<std::vector<std::uint32_t>> out;
    for (const auto& h : placement_.hosts) out.push_back(h.ranks);
    return out;
  }

  // The launcher's own children in the control tree: every host with the star.
  std::vector<HostRange> launcherMembers() const {
    std::vector<HostRange> members;
    for (auto c : tree_.children(TreeShape::kLauncher)) members.push_back(tree_.subtree(c));
    return members;
  }

  std::size_t hostIndexOfRank(std::uint32_t rank) const {
    for (std::size_t h = 0; h < placement_.hosts.size(); ++h) {
      const auto& r = placement_.hosts[h].ranks;
      if (std::find(r.begin(), r.end(), rank) != r.end()) return h;
    }
    return SIZE_MAX;
  }

  void send(std::size_t host, const control::Envelope& e) {
    auto& h = hosts_[host];
    if (h.channel && !h.done) sendEnvelope(*h.channel, e);
  }

  void broadcast(const control::Envelope& e) {
    for (std::size_t h = 0; h < hosts_.size(); ++h) send(h, e);
  }

  // --- connection and hello -------------------------------------------------------------
  // A connection is anonymous until its hello names a host of the job (and shows the token).
  void onConnection(const std::shared_ptr<wan::Session>& session) {
    std::shared_ptr<wan::Channel> channel = session->control();
    auto host = std::make_shared<std::size_t>(SIZE_MAX);
    std::weak_ptr<wan::Channel> weak = channel;
    std::weak_ptr<wan::Session> weakSession = session;
    channel->start({[this, host, weak, weakSession](std::string m) {
                      if (*host != SIZE_MAX) return onMessage(*host, m);
                      auto c = weak.lock();
                      if (!c) return;
                      *host = onHello(c, m);
                      if (*host != SIZE_MAX) hosts_[*host].session = weakSession;
                    },
                    [this, host, weak](const std::string& why) {
                      if (*host != SIZE_MAX) return onClosed(*host, why);
                      if (auto c = weak.lock()) {
                        log::debug("connection from ", c->peer(), " closed before hello: ", why);
                      }
                    }});
    pending_.push_back(std::move(channel));
  }

  // Returns the host index, or SIZE_MAX after rejecting the connection.
  std::size_t onHello(const std::shared_ptr<wan::Channel>& channel, const std::string& bytes) {
    control::Envelope e;
    auto reject = [&](const std::string& why) {
      log::warn("rejecting connection from ", channel->peer(), ": ", why);
      channel->close();
      return SIZE_MAX;
    };
    if (!parseEnvelope(bytes, &e) || !e.has_hello()) return reject("first message is not a hello");
    const auto& hello = e.hello();
    if (hello.token() != token_) return reject("wrong token");
    if (hello.protocol_version() != kProtocolVersion) {
      return reject("protocol version " + std::to_string(hello.protocol_version()) + ", expected " +
                    std::to_string(kProtocolVersion));
    }
    std::size_t index = SIZE_MAX;
    for (std::size_t h = 0; h < placement_.hosts.size(); ++h) {
      if (placement_.hosts[h].name == hello.host_name() && !hosts_[h].channel) index = h;
    }
    if (index == SIZE_MAX) return reject("unexpected host '" + hello.host_name() + "'");
    hosts_[index].channel = channel;
    hosts_[index].hello = hello;
    if (++connected_ == hosts_.size()) {
      connectTimer_.cancel();
      if (!tearingDown_) launch();
    }
    return index;
  }

  void launch() {
    LaunchInputs in;
    in.jobId = jobId_;
    in.transportKey = randomHex(8) + "-" + randomHex(8);
    in.workDir = spec_.workDir.empty() ? currentDirectory() : spec_.workDir;
    in.dataPath = usesDataPath();
    in.meetOnLoopback = hosts_.size() > 1 && !usesDataPath() && agents_.agentsAreLocal();
    in.killGraceMs = settings_.killGraceMs;
    in.treeFanout = tree_.isStar() ? 0 : settings_.treeFanout;
    in.statsIntervalMs = observer_.enabled() ? 1000 : 0;
    for (std::size_t h = 0; h < hosts_.size(); ++h) {
      const auto& hello = hosts_[h].hello;
      LaunchHost host{hello.address(), hello.free_port(), {}, {}, {}};
      if (usesDataPath()) {
        host.dataEndpoint = agents_.dataEndpoint(h, hello.data_port(), jobId_);
        const auto direct = agents_.directRoute(h);
        host.directSite = direct.site;
        host.directAddress = direct.ipv4;
      }
      in.hosts.push_back(std::move(host));
      if (auto session = hosts_[h].session.lock()) {
        in.linkRtt = std::max(in.linkRtt, session->stats().rtt);
      }
    }
    control::LaunchJob job = buildLaunchJob(spec_, placement_, in);
    if (!tree_.isStar()) {
      log::debug("control tree: ", hosts_.size(), " hosts, fanout ", settings_.treeFanout,
                 ", depth ", tree_.depth());
    }
    // With the tree, the launcher's children pass the launch on to theirs.
    for (std::size_t h : tree_.children(TreeShape::kLauncher)) {
      job.set_host_index(static_cast<std::uint32_t>(h));
      control::Envelope e;
      *e.mutable_launch() = job;
      send(h, e);
    }
    launched_ = true;
    startStdin();
  }

  // --- messages from agents ---------------------------------------------------------------
  void onMessage(std::size_t host, const std::string& bytes) {
    control::Envelope e;
    const std::string& name = placement_.hosts[host].name;
    if (!parseEnvelope(bytes, &e)) {
      log::warn("malformed control message from host ", name, "; ignoring it");
      return;
    }
    try {
      dispatch(host, e);
    } catch (const std::exception& ex) {
      log::warn("bad control message from host ", name, ": ", ex.what());
    }
  }

  void dispatch(std::size_t host, const control::Envelope& e) {
    const std::string& name = placement_.hosts[host].name;
    switch (e.body_case()) {
      case control::Envelope::kOutput:
        return output_.write(
            e.output().rank(),
            e.output().stream() == control::STDERR ? StreamId::kStderr : StreamId::kStdout,
            e.output().data());
      case control::Envelope::kStarted:
        return;
      case control::Envelope::kHostStats:
        hosts_[host].stats = e.host_stats();
        return;
      case control::Envelope::kRankExit:
        return onRankExit(host, e.rank_exit());
      case control::Envelope::kLaunchFailed:
        return fail(1, "cannot start the job on host " + name + ": " + e.launch_failed().message(),
                    Cause::kLaunchFailed, name);
      case control::Envelope::kFence:
        return onFence(host, e.fence());
      case control::Envelope::kDmodexRequest: {
        auto target = hostIndexOfRank(e.dmodex_request().rank());
        IONET_ENFORCE(target != SIZE_MAX, "direct modex for unknown rank ",
                      e.dmodex_request().rank());
        control::Envelope relay = e;
        relay.mutable_dmodex_request()->set_requester_host(static_cast<std::uint32_t>(host));
        return send(target, relay);
      }
      case control::Envelope::kDmodexResponse: {
        auto requester = e.dmodex_response().requester_host();
        IONET_ENFORCE(requester < hosts_.size(), "direct modex answer for unknown host");
        return send(requester, e);
      }
      case control::Envelope::kAbort: {
        const auto& a = e.abort();
        return fail(a.status(),
                    "rank " + std::to_string(a.rank()) + " on host " + name +
                        " called MPI_Abort with status " + std::to_string(a.status()) +
                        (a.message().empty() ? "" : ": " + a.message()),
                    Cause::kAborted, name, a.rank());
      }
      case control::Envelope::kJobDone:
        hosts_[host].done = true;
        return maybeStop();
      case control::Envelope::kCheckpointHoldings:
        holdings_[name] = heldSets(e.checkpoint_holdings());
        return;
      case control::Envelope::kTreeLinkLost:
        return fail(1,
                    "host " + name + " lost its control-tree link to host " +
                        e.tree_link_lost().peer_host() + " (" + e.tree_link_lost().reason() + ")",
                    Cause::kHostLost, e.tree_link_lost().peer_host());
      default:
        log::warn("unexpected control message ", e.body_case(), " from host ", name);
    }
  }

  void onRankExit(std::size_t host, const control::RankExit& x) {
    const std::string where =
        "rank " + std::to_string(x.rank()) + " on host " + placement_.hosts[host].name;
    if (x.signal() != 0) {
      fail(128 + x.signal(), where + " " + describeWaitStatus(0, x.signal()), Cause::kRankFailed,
           placement_.hosts[host].name, x.rank());
    } else if (x.exit_code() != 0) {
      fail(x.exit_code(), where + " " + describeWaitStatus(x.exit_code(), 0), Cause::kRankFailed,
           placement_.hosts[host].name, x.rank());
    } else if (x.connected() && !x.finalized()) {
      fail(1, where + " exited without calling MPI_Finalize", Cause::kRankFailed,
           placement_.hosts[host].name, x.rank());
    }
  }

  void onFence(std::size_t host, const control::FenceContribution& f) {
    auto release = fences_.contribute(host, f.signature(), f.fence_id(), f.data());
    if (!release) return observer_.fenceIn(f.signature(), f.fence_id());
    control::Envelope e;
    auto* r = e.mutable_fence_release();
    r->set_fence_id(f.fence_id());
    r->set_signature(f.signature());
    r->set_data(std::move(release->data));
    r->set_status(0);
    for (auto h : release->hosts) send(h, e);
    observer_.fenceReleased(f.signature(), f.fence_id());
  }

  void onClosed(std::size_t host, const std::string& why) {
    auto& h = hosts_[host];
    if (h.done) return;
    h.done = true;
    h.lost = true;
    // A local agent whose channel dropped is usually dying: name how it died if it does.
    if (auto how = agents_.awaitExit(host, 200)) {
      h.exited = true;
      fail(1, "the agent of host " + placement_.hosts[host].name + " died (" + *how + ")",
           Cause::kHostLost, placement_.hosts[host].name);
    } else {
      fail(1, "lost the agent of host " + placement_.hosts[host].name + " (" + why + ")",
           Cause::kHostLost, placement_.hosts[host].name);
    }
    maybeStop();
  }

  // --- ending ---------------------------------------------------------------------------
  // The first failure decides the exit status and message; later ones are consequences.
  // One exception: a host lost while a rank failure tears the job down is that failure's cause
  // (ranks on other hosts see their peers' connections break before the launcher hears of the
  // host, e.g. when srun reports a task's end only after its children are reaped): the restart
  // must leave that host out. Not after a user's signal, which ends every agent and rank.
  void fail(int status, const std::string& message, Cause cause, const std::string& host = "",
            std::int64_t rank = -1) {
    if (!failure_) {
      failure_ = JobOutcome{status, message, cause, host, rank, {}};
    } else if (cause == Cause::kHostLost && userSignals_ == 0 && !host.empty() &&
               !failure_->host.empty() && failure_->host != host &&
               (failure_->cause == Cause::kRankFailed || failure_->cause == Cause::kAborted)) {
      log::warn(failure_->message, " followed from: ", message);
      failure_ = JobOutcome{status, message, cause, host, rank, {}};
    }
    teardown(false);
  }

  void teardown(bool immediately) {
    if (tearingDown_ && !immediately) return;
    tearingDown_ = true;
    jobTimer_.cancel();
    for (std::size_t h = 0; h < hosts_.size(); ++h) {
      if (hosts_[h].channel || hosts_[h].done) continue;
      hosts_[h].done = true;  // never connected: nothing to tell it, just stop it
      if (!hosts_[h].exited) agents_.signal(h, SIGTERM);
    }
    control::Envelope e;
    e.mutable_kill()->set_immediately(immediately);
    broadcast(e);
    // Agents that do not finish in time are killed; their ranks die with them (PDEATHSIG).
    watchdog_.expires_after(std::chrono::milliseconds(settings_.killGraceMs + 5000));
    watchdog_.async_wait([this](asio::error_code ec) {
      if (ec) return;
      log::warn("agents did not finish in time; killing them");
      agents_.signalAll(SIGKILL);
    });
    maybeStop();
  }

  void waitSignals() {
    signals_.async_wait([this](asio::error_code ec, int signum) {
      if (ec) return;
      if (signum == SIGCHLD) {
        agents_.poll();
        maybeStop();
      } else {
        onUserSignal(signum);
      }
      if (!stopped_) waitSignals();
    });
  }

  void onUserSignal(int signum) {
    if (signum == SIGUSR1 || signum == SIGUSR2) {
      if (!launched_) return;  // no ranks yet to give it to
      control::Envelope e;
      e.mutable_signal()->set_signum(signum);
      return broadcast(e);
    }
    ++userSignals_;
    if (!launched_ || userSignals_ > 1) {
      if (!failure_) {
        failure_ = JobOutcome{128 + signum,
                              "killed by signal " + std::to_string(signum),
                              Cause::kInterrupted,
                              "",
                              -1,
                              {}};
      }
      return teardown(true);
    }
    if (!spec_.quiet) {
      log::warn("forwarding signal ", signum, " to all ranks",
                signum == SIGINT ? " (press ^C again to kill the job)" : "");
    }
    control::Envelope e;
    e.mutable_signal()->set_signum(signum);
    broadcast(e);
  }

  void onAgentExit(std::size_t host, const std::string& how, bool failed) {
    auto& h = hosts_[host];
    h.exited = true;
    if (!h.done) {
      h.done = true;
      h.lost = true;
      fail(1, "the agent of host " + placement_.hosts[host].name + " died (" + how + ")",
           Cause::kHostLost, placement_.hosts[host].name);
    } else if (failed) {
      log::debug("the agent of host ", placement_.hosts[host].name, " ended: ", how);
    }
    maybeStop();
  }

  void maybeStop() {
    if (stopped_) return;
    for (const auto& h : hosts_) {
      if (!h.done) return;
    }
    if (!agents_.allExited()) return;  // SIGCHLD brings us back
    stopped_ = true;
    connectTimer_.cancel();
    jobTimer_.cancel();
    watchdog_.cancel();
    statusTimer_.cancel();
    signals_.cancel();
    listener_->close();
    // close() may end a session at once and run its handlers: iterate what we own, not the
    // member they might reach.
    const auto sessions = std::move(sessions_);
    sessions_.clear();
    for (const auto& s : sessions) s->close("job over", std::chrono::milliseconds(0));
    io_.stop();
  }

  // --- status (--status-interval) ----------------------------------------------------------
  void scheduleStatus() {
    statusTimer_.expires_after(
        std::chrono::milliseconds(static_cast<long>(spec_.statusIntervalSeconds * 1000)));
    statusTimer_.async_wait([this](asio::error_code ec) {
      if (ec || stopped_) return;
      printStatus();
      scheduleStatus();
    });
  }

  void printStatus() {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - startedAt_).count();
    for (const auto& line : formatStatus(jobStatus(placement_, hosts_, fences_, elapsed))) {
      std::fprintf(stderr, "ionet-run: %s\n", line.c_str());
    }
    std::fflush(stderr);
  }

  // An agent killed with -9 cannot clean up: its private directories are removed for it.
  void removeAgentLeftovers() {
    for (std::size_t h = 0; h < hosts_.size(); ++h) {
      const auto& hello = hosts_[h].hello;
      if (hello.tmp_dir().empty() && hello.shm_dir().empty()) continue;
      agents_.removeLeftovers(h, hosts_[h].lost, {hello.tmp_dir(), hello.shm_dir()});
    }
  }

  // --- stdin to rank 0 --------------------------------------------------------------------
  void startStdin() {
    const std::size_t host = hostIndexOfRank(0);
    if (::isatty(STDIN_FILENO) && ::tcgetpgrp(STDIN_FILENO) != ::getpgrp()) {
      // A background job must not read the terminal: rank 0 sees end of input at once.
      control::Envelope e;
      e.mutable_stdin_data()->set_eof(true);
      return send(host, e);
    }
    stdin_ = std::make_unique<StdinReader>(io_, [this, host](std::string data, bool eof) {
      control::Envelope e;
      e.mutable_stdin_data()->set_data(std::move(data));
      e.mutable_stdin_data()->set_eof(eof);
      send(host, e);
    });
  }

 private:
  std::unique_ptr<StdinReader> stdin_;  // first member: destroyed last

  const JobSpec& spec_;
  const Placement& placement_;
  const RunSettings& settings_;
  asio::io_context& io_;
  OutputSink output_;
  AgentLauncher& agents_;
  JobObserver& observer_;
  asio::signal_set signals_;
  asio::steady_timer connectTimer_, jobTimer_, watchdog_, statusTimer_;
  const std::chrono::steady_clock::time_point startedAt_ = std::chrono::steady_clock::now();
  std::unique_ptr<wan::SessionServer> listener_;
  std::vector<std::shared_ptr<wan::Session>> sessions_;
  std::vector<std::shared_ptr<wan::Channel>> pending_;  // connections, hello'd or not
  TreeShape tree_;
  FenceTable fences_;
  std::string jobId_, token_;
  std::vector<RunHost> hosts_;
  std::size_t connected_ = 0;
  bool launched_ = false, tearingDown_ = false, stopped_ = false;
  int userSignals_ = 0;
  std::optional<JobOutcome> failure_;
  Holdings holdings_;
};

}  // namespace

JobOutcome runJob(const JobSpec& spec, const Placement& placement, const RunSettings& settings,
                  JobObserver& observer) {
  asio::io_context io;
  LocalLauncher agents(settings.agentPath);
  return runJob(spec, placement, settings, agents, io, observer);
}

JobOutcome runJob(const JobSpec& spec, const Placement& placement, const RunSettings& settings,
                  AgentLauncher& agents, asio::io_context& io, JobObserver& observer) {
  JobOutcome outcome;
  {
    JobRun run(spec, placement, settings, agents, io, observer);
    outcome = run.run();
  }
  // The run's signal set gave SIGUSR1/SIGUSR2 back to their default action (terminate): with no
  // ranks to forward them to, they are ignored instead (ionet-run's main does so at start).
  ::signal(SIGUSR1, SIG_IGN);
  ::signal(SIGUSR2, SIG_IGN);
  return outcome;
}

}  // namespace ionet::launcher
