// ionet-ckpt: checkpoint sets from the shell. `verify` says which sets of a directory a restart
// would take and why it skips the others; `begin`/`commit` let a program that does not link
// libionet-ckpt's collectives (the PyTorch example) write sets with the same commit protocol.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "ionet/ckpt/checkpoint.h"
#include "ionet/error.h"
#include "ionet/exit_status.h"

namespace {

namespace fs = std::filesystem;
using namespace ionet;

// Every committed set of dir, newest first, with its verdict; or the one set dir names.
// Exit 0 when the newest set verifies, 1 when an older one does, 3 when none does.
int verify(const fs::path& dir) {
  std::vector<ckpt::CheckpointSet> sets;
  if (fs::exists(dir / ckpt::Manifest::kFileName)) {
    sets.push_back({0, dir});
  } else {
    if (!fs::is_directory(dir)) throw UsageError(dir.string() + ": no such directory");
    sets = ckpt::listSets(dir);
  }
  if (sets.empty()) {
    std::printf("%s: no committed set\n", dir.c_str());
    return 3;
  }
  int status = 3;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    const auto why = ckpt::verifySet(sets[i].path);
    std::printf("%s: %s\n", sets[i].path.c_str(), why ? why->c_str() : "ok");
    if (!why && status == 3) status = i == 0 ? 0 : 1;
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ionet-ckpt: verify checkpoint sets, or write one without the library"};
  app.require_subcommand(1);
  fs::path dir;
  std::int64_t step = 0;
  int nranks = 0, keep = 2;

  auto* v = app.add_subcommand("verify", "Check every set of DIR (or the set DIR), newest first");
  v->add_option("DIR", dir, "A checkpoint directory or one set")->required();

  auto* b = app.add_subcommand("begin", "Create DIR/step-STEP.tmp/ (stale *.tmp removed)");
  b->add_option("DIR", dir)->required();
  b->add_option("STEP", step)->required();

  auto* c = app.add_subcommand("commit", "Checksum the rank files of DIR/step-STEP.tmp/, write "
                                         "its MANIFEST and publish it as DIR/step-STEP");
  c->add_option("DIR", dir)->required();
  c->add_option("STEP", step)->required();
  c->add_option("--nranks", nranks, "Rank files rank-0.h5 .. rank-<N-1>.h5")->required();
  c->add_option("--keep", keep, "Committed sets to keep (at least 2; default 2)");

  CLI11_PARSE(app, argc, argv);
  return exitStatusOf([&] {
    if (v->parsed()) return verify(dir);
    if (b->parsed()) {
      std::printf("%s\n", ckpt::prepareSet(dir, step).c_str());
      return 0;
    }
    std::printf("%s\n", ckpt::commitFiles(dir, step, nranks, keep).path.c_str());
    return 0;
  });
}
