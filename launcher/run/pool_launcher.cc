#include "run/pool_launcher.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/control.h"
#include "ionet/error.h"
#include "ionet/log.h"
#include "ionet/wan/session.h"

namespace ionet::launcher {
namespace {

// The address of ours that packets to `host` leave from (a UDP connect sends nothing).
std::string sourceAddressTowards(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return {};
  std::string out;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
    char text[INET_ADDRSTRLEN];
    if (::inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text))) out = text;
  }
  if (fd >= 0) ::close(fd);
  ::freeaddrinfo(res);
  return out;
}

}  // namespace

struct PoolLauncher::Member {
  const PoolFileHost* host = nullptr;
  std::shared_ptr<wan::Session> session;
  std::shared_ptr<wan::Channel> channel;
  std::optional<control::Register> registration;
  std::string error;                // why it could not be reached or was not accepted
  bool refused = false;             // its registration was not accepted (error says why)
  bool started = false;             // asked to start the job's agent
  std::optional<std::string> exit;  // how the job's agent ended
  bool gone = false;                // the pool agent's session ended
};

PoolLauncher::PoolLauncher(asio::io_context& io, PoolFile pool) : io_(io), pool_(std::move(pool)) {
  credentials_ = loadPoolCredentials(pool_, "launcher");
  options_ = poolSessionOptions(pool_);
  if (const char* a = std::getenv("IONET_LAUNCHER_ADDRESS")) {
    advertised_ = a;
  } else {
    for (const auto& h : pool_.hosts) {
      if (h.address.empty()) continue;
      advertised_ = sourceAddressTowards(h.address, h.port);
      if (!advertised_.empty()) break;
    }
  }
  if (advertised_.empty()) {
    throw UsageError(pool_.path +
                     ": cannot tell which address of this machine the pool reaches; set "
                     "IONET_LAUNCHER_ADDRESS");
  }
}

PoolLauncher::~PoolLauncher() { close(); }

wan::Security PoolLauncher::serverSecurity() const {
  return wan::Security::fromCredentials(credentials_, wan::TlsRole::server);
}

Pool PoolLauncher::discover(std::chrono::milliseconds timeout) {
  const auto security = wan::Security::fromCredentials(credentials_, wan::TlsRole::client);
  auto pending = std::make_shared<std::size_t>(0);
  for (const auto& host : pool_.hosts) {
    auto member = std::make_shared<Member>();
    member->host = &host;
    members_[host.name] = member;
    ++*pending;
    std::weak_ptr<Member> weak = member;
    wan::Session::connect(
        io_, wan::Endpoint::parse(agentEndpoint(pool_, host)), security, options_,
        [this, weak, pending](std::shared_ptr<wan::Session> s, const std::string& error) {
          auto m = weak.lock();
          if (!m) return;
          if (!s) {
            m->error = error;
            --*pending;
            return;
          }
          m->session = s;
          m->channel = s->control();
          m->channel->start({[this, weak, pending](std::string bytes) {
                               auto m = weak.lock();
                               if (!m) return;
                               const bool was = m->registration || m->refused;
                               onMessage(*m, bytes);
                               if (!was && (m->registration || m->refused)) --*pending;
                             },
                             [this, weak](const std::string& why) {
                               auto m = weak.lock();
                               if (!m) return;
                               m->gone = true;
                               if (m->error.empty()) m->error = why;
                               if (m->started && !m->exit) {
                                 log::debug("lost the pool agent of ", m->host->name, ": ", why);
                               }
                             }});
        });
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (*pending > 0 && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(std::chrono::milliseconds(50));
  }
  Pool out;
  out.slotsGiven = true;
  std::string missing;
  for (const auto& host : pool_.hosts) {
    auto& m = *members_[host.name];
    if (!m.registration) {
      log::warn("pool host ", host.name, " (", agentEndpoint(pool_, host),
                ") is not available: ", m.error.empty() ? "no answer in time" : m.error);
      missing += (missing.empty() ? "" : ", ") + host.name;
      continue;
    }
    PoolHost h;
    h.name = host.name;
    h.slots = host.slots.value_or(std::max(1u, m.registration->cores()));
    h.local = false;
    for (const auto& g : m.registration->gpus()) {
      GpuInfo gpu;
      gpu.index = g.index();
      gpu.model = g.model();
      gpu.uuid = g.uuid();
      gpu.memoryBytes = g.memory_bytes();
      gpu.checked = g.checked();
      gpu.healthFailure = g.health_failure();
      gpu.tflops = g.tflops();
      h.gpus.push_back(std::move(gpu));
    }
    out.hosts.push_back(std::move(h));
  }
  if (out.hosts.empty()) throw Error(pool_.path + ": no pool agent answered (" + missing + ")");
  return out;
}

void PoolLauncher::onMessage(Member& m, const std::string& bytes) {
  control::Envelope e;
  if (!parseEnvelope(bytes, &e)) {
    log::warn("malformed message from the pool agent of ", m.host->name, "; ignoring it");
    return;
  }
  if (e.has_registration()) {
    if (e.registration().host_name() != m.host->name) {
      log::warn("pool agent at ", agentEndpoint(pool_, *m.host), " says it is '",
                e.registration().host_name(), "', not '", m.host->name, "'; ignoring it");
      return;
    }
    if (e.registration().protocol_version() != kProtocolVersion) {
      m.refused = true;
      m.error = "its ionet-agent speaks control protocol version " +
                std::to_string(e.registration().protocol_version()) + ", this ionet-run " +
                std::to_string(kProtocolVersion) +
                " (install the same ionet version on every host)";
      return;
    }
    m.registration = e.registration();
    return;
  }
  if (e.has_agent_status()) {
    const auto& s = e.agent_status();
    if (s.job_id() != jobId_ || !s.exited() || m.exit) return;
    m.exit = s.description();
    for (std::size_t i = 0; i < placedHosts_.size(); ++i) {
      if (placedHosts_[i] == m.host->name && onExit_) onExit_(i, s.description(), s.failed());
    }
    return;
  }
  log::warn("unexpected message ", e.body_case(), " from the pool agent of ", m.host->name);
}

void PoolLauncher::start(const std::vector<std::string>& hosts, const std::string& jobId,
                         const std::string& launcher, const std::string& token,
                         ExitHandler onExit) {
  jobId_ = jobId;
  placedHosts_ = hosts;
  onExit_ = std::move(onExit);
  control::Envelope e;
  auto* s = e.mutable_start_agent();
  s->set_job_id(jobId);
  s->set_token(token);
  s->set_launcher(launcher);
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    auto* m = placed(i);
    IONET_ENFORCE(m && m->channel, "no session to the pool agent of ", hosts[i]);
    m->started = true;
    sendEnvelope(*m->channel, e);
  }
}

