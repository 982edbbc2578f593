// ionet-agent's job lifecycle: hello -> launch -> relay fences/output/exits -> teardown -> done.
// Everything runs on one asio loop; PMIx callbacks are posted onto it.
#include "agent/agent.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <filesystem>
#include <map>
#include <thread>

#include "agent/agent_tree.h"
#include "agent/checkpoint_store.h"
#include "agent/hello.h"
#include "agent/host_launch.h"
#include "agent/host_stats.h"
#include "agent/rank_process.h"
#include "agent/stats_file.h"
#include "common/control.h"
#include "common/rank_env.h"
#include "ionet/bridge/forwarder.h"
#include "ionet/bridge/nccl_endpoint.h"
#include "ionet/bridge/pmix_server.h"
#include "ionet/error.h"
#include "ionet/log.h"
#include "ionet/wan/session.h"

namespace ionet::launcher {
namespace fs = std::filesystem;

namespace {

// How long a host whose ranks have all exited waits for their last bytes to reach the peers.
constexpr std::chrono::milliseconds kForwarderDrainLimit{3000};

}  // namespace

struct Agent::Impl {
  explicit Impl(AgentOptions o)
      : options(std::move(o)), signals(io, SIGCHLD, SIGTERM, SIGINT), killTimer(io) {
    signals.add(SIGHUP);
  }

  AgentOptions options;
  asio::io_context io;
  asio::signal_set signals;
  asio::steady_timer killTimer;
  asio::steady_timer statsTimer{io};
  std::unique_ptr<HostStatsFile> statsFile;  // for the pool agent's metrics, when it asks
  std::shared_ptr<wan::Session> session;     // to the launcher
  std::shared_ptr<wan::Channel> channel;     // the session's control channel
  std::unique_ptr<AgentTree> tree;
  std::unique_ptr<CheckpointStore> store;  // --checkpoint-storage partner
  // After tree and store, so destroyed before them: ~Forwarder closes its sessions, whose end
  // handlers may still call into the tree's and the store's channels.
  std::unique_ptr<bridge::Forwarder> forwarder;
  std::unique_ptr<bridge::NcclEndpoint> nccl;  // rides the forwarder's sessions: after it
  std::unique_ptr<bridge::PmixServer> pmix;
  std::string tmpDir, shmDir;

  control::LaunchJob job;
  // Where the job is on this host. It only moves forward: a launch moves it out of kWaiting,
  // a teardown (told, signalled, or cut off) into kTearingDown from any earlier phase.
  enum class Phase {
    kWaiting,      // for the launcher's LaunchJob
    kStaging,      // fetching checkpoint files before the ranks start
    kRunning,      // the ranks were started
    kTearingDown,  // the ranks are being stopped
    kFinished,     // every rank ended and the agent is leaving
  };
  Phase phase = Phase::kWaiting;
  bool launcherGone = false;  // the launcher is out of reach: nothing more is sent to it
  std::vector<std::unique_ptr<RankProcess>> ranks;
  // What libpmix told us of each rank: a rank that exits before MPI_Finalize failed.
  struct MpiState {
    bool connected = false;  // it called PMIx_Init (MPI_Init)
    bool finalized = false;  // it called PMIx_Finalize (MPI_Finalize)
  };
  std::map<std::uint32_t, MpiState> mpiState;
  // Ranks that exited cleanly whose finalize notice is not in yet, with their deadlines.
  std::map<std::uint32_t, std::unique_ptr<asio::steady_timer>> heldExits;
  std::map<std::string, std::uint64_t> fenceSeq;
  std::map<std::pair<std::string, std::uint64_t>, bridge::ModexCompletion> pendingFences;
  std::map<std::uint64_t, bridge::ModexCompletion> pendingDmodex;
  std::uint64_t nextDmodex = 1;
  int exitCode = 0;

  void send(const control::Envelope& e) {
    if (channel && !launcherGone) sendEnvelope(*channel, e);
  }

