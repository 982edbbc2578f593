// ionet-wanperf: iperf for ionet's WAN transport. Thin: parse the command line, run one of the
// roles in wan-transport/tools/wanperf_roles.h, map errors to exit codes.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "ionet/exit_status.h"
#include "ionet/log.h"
#include "wanperf_roles.h"

int main(int argc, char** argv) {
  using namespace ionet;
  using namespace ionet::wanperf;
  ::signal(SIGPIPE, SIG_IGN);
  log::prefix() = "ionet-wanperf";
  Settings s;
  CLI::App app("ionet-wanperf: measure a link with ionet's WAN transport (goodput, RTT, resumes)",
               "ionet-wanperf");
  auto* server = app.add_flag("-s,--server", s.server, "Accept sessions and sink what they send");
  auto* client = app.add_option("-c,--client", s.connect,
                                "Send to the server at HOST:PORT (or RELAYHOST:PORT/NODE)");
  auto* relay = app.add_flag("--relay", s.relay, "Run a relay for nodes that cannot meet directly");
  auto* tcpServer = app.add_flag("--tcp-server", s.tcpServer,
                                 "Baseline: sink one plain TCP stream (no ionet transport)");
  auto* tcpClient = app.add_option("--tcp-client", s.tcpConnect,
                                   "Baseline: send one plain TCP stream to HOST:PORT");
  server->excludes(client)->excludes(relay)->excludes(tcpServer)->excludes(tcpClient);
  client->excludes(relay)->excludes(tcpServer)->excludes(tcpClient);
  relay->excludes(tcpServer)->excludes(tcpClient);
  tcpServer->excludes(tcpClient);
  app.add_option("--listen", s.listen, "Address to listen on, ADDR:PORT")
      ->default_str("0.0.0.0:5301");
  app.add_option("--park", s.park, "Server: also park connections at RELAYHOST:PORT/NODE");
  app.add_option("--tls", s.tlsDir, "Credentials directory (ca.pem, node.pem, node.key)");
  app.add_option("--psk", s.pskFile, "Pool pre-shared key file (with --name)");
  app.add_option("--name", s.name, "This node's name (PSK or --insecure mode)");
  app.add_flag("--insecure", s.insecure, "Plain TCP, no TLS (to measure what TLS costs)");
  app.add_option("-P,--streams", s.options.streams, "Parallel connections (0 = from RTT)")
      ->check(CLI::Range(0, 64));
  app.add_option("-t,--time", s.seconds, "Seconds to send (client)")->check(CLI::PositiveNumber);
  app.add_option("-n,--bytes", s.bytes, "Bytes to send instead of a duration (client)");
  app.add_option("-l,--length", s.messageBytes, "Message size in bytes")
      ->check(CLI::Range(std::size_t(1), std::size_t(64) << 20));
  app.add_flag("--verify", s.verify,
               "Numbered, checkable messages: the server checks order, duplicates and content "
               "and both sides print the SHA-256 of the stream");
  app.add_option("-i,--interval", s.interval, "Print statistics every N seconds (0 = off)");
  app.add_flag("--json", s.json, "One JSON object per result line");
  app.add_flag("--once", s.once, "Server: exit after the first session ends");
  app.add_option("--congestion", s.options.congestion, "TCP congestion control (bbr, cubic)");
  app.add_option("--dead-peer-timeout", s.deadPeerSeconds,
                 "Seconds without any connection before the session fails");
  app.add_option("--link-timeout", s.linkSeconds,
                 "Seconds of silence before a connection is dropped and redialled");
  app.add_option("--socket-buffer", s.options.socketBufferBytes,
                 "SO_SNDBUF/SO_RCVBUF bytes per connection (0 = kernel autotuning)");
  app.add_option("--rate-hint", s.rateHintMbps,
                 "Expected bottleneck in Mbit/s: sizes buffers for bandwidth x RTT");
  app.add_option("--channel-window", s.options.channelWindowBytes,
                 "Per-channel credit: bytes in flight before the receiver consumes them");
  app.add_option("--retransmit-buffer", s.options.retransmitBufferBytes,
                 "Unacknowledged bytes kept for resending");
  bool version = false;
  app.add_flag("-V,--version", version, "Show the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (version) {
      std::printf("ionet-wanperf (ionet) %s\n", IONET_VERSION);
      return 0;
    }
    return app.exit(e);
  }
  if (!s.server && s.connect.empty() && !s.relay && !s.tcpServer && s.tcpConnect.empty()) {
    std::fprintf(stderr,
                 "ionet-wanperf: say what to be: --server, --client, --relay, "
                 "--tcp-server or --tcp-client (see --help)\n");
    return 2;
  }
  return exitStatusOf([&] { return run(s); });
}
