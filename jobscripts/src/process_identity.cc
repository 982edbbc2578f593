// /proc/PID/stat reading for process identity.
#include "ionet/jobscripts/process_identity.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace ionet::jobscripts {
namespace {

// Fields after the command name (which may hold spaces and parentheses): state is field 3.
bool statFields(pid_t pid, char& state, std::int64_t& start, pid_t* group = nullptr) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!pid || !std::getline(in, text)) return false;
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  rest >> state;
  for (int i = 4; i <= 22 && rest >> field; ++i) {
    if (i == 5 && group) *group = static_cast<pid_t>(std::stol(field));
    if (i == 22) {
      start = std::stoll(field);
      return true;
    }
  }
  return false;
}

}  // namespace

std::int64_t processStartTime(pid_t pid) {
  char state = 0;
  std::int64_t start = 0;
  return statFields(pid, state, start) ? start : 0;
}

bool processAlive(pid_t pid, std::int64_t startTime) {
  char state = 0;
  std::int64_t start = 0;
  if (!statFields(pid, state, start)) return false;
  return state != 'Z' && state != 'X' && (startTime == 0 || start == startTime);
}

namespace {

// Every process of process group `group`, with its /proc directory.
template <typename Visit>
void forEachInGroup(pid_t group, Visit visit) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    char state = 0;
    std::int64_t start = 0;
    pid_t pgid = 0;
    if (statFields(pid, state, start, &pgid) && pgid == group) visit(pid, e.path());
  }
}

}  // namespace

int signalGroupExcept(pid_t group, int signal, pid_t except) {
  if (group <= 1) return 0;
  int sent = 0;
  forEachInGroup(group, [&](pid_t pid, const std::filesystem::path&) {
    if (pid != except && ::kill(pid, signal) == 0) ++sent;
  });
  return sent;
}

int killJobProcesses(pid_t group, std::int64_t jobId) {
  if (group <= 1) return 0;
  const std::string marker = "IONET_JOB_ID=" + std::to_string(jobId) + '\0';
  int killed = 0;
  forEachInGroup(group, [&](pid_t pid, const std::filesystem::path& dir) {
    std::ifstream env(dir / "environ", std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(env)), {});
    const bool ours = all.compare(0, marker.size(), marker) == 0 ||
                      all.find(std::string(1, '\0') + marker) != std::string::npos;
    if (ours && ::kill(pid, SIGKILL) == 0) ++killed;
  });
  return killed;
}

}  // namespace ionet::jobscripts