  bridge::PmixHooks hooks() {
    bridge::PmixHooks h;
    h.onFence = [this](bridge::FenceRequest req) {
      asio::post(io, [this, req = std::move(req)]() mutable { onFence(std::move(req)); });
    };
    h.onDmodex = [this](bridge::DmodexRequest req) {
      asio::post(io, [this, req = std::move(req)]() mutable { onDmodex(std::move(req)); });
    };
    h.onAbort = [this](std::uint32_t rank, int status, std::string msg) {
      asio::post(io, [this, rank, status, msg = std::move(msg)] {
        control::Envelope e;
        auto* a = e.mutable_abort();
        a->set_rank(rank);
        a->set_status(status);
        a->set_message(msg);
        send(e);
      });
    };
    h.onConnected = [this](std::uint32_t rank) {
      asio::post(io, [this, rank] { mpiState[rank].connected = true; });
    };
    h.onFinalized = [this](std::uint32_t rank) {
      asio::post(io, [this, rank] {
        mpiState[rank].finalized = true;
        if (heldExits.erase(rank)) reportExit(rank);
        maybeFinish();
      });
    };
    return h;
  }

  int run() {
    try {
      serve();
    } catch (...) {
      cleanup();
      throw;
    }
    cleanup();
    return exitCode;
  }

  void serve() {
    tmpDir = makePrivateDir(options.tmpRoot, "ionet-agent-");
    shmDir = makePrivateDir(options.shmRoot, "ionet-agent-");
    fs::create_directory(tmpDir + "/pmix");
    pmix = std::make_unique<bridge::PmixServer>(tmpDir + "/pmix", options.hostName, hooks());
    startForwarder();
    wan::Session::connect(
        io, wan::Endpoint::parse(options.launcher),
        wan::Security::fromCredentials(options.credentials, wan::TlsRole::client), options.session,
        [this](std::shared_ptr<wan::Session> s, const std::string& error) {
          if (!s) {
            log::error("host ", options.hostName, ": cannot reach the launcher at ",
                       options.launcher, ": ", error);
            exitCode = 1;
            return io.stop();
          }
          session = s;
          channel = s->control();
          channel->start({[this](std::string m) { onMessage(m); },
                          [this](const std::string& why) { onChannelClosed(why); }});
          sendHello();
        });
    waitSignals();
    io.run();
  }

  void startForwarder() {
    bridge::ForwarderOptions f;
    f.clientSecurity = wan::Security::fromCredentials(options.credentials, wan::TlsRole::client);
    f.serverSecurity = wan::Security::fromCredentials(options.credentials, wan::TlsRole::server);
    f.session = options.session;
    f.listenAddress = options.dataListen;
    if (!options.dataParkAt.empty()) f.parkAt = wan::Endpoint::parse(options.dataParkAt);
    forwarder = std::make_unique<bridge::Forwarder>(io, std::move(f));
    nccl = std::make_unique<bridge::NcclEndpoint>(io, *forwarder);
    tree = std::make_unique<AgentTree>(options.hostName, options.token, treeHooks());
    forwarder->onChannel(kTreeChannel, [this](std::shared_ptr<wan::SessionChannel> c) {
      tree->adoptChannel(std::move(c));
    });
    store = std::make_unique<CheckpointStore>(io, *forwarder, options.hostName, options.token,
                                              [this](const control::CheckpointHoldings& h) {
                                                control::Envelope e;
                                                *e.mutable_checkpoint_holdings() = h;
                                                send(e);
                                              });
    // Other hosts may fetch from this one before its own launch arrives.
    forwarder->onChannel(kCheckpointChannel, [this](std::shared_ptr<wan::SessionChannel> c) {
      store->adoptChannel(std::move(c));
    });
  }

