// ionet-delayline: the WAN emulator's delay (there is no tc netem here). Reads every packet the
// router namespace routes into a TUN device, holds it for the one-way delay of its address pair,
// and writes it back so the kernel forwards it on. SIGHUP re-reads --config (live retune),
// SIGUSR1 logs counters, SIGTERM/SIGINT stop cleanly.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "delay_plan.h"
#include "delay_queue.h"
#include "ionet/error.h"
#include "ionet/log.h"
#include "packet_loss.h"
#include "tun_queue.h"

namespace ionet::wanemu {
namespace {

constexpr std::size_t kDefaultQueueBytes = 32u << 20;  // > 1 Gbit/s x 200 ms (25 MB)
constexpr std::size_t kReadBuffer = 256u << 10;        // > the largest GSO packet (64 KiB)
constexpr int kReadBatch = 64;  // reads between two looks at the clock-driven releases

struct Options {
  std::string dev = "wtun";
  double delayMs = 0, jitterMs = 0, lossPercent = 0;
  std::vector<std::string> pairs, destinations;
  std::string queueBytes;
  int queues = 1;
  int realtime = 10;  // see Worker::run
  bool noOffload = false;
  std::string config, pidFile;
  std::uint64_t generation = 0;
};

std::size_t parseBytes(const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  std::string unit = end;
  double scale = unit.empty() || unit == "b"  ? 1
                 : unit == "k" || unit == "K" ? 1 << 10
                 : unit == "m" || unit == "M" ? 1 << 20
                 : unit == "g" || unit == "G" ? 1 << 30
                                              : -1;
  if (text.empty() || scale < 0 || v * scale < 65536 || v * scale > 64.0 * (1u << 30)) {
    throw UsageError("--queue-bytes " + text + ": expected 64k..64G (suffix k, M or G)");
  }
  return static_cast<std::size_t>(v * scale);
}

// Parses args (argv[1..] order), then the tokens of --config when given. Throws UsageError;
// returns nullopt after printing --help.
std::optional<Options> parseOptions(std::vector<std::string> args, bool withConfig) {
  Options o;
  CLI::App app("ionet-delayline: delays every packet routed into a TUN device", "ionet-delayline");
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--dev", o.dev, "TUN device to open or create (default wtun)");
  app.add_option("--delay-ms", o.delayMs, "One-way delay of every packet (default 0)")
      ->check(CLI::Range(0.0, 60000.0));
  app.add_option("--jitter-ms", o.jitterMs, "Uniform +-jitter; never reorders a pair (default 0)")
      ->check(CLI::Range(0.0, 60000.0));
  app.add_option("--loss", o.lossPercent, "Random loss per packet, percent (default 0)")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--pair", o.pairs, "A,B=MS: delay between prefixes A and B, both ways")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--dst", o.destinations, "PREFIX=MS: delay of packets to PREFIX")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--queue-bytes", o.queueBytes, "Bytes held at most, drop tail (default 32M)");
  app.add_option("--queues", o.queues, "TUN queues, one thread each (default 1)")
      ->check(CLI::Range(1, 16));
  app.add_option("--realtime", o.realtime,
                 "SCHED_FIFO priority of the queue threads, 0: off (default 10)")
      ->check(CLI::Range(0, 99));
  app.add_flag("--no-offload", o.noOffload, "No virtio-net header: one packet per read");
  app.add_option("--config", o.config, "File of further options; re-read on SIGHUP");
  app.add_option("--pid-file", o.pidFile, "Write the pid here once ready");
  app.add_option("--generation", o.generation, "Number logged when this configuration applies");
  if (withConfig) {
    // The config file's options come after the command line's, so they win.
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] != "--config") continue;
      std::ifstream in(args[i + 1]);
      if (!in) throw UsageError("--config " + args[i + 1] + ": cannot read");
      args.insert(args.end(), std::istream_iterator<std::string>(in), {});
      break;
    }
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());
  }
  if (o.queueBytes.empty()) o.queueBytes = std::to_string(kDefaultQueueBytes);
  parseBytes(o.queueBytes);
  return o;
}

