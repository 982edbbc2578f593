// The agents of a job inside a Slurm allocation: one srun step, watched as ionet-run's child.
#include "run/slurm_launcher.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "common/agent_process.h"
#include "common/process_status.h"
#include "common/rank_env.h"
#include "ionet/error.h"
#include "ionet/find_program.h"
#include "ionet/log.h"
#include "ionet/program_output.h"

extern char** environ;

namespace ionet::launcher {
namespace {

// What Slurm's `argv` prints on stdout and stderr, and its exit status (-1 when not on PATH).
std::pair<std::string, int> captureOutput(const std::vector<std::string>& argv) {
  const std::string path = findOnPath(argv.at(0));
  if (path.empty()) return {"", -1};
  auto result = runProgram(path, argv);
  return {result.out + result.err, result.status};
}

std::string lastLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const auto nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

std::string ipv4Of(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(name.c_str(), nullptr, &hints, &found) != 0 || !found) return "";
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text,
              sizeof text);
  ::freeaddrinfo(found);
  return text;
}

// This machine's first IPv4 address that is not loopback; "" when it has none.
std::string firstNonLoopbackIpv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string found;
  for (auto* i = list; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    const auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    found = text;
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace

std::vector<std::string> slurmAgentStep(const std::string& jobId,
                                        const std::vector<std::string>& nodes,
                                        const std::string& agentPath, const std::string& launcher,
                                        bool cpuBinding) {
  std::string nodeList;
  for (const auto& n : nodes) nodeList += (nodeList.empty() ? "" : ",") + n;
  const std::string k = std::to_string(nodes.size());
  // Explicit -N/-n: the allocation's SLURM_NTASKS would otherwise give one agent per task.
  // --overlap: the ranks the agents start use the allocation's CPUs, not a step's.
  // --kill-on-bad-exit=0: a lost node ends only its agent; ionet-run decides what follows.
  // --export=ALL: the job's key and token reach the agents even under sbatch --export=NONE.
  std::vector<std::string> argv{"srun", "--jobid=" + jobId, "--overlap", "-N", k, "-n", k};
  argv.insert(argv.end(), {"--ntasks-per-node=1", "--nodelist=" + nodeList, "--kill-on-bad-exit=0",
                           "--mpi=none", "--export=ALL", "--job-name=ionet-agents", "--quiet"});
  // A bound agent would pass its one CPU on to every rank it starts. Without a task plugin
  // that binds, srun refuses the option with a warning on every step.
  if (cpuBinding) argv.push_back("--cpu-bind=none");
  argv.insert(argv.end(), {agentPath, "--connect", launcher, "--host-name-from-env",
                           "SLURMD_NODENAME", "--data-listen", "0.0.0.0"});
  return argv;
}

bool slurmBindsTasks(const std::string& scontrolConfig) {
  std::istringstream lines(scontrolConfig);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("TaskPlugin ", 0) != 0) continue;
    return line.find("task/none") == std::string::npos;
  }
  return true;
}

std::optional<SrunTaskExit> parseSrunTaskExit(const std::string& line) {
  static const std::string kPrefix = "srun: error: ";
  if (line.rfind(kPrefix, 0) != 0) return std::nullopt;
  const auto nodeEnd = line.find(": ", kPrefix.size());
  if (nodeEnd == std::string::npos) return std::nullopt;
  const auto task = nodeEnd + 2;
  if (line.compare(task, 5, "task ") != 0 && line.compare(task, 6, "tasks ") != 0) {
    return std::nullopt;
  }
  const auto howStart = line.find(": ", task);
  if (howStart == std::string::npos) return std::nullopt;
  return SrunTaskExit{line.substr(kPrefix.size(), nodeEnd - kPrefix.size()),
                      line.substr(howStart + 2)};
}

SlurmLauncher::SlurmLauncher(asio::io_context& io, std::string agentPath,
                             SlurmAllocation allocation, bool directLinks)
    : io_(io),
      agentPath_(std::move(agentPath)),
      allocation_(std::move(allocation)),
      directLinks_(directLinks),
      pskHex_(randomHex(32)) {
  srunPath_ = findOnPath("srun");
  if (srunPath_.empty()) {
    throw Error("inside Slurm job " + allocation_.jobId + " but srun is not on PATH");
  }
  auto [text, status] = captureOutput({"scontrol", "show", "node", "-o"});
  if (status != 0) {
    throw Error("inside Slurm job " + allocation_.jobId + ": 'scontrol show node -o' " +
                (status < 0 ? "cannot run: scontrol is not on PATH" : "failed: " + lastLine(text)) +
                " (ionet-run asks Slurm for the nodes' addresses)");
  }
  for (const auto& [name, addr] : parseSlurmNodeAddresses(text)) {
    const std::string ip = ipv4Of(addr);
    if (!ip.empty()) addresses_[name] = ip;
  }
  for (const auto& n : allocation_.nodes) {
    if (!addresses_.count(n.name)) {
      throw Error("Slurm node " + n.name + " of job " + allocation_.jobId +
                  ": scontrol gives no IPv4 NodeAddr for it");
    }
  }
  cpuBinding_ = slurmBindsTasks(captureOutput({"scontrol", "show", "config"}).first);
  // Where the agents dial ionet-run: the node it runs on as Slurm knows it, else (salloc on a
  // login host) this machine's first non-loopback address; $IONET_LAUNCHER_ADDRESS overrides.
  if (const char* a = std::getenv("IONET_LAUNCHER_ADDRESS"); a && *a) {
    advertised_ = a;
  } else if (const char* self = std::getenv("SLURMD_NODENAME"); self && addresses_.count(self)) {
    advertised_ = addresses_[self];
  } else {
    advertised_ = firstNonLoopbackIpv4();
    if (advertised_.empty()) advertised_ = "127.0.0.1";
  }
}