  AgentTree::Hooks treeHooks() {
    AgentTree::Hooks h;
    h.launch = [this](const control::LaunchJob& j) { launch(j); };
    h.toLauncher = [this](const control::Envelope& e) { send(e); };
    h.release = [this](const control::FenceRelease& r) { onFenceRelease(r); };
    h.childrenDone = [this] { maybeFinish(); };
    h.linkLost = [this](const std::string& host, const std::string& why) {
      if (phase >= Phase::kTearingDown) return;
      log::warn("host ", options.hostName, ": lost the control-tree link to host ", host, " (", why,
                ")");
      control::Envelope e;
      e.mutable_tree_link_lost()->set_peer_host(host);
      e.mutable_tree_link_lost()->set_reason(why);
      send(e);
    };
    return h;
  }

  void sendHello() {
    control::Envelope e;
    *e.mutable_hello() = makeHello(options, tmpDir, shmDir, forwarder->dataPort());
    send(e);
  }

  void waitSignals() {
    signals.async_wait([this](asio::error_code ec, int signum) {
      if (ec) return;
      if (signum == SIGCHLD) {
        reap();
      } else {
        log::warn("host ", options.hostName, ": received signal ", signum,
                  ", tearing the job down");
        teardownAlone();
      }
      if (phase != Phase::kFinished) waitSignals();
    });
  }

  void onMessage(const std::string& bytes) {
    control::Envelope e;
    if (!parseEnvelope(bytes, &e)) {
      log::error("host ", options.hostName, ": malformed control message from launcher ",
                 channel->peer(), "; ignoring it");
      return;
    }
    switch (e.body_case()) {
      case control::Envelope::kLaunch:
        return launch(e.launch());
      case control::Envelope::kFenceRelease:
        if (tree->active()) return tree->release(e.fence_release());
        return onFenceRelease(e.fence_release());
      case control::Envelope::kDmodexRequest:
        return answerDmodex(e.dmodex_request());
      case control::Envelope::kDmodexResponse:
        return onDmodexResponse(e.dmodex_response());
      case control::Envelope::kSignal:
        for (auto& r : ranks) {
          if (!r->exited()) r->signal(e.signal().signum());
        }
        return;
      case control::Envelope::kKill:
        return teardown(e.kill().immediately());
      case control::Envelope::kStdinData:
        return onStdin(e.stdin_data());
      default:
        log::warn("host ", options.hostName, ": unexpected control message ", e.body_case(),
                  " from launcher; ignoring it");
    }
  }

  void onChannelClosed(const std::string& why) {
    if (phase == Phase::kFinished) return io.stop();
    log::warn("host ", options.hostName, ": lost the launcher (", why, "); tearing the job down");
    teardownAlone();
  }

  // Stopped by a signal or cut off from the launcher: the job ends without telling it.
  void teardownAlone() {
    launcherGone = true;
    exitCode = 1;
    teardown(false);
  }

  void launch(const control::LaunchJob& j) {
    if (phase != Phase::kWaiting) {
      log::warn("host ", options.hostName,
                ": launch request ignored: the job was launched or is "
                "ending");
      return;
    }
    phase = Phase::kRunning;
    job = j;
    try {
      if (j.data_hosts_size() > 0) joinDataPath();
      if (j.tree_fanout() > 1 && j.data_hosts_size() > 0) tree->start(job, *forwarder);
      if (job.checkpoint().dir().empty()) return startRanks();
      // --checkpoint-storage partner: the ranks start once this host holds their files.
      phase = Phase::kStaging;
      store->stage(job, [this](const std::string& error) {
        if (phase >= Phase::kTearingDown) return maybeFinish();
        phase = Phase::kRunning;
        if (!error.empty()) return launchFailed(error);
        try {
          startRanks();
          store->watch();
        } catch (const std::exception& ex) {
          launchFailed(ex.what());
        }
      });
    } catch (const std::exception& ex) {
      launchFailed(ex.what());
    }
  }

  void launchFailed(const std::string& why) {
    control::Envelope e;
    e.mutable_launch_failed()->set_message(why);
    send(e);
    teardown(true);
  }

