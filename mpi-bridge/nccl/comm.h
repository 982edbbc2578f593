// One NCCL comm of the plugin and how its requests progress: through a shared-memory link to
// the host's agent (nccl_link.h), or a TCP connection straight to a peer of our direct site.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>

#include "ionet/bridge/nccl_link.h"
#include "ionet/bridge/nccl_socket.h"
#include "message_queue.h"

namespace ionet::bridge::nccl {

using Clock = std::chrono::steady_clock;

// How often a request that moves nothing checks that the agent is still there.
inline constexpr std::chrono::milliseconds kLivenessInterval{250};

// A comm's link to the agent: its socket and mapped memory, both closed with it.
struct Link {
  int socket = -1;
  void* memory = nullptr;
  Clock::time_point nextLivenessCheck{};

  Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  ~Link() {
    unmapLinkMemory(memory);
    if (socket >= 0) ::close(socket);
  }
  LinkHeader* header() const { return static_cast<LinkHeader*>(memory); }
  // False once the agent's end of the socket is closed (the agent died).
  bool agentAlive() {
    const auto now = Clock::now();
    if (now < nextLivenessCheck) return true;
    nextLivenessCheck = now + kLivenessInterval;
    char byte;
    const ssize_t n = ::recv(socket, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return !(n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR));
  }
};

struct Comm {
  bool sending = false;
  Link link;        // through the agent; or
  int direct = -1;  // a TCP connection straight to a peer of our direct site
  MessageQueue queue;
  std::int32_t failure = 0;  // the link state (or -errno) that failed it, for the log
  bool reported = false;
  unsigned idlePolls = 0;  // test() calls in a row that moved nothing
  ~Comm() {
    if (direct >= 0) ::close(direct);
  }
};

struct ListenComm {
  int socket = -1;  // to the agent
  int tcp = -1;     // for peers of our direct site (when we have any)
  std::uint64_t key = 0;
  ~ListenComm() {
    if (socket >= 0) ::close(socket);
    if (tcp >= 0) ::close(tcp);
  }
};

// Moves what the comm's requests can move, then decides whether its link or peer failed
// (queue.fail(kPeerGone), the reason in failure). Cheap when nothing changed: two atomic loads
// and, every kLivenessInterval, one recv().
void progress(Comm& c);

// The log's words for a Comm::failure.
const char* describeFailure(std::int32_t failure);

}  // namespace ionet::bridge::nccl
