// The agent's checkpoint store (checkpoint_store.h): replicas to the partner, fetches before a
// restart, and the holdings reported to the launcher. Files travel as CkptMessages on "ckpt"
// channels of the data path's sessions (checkpoint_transfer.h). Disk writes run on the agent's
// loop: they are page-cache writes, and the ranks wait for staging anyway.
#include "agent/checkpoint_store.h"

#include <sys/inotify.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "agent/checkpoint_transfer.h"
#include "common/control.h"
#include "ionet/ckpt/checkpoint.h"
#include "ionet/ckpt/manifest.h"
#include "ionet/error.h"
#include "ionet/log.h"

namespace ionet::launcher {
namespace fs = std::filesystem;

namespace {

constexpr int kReplicasKept = 2;  // per partner, like the ranks' own retention

fs::path hostDirOf(const std::string& dir, const std::string& host) {
  return fs::path(dir) / ("host-" + host);
}

std::string setName(std::int64_t step) { return "step-" + std::to_string(step); }

// A set's MANIFEST as text; nullopt when it cannot be read.
std::optional<std::string> manifestText(const fs::path& setDir) {
  std::ifstream in(setDir / ckpt::Manifest::kFileName, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::optional<ckpt::Manifest> readManifest(const fs::path& setDir) {
  auto text = manifestText(setDir);
  if (!text) return std::nullopt;
  try {
    return ckpt::Manifest::parse(*text, (setDir / ckpt::Manifest::kFileName).string());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Whether setDir holds rank's file with the size its MANIFEST records.
bool holdsRank(const fs::path& setDir, const ckpt::Manifest& m, std::uint32_t rank) {
  if (rank >= m.files.size()) return false;
  std::error_code ec;
  auto size = fs::file_size(setDir / m.files[rank].file, ec);
  return !ec && size == m.files[rank].size;
}

// The directories of a host's store that hold sets: its own, then each partner-<host>/.
std::vector<fs::path> setRoots(const fs::path& hostDir) {
  std::vector<fs::path> roots = {hostDir};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(hostDir, ec)) {
    if (e.path().filename().string().rfind("partner-", 0) == 0) roots.push_back(e.path());
  }
  return roots;
}

// The set directory of step in hostDir's store that holds rank's file, own set first.
std::optional<fs::path> findSet(const fs::path& hostDir, std::int64_t step, std::uint32_t rank) {
  for (const auto& root : setRoots(hostDir)) {
    const fs::path setDir = root / setName(step);
    auto m = readManifest(setDir);
    if (m && m->step == step && holdsRank(setDir, *m, rank)) return setDir;
  }
  return std::nullopt;
}

// A replica in place: tmp renamed to final (an older copy of the same step replaced), then only
// the newest kReplicasKept sets of that partner kept.
void publishReplica(const fs::path& tmp, const fs::path& final) {
  fsyncPath(tmp);
  fs::remove_all(final);
  fs::rename(tmp, final);
  fsyncPath(final.parent_path());
  auto sets = ckpt::listSets(final.parent_path());
  for (std::size_t i = kReplicasKept; i < sets.size(); ++i) fs::remove_all(sets[i].path);
}

}  // namespace

struct CheckpointStore::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& i, bridge::Forwarder& f, std::string host, std::string t, Report r)
      : io(i), forwarder(f), hostName(std::move(host)), token(std::move(t)), report(std::move(r)) {}

  asio::io_context& io;
  bridge::Forwarder& forwarder;
  std::string hostName, token;
  Report report;
  control::CheckpointPlan plan;
  std::uint32_t self = 0;
  std::vector<std::string> hostNames;
  fs::path dir;  // DIR/host-<name>
  std::unique_ptr<asio::posix::stream_descriptor> notify;
  std::array<char, 4096> notifyBuffer{};
  std::string lastReplicated;  // the MANIFEST of the set last copied to the partner
  std::string lastReport;
  bool stopped = false;

  // --- a channel another agent opened ---------------------------------------------------
  struct Incoming {
    std::shared_ptr<wan::SessionChannel> channel;
    control::CkptOpen open;
    bool opened = false, done = false;
    std::unique_ptr<FileReceiver> receiver;
    fs::path final;
  };

  void adopt(std::shared_ptr<wan::SessionChannel> channel) {
    auto in = std::make_shared<Incoming>();
    in->channel = channel;
    channel->start({[self = shared_from_this(), in](std::string m) { self->onIncoming(*in, m); },
                    [in](const std::string&) {
                      std::error_code ec;  // a transfer cut short leaves nothing behind
                      if (in->receiver && !in->done) fs::remove_all(in->receiver->dir(), ec);
                      in->done = true;
                    }});
  }

  void refuse(Incoming& in, const std::string& why) {
    log::warn("host ", hostName, ": checkpoint channel from ", in.channel->peer(), ": ", why,
              "; closing it");
    if (in.receiver) {
      std::error_code ec;
      fs::remove_all(in.receiver->dir(), ec);
    }
    in.done = true;
    control::CkptMessage m;
    m.mutable_end()->set_error(why);
    sendMessage(*in.channel, m);
    in.channel->close();
  }

  void onIncoming(Incoming& in, const std::string& bytes) {
    if (in.done) return;
    control::CkptMessage m;
    if (!m.ParseFromString(bytes)) return refuse(in, "malformed message");
    if (!in.opened) {
      if (!m.has_open()) return refuse(in, "the first message is not an open");
      const auto& o = m.open();
      if (o.token() != token) return refuse(in, "wrong job token");
      if (!safeHostName(o.from_host()) || !fs::path(o.dir()).is_absolute() || o.step() < 0) {
        return refuse(in, "malformed open");
      }
      in.opened = true;
      in.open = o;
      const fs::path mine = hostDirOf(o.dir(), hostName);
      if (o.fetch()) return serveFetch(in, mine);
      in.final = mine / ("partner-" + o.from_host()) / setName(o.step());
      try {
        in.receiver = std::make_unique<FileReceiver>(in.final.string() + ".tmp");
      } catch (const std::exception& e) {
        return refuse(in, e.what());
      }
      return;
    }
    if (m.has_file()) {
      if (!in.receiver) return refuse(in, "a file on a fetch channel");
      if (auto why = in.receiver->add(m.file()); !why.empty()) return refuse(in, why);
      return;
    }
    if (!m.has_end() || !in.receiver) return refuse(in, "unexpected message");
    in.done = true;
    if (!m.end().error().empty() || !in.receiver->complete()) {
      log::warn("host ", hostName, ": replica of ", setName(in.open.step()), " from host ",
                in.open.from_host(), " incomplete: ", m.end().error());
      std::error_code ec;
      fs::remove_all(in.receiver->dir(), ec);
    } else {
      try {
        publishReplica(in.receiver->dir(), in.final);
        log::debug("host ", hostName, ": holds ", in.final.string());
      } catch (const std::exception& e) {
        log::warn("host ", hostName, ": cannot keep the replica ", in.final.string(), ": ",
                  e.what());
      }
    }
    in.channel->close();
    reportHoldings();
  }

  void serveFetch(Incoming& in, const fs::path& mine) {
    std::vector<std::pair<std::string, fs::path>> files;
    std::string error;
    for (auto rank : in.open.ranks()) {
      auto setDir = findSet(mine, in.open.step(), rank);
      if (!setDir) {
        error = "host " + hostName + " holds no file of rank " + std::to_string(rank) + " in " +
                setName(in.open.step());
        break;
      }
      if (files.empty()) files.push_back({ckpt::Manifest::kFileName, *setDir / "MANIFEST"});
      const std::string name = ckpt::rankFileName(static_cast<int>(rank));
      files.push_back({name, *setDir / name});
    }
    in.done = true;
    std::make_shared<FileSender>(in.channel, std::move(files), error)->pump();
  }

  // --- staging before the ranks start -----------------------------------------------------
  void stage(std::function<void(const std::string&)> done) {
    std::map<std::uint32_t, std::vector<std::uint32_t>> bySource;
    for (const auto& f : plan.fetches()) {
      if (f.to_host() == self && f.from_host() < hostNames.size()) {
        bySource[f.from_host()].push_back(f.rank());
      }
    }
    if (bySource.empty()) return asio::post(io, [done] { done(""); });
    auto pending = std::make_shared<std::size_t>(bySource.size());
    auto failed = std::make_shared<bool>(false);
    auto finish = [done, pending, failed](const std::string& error) {
      if (*failed) return;
      if (!error.empty()) {
        *failed = true;
        return done(error);
      }
      if (--*pending == 0) done("");
    };
    for (const auto& [source, ranks] : bySource) fetch(source, ranks, finish);
  }

  // Opens a "ckpt" channel to host and sends the CkptOpen; ready gets the channel (to start it
  // and send what follows the open), or null and why not.
  void openTransfer(std::uint32_t host, std::int64_t step, bool fetch,
                    const std::vector<std::uint32_t>& ranks,
                    bridge::Forwarder::ChannelOpened ready) {
    control::CkptMessage open;
    auto* o = open.mutable_open();
    o->set_token(token);
    o->set_dir(plan.dir());
    o->set_from_host(hostName);
    o->set_step(step);
    o->set_fetch(fetch);
    for (auto r : ranks) o->add_ranks(r);
    forwarder.openChannel(
        host, kCheckpointChannel,
        [open, ready](std::shared_ptr<wan::SessionChannel> channel, const std::string& error) {
          if (channel) sendMessage(*channel, open);
          ready(channel, error);
        });
  }

  void fetch(std::uint32_t source, const std::vector<std::uint32_t>& ranks,
             std::function<void(const std::string&)> finish) {
    const std::int64_t step = plan.resume_step();
    const std::string from = hostNames[source];
    auto done = [self = shared_from_this(), step, from](const FileReceiver& r) {
      self->merge(r, step);
      log::info("host ", self->hostName, ": fetched ", r.files().size() - 1, " rank file(s) of ",
                setName(step), " from host ", from);
    };
    auto f = std::make_shared<Fetch>(dir / (setName(step) + ".from-" + from + ".tmp"),
                                     "rank files of " + setName(step) + " from host " + from, done,
                                     std::move(finish));
    openTransfer(source, step, /*fetch=*/true, ranks,
                 [f](std::shared_ptr<wan::SessionChannel> channel, const std::string& error) {
                   if (!channel) return f->fail(error);
                   f->start(*channel);
                 });
  }

  // Fetched files into this host's own step-N/ (made if missing), beside any it holds already.
  void merge(const FileReceiver& r, std::int64_t step) {
    const fs::path final = dir / setName(step);
    fs::create_directories(final);
    for (const auto& name : r.files()) {
      if (name == ckpt::Manifest::kFileName && fs::exists(final / name)) continue;
      fs::rename(r.dir() / name, final / name);
    }
    fsyncPath(final);
    fsyncPath(dir);
    fs::remove_all(r.dir());
  }

  // --- while the ranks run ----------------------------------------------------------------
  void watch() {
    if (plan.replicate()) {
      int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (fd < 0 || ::inotify_add_watch(
                        fd, dir.c_str(),
                        IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ONLYDIR) < 0) {
        log::warn("host ", hostName, ": cannot watch ", dir.string(), ": ", std::strerror(errno),
                  "; its checkpoint sets will not be copied to the partner host");
        if (fd >= 0) ::close(fd);
      } else {
        notify = std::make_unique<asio::posix::stream_descriptor>(io, fd);
        readNotify();
      }
    }
    onChange();
  }

  void readNotify() {
    notify->async_read_some(asio::buffer(notifyBuffer),
                            [self = shared_from_this()](asio::error_code ec, std::size_t) {
                              if (ec || self->stopped) return;
                              self->onChange();
                              self->readNotify();
                            });
  }

  void onChange() {
    if (stopped) return;
    if (plan.replicate()) {
      // The newest set, unless it was copied already. Known by its MANIFEST, not its step: a
      // restarted run commits a step again (replacing the set), and that copy must go too.
      auto sets = ckpt::listSets(dir);
      auto manifest = sets.empty() ? std::nullopt : manifestText(sets[0].path);
      if (manifest && *manifest != lastReplicated) {
        lastReplicated = std::move(*manifest);
        replicate(sets[0]);
      }
    }
    reportHoldings();
  }

  void replicate(const ckpt::CheckpointSet& set) {
    std::vector<std::pair<std::string, fs::path>> files = {
        {ckpt::Manifest::kFileName, set.path / ckpt::Manifest::kFileName}};
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(set.path, ec)) {
      const std::string name = e.path().filename().string();
      if (name != ckpt::Manifest::kFileName && safeFileName(name))
        files.push_back({name, e.path()});
    }
    const auto partner = static_cast<std::uint32_t>((self + 1) % hostNames.size());
    openTransfer(partner, set.step, /*fetch=*/false, {},
                 [self = shared_from_this(), files, set, partner](
                     std::shared_ptr<wan::SessionChannel> channel, const std::string& error) {
                   if (!channel) {
                     log::warn("host ", self->hostName, ": cannot copy ", set.path.string(),
                               " to host ", self->hostNames[partner], ": ", error);
                     return;
                   }
                   channel->start({[](std::string) {}, [](const std::string&) {}});
                   std::make_shared<FileSender>(channel, files, "")->pump();
                 });
  }

