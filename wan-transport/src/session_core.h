// The session's protocol engine, without I/O: sequence numbers, cumulative acks, retransmission
// of what a lost connection carried, reassembly in order, per-channel credit, pings and the
// dead-peer clock. The asio runtime (session.cc) feeds it frames and time and writes what it
// pulls; unit tests drive two engines over a fake wire with a fake clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "ionet/wan/frame.h"
#include "ionet/wan/session_options.h"

namespace ionet::wan {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

// A violation of the session protocol by the peer (ack of unsent data, data on an unknown
// channel, ...). The runtime logs it and drops the connection that carried it.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace event {
struct Message {
  std::uint32_t channel;
  std::string bytes;
};
struct ChannelOpened {
  std::uint32_t channel;
  std::string name;
};
struct ChannelClosed {
  std::uint32_t channel;
  std::string reason;
};
struct Writable {  // the channel's send queue fell below its low-water mark
  std::uint32_t channel;
};
struct LinkExpired {  // nothing heard on this link for linkTimeout: the runtime drops it
  int link;
};
struct PeerGoodbye {
  std::string reason;
};
struct Failed {  // the session is over: no link for deadPeerTimeout
  std::string reason;
};
}  // namespace event

using Event = std::variant<event::Message, event::ChannelOpened, event::ChannelClosed,
                           event::Writable, event::LinkExpired, event::PeerGoodbye, event::Failed>;

class SessionCore {
 public:
  // `initiator` picks the channel-id parity: the connecting side opens odd ids, the accepting
  // side even ones; channel 0 (control) exists from the start on both.
  SessionCore(const SessionOptions& options, bool initiator, TimePoint now);

  // --- application side -------------------------------------------------------------------
  std::uint32_t openChannel(std::string name);
  // Queues a message; never blocks. False if the channel is unknown or closed.
  bool send(std::uint32_t channel, std::string message);
  void closeChannel(std::uint32_t channel, std::string reason);
  // While paused, data for the channel is held and no credit is returned to the sender.
  void pause(std::uint32_t channel);
  void resume(std::uint32_t channel, TimePoint now);
  std::size_t queuedBytes(std::uint32_t channel) const;
  // Grows (never shrinks) the retransmit buffer, e.g. once the RTT is known.
  void growRetransmitBuffer(std::size_t bytes) {
    options_.retransmitBufferBytes = std::max(options_.retransmitBufferBytes, bytes);
  }

  // --- link side ----------------------------------------------------------------------------
  // A connection finished its hello exchange; the peer had received everything below
  // peerReceiveNext.
  void linkUp(int link, std::uint64_t peerReceiveNext, TimePoint now);
  // A connection is gone; whatever it carried that is not acknowledged is sent again elsewhere.
  void linkDown(int link, const std::string& reason, TimePoint now);
  // Appends encoded frames for `link` to `out`, about `budget` bytes at most (at least one frame
  // if any is ready). Returns the number of bytes appended.
  std::size_t pull(int link, std::string& out, std::size_t budget, TimePoint now);
  // A frame that arrived on `link`. Throws ProtocolError if the peer broke the protocol; the
  // session is then unusable (a segment may be half-processed) and must end.
  void receive(int link, Frame&& frame, TimePoint now);
  // Whether the runtime has a write in flight on `link`: a busy link cannot take a due ping or
  // ack, so its deadlines do not count (the write's completion pulls them).
  void setWriting(int link, bool writing);

  // --- time ---------------------------------------------------------------------------------
  void tick(TimePoint now);
  TimePoint nextDeadline() const;

  std::deque<Event>& events() { return events_; }
  std::uint64_t receiveNext() const { return receiveNext_; }
  bool failed() const { return failed_; }
  // Ends the session: after this, pull() yields a goodbye on the next link that asks.
  void goodbye(std::string reason);
  bool hasUnacknowledged() const { return !unacked_.empty() || anyQueued(); }

