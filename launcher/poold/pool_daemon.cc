// The pool agent: sessions from launchers, registration, the relay, and jobs' agents.
#include "poold/pool_daemon.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>
#include <filesystem>
#include <map>

#include "common/agent_process.h"
#include "common/control.h"
#include "common/process_status.h"
#include "hosts/pool_file.h"
#include "hosts/resources.h"
#include "ionet/error.h"
#include "ionet/log.h"
#include "ionet/wan/credentials.h"
#include "ionet/wan/relay.h"
#include "ionet/wan/session.h"
#include "poold/pool_metrics_endpoint.h"

namespace ionet::launcher {
namespace {

namespace fs = std::filesystem;

// A job id as the launcher makes it (hex) — it names directories and relay slots here.
bool plausibleJobId(const std::string& id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

class PoolDaemon {
 public:
  explicit PoolDaemon(const PoolDaemonOptions& options)
      : options_(options),
        pool_(loadPoolFile(options.poolFile)),
        signals_(io_, SIGCHLD, SIGTERM, SIGINT) {
    host_ = pool_.find(options.nodeName);
    if (host_ == nullptr) {
      throw UsageError(pool_.path + ": no host '" + options.nodeName + "' in the pool");
    }
    credentials_ = loadPoolCredentials(pool_, options.nodeName);
    sessionOptions_ = poolSessionOptions(pool_);
    metricsListen_ = metricsListenFor(pool_, *host_, options.metricsListen);
  }

  // Before any job can be placed here: a GPU that fails is not offered.
  void checkGpus() {
    auto& gpus = resources_.gpus;
    if (!options_.checkGpus) {
      log::info(gpus.size(), " GPU(s) offered without a health check (--no-gpu-check)");
      return;
    }
    // A default check takes well under 30 s per GPU; a hung one is given up on.
    const auto limit = std::chrono::seconds(120 + 60 * gpus.size());
    log::info("checking ", gpus.size(), " GPU(s) before offering them");
    applyGpuChecks(gpus, runGpuCheckInChild(options_.checkGpus, limit));
    for (const auto& g : gpus) {
      if (g.healthFailure.empty()) {
        log::info("GPU ", g.index, " (", g.model, "): passed, ", g.tflops, " TFLOP/s");
      } else {
        log::warn("GPU ", g.index, " (", g.model, ") is not offered: ", g.healthFailure);
      }
    }
  }

  int run() {
    resources_ = probeResources();
    if (!resources_.gpus.empty()) checkGpus();
    if (host_->relay) {
      relay_ = wan::Relay::listen(io_, "0.0.0.0", pool_.relayPort);
      log::info("relay for hosts behind NAT on port ", relay_->port());
    }
    const auto security = wan::Security::fromCredentials(credentials_, wan::TlsRole::server);
    // A host behind NAT only parks at its relay; it listens on loopback for nobody in particular.
    const bool direct = !host_->address.empty();
    server_ = wan::SessionServer::listen(io_, direct ? "0.0.0.0" : "127.0.0.1",
                                         direct ? host_->port : 0, security, sessionOptions_);
    if (!host_->via.empty()) {
      server_->parkAt(wan::Endpoint::parse(agentEndpoint(pool_, *host_)));
      log::info("reachable through the relay on ", host_->via);
    } else {
      log::info("listening on port ", server_->port());
    }
    if (metricsListen_) startMetrics();
    server_->onSession([this](std::shared_ptr<wan::Session> s) { onLauncher(std::move(s)); });
    waitSignals();
    io_.run();
    return 0;
  }

 private:
  struct Job {
    pid_t pid = -1;
    std::weak_ptr<wan::Channel> launcher;
    std::string scratch;     // its IONET_TMPDIR
    std::string shmScratch;  // its IONET_SHMDIR (Open MPI's shared-memory segments)
    std::string statsFile;   // where its agent writes its HostStats, with metrics on
  };

  // Metrics: an HTTP listener serving from its own threads what this loop publishes, every
  // second and whenever a job starts or ends.
  void startMetrics() {
    // Whole seconds: a larger number with a fraction would be written with an exponent.
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    startTime_ = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(now).count());
    metrics_ = std::make_unique<PoolMetricsEndpoint>(*metricsListen_);
    // At the default log level: with port 0 it is the only way to learn the port.
    log::warn("metrics on ", metrics_->url());
    publishMetrics();
  }

  void publishMetrics() {
    if (!metrics_) return;
    PoolMetricsSnapshot s;
    s.host = options_.nodeName;
    s.site = host_->site;
    s.resources = resources_;
    s.startTime = startTime_;
    for (const auto& [id, job] : jobs_) s.jobs.push_back({id, job.statsFile, std::nullopt});
    for (const auto& session : sessions_) s.sessions.push_back(session->stats());
    s.ended = endedSessions_;
    if (relay_) s.relay = relay_->stats();
    metrics_->publish(std::move(s));
    metricsTimer_.expires_after(std::chrono::seconds(1));
    metricsTimer_.async_wait([this](asio::error_code ec) {
      if (!ec) publishMetrics();
    });
  }

  void onLauncher(std::shared_ptr<wan::Session> session) {
    log::info("launcher ", session->peerName(), " connected");
    sessions_.push_back(session);
    auto channel = session->control();
    std::weak_ptr<wan::Channel> weak = channel;
    channel->start({[this, weak](std::string bytes) {
                      if (auto c = weak.lock()) onMessage(c, bytes);
                    },
                    [this, session](const std::string& why) {
                      log::info("launcher ", session->peerName(), " gone: ", why);
                      // Its counters live on in the totals of its peer.
                      endedSessions_[{"control", session->peerName()}].add(session->stats());
                      std::erase(sessions_, session);
                    }});
    control::Envelope e;
    auto* r = e.mutable_registration();
    r->set_protocol_version(kProtocolVersion);
    r->set_host_name(options_.nodeName);
    r->set_cores(resources_.cores);
    r->set_memory_bytes(resources_.memoryBytes);
    for (const auto& g : resources_.gpus) {
      auto* gpu = r->add_gpus();
      gpu->set_index(g.index);
      gpu->set_model(g.model);
      gpu->set_uuid(g.uuid);
      gpu->set_memory_bytes(g.memoryBytes);
      gpu->set_checked(g.checked);
      gpu->set_health_failure(g.healthFailure);
      gpu->set_tflops(g.tflops);
    }
    r->set_gpu_error(resources_.gpuError);
    sendEnvelope(*channel, e);
  }

  void onMessage(const std::shared_ptr<wan::Channel>& channel, const std::string& bytes) {
    control::Envelope e;
    if (!parseEnvelope(bytes, &e)) {
      log::warn("malformed control message from ", channel->peer(), "; ignoring it");
      return;
    }
    try {
      if (e.has_start_agent()) return startAgent(channel, e.start_agent());
      if (e.has_stop_agent()) return stopAgent(e.stop_agent());
      log::warn("unexpected control message ", e.body_case(), " from ", channel->peer());
    } catch (const std::exception& ex) {
      log::warn("request from ", channel->peer(), ": ", ex.what());
    }
  }

  void startAgent(const std::shared_ptr<wan::Channel>& channel, const control::StartAgent& s) {
    auto report = [&](pid_t pid, bool failed, const std::string& description) {
      control::Envelope e;
      auto* st = e.mutable_agent_status();
      st->set_job_id(s.job_id());
      st->set_pid(static_cast<std::uint32_t>(pid < 0 ? 0 : pid));
      st->set_exited(failed);
      st->set_failed(failed);
      st->set_description(description);
      sendEnvelope(*channel, e);
    };
    if (!plausibleJobId(s.job_id()) || jobs_.count(s.job_id())) {
      return report(-1, true, "bad or duplicate job id '" + s.job_id() + "'");
    }
    Job job;
    job.launcher = channel;
    job.scratch = options_.scratchRoot + "/ionet-" + options_.nodeName + "-" + s.job_id();
    job.shmScratch = "/dev/shm/ionet-" + options_.nodeName + "-" + s.job_id();
    std::vector<std::string> env = {"IONET_AGENT_TOKEN=" + s.token(), "IONET_TMPDIR=" + job.scratch,
                                    "IONET_SHMDIR=" + job.shmScratch};
    if (metrics_) {
      job.statsFile = job.scratch + "/host-stats.pb";
      env.push_back(std::string(kAgentStatsFileVariable) + "=" + job.statsFile);
    }
    std::vector<std::string> args = {options_.agentPath,
                                     "--connect",
                                     s.launcher(),
                                     "--host-name",
                                     options_.nodeName,
                                     "--dead-peer-timeout",
                                     std::to_string(pool_.heartbeatTimeout.count())};
    if (!pool_.credentialsDir.empty()) {
      args.insert(args.end(), {"--credentials", pool_.credentialsDir});
    } else {
      args.insert(args.end(), {"--psk", pool_.pskFile});
    }
    if (!host_->address.empty()) {
      args.insert(args.end(), {"--data-listen", "0.0.0.0", "--address", host_->address});
    } else {
      args.insert(args.end(),
                  {"--data-park-at",
                   relayEndpoint(pool_, *host_, dataRelaySlot(options_.nodeName, s.job_id()))});
    }
    try {
      fs::create_directories(job.scratch);
      fs::create_directories(job.shmScratch);
      job.pid = spawnAgentProcess(args, agentEnvironment(env), false);
    } catch (const std::exception& ex) {
      std::error_code ignored;
      fs::remove_all(job.scratch, ignored);
      fs::remove_all(job.shmScratch, ignored);
      return report(-1, true, ex.what());
    }
    log::info("job ", s.job_id(), ": agent started (pid ", job.pid, ") for launcher ",
              channel->peer());
    report(job.pid, false, "started");
    jobs_[s.job_id()] = std::move(job);
    publishMetrics();
  }

  void stopAgent(const control::StopAgent& s) {
    auto it = jobs_.find(s.job_id());
    if (it == jobs_.end()) return;
    const int signum = s.signum() == SIGKILL ? SIGKILL : SIGTERM;
    ::kill(it->second.pid, signum);
  }

  void waitSignals() {
    signals_.async_wait([this](asio::error_code ec, int signum) {
      if (ec) return;
      if (signum != SIGCHLD) return shutdown(signum);
      reap();
      waitSignals();
    });
  }

  void reap() {
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
        if (it->second.pid != pid) continue;
        const std::string id = it->first;
        const Job job = std::move(it->second);
        jobs_.erase(it);
        const Termination t = decodeWaitStatus(status);
        log::info("job ", id, ": agent ", describeWaitStatus(t));
        // What the agent wrote last joins the ended totals, published before the file goes: a
        // scrape that misses the file finds them in the newer snapshot.
        if (auto stats = metrics_ ? readHostStatsFile(job.statsFile) : std::nullopt) {
          for (const auto& link : stats->links()) endedSessions_[{"data", link.host()}].add(link);
        }
        publishMetrics();
        // An agent killed with -9 cannot clean up after itself. Before the launcher hears of the
        // end: when ionet-run returns, nothing of the job is left here.
        std::error_code ignored;
        fs::remove_all(job.scratch, ignored);
        fs::remove_all(job.shmScratch, ignored);
        if (auto channel = job.launcher.lock()) {
          control::Envelope e;
          auto* st = e.mutable_agent_status();
          st->set_job_id(id);
          st->set_pid(static_cast<std::uint32_t>(pid));
          st->set_exited(true);
          st->set_failed(t.signal != 0 || t.exitCode != 0);
          st->set_description(describeWaitStatus(t));
          sendEnvelope(*channel, e);
        }
        break;
      }
    }
  }

