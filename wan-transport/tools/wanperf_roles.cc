// ionet-wanperf's roles. Wire convention on top of a session: the client opens channel
// "wanperf" and sends messages whose first byte says what they are ('D' numbered data, 'R' raw
// data, 'E' end); the server answers the end on the control channel with "RESULT <bytes> <messages>
// <sha256> <ok|why>".
#include "wanperf_roles.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ionet/error.h"
#include "ionet/log.h"
#include "ionet/wan/credentials.h"
#include "ionet/wan/relay.h"
#include "ionet/wan/session.h"

namespace ionet::wanperf {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t kHighWater = 16u << 20;  // bytes queued in the channel before waiting

// --json lines keep their keys in the order written: "role" first is how readers (the
// integration tests, bench/wan) tell a result line from an interval line.
using Json = nlohmann::ordered_json;

// Rates and times with the decimals the text output has always had (a value that is not finite
// becomes null when dumped).
double rounded(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

// One JSON object per line. Strings that came over the network (the peer's name, the server's
// verdict) may hold any byte: one that is not UTF-8 is replaced rather than failing the run.
void printJson(const Json& line) {
  std::printf("%s\n", line.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
}

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double cpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// SHA-256 of everything sent / received, through OpenSSL.
class Digest {
 public:
  Digest() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Digest() { EVP_MD_CTX_free(ctx_); }
  void update(std::string_view bytes) { EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()); }
  std::string hex() {
    unsigned char out[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, out, &n);
    std::string text;
    char two[3];
    for (unsigned i = 0; i < n; ++i) {
      std::snprintf(two, sizeof two, "%02x", out[i]);
      text += two;
    }
    return text;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// Message `index` of a --verify stream: 'D', the index (8 bytes), then splitmix64 output seeded
// by the index, so the receiver can recompute and compare every byte.
void fillMessage(std::string& out, std::uint64_t index, std::size_t size) {
  out.assign(std::max<std::size_t>(size, 9), '\0');
  out[0] = 'D';
  for (int i = 0; i < 8; ++i) out[1 + i] = char(index >> (56 - 8 * i));
  std::uint64_t x = index * 0x9e3779b97f4a7c15ull + 1;
  for (std::size_t pos = 9; pos < out.size(); pos += 8) {
    x += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(out.data() + pos, &z, std::min<std::size_t>(8, out.size() - pos));
  }
}

std::pair<std::string, std::uint16_t> splitAddress(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) throw UsageError("--listen " + text + ": expected ADDR:PORT");
  const int port = std::atoi(text.c_str() + colon + 1);
  if (port < 0 || port > 65535) throw UsageError("--listen " + text + ": bad port");
  return {text.substr(0, colon), std::uint16_t(port)};
}

wan::Security makeSecurity(const Settings& s, bool serverRole) {
  const int modes = int(!s.tlsDir.empty()) + int(!s.pskFile.empty()) + int(s.insecure);
  if (modes != 1) throw UsageError("choose one of --tls DIR, --psk FILE --name NODE, --insecure");
  wan::Security security;
  const auto role = serverRole ? wan::TlsRole::server : wan::TlsRole::client;
  if (s.insecure) {
    char host[256] = "wanperf";
    ::gethostname(host, sizeof host - 1);
    security.nodeName = s.name.empty() ? host : s.name;
    return security;
  }
  wan::Credentials credentials;
  if (!s.tlsDir.empty()) {
    credentials = wan::Credentials::loadDir(s.tlsDir);
  } else {
    if (s.name.empty()) throw UsageError("--psk needs --name NODE");
    credentials = wan::Credentials::loadPskFile(s.pskFile, s.name);
  }
  return wan::Security::fromCredentials(credentials, role);
}

void applyTimeouts(Settings& s) {
  s.options.deadPeerTimeout = std::chrono::milliseconds(std::int64_t(s.deadPeerSeconds * 1000));
  s.options.linkTimeout = std::chrono::milliseconds(std::int64_t(s.linkSeconds * 1000));
  s.options.rateHintBytesPerSecond = s.rateHintMbps * 1e6 / 8;
}

void printStats(const wan::SessionStats& st, double t, bool json) {
  if (json) {
    printJson({{"interval_end_s", rounded(t, 3)},
               {"send_mbps", rounded(st.sendRate * 8 / 1e6, 2)},
               {"receive_mbps", rounded(st.receiveRate * 8 / 1e6, 2)},
               {"rtt_ms", rounded(st.rtt.count() / 1000.0, 3)},
               {"links_up", st.linksUp},
               {"retransmitted_bytes", st.retransmittedBytes},
               {"reconnects", st.reconnects},
               {"resumes", st.resumes}});
  } else {
    std::printf(
        "[%7.2f s] send %9.2f Mbit/s  receive %9.2f Mbit/s  rtt %7.2f ms  links %d/%d  "
        "retransmitted %" PRIu64 " B  reconnects %" PRIu64 "  resumes %" PRIu64 "\n",
        t, st.sendRate * 8 / 1e6, st.receiveRate * 8 / 1e6, st.rtt.count() / 1000.0, st.linksUp,
        st.streams, st.retransmittedBytes, st.reconnects, st.resumes);
  }
  std::fflush(stdout);
}

// --- client -------------------------------------------------------------------------------

// The client's last line: what the server says it received, against what was sent.
struct ClientResult {
  std::uint64_t bytes = 0;  // as the server counted them
  double seconds = 0, goodputMbps = 0, cpuSeconds = 0;
  wan::SessionStats stats;
  std::string sha, serverSha, verdict;
  bool verified = false;
};

void printClientResult(const ClientResult& r, bool json) {
  const wan::SessionStats& st = r.stats;
  if (json) {
    printJson({{"role", "client"},
               {"bytes", r.bytes},
               {"seconds", rounded(r.seconds, 3)},
               {"goodput_mbps", rounded(r.goodputMbps, 2)},
               {"rtt_ms", rounded(st.rtt.count() / 1000.0, 3)},
               {"streams", st.streams},
               {"retransmitted_bytes", st.retransmittedBytes},
               {"reconnects", st.reconnects},
               {"resumes", st.resumes},
               {"cpu_seconds", rounded(r.cpuSeconds, 3)},
               {"sha256", r.sha},
               {"server_sha256", r.serverSha},
               {"verified", r.verified},
               {"server_verdict", r.verdict}});
  } else {
    std::printf("sent %" PRIu64
                " bytes in %.3f s: %.2f Mbit/s goodput; rtt %.2f ms;"
                " %d streams; retransmitted %" PRIu64 " B; reconnects %" PRIu64 "; resumes %" PRIu64
                "\nsha256 sent     %s\nsha256 received %s (%s)\n",
                r.bytes, r.seconds, r.goodputMbps, st.rtt.count() / 1000.0, st.streams,
                st.retransmittedBytes, st.reconnects, st.resumes, r.sha.c_str(),
                r.serverSha.c_str(), r.verdict.c_str());
  }
  std::fflush(stdout);
}

int runClient(Settings& s) {
  applyTimeouts(s);
  asio::io_context io;
  const wan::Security security = makeSecurity(s, false);
  const wan::Endpoint endpoint = wan::Endpoint::parse(s.connect);
  int status = 1;
  std::shared_ptr<wan::Session> session;
  std::shared_ptr<wan::SessionChannel> data;
  Digest digest;
  std::string message;
  std::uint64_t index = 0, sentBytes = 0;
  bool sendingDone = false;
  Clock::time_point start;
  asio::steady_timer stopTimer(io), intervalTimer(io);
  const double cpuStart = cpuSeconds();

  auto finishSending = [&] {
    if (sendingDone) return;
    sendingDone = true;
    data->send("E");
  };
  std::function<void()> pump = [&] {
    while (!sendingDone && data->queuedBytes() < kHighWater) {
      if (s.bytes > 0 && sentBytes >= s.bytes) return finishSending();
      std::size_t size = s.messageBytes;
      if (s.bytes > 0) size = std::min<std::uint64_t>(size, s.bytes - sentBytes + 9);
      if (s.verify) {
        fillMessage(message, index, size);
      } else if (message.size() != size) {
        message.assign(size, 'x');
        message[0] = 'R';  // raw: not numbered, not checked
      }
      if (s.verify) digest.update(message);  // hashing costs CPU the measurement needs
      sentBytes += message.size();
      ++index;
      data->send(message);
    }
  };
  std::function<void()> tick = [&] {
    intervalTimer.expires_after(std::chrono::milliseconds(std::int64_t(s.interval * 1000)));
    intervalTimer.async_wait([&](const asio::error_code& ec) {
      if (ec || !session) return;
      printStats(session->stats(), secondsSince(start), s.json);
      tick();
    });
  };

  wan::Session::connect(
      io, endpoint, security, s.options,
      [&](std::shared_ptr<wan::Session> ready, const std::string& error) {
        if (!ready) {
          log::error("cannot connect to ", endpoint.describe(), ": ", error);
          return io.stop();
        }
        session = ready;
        session->onEnd([&](const std::string& reason) {
          if (status != 0) log::error("session ended before the result: ", reason);
          io.stop();
        });
        auto control = session->control();
        control->start({[&](std::string result) {
                          ClientResult r;
                          r.seconds = secondsSince(start);
                          std::istringstream in(result);
                          std::string word;
                          std::uint64_t messages = 0;
                          in >> word >> r.bytes >> messages >> r.serverSha;
                          std::getline(in >> std::ws, r.verdict);
                          r.sha = digest.hex();
                          r.stats = session->stats();
                          r.goodputMbps = double(r.bytes) * 8 / r.seconds / 1e6;
                          r.cpuSeconds = cpuSeconds() - cpuStart;
                          r.verified =
                              r.verdict == "ok" && r.sha == r.serverSha && r.bytes == sentBytes;
                          printClientResult(r, s.json);
                          status = r.verified ? 0 : 1;
                          intervalTimer.cancel();
                          session->close("done");
                        },
                        [](const std::string&) {}});
        data = session->openChannel("wanperf");
        data->start({[](std::string) {}, [](const std::string&) {}});
        data->onWritable([&] { pump(); });
        start = Clock::now();
        if (s.bytes == 0) {
          stopTimer.expires_after(std::chrono::milliseconds(std::int64_t(s.seconds * 1000)));
          stopTimer.async_wait([&](const asio::error_code& ec) {
            if (!ec) finishSending();
          });
        }
        if (s.interval > 0) tick();
        pump();
      });
  io.run();
  return status;
}

// --- server -------------------------------------------------------------------------------

struct Sink {
  std::shared_ptr<wan::Session> session;
  std::shared_ptr<wan::SessionChannel> control;
  Digest digest;
  std::uint64_t bytes = 0, messages = 0;
  std::string problem;  // first verification failure
  std::string expected;
  Clock::time_point start = Clock::now();
};

void consume(Sink& sink, std::string& message) {
  if (message.empty()) {
    if (sink.problem.empty()) sink.problem = "empty message";
    return;
  }
  if (message[0] == 'D') sink.digest.update(message);  // only --verify streams are hashed
  sink.bytes += message.size();
  if (message[0] == 'D' && message.size() >= 9 && sink.problem.empty()) {
    std::uint64_t index = 0;
    for (int i = 0; i < 8; ++i) index = (index << 8) | static_cast<unsigned char>(message[1 + i]);
    if (index != sink.messages) {
      sink.problem = "message " + std::to_string(sink.messages) + " arrived as index " +
                     std::to_string(index) + (index < sink.messages ? " (duplicate)" : " (gap)");
    } else {
      fillMessage(sink.expected, index, message.size());
      if (sink.expected != message) {
        sink.problem = "message " + std::to_string(index) + ": content differs";
      }
    }
  }
  ++sink.messages;
}

int runServer(Settings& s) {
  applyTimeouts(s);
  asio::io_context io;
  const wan::Security security = makeSecurity(s, true);
  auto [address, port] = splitAddress(s.listen);
  auto server = wan::SessionServer::listen(io, address, port, security, s.options);
  if (!s.park.empty()) {
    auto relay = wan::Endpoint::parse(s.park);
    if (relay.relayTo.empty())
      throw UsageError("--park " + s.park + ": expected RELAYHOST:PORT/NODE");
    server->parkAt(relay);
  }
  std::printf("ionet-wanperf: listening on %s:%u\n", address.c_str(), unsigned(server->port()));
  std::fflush(stdout);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& ec, int) {
    if (!ec) io.stop();
  });
  server->onSession([&](std::shared_ptr<wan::Session> session) {
    auto sink = std::make_shared<Sink>();
    sink->session = session;
    sink->control = session->control();
    sink->control->start({[](std::string) {}, [](const std::string&) {}});
    session->onChannel([sink, &s](std::shared_ptr<wan::SessionChannel> channel) {
      channel->start(
          {[sink, &s](std::string message) {
             if (message == "E") {
               const double elapsed = secondsSince(sink->start);
               const std::string sha = sink->digest.hex();
               const std::string verdict = sink->problem.empty() ? "ok" : sink->problem;
               sink->control->send("RESULT " + std::to_string(sink->bytes) + " " +
                                   std::to_string(sink->messages) + " " + sha + " " + verdict);
               const auto st = sink->session->stats();
               if (s.json) {
                 printJson({{"role", "server"},
                            {"peer", st.peer},
                            {"bytes", sink->bytes},
                            {"messages", sink->messages},
                            {"seconds", rounded(elapsed, 3)},
                            {"sha256", sha},
                            {"verdict", verdict},
                            {"duplicate_bytes", st.duplicateBytes},
                            {"reconnects", st.reconnects},
                            {"resumes", st.resumes},
                            {"cpu_seconds", rounded(cpuSeconds(), 3)}});
               } else {
                 std::printf("received %" PRIu64 " bytes in %" PRIu64
                             " messages from %s in %.3f s; sha256 %s; %s; duplicates "
                             "dropped %" PRIu64 " B; reconnects %" PRIu64 "; resumes %" PRIu64 "\n",
                             sink->bytes, sink->messages, st.peer.c_str(), elapsed, sha.c_str(),
                             verdict.c_str(), st.duplicateBytes, st.reconnects, st.resumes);
               }
               std::fflush(stdout);
               return;
             }
             consume(*sink, message);
           },
           [](const std::string&) {}});
    });
    session->onEnd([sink, &s, &io](const std::string& reason) {
      std::printf("session from %s ended: %s\n", sink->session->peerName().c_str(), reason.c_str());
      std::fflush(stdout);
      if (s.once) io.stop();
    });
  });
  io.run();
  return 0;
}

// --- relay --------------------------------------------------------------------------------

int runRelay(Settings& s) {
  asio::io_context io;
  auto [address, port] = splitAddress(s.listen);
  auto relay = wan::Relay::listen(io, address, port);
  std::printf("ionet-wanperf: relay listening on %s:%u\n", address.c_str(),
              unsigned(relay->port()));
  std::fflush(stdout);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& ec, int) {
    if (!ec) io.stop();
  });
  io.run();
  const auto st = relay->stats();
  std::printf("relay: %" PRIu64 " pairs, %" PRIu64 " bytes forwarded, %" PRIu64 " refused\n",
              st.pairs, st.bytesForwarded, st.refused);
  return 0;
}