  void reportHoldings() {
    if (dir.empty()) return;  // not launched here yet: the launch reports what is here
    auto holdings = scan(dir.string());
    std::string bytes = holdings.SerializeAsString();
    if (bytes == lastReport) return;
    lastReport = std::move(bytes);
    report(holdings);
  }

  static control::CheckpointHoldings scan(const std::string& hostDir) {
    std::map<std::int64_t, std::pair<std::uint32_t, std::set<std::uint32_t>>, std::greater<>>
        byStep;
    for (const auto& root : setRoots(hostDir)) {
      for (const auto& set : ckpt::listSets(root)) {
        auto m = readManifest(set.path);
        if (!m || m->step != set.step) continue;
        auto& entry = byStep[set.step];
        if (entry.first == 0) entry.first = static_cast<std::uint32_t>(m->nranks);
        if (entry.first != static_cast<std::uint32_t>(m->nranks)) continue;
        for (std::uint32_t r = 0; r < entry.first; ++r) {
          if (holdsRank(set.path, *m, r)) entry.second.insert(r);
        }
      }
    }
    control::CheckpointHoldings out;
    for (const auto& [step, entry] : byStep) {
      if (entry.second.empty()) continue;
      auto* h = out.add_sets();
      h->set_step(step);
      h->set_nranks(entry.first);
      for (auto r : entry.second) h->add_ranks(r);
    }
    return out;
  }
};

CheckpointStore::CheckpointStore(asio::io_context& io, bridge::Forwarder& forwarder,
                                 std::string hostName, std::string token, Report report)
    : impl_(std::make_shared<Impl>(io, forwarder, std::move(hostName), std::move(token),
                                   std::move(report))) {}

CheckpointStore::~CheckpointStore() { stop(); }

void CheckpointStore::adoptChannel(std::shared_ptr<wan::SessionChannel> channel) {
  impl_->adopt(std::move(channel));
}

void CheckpointStore::stage(const control::LaunchJob& job,
                            std::function<void(const std::string&)> done) {
  impl_->plan = job.checkpoint();
  impl_->self = job.host_index();
  impl_->hostNames.clear();
  for (const auto& h : job.hosts()) impl_->hostNames.push_back(h.host_name());
  impl_->dir = hostDirOf(impl_->plan.dir(), impl_->hostName);
  try {
    fs::create_directories(impl_->dir);
  } catch (const std::exception& e) {
    return asio::post(impl_->io, [done, why = std::string(e.what())] { done(why); });
  }
  impl_->stage(std::move(done));
}

void CheckpointStore::watch() { impl_->watch(); }

std::string CheckpointStore::hostDir() const { return impl_->dir.string(); }

void CheckpointStore::stop() {
  impl_->stopped = true;
  if (impl_->notify) {
    asio::error_code ec;
    impl_->notify->close(ec);
  }
}

control::CheckpointHoldings CheckpointStore::scan(const std::string& hostDir) {
  return Impl::scan(hostDir);
}

}  // namespace ionet::launcher
