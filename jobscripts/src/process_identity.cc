// /proc/PID/stat reading for process identity.
#include "ionet/jobscripts/process_identity.h"

#include <fstream>
#include <sstream>
#include <string>

namespace ionet::jobscripts {
namespace {

// Fields after the command name (which may hold spaces and parentheses): state is field 3.
bool statFields(pid_t pid, char& state, std::int64_t& start) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!pid || !std::getline(in, text)) return false;
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  rest >> state;
  for (int i = 4; i <= 22 && rest >> field; ++i) {
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

}  // namespace ionet::jobscripts