PoolLauncher::Member* PoolLauncher::placed(std::size_t host) const {
  if (host >= placedHosts_.size()) return nullptr;
  auto it = members_.find(placedHosts_[host]);
  return it == members_.end() ? nullptr : it->second.get();
}

std::optional<std::string> PoolLauncher::awaitExit(std::size_t host, int) {
  auto* m = placed(host);
  return m ? m->exit : std::nullopt;
}

void PoolLauncher::signal(std::size_t host, int signum) {
  auto* m = placed(host);
  if (!m || !m->channel || m->exit) return;
  control::Envelope e;
  e.mutable_stop_agent()->set_job_id(jobId_);
  e.mutable_stop_agent()->set_signum(signum);
  sendEnvelope(*m->channel, e);
}

void PoolLauncher::signalAll(int signum) {
  for (std::size_t i = 0; i < placedHosts_.size(); ++i) signal(i, signum);
}

// A host whose pool agent is gone cannot tell us any more: its job agent ends on its own when
// its session to us does.
bool PoolLauncher::allExited() const {
  for (std::size_t i = 0; i < placedHosts_.size(); ++i) {
    auto* m = placed(i);
    if (m && !m->exit && !m->gone) return false;
  }
  return true;
}

std::string PoolLauncher::dataEndpoint(std::size_t host, std::uint32_t dataPort,
                                       const std::string& jobId) const {
  const auto* m = placed(host);
  IONET_ENFORCE(m != nullptr, "data endpoint of unknown host ", host);
  return launcher::dataEndpoint(pool_, *m->host, dataPort, jobId);
}

AgentLauncher::DirectRoute PoolLauncher::directRoute(std::size_t host) const {
  const auto* m = placed(host);
  if (!m || m->host->address.empty() || !pool_.directSites.count(m->host->site)) return {};
  // The address as every host of the site resolves it: a name is looked up once, here.
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(m->host->address.c_str(), nullptr, &hints, &found) != 0 || !found) {
    log::warn("host ", m->host->name, ": cannot resolve ", m->host->address,
              " to IPv4; its ranks are reached through the agents");
    return {};
  }
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text,
              sizeof text);
  ::freeaddrinfo(found);
  return {m->host->site, text};
}

void PoolLauncher::close() {
  // close() may end a session at once and run its end handler: close copies, so that no
  // handler can change the map under the loop.
  std::vector<std::shared_ptr<wan::Session>> sessions;
  for (const auto& [name, m] : members_) {
    if (m->session) sessions.push_back(m->session);
  }
  for (const auto& s : sessions) s->close("launcher done", std::chrono::milliseconds(200));
}

}  // namespace ionet::launcher
