// ionet-queued: the queue daemon of one pool, and (with --shepherd) the shepherd of one job.
// Started by the commands, not by people (see ionet-batch(1), "The queue").
#include <cstring>
#include <iostream>
#include <string>

#include "ionet/error.h"
#include "ionet/jobscripts/command_line.h"
#include "ionet/jobscripts/queue_daemon.h"
#include "ionet/jobscripts/shepherd.h"
#include "ionet/log.h"

int main(int argc, char** argv) {
  using namespace ionet;
  std::string dir;
  std::string webListen;
  std::int64_t shepherd = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--queue-dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--web-listen" && i + 1 < argc) {
      webListen = argv[++i];
    } else if (a == "--shepherd" && i + 1 < argc) {
      shepherd = std::atoll(argv[++i]);
    } else {
      std::cerr << "usage: ionet-queued --queue-dir DIR [--web-listen ADDR:PORT|off] [--shepherd "
                   "JOBID]\n";
      return 2;
    }
  }
  if (dir.empty()) {
    std::cerr
        << "usage: ionet-queued --queue-dir DIR [--web-listen ADDR:PORT|off] [--shepherd JOBID]\n";
    return 2;
  }
  if (!std::getenv("IONET_LOG_LEVEL")) log::threshold() = log::Level::kInfo;
  return jobscripts::slurmExitStatusOf([&] {
    const auto queue = jobscripts::loadQueueDir(dir);
    return shepherd ? jobscripts::runShepherd(queue, shepherd)
                    : jobscripts::runDaemon(queue, webListen);
  });
}
