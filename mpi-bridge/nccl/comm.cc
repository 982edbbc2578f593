// A comm's progress (see comm.h).
#include "comm.h"

#include <sched.h>
#include <time.h>

#include "socket_stream.h"

namespace ionet::bridge::nccl {
namespace {

using namespace std::chrono_literals;

// An idle comm's test(): spin, then yield the core, then nap (see idle()).
constexpr unsigned kPollsBeforeYield = 16;
constexpr unsigned kPollsBeforeNap = 64;
constexpr std::chrono::nanoseconds kIdleNap = 100us;

// Nothing moved: the bytes are with the agents (or the peer). NCCL's progress thread calls
// test() in a busy loop, which on shared cores takes the CPU this host's agent needs to move
// them: past a few idle polls the core is given away, and past many the thread naps kIdleNap
// (a WAN's round trip is milliseconds; the nap costs a message at most that).
void idle(Comm& c) {
  if (++c.idlePolls > kPollsBeforeNap) {
    const timespec nap{0, kIdleNap.count()};
    nanosleep(&nap, nullptr);
  } else if (c.idlePolls > kPollsBeforeYield) {
    sched_yield();
  }
}

// A comm straight to a peer of our direct site: the kernel's socket is the ring.
void progressDirect(Comm& c) {
  SocketStream stream{c.direct};
  const bool moved = c.sending ? c.queue.pushSends(stream) : c.queue.pullRecvs(stream);
  if (stream.error != 0 || (stream.ended && !c.queue.idle())) {
    c.failure = stream.error != 0 ? -stream.error : kPeerClosed;
    return c.queue.fail(QueueError::kPeerGone);
  }
  if (moved) c.idlePolls = 0;
  if (!moved && !c.queue.idle()) idle(c);
}

}  // namespace

void progress(Comm& c) {
  if (c.queue.error() != QueueError::kNone) return;
  if (c.direct >= 0) return progressDirect(c);
  LinkHeader* h = c.link.header();
  const std::int32_t state = h->state.load(std::memory_order_acquire);
  if (state < 0) {
    c.failure = state;
    return c.queue.fail(QueueError::kPeerGone);
  }
  Ring ring = c.sending ? toAgentRing(c.link.memory) : toPluginRing(c.link.memory);
  const bool moved = c.sending ? c.queue.pushSends(ring) : c.queue.pullRecvs(ring);
  if (moved && agentWantsWake(c.link.memory)) wakeAgent(c.link.socket);
  if (moved) c.idlePolls = 0;
  if (c.queue.idle() || moved) return;
  idle(c);
  // Waiting for bytes: the peer closed after its last one (state read before the ring, so
  // every byte it sent is in the ring by now), or our agent is gone.
  if (state == kPeerClosed && (c.sending || ring.readable() == 0)) {
    c.failure = kPeerClosed;
    c.queue.fail(QueueError::kPeerGone);
  } else if (!c.link.agentAlive()) {
    c.failure = -EPIPE;
    c.queue.fail(QueueError::kPeerGone);
  }
}

const char* describeFailure(std::int32_t failure) {
  if (failure == kPeerClosed) return "the peer closed its end";
  if (failure == -EPIPE) return "this host's ionet agent is gone";
  if (failure == -ECONNRESET) return "the session to the peer's host ended";
  if (failure == -ECONNREFUSED) return "no listener for the handle on the peer's host";
  if (failure == -EHOSTUNREACH) return "no session to the peer's host";
  if (failure == -ETIMEDOUT) return "the peer's host did not answer";
  return "link failed";
}

}  // namespace ionet::bridge::nccl