  // Jobs' agents are left running (they end with their launcher's session).
  void shutdown(int signum) {
    log::info("signal ", signum, ": stopping (", jobs_.size(), " job agents keep running)");
    if (server_) server_->close();
    if (relay_) relay_->close();
    metricsTimer_.cancel();
    // A session's end handler erases it from sessions_, and close() may end it at once (no
    // link left, nothing unacknowledged): iterate a copy that the handlers cannot touch.
    const auto sessions = sessions_;
    for (const auto& s : sessions) s->close("pool agent stopping", std::chrono::milliseconds(500));
    signals_.cancel();
    io_.stop();
  }

  PoolDaemonOptions options_;
  PoolFile pool_;
  const PoolFileHost* host_ = nullptr;
  wan::Credentials credentials_;
  wan::SessionOptions sessionOptions_;
  HostResources resources_;
  asio::io_context io_;
  asio::signal_set signals_;
  std::unique_ptr<wan::Relay> relay_;
  std::unique_ptr<wan::SessionServer> server_;
  std::vector<std::shared_ptr<wan::Session>> sessions_;
  std::map<std::string, Job> jobs_;
  std::optional<MetricsListen> metricsListen_;
  std::unique_ptr<PoolMetricsEndpoint> metrics_;
  asio::steady_timer metricsTimer_{io_};
  EndedSessions endedSessions_;
  double startTime_ = 0;
};

}  // namespace

int runPoolDaemon(const PoolDaemonOptions& options) {
  PoolDaemon daemon(options);
  return daemon.run();
}

}  // namespace ionet::launcher
