// The roles of ionet-wanperf: session client and server, relay, and the single-TCP-stream
// baseline that benches compare against (same tool, same path).
#pragma once

#include <cstdint>
#include <string>

#include "ionet/wan/session_options.h"

namespace ionet::wanperf {

struct Settings {
  bool server = false;
  std::string connect;
  bool relay = false;
  bool tcpServer = false;
  std::string tcpConnect;
  std::string listen = "0.0.0.0:5301";
  std::string park;
  std::string tlsDir, pskFile, name;
  bool insecure = false;
  double seconds = 10;
  std::uint64_t bytes = 0;
  std::size_t messageBytes = 128u << 10;
  bool verify = false;
  double interval = 0;
  bool json = false;
  bool once = false;
  double deadPeerSeconds = 60;
  double linkSeconds = 10;
  double rateHintMbps = 0;
  wan::SessionOptions options;
};

int run(Settings& settings);

}  // namespace ionet::wanperf