std::shared_ptr<const DelayPlan> planOf(const Options& o) {
  auto plan = std::make_shared<DelayPlan>();
  plan->delayNs = parseMillis(std::to_string(o.delayMs), "--delay-ms");
  plan->jitterNs = parseMillis(std::to_string(o.jitterMs), "--jitter-ms");
  plan->loss = o.lossPercent / 100;
  for (const auto& p : o.pairs) plan->addPair(p);
  for (const auto& d : o.destinations) plan->addDestination(d);
  plan->generation = o.generation;
  return plan;
}

std::int64_t monotonicNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The current plan, swapped by the signal thread, picked up by workers at their next packet.
class PlanBoard {
 public:
  explicit PlanBoard(std::shared_ptr<const DelayPlan> plan) : plan_(std::move(plan)) {}
  void publish(std::shared_ptr<const DelayPlan> plan) {
    std::lock_guard lock(mutex_);
    plan_ = std::move(plan);
    serial_.fetch_add(1, std::memory_order_release);
  }
  std::uint64_t serial() const { return serial_.load(std::memory_order_acquire); }
  std::shared_ptr<const DelayPlan> current() {
    std::lock_guard lock(mutex_);
    return plan_;
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<const DelayPlan> plan_;
  std::atomic<std::uint64_t> serial_{1};
};

// Counters a worker publishes after every loop turn, for SIGUSR1 and the exit line.
struct SharedStats {
  std::atomic<std::uint64_t> in{0}, inBytes{0}, out{0}, outBytes{0}, drops{0}, writeErrors{0};
  std::atomic<std::uint64_t> lost{0};
  std::atomic<std::int64_t> lateSumNs{0}, lateMaxNs{0};
  std::atomic<std::uint64_t> lateOver1ms{0};
  std::atomic<std::uint64_t> held{0};
};

class Worker {
 public:
  Worker(std::unique_ptr<TunQueue> tun, std::size_t queueBytes, PlanBoard& board,
         const std::atomic<bool>& stopping, const std::atomic<std::uint64_t>& statsWindow,
         int stopFd, std::uint64_t seed, int realtime)
      : tun_(std::move(tun)),
        queue_(queueBytes, seed),
        loss_(seed ^ 0x10557),
        board_(board),
        stopping_(stopping),
        statsWindow_(statsWindow),
        stopFd_(stopFd),
        realtime_(realtime) {
    planSerial_ = board.serial();
    plan_ = board.current();
    queue_.setPlan(plan_);
  }

  void run();
  const SharedStats& stats() const { return stats_; }

 private:
  void publishStats();

