// The queue directory: its hosts (fixed when it is made), and starting and waking its daemon.
#include "ionet/jobscripts/queue_dir.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "hosts/pool_file.h"
#include "hosts/resources.h"
#include "ionet/error.h"
#include "ionet/jobscripts/web_server.h"

namespace fs = std::filesystem;

namespace ionet::jobscripts {
namespace {

std::uint32_t envCount(const char* name, std::uint32_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 1 || n > 100000) {
    throw UsageError(std::string(name) + "=" + v + ": expected a number from 1 to 100000");
  }
  return static_cast<std::uint32_t>(n);
}

double envSeconds(const char* name, double fallback, double max) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (*end != '\0' || !(d >= 0 && d <= max)) {
    throw UsageError(std::string(name) + "=" + v + ": expected seconds from 0 to " +
                     std::to_string(static_cast<long long>(max)));
  }
  return d;
}

std::string hostName() {
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

// The hosts a new queue schedules on, from the pool file or this machine.
void describeHosts(QueueDir& q) {
  if (!q.pool.empty()) {
    const auto pool = launcher::loadPoolFile(q.pool);
    q.kind = "pool";
    q.partition = fs::path(q.pool).stem().string();
    for (const auto& h : pool.hosts) {
      if (!h.slots) {
        throw UsageError(h.origin + ": host " + h.name +
                         " has no slots; the batch queue needs slots = N for every host");
      }
      q.hosts.push_back({h.name, *h.slots, 0, h.gpus.value_or(0)});
    }
    return;
  }
  q.partition = "local";
  const auto cores =
      envCount("IONET_QUEUE_CORES", std::max(1u, std::thread::hardware_concurrency()));
  const auto count = envCount("IONET_QUEUE_HOSTS", 1);
  // GPUs are placed by pool agents (NVML); ionet-run's embedded pool places none, so neither
  // does its queue: a GPU job needs --pool.
  const std::uint64_t mem = launcher::probeResources().memoryBytes >> 20;
  if (count == 1 && !std::getenv("IONET_QUEUE_HOSTS")) {
    q.kind = "local";
    q.hosts.push_back({hostName(), cores, mem, 0});
    return;
  }
  q.kind = "emulated";
  for (std::uint32_t i = 0; i < count; ++i) {
    q.hosts.push_back({"node" + std::to_string(i), cores, mem / count, 0});
  }
}

void writeHostsFile(const QueueDir& q) {
  const std::string tmp = q.path + "/hosts.tmp";
  {
    std::ofstream out(tmp);
    out << "# ionet queue: the pool this queue schedules on (fixed when it was made)\n";
    out << "pool " << (q.pool.empty() ? "-" : q.pool) << "\nkind " << q.kind << "\npartition "
        << q.partition << "\n";
    for (const auto& h : q.hosts) {
      out << "host " << h.name << " " << h.cores << " " << h.memMegabytes << " " << h.gpus << "\n";
    }
    if (!out) throw Error("cannot write " + tmp);
  }
  fs::rename(tmp, q.path + "/hosts");
}

}  // namespace

double wallClock() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string userName() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  if (const passwd* pw = ::getpwuid(::getuid())) return pw->pw_name;
  return std::to_string(::getuid());
}

std::string binaryDir() {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  IONET_ENFORCE(!ec, "cannot locate this program's binary: ", ec.message());
  return self.parent_path().string();
}

QueueDir loadQueueDir(const std::string& path) {
  QueueDir q;
  q.path = path;
  std::ifstream in(path + "/hosts");
  if (!in) throw UsageError("queue directory " + path + " has no hosts file");
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key.empty() || key[0] == '#') continue;
    if (key == "pool") {
      words >> q.pool;
      if (q.pool == "-") q.pool.clear();
    } else if (key == "kind") {
      words >> q.kind;
    } else if (key == "partition") {
      words >> q.partition;
    } else if (key == "host") {
      QueueHost h;
      if (!(words >> h.name >> h.cores >> h.memMegabytes >> h.gpus)) {
        throw UsageError(path + "/hosts:" + std::to_string(number) +
                         ": not 'host NAME CORES MEM GPUS'");
      }
      q.hosts.push_back(h);
    }
  }
  if (q.hosts.empty()) throw UsageError(path + "/hosts names no host");
  return q;
}