wan::Security SlurmLauncher::serverSecurity() const {
  return wan::Security::fromCredentials(localPoolCredentials(pskHex_, "launcher"),
                                        wan::TlsRole::server);
}

void SlurmLauncher::start(const std::vector<std::string>& hosts, const std::string&,
                          const std::string& launcher, const std::string& token,
                          ExitHandler onExit) {
  IONET_ENFORCE(srun_ < 0, "the previous run's srun step has not ended");
  hosts_ = hosts;
  reported_.assign(hosts.size(), false);
  onExit_ = std::move(onExit);
  const auto env = agentEnvironment({"IONET_AGENT_TOKEN=" + token, "IONET_AGENT_PSK=" + pskHex_});
  auto argv = slurmAgentStep(allocation_.jobId, hosts, agentPath_, launcher, cpuBinding_);
  argv[0] = srunPath_;
  int fds[2];
  IONET_ENFORCE(::pipe2(fds, O_CLOEXEC) == 0, "pipe for srun: ", std::strerror(errno));
  // srun dies with ionet-run (and takes the step's agents with it).
  try {
    srun_ = spawnAgentProcess(argv, env, true, fds[1]);
  } catch (...) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw;
  }
  ::close(fds[1]);
  srunStderr_ = std::make_unique<asio::posix::stream_descriptor>(io_, fds[0]);
  partialLine_.clear();
  readSrunOutput();
}

void SlurmLauncher::readSrunOutput() {
  srunStderr_->async_read_some(asio::buffer(readBuffer_), [this](asio::error_code ec,
                                                                 std::size_t n) {
    partialLine_.append(readBuffer_.data(), n);
    for (auto nl = partialLine_.find('\n'); nl != std::string::npos; nl = partialLine_.find('\n')) {
      onSrunLine(partialLine_.substr(0, nl));
      partialLine_.erase(0, nl + 1);
    }
    if (!ec) return readSrunOutput();
    if (!partialLine_.empty()) onSrunLine(std::exchange(partialLine_, {}));
    srunStderr_.reset();  // end of srun's output: it has ended
  });
}

// Every line goes on to ionet-run's stderr, as srun's own would; a task killed names its node.
void SlurmLauncher::onSrunLine(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
  const auto exit = parseSrunTaskExit(line);
  // An agent that exits with a status ends in order (a teardown, a job it could not start): its
  // session or the step's end tells. Only a death by a signal is news: its node is lost.
  if (!exit || exit->how.rfind("Exited with exit code", 0) == 0) return;
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    if (hosts_[i] == exit->node) report(i, "srun: " + exit->how, true);
  }
}

void SlurmLauncher::report(std::size_t host, const std::string& how, bool failed) {
  if (reported_[host]) return;
  reported_[host] = true;
  if (onExit_) onExit_(host, how, failed);
}

void SlurmLauncher::poll() {
  int status = 0;
  if (srun_ < 0 || ::waitpid(srun_, &status, WNOHANG) != srun_) return;
  srun_ = -1;
  const Termination t = decodeWaitStatus(status);
  const std::string how = "its srun step ended: " + describeWaitStatus(t);
  for (std::size_t i = 0; i < hosts_.size(); ++i) report(i, how, t.signal != 0 || t.exitCode != 0);
}

std::optional<std::string> SlurmLauncher::awaitExit(std::size_t, int) { return std::nullopt; }

void SlurmLauncher::signal(std::size_t, int signum) {
  if (srun_ > 0) ::kill(srun_, signum);
}

void SlurmLauncher::signalAll(int signum) {
  if (srun_ > 0) ::kill(srun_, signum);
}

void SlurmLauncher::removeLeftovers(std::size_t host, bool lost,
                                    const std::vector<std::string>& dirs) {
  if (!lost || host >= hosts_.size()) return;
  std::vector<std::string> argv{srunPath_, "--jobid=" + allocation_.jobId, "--overlap", "-N1",
                                "-n1",     "--nodelist=" + hosts_[host]};
  argv.insert(argv.end(), {"--mpi=none", "--quiet", "--export=ALL", "rm", "-rf", "--"});
  for (const auto& d : dirs) {
    if (!d.empty()) argv.push_back(d);
  }
  const pid_t pid = spawnAgentProcess(argv, agentEnvironment({}), true);
  for (int waited = 0; waited < 5000; waited += 10) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return;
    ::usleep(10000);
  }
  log::warn("could not remove the agent's directories on ", hosts_[host], " within 5 s");
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

std::string SlurmLauncher::nodeAddress(std::size_t host) const {
  IONET_ENFORCE(host < hosts_.size(), "address of unknown host ", host);
  return addresses_.at(hosts_[host]);
}

std::string SlurmLauncher::dataEndpoint(std::size_t host, std::uint32_t dataPort,
                                        const std::string&) const {
  return nodeAddress(host) + ":" + std::to_string(dataPort);
}

AgentLauncher::DirectRoute SlurmLauncher::directRoute(std::size_t host) const {
  if (!directLinks_) return {};
  return {"slurm-job-" + allocation_.jobId, nodeAddress(host)};
}

}  // namespace ionet::launcher