  struct Counters {
    std::uint64_t bytesSent = 0;      // application bytes cut into segments (first send)
    std::uint64_t bytesReceived = 0;  // application bytes delivered in order
    std::uint64_t wireBytesSent = 0;  // every frame pulled, headers and retransmissions included
    std::uint64_t retransmittedBytes = 0;
    std::uint64_t duplicateBytes = 0;  // received twice (sent again after a link loss)
    std::uint64_t resumes = 0;         // the session came back after losing every link
    std::uint64_t linksLost = 0;
    std::chrono::microseconds smoothedRtt{0};
    std::size_t unackedBytes = 0;
    std::size_t linksUp = 0;
  };
  Counters counters() const;

 private:
  struct Segment {
    std::uint64_t seq;
    FrameType type;
    std::uint32_t channel;
    std::uint8_t flags;
    std::string payload;
    int link = -1;  // where it was last sent; -1 while waiting to be sent again
  };
  struct Outgoing {  // an entry of a channel's send queue
    FrameType type;  // data, open or close
    std::string bytes;
    std::size_t offset = 0;
  };
  struct ChannelState {
    bool open = true;  // this side may still send
    bool peerClosed = false;
    std::deque<Outgoing> queue;
    std::size_t queuedBytes = 0;
    bool aboveLowWater = false;
    std::uint64_t creditUsed = 0;    // data bytes cut for the peer
    std::uint64_t peerConsumed = 0;  // data bytes the peer says it consumed
    // receive side
    bool paused = false;
    std::deque<Segment> held;  // arrived in order while paused
    std::size_t heldBytes = 0;
    std::string assembling;
    // Receive framing, checked as segments arrive (before they may be held): in a message, its
    // size so far, and the data bytes received on the channel (against its credit).
    bool inMessage = false;
    std::size_t messageBytes = 0;
    std::uint64_t receivedBytes = 0;
    std::uint64_t consumed = 0;
    std::uint64_t windowAnnounced = 0;
  };
  struct LinkState {
    TimePoint lastHeard;
    TimePoint nextPing;
    std::uint64_t pingNonce = 0;  // outstanding ping, 0 if none
    TimePoint pingSentAt;
    std::optional<std::uint64_t> pong;  // latest ping to answer on this link (only it matters)
    bool writing = false;               // the runtime has a write in flight on it
    bool expired = false;
  };

  ChannelState& channelOrThrow(std::uint32_t channel, const char* what);
  bool anyQueued() const;
  bool cutSegment(std::size_t room, Segment& out);
  std::optional<std::uint32_t> nextSendingChannel(bool priorityOnly);
  void deliver(Segment&& segment, TimePoint now);
  void checkFraming(std::uint32_t channel, ChannelState& state, const Segment& segment);
  // Returns false if the channel was erased (closed both ways).
  bool consume(std::uint32_t channel, ChannelState& state, Segment&& segment);
  void noteConsumed(std::uint32_t channel, ChannelState& state);
  void acknowledge(std::uint64_t receiveNext);
  void queueWindowUpdates();
  void appendFrame(const Frame& frame, std::string& out, std::size_t& used);
  void countAppended(std::size_t bytes, std::size_t& used);  // wire bytes of a pull
  std::uint64_t nonceFor(TimePoint now);

  SessionOptions options_;
  bool initiator_;
  std::map<std::uint32_t, ChannelState> channels_;
  std::uint32_t nextChannelId_;
  std::uint32_t roundRobin_ = 0;

  // send side: segments not yet acknowledged, in seq order; those to send again
  std::deque<Segment> unacked_;
  std::size_t unackedBytes_ = 0;
  std::set<std::uint64_t> resend_;
  std::uint64_t nextSeq_ = 0;
  std::optional<std::string> goodbye_;

  // receive side
  std::uint64_t receiveNext_ = 0;
  std::map<std::uint64_t, Segment> reorder_;
  std::size_t reorderBytes_ = 0;
  std::uint64_t unackedReceived_ = 0;  // bytes since our last ack
  std::optional<TimePoint> ackDue_;
  std::set<std::uint32_t> windowDue_;

  std::map<int, LinkState> links_;
  // With no link: since when the dead-peer clock runs (the last time the peer was heard).
  std::optional<TimePoint> noLinkSince_;
  std::optional<TimePoint> lastHeard_;  // on any link
  std::string lastLinkError_;
  bool everUp_ = false;
  bool failed_ = false;
  std::uint64_t lastNonce_ = 0;

  Counters counters_;
  std::deque<Event> events_;
};

}  // namespace ionet::wan
