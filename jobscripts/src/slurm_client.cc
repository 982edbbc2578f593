// Slurm clients run with their output collected (ionet/program_output.h); the I/O edge of the
// Slurm backend.
#include "ionet/jobscripts/slurm_client.h"

#include <sstream>

#include "ionet/error.h"
#include "ionet/find_program.h"
#include "ionet/program_output.h"

namespace ionet::jobscripts {

SlurmReply runSlurmCommand(const std::vector<std::string>& argv,
                           const std::optional<std::vector<std::string>>& environment,
                           const std::string& input) {
  const std::string program = findOnPath(argv.at(0));
  if (program.empty()) {
    throw UsageError("the Slurm backend needs " + argv[0] + ", not found on PATH");
  }
  auto reply = runProgram(program, argv, environment, input);
  if (reply.status == 127 && reply.out.empty() && reply.err.empty()) {
    throw UsageError("the Slurm backend could not run " + program);
  }
  return reply;
}

std::string slurmMessage(const std::string& command, const SlurmReply& reply) {
  std::string joined;
  std::istringstream lines(reply.err);
  for (std::string l; std::getline(lines, l);) {
    for (const std::string& prefix : {command + ": ", std::string("error: ")}) {
      if (l.rfind(prefix, 0) == 0) l = l.substr(prefix.size());
    }
    if (!l.empty()) joined += (joined.empty() ? "" : "; ") + l;
  }
  if (joined.empty()) joined = "exited with status " + std::to_string(reply.status);
  return command + ": " + joined;
}

SlurmReply runSlurmChecked(const std::vector<std::string>& argv,
                           const std::optional<std::vector<std::string>>& environment,
                           const std::string& input) {
  auto reply = runSlurmCommand(argv, environment, input);
  if (reply.status != 0) throw Error(slurmMessage(argv.at(0), reply));
  return reply;
}

}  // namespace ionet::jobscripts
