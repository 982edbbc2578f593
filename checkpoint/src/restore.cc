// Restoring: which committed sets exist, whether one verifies, and the agreement of all ranks on
// the newest one that does (falling back to older ones, each skip reported in one line).
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "h5_file.h"
#include "ionet/ckpt/checkpoint.h"
#include "ionet/ckpt/checksum.h"
#include "layout.h"

namespace ionet::ckpt {
namespace fs = std::filesystem;
namespace {

Error unusable(const std::string& why) { return Error(Status::kCorrupt, why); }

// The checks of one set, as seen from `rank` of `nranks` ranks: the manifest, and this rank's
// file's existence, size and checksum (rank -1: every file's, and any number of ranks). The
// ranks' agreement makes a set valid only when every rank's own check passes, which also holds
// when each host's directory has only its own ranks' files (--checkpoint-storage partner).
// Throws Error whose message is the reason, without the set's name.
Manifest checkSet(const fs::path& dir, int nranks, int rank) {
  const fs::path mf = dir / Manifest::kFileName;
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) throw unusable("no such directory");
  if (::stat(mf.c_str(), &st) != 0) throw unusable("no MANIFEST");
  Manifest m = Manifest::parse(layout::readFile(mf), Manifest::kFileName);
  auto named = layout::parseSetName(dir.filename().string());
  if (named && *named != m.step)
    throw unusable("MANIFEST says step " + std::to_string(m.step) + ", the directory is " +
                   dir.filename().string());
  if (nranks >= 0 && m.nranks != nranks)
    throw Error(Status::kMismatch, "the set has " + std::to_string(m.nranks) +
                                       " ranks, this run has " + std::to_string(nranks) +
                                       " (restoring onto another number of ranks is not "
                                       "supported yet)");
  for (int r = 0; r < m.nranks; ++r) {
    if (rank >= 0 && r != rank) continue;
    const auto& f = m.files[r];
    const fs::path p = dir / f.file;
    if (::stat(p.c_str(), &st) != 0) throw unusable(f.file + " missing");
    if (static_cast<std::uint64_t>(st.st_size) != f.size)
      throw unusable(f.file + " size " + std::to_string(st.st_size) + ", manifest says " +
                     std::to_string(f.size));
  }
  for (int r = 0; r < m.nranks; ++r) {
    if (rank >= 0 && r != rank) continue;
    const auto& f = m.files[r];
    FileDigest d = digestFile(dir / f.file);
    if (d.checksum != f.checksum)
      throw unusable(f.file + " checksum mismatch (manifest " + hex64(f.checksum) + ", file " +
                     hex64(d.checksum) + ")");
  }
  return m;
}

struct Candidate {
  std::string label;  // how the skip line names it
  fs::path path;      // relative: to each rank's own checkpoint directory
};

std::string encode(const std::vector<Candidate>& list) {
  std::string out;
  for (const auto& c : list) out += c.label + '\t' + c.path.string() + '\n';
  return out;
}

std::vector<Candidate> decode(const std::string& bytes) {
  std::vector<Candidate> out;
  std::istringstream in(bytes);
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    out.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return out;
}

// $IONET_RESUME_FROM first (absolute, or relative to the checkpoint directory), then every
// committed set, newest step first.
std::vector<Candidate> candidates(const fs::path& dir) {
  std::vector<Candidate> out;
  fs::path resume;
  if (const char* env = std::getenv("IONET_RESUME_FROM"); env && *env) {
    resume = fs::path(env).is_absolute() ? fs::path(env) : dir / env;
    out.push_back({std::string("IONET_RESUME_FROM=") + env, env});
  }
  for (const auto& set : listSets(dir)) {
    std::error_code ec;
    if (!resume.empty() && fs::equivalent(set.path, resume, ec)) continue;
    out.push_back({set.path.filename().string(), set.path.filename()});
  }
  return out;
}

}  // namespace

std::vector<CheckpointSet> listSets(const fs::path& dir) {
  std::vector<CheckpointSet> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto step = layout::parseSetName(e.path().filename().string());
    std::error_code typeEc;
    if (step && e.is_directory(typeEc)) out.push_back({*step, e.path()});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.step > b.step; });
  return out;
}

std::optional<std::string> verifySet(const fs::path& setDir) {
  try {
    checkSet(setDir, -1, -1);
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
}

Restored CheckpointDir::restore() {
  const int rank = comm_->rank();
  // Rank 0 lists the candidates, so that every rank walks the same list in the same order.
  std::string list;
  if (rank == 0) {
    try {
      list = encode(candidates(dir_));
    } catch (const std::exception&) {
      list.clear();  // unreadable directory: no candidates, reported as "no set" by the caller
    }
  }
  Restored out;
  for (const auto& c : decode(comm_->broadcast(list, 0))) {
    std::unique_ptr<SetReader> reader;
    std::string why;
    try {
      const fs::path path = c.path.is_absolute() ? c.path : dir_ / c.path;
      Manifest m = checkSet(path, comm_->size(), rank);
      reader = std::make_unique<SetReader>(path, std::move(m), rank);
    } catch (const std::exception& e) {
      why = e.what();
    }
    int bad = comm_->firstFailed(why.empty());
    if (bad < 0) {
      out.set = std::move(reader);
      return out;
    }
    out.skipped.push_back(c.label + ": " + comm_->broadcast(bad == rank ? why : "", bad));
  }
  return out;
}

SetReader::SetReader(fs::path setDir, Manifest manifest, int rank)
    : dir_(std::move(setDir)),
      manifest_(std::move(manifest)),
      rank_(rank),
      file_(std::make_unique<RankFileReader>(dir_ / rankFileName(rank))) {}

SetReader::~SetReader() = default;

DatasetInfo SetReader::dataset(std::string_view name) const { return file_->dataset(name); }

void SetReader::read(std::string_view name, DType dtype, void* buf, std::size_t bytes) const {
  file_->read(name, dtype, buf, bytes);
}

std::string SetReader::metadata(std::string_view key) const { return file_->metadata(key); }

std::vector<std::string> SetReader::metadataKeys() const { return file_->metadataKeys(); }

}  // namespace ionet::ckpt