  std::unique_ptr<TunQueue> tun_;
  DelayQueue queue_;
  PacketLoss loss_;
  std::shared_ptr<const DelayPlan> plan_;
  PlanBoard& board_;
  const std::atomic<bool>& stopping_;              // checked each turn: under load poll never runs
  const std::atomic<std::uint64_t>& statsWindow_;  // bumped after each report: max restarts
  std::uint64_t windowSeen_ = 0;
  int stopFd_;  // its write end closes at stop: wakes a sleeping poll
  int realtime_;
  std::uint64_t planSerial_ = 0;
  std::uint64_t writeErrors_ = 0;
  std::uint64_t lost_ = 0;
  std::uint64_t readPackets_ = 0, readBytes_ = 0;  // before loss; the queue counts the rest
  // How late packets leave (the delay's accuracy): sum, worst, and how many beyond 1 ms.
  std::int64_t lateSumNs_ = 0, lateMaxNs_ = 0;
  std::uint64_t lateOver1ms_ = 0;
  SharedStats stats_;
};

void Worker::run() {
  // The default 50 us slack is fine for +-1 ms; keep it small anyway, it costs nothing here.
  ::prctl(PR_SET_TIMERSLACK, 10'000UL);
  // The endpoints' TCP stacks compete for the same few cores; a real router would not wait
  // for them. SCHED_FIFO keeps releases on time when the machine is busy (the kernel's RT
  // throttling still leaves others 5 %, and this thread sleeps whenever nothing is due).
  if (realtime_ > 0) {
    sched_param param{};
    param.sched_priority = realtime_;
    int err = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param);
    if (err) log::warn("SCHED_FIFO ", realtime_, ": ", std::strerror(err), "; running without");
  }
  std::vector<char> buffer(kReadBuffer);
  const int fd = tun_->fd();
  const std::size_t header = tun_->headerBytes();
  DelayQueue::Emit emit = [&](const char* data, std::size_t len, std::int64_t due) {
    std::int64_t late = monotonicNs() - due;
    lateSumNs_ += late;
    lateMaxNs_ = std::max(lateMaxNs_, late);
    lateOver1ms_ += late > 1'000'000;
    if (::write(fd, data, len) < 0) ++writeErrors_;  // device down or bad packet: a drop
  };
  std::int64_t now = 0;
  PacketLoss::Pass push = [&](const char* data, std::size_t len) {
    queue_.push(data, len, header, now);
  };
  while (!stopping_.load(std::memory_order_relaxed)) {
    now = monotonicNs();
    queue_.releaseDue(now, emit);
    // Read what is there, but stop when the next packet falls due: releases stay on time.
    bool drained = false;
    for (int got = 0; got < kReadBatch && now < queue_.nextDue(); ++got) {
      ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        drained = true;  // EAGAIN, or the device went away (EBADFD): poll tells which
        break;
      }
      if (board_.serial() != planSerial_) {
        planSerial_ = board_.serial();
        plan_ = board_.current();
        queue_.setPlan(plan_);
      }
      now = monotonicNs();
      ++readPackets_;
      readBytes_ += static_cast<std::uint64_t>(n);
      lost_ += loss_.apply(buffer.data(), static_cast<std::size_t>(n), header, plan_->loss, push);
    }
    publishStats();
    if (!drained) continue;  // a packet fell due or the batch is full: release, read on
    std::int64_t due = queue_.nextDue();
    timespec timeout{};
    timespec* wait = nullptr;
    if (due != std::numeric_limits<std::int64_t>::max()) {
      std::int64_t delta = std::max<std::int64_t>(0, due - monotonicNs());
      timeout.tv_sec = delta / 1'000'000'000;
      timeout.tv_nsec = delta % 1'000'000'000;
      wait = &timeout;
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {stopFd_, POLLIN, 0}};
    int r = ::ppoll(fds, 2, wait, nullptr);
    if (r < 0 && errno != EINTR) IONET_THROW("ppoll: ", std::strerror(errno));
    if (fds[1].revents) return;
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      IONET_THROW("TUN queue failed (device deleted?)");
    }
  }
}

void Worker::publishStats() {
  if (statsWindow_.load(std::memory_order_relaxed) != windowSeen_) {
    windowSeen_ = statsWindow_.load(std::memory_order_relaxed);
    lateMaxNs_ = 0;
  }
  const auto& s = queue_.stats();
  stats_.in.store(readPackets_, std::memory_order_relaxed);
  stats_.inBytes.store(readBytes_, std::memory_order_relaxed);
  stats_.out.store(s.outPackets, std::memory_order_relaxed);
  stats_.outBytes.store(s.outBytes, std::memory_order_relaxed);
  stats_.drops.store(s.dropPackets, std::memory_order_relaxed);
  stats_.writeErrors.store(writeErrors_, std::memory_order_relaxed);
  stats_.lost.store(lost_, std::memory_order_relaxed);
  stats_.lateSumNs.store(lateSumNs_, std::memory_order_relaxed);
  stats_.lateMaxNs.store(lateMaxNs_, std::memory_order_relaxed);
  stats_.lateOver1ms.store(lateOver1ms_, std::memory_order_relaxed);
  stats_.held.store(queue_.heldBytes(), std::memory_order_relaxed);
}

// The stats line: counters since the start, lateness since the previous line.
class StatsReport {
 public:
  explicit StatsReport(const std::vector<std::unique_ptr<Worker>>& workers) : workers_(workers) {}
  std::atomic<std::uint64_t>& window() { return window_; }
  std::string line();

 private:
  const std::vector<std::unique_ptr<Worker>>& workers_;
  std::atomic<std::uint64_t> window_{0};
  std::uint64_t lastOut_ = 0, lastOver1ms_ = 0;
  std::int64_t lastLateSumNs_ = 0;
};

