// What the batch commands share on their command lines: Slurm's comma lists, --version,
// CLI11's parse with its exit status, and Slurm's exit status for errors.
#pragma once

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ionet/log.h"

namespace ionet::jobscripts {

// "-j 1,2 -j 3" -> {1, 2, 3}.
inline std::set<std::string> commaList(const std::vector<std::string>& values) {
  std::set<std::string> out;
  for (const auto& v : values) {
    std::istringstream in(v);
    for (std::string item; std::getline(in, item, ',');) {
      if (!item.empty()) out.insert(item);
    }
  }
  return out;
}

// Adds -V/--version and parses; an exit status when the command is done (help, version, a
// parse error), nothing when it should go on.
inline std::optional<int> parseCommand(CLI::App& app, int argc, char** argv) {
  bool version = false;
  app.add_flag("-V,--version", version, "Show the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version) {
    std::cout << app.get_name() << " (ionet) " << IONET_VERSION << "\n";
    return 0;
  }
  return std::nullopt;
}

// Slurm's commands (sbatch, squeue, scancel, sacct) exit 1 on any error, bad input included,
// after one line "error: ...". Every batch command runs its body through this.
template <typename Body>
int slurmExitStatusOf(Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    log::error("error: ", e.what());
    return 1;
  }
}

}  // namespace ionet::jobscripts
