// promtool check metrics (Debian's prometheus package) on Prometheus text, for unit tests: ""
// when it accepts it, else what it says. promtool is a test dependency (scripts/install-deps.sh),
// so its absence is a complaint, not a skip. (popen: unit test processes have no crash watch
// reaping their children; integration tests use fixture.h's, which runs it as a Command.)
#pragma once

#include <cstdio>
#include <fstream>
#include <string>

#include "ionet/find_program.h"

namespace ionet::test {

inline std::string promtoolCheck(const std::string& text, const std::string& scratchFile) {
  if (ionet::findOnPath("promtool").empty()) return "promtool is missing (scripts/install-deps.sh)";
  std::ofstream(scratchFile) << text;
  const std::string command = "promtool check metrics < '" + scratchFile + "' 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return "cannot run promtool";
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = ::pclose(p);
  return status == 0 && out.empty() ? ""
                                    : "promtool (status " + std::to_string(status) + "): " + out;
}

}  // namespace ionet::test