// --- single-TCP-stream baseline -----------------------------------------------------------

int runTcpServer(Settings& s) {
  asio::io_context io;
  auto [address, port] = splitAddress(s.listen);
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address(address), port});
  std::printf("ionet-wanperf: tcp baseline listening on %s:%u\n", address.c_str(),
              unsigned(acceptor.local_endpoint().port()));
  std::fflush(stdout);
  std::vector<char> buffer(1 << 20);
  for (;;) {
    asio::ip::tcp::socket socket(io);
    acceptor.accept(socket);
    std::uint64_t total = 0;
    asio::error_code ec;
    for (;;) {
      const std::size_t n = socket.read_some(asio::buffer(buffer), ec);
      if (ec) break;
      total += n;
    }
    unsigned char reply[8];
    for (int i = 0; i < 8; ++i) reply[i] = static_cast<unsigned char>(total >> (56 - 8 * i));
    asio::write(socket, asio::buffer(reply), ec);
    if (s.once) return 0;
  }
}

int runTcpClient(Settings& s) {
  asio::io_context io;
  const auto endpoint = wan::Endpoint::parse(s.tcpConnect);
  asio::ip::tcp::socket socket(io);
  asio::ip::tcp::resolver resolver(io);
  // Open, set the congestion control, then connect this very socket: asio::connect(socket,
  // range) would close it and connect a fresh one without the option.
  const auto target = *resolver.resolve(endpoint.host, std::to_string(endpoint.port)).begin();
  socket.open(target.endpoint().protocol());
  if (!s.options.congestion.empty() &&
      ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_CONGESTION, s.options.congestion.data(),
                   socklen_t(s.options.congestion.size())) != 0) {
    throw Error("congestion control '" + s.options.congestion + "': " + std::strerror(errno));
  }
  socket.connect(target.endpoint());
  char used[32] = {};
  socklen_t usedLength = sizeof used - 1;
  ::getsockopt(socket.native_handle(), IPPROTO_TCP, TCP_CONGESTION, used, &usedLength);
  const std::string congestion = used;  // what the kernel really runs, printed below
  std::vector<char> buffer(std::min<std::size_t>(s.messageBytes, 4u << 20), 'x');
  const auto start = Clock::now();
  const auto end = start + std::chrono::milliseconds(std::int64_t(s.seconds * 1000));
  std::uint64_t sent = 0;
  while (s.bytes > 0 ? sent < s.bytes : Clock::now() < end) {
    sent += asio::write(socket, asio::buffer(buffer));
  }
  tcp_info info{};
  socklen_t len = sizeof info;
  ::getsockopt(socket.native_handle(), IPPROTO_TCP, TCP_INFO, &info, &len);
  socket.shutdown(asio::ip::tcp::socket::shutdown_send);
  unsigned char reply[8];
  asio::read(socket, asio::buffer(reply));
  std::uint64_t received = 0;
  for (unsigned char c : reply) received = (received << 8) | c;
  const double elapsed = secondsSince(start);
  const double mbps = double(received) * 8 / elapsed / 1e6;
  if (s.json) {
    printJson({{"role", "tcp-client"},
               {"congestion", congestion},
               {"bytes", received},
               {"seconds", rounded(elapsed, 3)},
               {"goodput_mbps", rounded(mbps, 2)},
               {"rtt_ms", rounded(info.tcpi_rtt / 1000.0, 3)},
               {"retransmits", info.tcpi_total_retrans}});
  } else {
    std::printf("tcp %s: %" PRIu64
                " bytes in %.3f s: %.2f Mbit/s goodput; rtt %.2f ms; "
                "%u segments retransmitted\n",
                congestion.c_str(), received, elapsed, mbps, info.tcpi_rtt / 1000.0,
                info.tcpi_total_retrans);
  }
  return 0;
}

}  // namespace

int run(Settings& s) {
  if (s.server) return runServer(s);
  if (!s.connect.empty()) return runClient(s);
  if (s.relay) return runRelay(s);
  if (s.tcpServer) return runTcpServer(s);
  return runTcpClient(s);
}

}  // namespace ionet::wanperf
