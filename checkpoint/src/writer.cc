// Writing a set: begin (rank 0 prepares step-N.tmp/), each rank's file, and the commit protocol
// of DESIGN.md §2 (fsync, collective "all valid", manifest, rename, directory fsync, latest,
// prune).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "h5_file.h"
#include "ionet/ckpt/checkpoint.h"
#include "ionet/ckpt/checksum.h"
#include "layout.h"

namespace ionet::ckpt {
namespace {

// An Error carried from one rank to the others: "<status> <message>".
std::string encodeError(const Error& e) {
  return std::to_string(static_cast<int>(e.status())) + " " + e.what();
}

Error decodeError(const std::string& bytes, const std::string& prefix) {
  auto space = bytes.find(' ');
  int code = std::atoi(bytes.substr(0, space).c_str());
  return Error(static_cast<Status>(code), prefix + bytes.substr(space + 1));
}

// Runs f, turning anything it throws into an Error: between two collectives an exception must
// not leave one rank behind while the others wait.
template <typename F>
std::optional<Error> capture(F&& f) {
  try {
    f();
    return std::nullopt;
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    return Error(Status::kInternal, e.what());
  }
}

void publishManifest(const std::filesystem::path& dir, const Manifest& m, int keep);

}  // namespace

CheckpointDir::CheckpointDir(Options options)
    : dir_(std::move(options.dir)),
      keep_(options.keep),
      comm_(options.comm ? std::move(options.comm) : defaultComm()) {
  if (dir_.empty()) {
    const char* env = std::getenv("IONET_CHECKPOINT_DIR");
    if (!env || !*env)
      throw Error(Status::kInvalidArgument,
                  "no checkpoint directory: pass one or set IONET_CHECKPOINT_DIR");
    dir_ = env;
  }
  if (keep_ < 2)
    throw Error(Status::kInvalidArgument,
                dir_.string() + ": keep must be at least 2 (got " + std::to_string(keep_) +
                    "): the newest set may be the one that turns out damaged");
}

// Whether this rank publishes the set in its directory: the lowest rank writing into each
// distinct directory does. With a shared directory that is rank 0 alone; with per-host
// directories (ionet-run --checkpoint-storage partner) one rank per host.
bool CheckpointDir::publisher() {
  if (!publisher_) {
    auto dirs = comm_->gather(dir_.lexically_normal().string(), 0);
    std::string flags;
    for (std::size_t r = 0; r < dirs.size(); ++r) {
      flags += std::find(dirs.begin(), dirs.begin() + r, dirs[r]) == dirs.begin() + r ? '1' : '0';
    }
    flags = comm_->broadcast(flags, 0);
    publisher_ = flags.at(comm_->rank()) == '1';
  }
  return *publisher_;
}

namespace {
// Every rank's outcome of a step each did on its own: nothing when all succeeded, else the
// lowest failed rank's error on every rank (prefixed).
void agree(Comm& comm, const std::optional<Error>& failure, const std::string& prefix) {
  int bad = comm.firstFailed(!failure);
  if (bad < 0) return;
  std::string why = comm.broadcast(bad == comm.rank() ? encodeError(*failure) : "", bad);
  throw decodeError(why, prefix + (prefix.empty() ? "" : std::to_string(bad) + ": "));
}
}  // namespace

SetWriter CheckpointDir::begin(std::int64_t step) {
  std::string rootStep = comm_->broadcast(std::to_string(step), 0);
  int disagrees = comm_->firstFailed(std::to_string(step) == rootStep);
  if (disagrees >= 0)
    throw Error(Status::kInvalidArgument, "begin: ranks disagree on the step (rank 0: " + rootStep +
                                              ", rank " + std::to_string(disagrees) +
                                              " passed another)");
  const bool publishes = publisher();
  std::optional<Error> failure;
  if (publishes) failure = capture([&] { prepareSet(dir_, step); });
  agree(*comm_, failure, "");  // also the barrier: no rank writes before its tmp directory exists
  return SetWriter(dir_, keep_, comm_, step, publishes);
}

SetWriter::SetWriter(std::filesystem::path dir, int keep, std::shared_ptr<Comm> comm,
                     std::int64_t step, bool publisher)
    : dir_(std::move(dir)),
      tmp_(dir_ / layout::tmpName(step)),
      keep_(keep),
      comm_(std::move(comm)),
      step_(step),
      publisher_(publisher) {}

SetWriter::SetWriter(SetWriter&&) noexcept = default;
SetWriter& SetWriter::operator=(SetWriter&&) noexcept = default;
SetWriter::~SetWriter() { abort(); }

RankFileWriter& SetWriter::file() {
  if (done_)
    throw Error(Status::kBadState, layout::setName(step_) + ": already committed or aborted");
  if (!file_)
    file_ = std::make_unique<RankFileWriter>(tmp_ / rankFileName(comm_->rank()), step_,
                                             comm_->rank(), comm_->size());
  return *file_;
}

void SetWriter::markFailed(const Error& e) {
  if (!failure_ && e.status() != Status::kBadState) failure_ = e;
}

void SetWriter::write(std::string_view name, DType dtype, std::span<const std::uint64_t> dims,
                      const void* data) {
  try {
    file().writeDataset(name, dtype, dims, data);
  } catch (const Error& e) {
    markFailed(e);
    throw;
  }
}

void SetWriter::setMetadata(std::string_view key, std::string_view value) {
  try {
    file().setMetadata(key, value);
  } catch (const Error& e) {
    markFailed(e);
    throw;
  }
}

CheckpointSet SetWriter::commit() {
  const std::string name = layout::setName(step_);
  if (done_) throw Error(Status::kBadState, name + ": already committed or aborted");
  const int rank = comm_->rank();

  // 1. This rank's file: closed, fsynced, checksummed (its bytes are in the page cache now).
  std::string entry;
  if (!failure_) {
    auto e = capture([&] {
      RankFileWriter& f = file();  // a rank that wrote nothing still contributes a file
      auto path = f.path();
      f.close();
      FileDigest d = digestFile(path, /*fsyncFirst=*/true);
      entry = std::to_string(d.size) + " " + hex64(d.checksum);
    });
    if (e) failure_ = e;
  }
  file_.reset();
  done_ = true;

  // 2. All valid? If not, nobody commits: the publishers remove step-N.tmp, every rank reports
  // the first failed rank's error.
  int bad = comm_->firstFailed(!failure_);
  if (bad >= 0) {
    std::string why = comm_->broadcast(bad == rank ? encodeError(*failure_) : "", bad);
    if (publisher_) {
      std::error_code ec;
      std::filesystem::remove_all(tmp_, ec);
    }
    comm_->firstFailed(true);  // so the tmp directories are gone when commit returns
    throw decodeError(why, name + " not committed: rank " + std::to_string(bad) + ": ");
  }

  // 3. Rank 0 makes the manifest; each directory's publisher writes it there and renames the
  // set into place. The agreement on the outcome is the final barrier, so no rank returns
  // before the set is durable everywhere.
  auto entries = comm_->gather(entry, 0);
  const std::string manifest = comm_->broadcast(rank == 0 ? manifestOf(entries).format() : "", 0);
  std::optional<Error> failure;
  if (publisher_) {
    failure = capture([&] {
      publishManifest(dir_, Manifest::parse(manifest, Manifest::kFileName), keep_);
    });
    if (failure) {
      std::error_code ec;
      std::filesystem::remove_all(tmp_, ec);
    }
  }
  agree(*comm_, failure, name + " not committed: rank ");
  return CheckpointSet{step_, dir_ / name};
}

Manifest SetWriter::manifestOf(const std::vector<std::string>& entries) const {
  Manifest m;
  m.step = step_;
  m.nranks = static_cast<int>(entries.size());
  for (int r = 0; r < m.nranks; ++r) {
    ManifestEntry e{rankFileName(r), 0, 0};
    auto space = entries[r].find(' ');
    e.size = std::stoull(entries[r].substr(0, space));
    e.checksum = parseHex64(entries[r].substr(space + 1)).value();
    m.files.push_back(std::move(e));
  }
  return m;
}

namespace {
// The end of every commit, once all rank files are durable in step-N.tmp/: the MANIFEST, the
// rename that is the commit point, then `latest` and retention.
void publishManifest(const std::filesystem::path& dir, const Manifest& m, int keep) {
  const auto tmp = dir / layout::tmpName(m.step);
  layout::writeFileDurably(tmp / Manifest::kFileName, m.format());
  layout::fsyncDir(tmp);  // the directory entries of the rank files and the manifest
  const auto final = dir / layout::setName(m.step);
  layout::publishDir(tmp, final);  // the commit point, then the parent directory's fsync

  // The set is committed; `latest` and retention are housekeeping (restore never trusts
  // `latest`), so their failures are warnings.
  std::string problems;
  auto e = capture([&] { layout::setLatest(dir, layout::setName(m.step)); });
  if (e) problems = std::string(e->what()) + "; ";
  problems += layout::prune(dir, keep, m.step);
  if (!problems.empty())
    std::fprintf(stderr, "ionet-ckpt: warning: %s committed, but: %s\n", final.c_str(),
                 problems.c_str());
}
}  // namespace

std::filesystem::path prepareSet(const std::filesystem::path& dir, std::int64_t step) {
  if (step < 0) throw Error(Status::kInvalidArgument, "begin: step must be >= 0");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throwErrno(ec.value(), dir.string() + ": create");
  layout::removeStale(dir);
  auto tmp = dir / layout::tmpName(step);
  if (::mkdir(tmp.c_str(), 0755) != 0) throwErrno(errno, tmp.string() + ": create");
  layout::fsyncDir(dir);
  return tmp;
}

CheckpointSet commitFiles(const std::filesystem::path& dir, std::int64_t step, int nranks,
                          int keep) {
  if (nranks < 1) throw Error(Status::kInvalidArgument, "commit: nranks must be at least 1");
  if (keep < 2) throw Error(Status::kInvalidArgument, "commit: keep must be at least 2");
  const auto tmp = dir / layout::tmpName(step);
  Manifest m;
  m.step = step;
  m.nranks = nranks;
  for (int r = 0; r < nranks; ++r) {
    FileDigest d = digestFile(tmp / rankFileName(r), /*fsyncFirst=*/true);
    m.files.push_back(ManifestEntry{rankFileName(r), d.size, d.checksum});
  }
  publishManifest(dir, m, keep);
  return CheckpointSet{step, dir / layout::setName(step)};
}

void SetWriter::abort() noexcept {
  if (done_) return;
  done_ = true;
  if (file_) {
    auto path = file_->path();
    file_.reset();
    ::unlink(path.c_str());
  }
}

}  // namespace ionet::ckpt
