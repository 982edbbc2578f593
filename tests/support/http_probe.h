// Raw HTTP over TCP for the tests of ionet's HTTP listeners (/metrics, the queue's web view):
// ordinary requests and hostile ones (garbage, a 1 MiB header, a request never finished), each
// with a deadline, on non-blocking sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace ionet::test {

using ProbeClock = std::chrono::steady_clock;

// A non-blocking connection to 127.0.0.1:port; -1 when refused.
int connectLoopback(std::uint16_t port);

// Sends what the peer takes before the deadline; false when it stopped taking it (closed,
// reset, or full until the deadline).
bool sendAll(int fd, const std::string& data, ProbeClock::time_point deadline);

// Appends what the peer sends to `out` until it closes (or resets) the connection or `enough`
// holds for what came; false at the deadline.
bool readUntil(int fd, std::string& out, ProbeClock::time_point deadline,
               const std::function<bool(const std::string&)>& enough = {});

// Whether raw holds a whole response: its head and Content-Length bytes of body.
bool wholeResponse(const std::string& raw);

struct HttpAnswer {
  bool ended = false;  // a whole answer came, or the server closed the connection, in time
  int status = 0;      // 0: no status line (closed without an answer)
  std::string head;    // the status line and headers
  std::string body;
};

// Sends request on fd (connected; closed here) and reads one answer.
HttpAnswer exchange(int fd, const std::string& request,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// GET path from 127.0.0.1:port.
HttpAnswer httpGet(std::uint16_t port, const std::string& path,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace ionet::test