  void startRanks() {
    HostFacts facts;
    facts.hostName = options.hostName;
    facts.sessionDir = tmpDir + "/job-" + job.job_id();
    facts.vaderDir = shmDir + "/job-" + job.job_id();
    if (!job.checkpoint().dir().empty()) facts.checkpointDir = store->hostDir();
    if (job.data_hosts_size() > 0) facts.shimPath = findShim();
    if (job.nccl_net()) facts.ncclPlugin = findNcclPlugin();
    if (job.coll()) facts.collLibrary = findCollLibrary();
    facts.ncclAgent = nccl->address();
    facts.forwarderPort = forwarder->shimPort();
    facts.environment = processEnvironment();
    facts.cores = std::thread::hardware_concurrency();
    auto launch = planHostLaunch(job, facts);
    fs::create_directories(facts.sessionDir);
    fs::create_directories(facts.vaderDir);
    pmix->registerJob(launch.layout);

    control::Envelope started;
    for (auto& spec : launch.ranks) {
      spec.env = mergeEnvironment(std::move(spec.env), pmix->setupFork(spec.rank));
      ranks.push_back(std::make_unique<RankProcess>(
          io, spec, [this](std::uint32_t rank, StreamId stream, std::string data) {
            control::Envelope e;
            auto* o = e.mutable_output();
            o->set_rank(rank);
            o->set_stream(stream == StreamId::kStdout ? control::STDOUT : control::STDERR);
            o->set_data(std::move(data));
            send(e);
          }));
      started.mutable_started()->add_pids(ranks.back()->pid());
    }
    send(started);
    if (job.status_interval_ms() > 0) sendStats();
    if (!options.statsFile.empty()) {
      statsFile = std::make_unique<HostStatsFile>(io, options.statsFile, [this] {
        return makeHostStats(ranksRunning(ranks), forwarder.get());
      });
    }
  }

  // ionet-run --status: what our part of the job does, every status_interval_ms until it ends.
  void sendStats() {
    if (phase == Phase::kFinished) return;
    control::Envelope e;
    *e.mutable_host_stats() = makeHostStats(ranksRunning(ranks), forwarder.get());
    send(e);
    statsTimer.expires_after(std::chrono::milliseconds(job.status_interval_ms()));
    statsTimer.async_wait([this](asio::error_code ec) {
      if (!ec) sendStats();
    });
  }

  // The job's hosts as the forwarder reaches them: before the control tree and checkpoint
  // staging open channels to them, and before the ranks connect.
  void joinDataPath() {
    IONET_ENFORCE(job.data_hosts_size() == job.hosts_size(), "data path: ", job.data_hosts_size(),
                  " entries for ", job.hosts_size(), " hosts");
    IONET_ENFORCE(job.host_index() < static_cast<std::uint32_t>(job.hosts_size()),
                  "host index out of range");
    std::vector<bridge::DataHost> hosts;
    std::vector<std::uint32_t> addresses;
    for (int i = 0; i < job.data_hosts_size(); ++i) {
      hosts.push_back(
          {job.hosts(i).host_name(), job.data_hosts(i).vaddr(), job.data_hosts(i).endpoint()});
      addresses.push_back(job.data_hosts(i).vaddr());
    }
    nccl->setJob(job.job_id(), std::move(addresses), job.host_index());
    forwarder->setHosts(std::move(hosts), job.host_index(), job.job_id());
  }

  void reap() {
    for (;;) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      for (auto& r : ranks) {
        if (r->pid() != pid) continue;
        r->markExited(status);
        const auto [connected, finalized] = mpiState[r->rank()];
        const Termination t = decodeWaitStatus(status);
        if (t.signal == 0 && t.exitCode == 0 && connected && !finalized) {
          holdExit(r->rank());
        } else {
          reportExit(r->rank());
        }
      }
    }
    maybeFinish();
  }

