// What ionet-queue, ionet-cancel and ionet-acct share on their command lines: Slurm's comma
// lists, --version, and CLI11's parse with its exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

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

}  // namespace ionet::jobscripts