QueueDir openQueueDir(const std::string& poolArg) {
  std::string pool = poolArg;
  if (pool.empty()) {
    if (const char* p = std::getenv("IONET_POOL")) pool = p;
  }
  if (!pool.empty()) pool = fs::absolute(pool).lexically_normal().string();
  std::string path;
  if (const char* d = std::getenv("IONET_QUEUE_DIR"); d && *d) {
    path = d;
  } else {
    const char* home = std::getenv("HOME");
    std::string base = std::string(home && *home ? home : "/tmp") + "/.ionet/queue/";
    path = base + (pool.empty() ? "local"
                                : fs::path(pool).stem().string() + "-" +
                                      std::to_string(std::hash<std::string>{}(pool) % 100000000));
  }
  path = fs::absolute(path).lexically_normal().string();
  // The daemon's wake socket must fit a sockaddr_un (108 bytes): say so here, not in its log.
  if (path.size() + std::strlen("/wake.sock") >= sizeof(sockaddr_un::sun_path)) {
    throw UsageError("queue directory " + path + " is too long for a socket path (at most " +
                     std::to_string(sizeof(sockaddr_un::sun_path) - 11) + " characters)");
  }
  std::error_code ec;
  const bool fresh = !fs::exists(path);
  fs::create_directories(path + "/jobs", ec);
  if (ec) throw UsageError("cannot create the queue directory " + path + ": " + ec.message());
  // The database holds every job's environment: only its owner may read it.
  if (fresh) fs::permissions(path, fs::perms::owner_all, ec);
  if (!fs::exists(path + "/hosts")) {
    QueueDir q;
    q.path = path;
    q.pool = pool;
    describeHosts(q);
    writeHostsFile(q);
  }
  QueueDir q = loadQueueDir(path);
  if (q.pool != pool && !pool.empty()) {
    throw UsageError("queue directory " + path + " belongs to pool " +
                     (q.pool.empty() ? "local" : q.pool) + ", not " + pool);
  }
  return q;
}

void wakeDaemon(const QueueDir& q) {
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, q.wakeSocket().c_str(), sizeof(addr.sun_path) - 1);
  const char byte = 'w';
  // Nobody listening (daemon starting or gone) is fine: it looks at the queue when it starts.
  (void)::sendto(fd, &byte, 1, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::close(fd);
}

QueueTimings queueTimings() {
  QueueTimings t;
  t.killWait = envSeconds("IONET_KILL_WAIT", t.killWait, 86400);
  t.hostCooldown = envSeconds("IONET_QUEUE_HOST_COOLDOWN", t.hostCooldown, 86400);
  t.idleExit = envSeconds("IONET_QUEUE_IDLE_EXIT", t.idleExit, 86400.0 * 365);
  return t;
}

void ensureDaemon(const QueueDir& q) {
  queueTimings();
  webListenAddress(q, "");  // a bad address is the command's error, as a bad timing is
  const int lock = ::open(q.lockFile().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) throw Error("cannot open " + q.lockFile() + ": " + std::strerror(errno));
  const bool running = ::flock(lock, LOCK_EX | LOCK_NB) != 0;
  ::close(lock);  // releases it if we took it
  if (!running) {
    std::string daemon = binaryDir() + "/ionet-queued";
    if (const char* d = std::getenv("IONET_QUEUED")) daemon = d;
    const pid_t pid = ::fork();
    if (pid < 0) throw Error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      // Detached: its own session, not our child, output to its log.
      ::setsid();
      if (::fork() != 0) ::_exit(0);
      const int log = ::open(q.daemonLog().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(log >= 0 ? log : null, 1);
      ::dup2(log >= 0 ? log : null, 2);
      ::execl(daemon.c_str(), daemon.c_str(), "--queue-dir", q.path.c_str(), nullptr);
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  wakeDaemon(q);
}

}  // namespace ionet::jobscripts