  // libpmix's client stops waiting for the server's finalize acknowledgement after a short
  // timeout, so on a loaded host a rank can exit before the PMIx thread has told us that it
  // finalized (mpirun then reports a false "exited without calling MPI_Finalize"; seen at 256
  // ranks on 2 cores). A clean exit of a connected rank is held until that notice arrives, at
  // most kFinalizeWait.
  static constexpr auto kFinalizeWait = std::chrono::seconds(10);

  void holdExit(std::uint32_t rank) {
    auto& timer = heldExits[rank] = std::make_unique<asio::steady_timer>(io, kFinalizeWait);
    timer->async_wait([this, rank](asio::error_code ec) {
      if (ec) return;  // released (the timer was destroyed with its entry)
      heldExits.erase(rank);
      reportExit(rank);
      maybeFinish();
    });
  }

  void reportExit(std::uint32_t rank) {
    for (auto& r : ranks) {
      if (r->rank() != rank) continue;
      const Termination t = decodeWaitStatus(r->waitStatus());
      control::Envelope e;
      auto* x = e.mutable_rank_exit();
      x->set_rank(rank);
      x->set_exit_code(t.exitCode);
      x->set_signal(t.signal);
      x->set_connected(mpiState[rank].connected);
      x->set_finalized(mpiState[rank].finalized);
      send(e);
    }
  }

  bool allExited() const {
    for (const auto& r : ranks) {
      if (!r->exited()) return false;
    }
    return true;
  }

  // SIGTERM (after SIGCONT, for stopped ranks), then SIGKILL after the grace period.
  void teardown(bool immediately) {
    log::debug("teardown", immediately ? " (immediately)" : "");
    if (immediately) {
      for (auto& r : ranks) r->signal(SIGKILL);
    } else if (phase < Phase::kTearingDown) {
      for (auto& r : ranks) {
        if (r->exited()) continue;
        r->signal(SIGCONT);
        r->signal(SIGTERM);
      }
      const unsigned grace = job.kill_grace_ms() ? job.kill_grace_ms() : 500;
      killTimer.expires_after(std::chrono::milliseconds(grace));
      killTimer.async_wait([this](asio::error_code ec) {
        if (ec) return;
        for (auto& r : ranks) {
          if (!r->exited()) r->signal(SIGKILL);
        }
      });
    }
    if (phase < Phase::kTearingDown) phase = Phase::kTearingDown;
    maybeFinish();
  }

  void maybeFinish() {
    if (phase == Phase::kFinished || !allExited()) return;
    const bool tearingDown = phase == Phase::kTearingDown;
    if (!heldExits.empty() && !tearingDown) return;  // a finalize notice may still come
    for (const auto& [rank, timer] : heldExits) reportExit(rank);  // teardown: as they are
    heldExits.clear();
    if (phase == Phase::kWaiting) return;
    if (phase == Phase::kStaging) return;  // the ranks have not started yet
    // An interior node of the control tree relays its children's fences until they are done.
    if (tree && tree->active() && !tearingDown && !tree->childrenDone()) return;
    phase = Phase::kFinished;
    if (store) store->stop();
    if (tree) tree->finish(!tearingDown && !launcherGone);
    log::debug("all ", ranks.size(), " ranks ended");
    killTimer.cancel();
    statsTimer.cancel();
    if (statsFile) statsFile->stop();
    // Whatever a rank left running in its process group goes with it.
    for (auto& r : ranks) r->signal(SIGKILL);
    for (auto& [key, complete] : pendingFences) complete(-1, {});
    pendingFences.clear();
    for (auto& [id, complete] : pendingDmodex) complete(-1, {});
    pendingDmodex.clear();
    signals.cancel();
    if (forwarder && !tearingDown && !launcherGone) {
      // What the ranks wrote before they exited still reaches their peers, as TCP would
      // deliver it; a torn-down job's bytes do not matter.
      return forwarder->drain(kForwarderDrainLimit, [this] { reportDone(); });
    }
    if (nccl) nccl->closeLinks();
    if (forwarder) forwarder->close();
    reportDone();
  }

