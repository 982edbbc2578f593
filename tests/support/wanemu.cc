// WanEmulator: runs tests/wanemu/wanemu up/shape/.../down for a test and enters its hosts.
#include "wanemu.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <sstream>
#include <thread>

#include "ionet/error.h"

namespace ionet::test {

namespace {

std::string number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Leaves an emulator's stderr on one line for an exception message.
std::string oneLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::string WanEmulator::scriptPath() {
#ifdef IONET_WANEMU_SCRIPT
  return envOr("IONET_WANEMU", IONET_WANEMU_SCRIPT);
#else
  return envOr("IONET_WANEMU", "tests/wanemu/wanemu");
#endif
}

std::string WanEmulator::delayLinePath() {
#ifdef IONET_DELAYLINE_PATH
  return envOr("IONET_DELAYLINE", IONET_DELAYLINE_PATH);
#else
  return envOr("IONET_DELAYLINE", "");
#endif
}

std::string WanEmulator::unavailableReason() {
  if (::geteuid() != 0) return "needs root (network namespaces, tc, nft)";
  if (::access("/dev/net/tun", R_OK | W_OK) != 0) return "no /dev/net/tun";
  if (::access(scriptPath().c_str(), X_OK) != 0) return "no wanemu script at " + scriptPath();
  std::string dl = delayLinePath();
  if (!dl.empty() && ::access(dl.c_str(), X_OK) != 0) return "no ionet-delayline at " + dl;
  return "";
}

std::string WanEmulator::wanemu(std::vector<std::string> args) const {
  args.insert(args.begin(), scriptPath());
  std::vector<std::string> env;
  if (!delayLinePath().empty()) env.push_back("IONET_DELAYLINE=" + delayLinePath());
  CommandResult r = run(args, env, "", std::chrono::seconds(60));
  std::string shown;
  for (std::size_t i = 1; i < args.size(); ++i) shown += (i > 1 ? " " : "") + args[i];
  IONET_ENFORCE(r.finished, "wanemu ", shown, ": timed out");
  IONET_ENFORCE(r.exitCode == 0, "wanemu ", shown, ": ", oneLine(r.err));
  return r.out;
}

WanEmulator::WanEmulator(const WanOptions& options) : hosts_(options.hosts) {
  // Unique per process and per emulator, short enough for the script's 12 characters.
  static std::atomic<int> serial{0};
  name_ = "w" + std::to_string(::getpid()) + "n" + std::to_string(serial++);
  // Emulators of test processes that died before their destructor ran.
  static std::once_flag collected;
  std::call_once(collected, [this] {
    try {
      wanemu({"gc"});
    } catch (const Error&) {
    }
  });
  std::vector<std::string> args = {
      "up", name_, "--hosts", std::to_string(options.hosts), "--owner", std::to_string(::getpid())};
  if (options.delayMs > 0) args.insert(args.end(), {"--delay-ms", number(options.delayMs)});
  if (options.jitterMs > 0) args.insert(args.end(), {"--jitter-ms", number(options.jitterMs)});
  if (!options.rate.empty()) args.insert(args.end(), {"--rate", options.rate});
  if (options.lossPercent > 0) args.insert(args.end(), {"--loss", number(options.lossPercent)});
  if (!options.lossMode.empty()) args.insert(args.end(), {"--loss-mode", options.lossMode});
  if (!options.queueBytes.empty()) {
    args.insert(args.end(), {"--queue-bytes", options.queueBytes});
  }
  if (!options.natHosts.empty()) {
    std::string list;
    for (int h : options.natHosts) list += (list.empty() ? "" : ",") + std::to_string(h);
    args.insert(args.end(), {"--nat", list});
  }
  args.insert(args.end(), options.extraArgs.begin(), options.extraArgs.end());
  wanemu(args);  // on failure the script has already removed what it made
  up_ = true;
}

WanEmulator::~WanEmulator() {
  try {
    down();
  } catch (const std::exception&) {
    // A destructor must not throw; `wanemu gc` of a later run removes what is left.
  }
}

void WanEmulator::down() {
  if (!up_) return;
  up_ = false;
  wanemu({"down", name_});
}

std::string WanEmulator::netns(int host) const { return name_ + "-h" + std::to_string(host); }

void WanEmulator::shape(const WanShape& s) {
  std::vector<std::string> args = {"shape", name_};
  if (s.delayMs) args.insert(args.end(), {"--delay-ms", number(*s.delayMs)});
  if (s.jitterMs) args.insert(args.end(), {"--jitter-ms", number(*s.jitterMs)});
  if (s.lossPercent) args.insert(args.end(), {"--loss", number(*s.lossPercent)});
  if (s.lossMode) args.insert(args.end(), {"--loss-mode", *s.lossMode});
  if (s.rate) args.insert(args.end(), {"--rate", *s.rate});
  wanemu(args);
}

void WanEmulator::partition(int a, int b) {
  wanemu({"partition", name_, "h" + std::to_string(a), "h" + std::to_string(b)});
}

void WanEmulator::isolate(int host) { wanemu({"isolate", name_, "h" + std::to_string(host)}); }

void WanEmulator::heal() { wanemu({"heal", name_}); }

void WanEmulator::heal(int a, int b) {
  wanemu({"heal", name_, "h" + std::to_string(a), "h" + std::to_string(b)});
}

int WanEmulator::reset(int host, const std::string& ssFilter) {
  std::vector<std::string> args = {"reset", name_, "h" + std::to_string(host)};
  if (!ssFilter.empty()) args.push_back(ssFilter);
  return std::stoi(wanemu(args));
}

std::string WanEmulator::readdress(int host) {
  return trim(wanemu({"readdress", name_, "h" + std::to_string(host)}));
}

std::string WanEmulator::address(int host) {
  return trim(wanemu({"addr", name_, "h" + std::to_string(host)}));
}

std::string WanEmulator::publicAddress(int host) {
  return trim(wanemu({"public-addr", name_, "h" + std::to_string(host)}));
}

std::vector<std::string> WanEmulator::execPrefix(int host) const {
  return {"ip", "netns", "exec", netns(host)};
}

void WanEmulator::inHost(int host, const std::function<void()>& fn) const {
  std::exception_ptr error;
  std::string path = "/run/netns/" + netns(host);
  // setns() moves only the calling thread: a thread of its own keeps the caller where it is.
  std::thread([&] {
    try {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      IONET_ENFORCE(fd >= 0, "open ", path, ": ", std::strerror(errno));
      int rc = ::setns(fd, CLONE_NEWNET);
      int err = errno;
      ::close(fd);
      IONET_ENFORCE(rc == 0, "setns ", path, ": ", std::strerror(err));
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  }).join();
  if (error) std::rethrow_exception(error);
}

}  // namespace ionet::test