std::string StatsReport::line() {
  std::uint64_t in = 0, inBytes = 0, out = 0, outBytes = 0, drops = 0, errors = 0, held = 0;
  std::uint64_t lost = 0, over1ms = 0;
  std::int64_t lateSumNs = 0, lateMaxNs = 0;
  for (const auto& w : workers_) {
    const auto& s = w->stats();
    in += s.in;
    inBytes += s.inBytes;
    out += s.out;
    outBytes += s.outBytes;
    drops += s.drops;
    errors += s.writeErrors;
    held += s.held;
    lost += s.lost;
    lateSumNs += s.lateSumNs;
    lateMaxNs = std::max<std::int64_t>(lateMaxNs, s.lateMaxNs);
    over1ms += s.lateOver1ms;
  }
  std::uint64_t windowOut = out - lastOut_;
  std::int64_t meanUs =
      windowOut ? (lateSumNs - lastLateSumNs_) / 1000 / static_cast<std::int64_t>(windowOut) : 0;
  std::string text = detail::concat(
      "stats read ", in, " pkts ", inBytes, " bytes, written ", out, " pkts ", outBytes,
      " bytes, random loss ", lost, " pkts, queue-full drops ", drops, ", write errors ", errors,
      ", held ", held, " bytes; since the last report: late mean ", meanUs, " us, max ",
      lateMaxNs / 1000, " us, > 1 ms late ", over1ms - lastOver1ms_, " of ", windowOut, " pkts");
  lastOut_ = out;
  lastOver1ms_ = over1ms;
  lastLateSumNs_ = lateSumNs;
  window_.fetch_add(1, std::memory_order_relaxed);
  return text;
}

std::unique_ptr<TunQueue> openQueue(const Options& o) {
  try {
    return std::make_unique<TunQueue>(o.dev, true, !o.noOffload);
  } catch (const Error&) {
    // A single queue may attach to a device created without multi_queue.
    if (o.queues > 1) throw;
    return std::make_unique<TunQueue>(o.dev, false, !o.noOffload);
  }
}

int run(const std::vector<std::string>& args) {
  std::optional<Options> parsed;
  try {
    parsed = parseOptions(args, true);
    if (!parsed) return 0;
    planOf(*parsed);
  } catch (const UsageError& e) {
    log::error(e.what());
    return 2;
  }
  const Options& o = *parsed;
  // Signals are taken synchronously by this thread; workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, s);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  PlanBoard board(planOf(o));
  int stop[2];
  IONET_ENFORCE(::pipe2(stop, O_CLOEXEC) == 0, "pipe2: ", std::strerror(errno));
  std::atomic<bool> stopping{false};
  std::vector<std::unique_ptr<Worker>> workers;
  StatsReport report(workers);
  std::string offloads;
  std::size_t queueBytes = parseBytes(o.queueBytes);
  for (int i = 0; i < o.queues; ++i) {
    auto tun = openQueue(o);
    offloads = tun->offloads();
    workers.push_back(std::make_unique<Worker>(std::move(tun), queueBytes / o.queues, board,
                                               stopping, report.window(), stop[0], 0x5eed + i,
                                               o.realtime));
  }
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([&w, &failed] {
      try {
        w->run();
      } catch (const std::exception& e) {
        log::error(e.what());
        failed = true;
        ::kill(::getpid(), SIGTERM);  // stops the others through the signal thread
      }
    });
  }
  if (!o.pidFile.empty()) {
    std::ofstream(o.pidFile) << ::getpid() << "\n";
  }
  log::info("ready: dev ", o.dev, ", ", o.queues, " queue(s), offloads ", offloads, ", queue ",
            queueBytes, " bytes, realtime ", o.realtime, ", ", board.current()->describe(),
            ", generation ", o.generation);
  for (;;) {
    siginfo_t info;
    int s = ::sigwaitinfo(&signals, &info);
    if (s < 0) continue;
    if (s == SIGUSR1) {
      log::info(report.line());
    } else if (s == SIGHUP) {
      try {
        auto next = parseOptions(args, true);
        if (!next) continue;
        board.publish(planOf(*next));
        log::info("applied generation ", next->generation, ": ", board.current()->describe());
      } catch (const UsageError& e) {
        log::error("rejected new configuration: ", e.what());
      }
    } else {
      break;
    }
  }
  stopping = true;
  ::close(stop[1]);  // POLLHUP wakes every sleeping worker
  for (auto& t : threads) t.join();
  log::info("stopping: ", report.line());
  if (!o.pidFile.empty()) ::unlink(o.pidFile.c_str());
  ::close(stop[0]);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace ionet::wanemu

int main(int argc, char** argv) {
  ionet::log::prefix() = "ionet-delayline";
  ionet::log::threshold() = ionet::log::Level::kInfo;
  try {
    return ionet::wanemu::run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    ionet::log::error(e.what());
    return 1;
  }
}