  void reportDone() {
    if (launcherGone || !channel) return io.stop();
    control::Envelope e;
    e.mutable_job_done();
    send(e);
    session->close("job done");  // flushes; its end closes the channel, which stops the loop
  }

  void onFence(bridge::FenceRequest req) {
    if (phase == Phase::kFinished) return req.complete(-1, {});
    if (job.hosts_size() == 1) return req.complete(0, std::move(req.data));  // nothing to relay
    const std::uint64_t id = fenceSeq[req.signature]++;
    control::Envelope e;
    auto* f = e.mutable_fence();
    f->set_fence_id(id);
    f->set_signature(req.signature);
    f->set_data(std::move(req.data));
    pendingFences.emplace(std::make_pair(req.signature, id), std::move(req.complete));
    if (tree->active()) return tree->contribute(e.fence());
    send(e);
  }

  void onFenceRelease(const control::FenceRelease& r) {
    auto it = pendingFences.find({r.signature(), r.fence_id()});
    if (it == pendingFences.end()) {
      log::warn("host ", options.hostName, ": release of unknown fence ", r.signature(), "#",
                r.fence_id(), "; ignoring it");
      return;
    }
    auto complete = std::move(it->second);
    pendingFences.erase(it);
    complete(r.status(), r.data());
  }

  void onDmodex(bridge::DmodexRequest req) {
    log::debug("direct modex request for rank ", req.rank);
    if (phase == Phase::kFinished) return req.complete(-1, {});
    const std::uint64_t id = nextDmodex++;
    pendingDmodex.emplace(id, std::move(req.complete));
    control::Envelope e;
    e.mutable_dmodex_request()->set_request_id(id);
    e.mutable_dmodex_request()->set_rank(req.rank);
    send(e);
  }

  // Another host asks for one of our ranks' data (relayed by the launcher).
  void answerDmodex(const control::DmodexRequest& r) {
    log::debug("answering direct modex for rank ", r.rank());
    auto id = r.request_id();
    auto requester = r.requester_host();
    pmix->dmodexRequest(r.rank(), [this, id, requester](int status, std::string data) {
      asio::post(io, [this, id, requester, status, data = std::move(data)]() mutable {
        control::Envelope e;
        auto* d = e.mutable_dmodex_response();
        d->set_request_id(id);
        d->set_status(status);
        d->set_data(std::move(data));
        d->set_requester_host(requester);
        send(e);
      });
    });
  }

  void onDmodexResponse(const control::DmodexResponse& r) {
    auto it = pendingDmodex.find(r.request_id());
    if (it == pendingDmodex.end()) return;
    auto complete = std::move(it->second);
    pendingDmodex.erase(it);
    complete(r.status(), r.data());
  }

  void onStdin(const control::StdinData& s) {
    for (auto& r : ranks) {
      if (r->rank() != job.stdin_rank()) continue;
      if (!s.data().empty()) r->writeStdin(s.data());
      if (s.eof()) r->closeStdin();
    }
  }

  // Files first, libpmix last: libpmix has crashed in deregistration when its clients were
  // killed in the middle of MPI_Init (seen with 256 ranks), and must not leave files behind.
  void cleanup() {
    for (auto& r : ranks) r->signal(SIGKILL);  // only reached early when something threw
    ranks.clear();
    std::error_code ignored;
    if (!tmpDir.empty()) fs::remove_all(tmpDir, ignored);
    if (!shmDir.empty()) fs::remove_all(shmDir, ignored);
    log::debug("files removed; releasing the PMIx server");
    if (pmix) {
      pmix->deregisterJob();
      pmix.reset();
    }
    log::debug("PMIx server released");
  }
};

Agent::Agent(AgentOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Agent::~Agent() = default;
int Agent::run() { return impl_->run(); }

}  // namespace ionet::launcher
