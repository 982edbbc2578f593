// Endpoint: "host:port" or "relayhost:port/node".
#include "ionet/error.h"
#include "ionet/wan/session.h"

namespace ionet::wan {

Endpoint Endpoint::parse(const std::string& text) {
  Endpoint e;
  std::string rest = text;
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    e.relayTo = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (e.relayTo.empty()) throw Error("endpoint '" + text + "': empty node name after '/'");
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw Error("endpoint '" + text + "': expected HOST:PORT or RELAYHOST:PORT/NODE");
  }
  e.host = rest.substr(0, colon);
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') {
    e.host = e.host.substr(1, e.host.size() - 2);
  }
  const std::string port = rest.substr(colon + 1);
  char* end = nullptr;
  const long value = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || value < 1 || value > 65535) {
    throw Error("endpoint '" + text + "': bad port '" + port + "'");
  }
  e.port = std::uint16_t(value);
  return e;
}

std::string Endpoint::describe() const {
  std::string s = host + ":" + std::to_string(port);
  if (!relayTo.empty()) s += "/" + relayTo;
  return s;
}

}  // namespace ionet::wan
