// The byte-level contract between libionet-shim.so (in every rank) and the forwarder in the
// host's ionet-agent. Plain C so the shim can include it without the C++ runtime.
//
//   rank --connect(vaddr:port)--> shim redirects to the forwarder at $IONET_FORWARDER
//        (127.0.0.1:PORT) and writes a ForwardRequest; the forwarder answers a ForwardReply
//        only after the onward connection to the destination rank is up (or failed), so a
//        failure reaches the rank as connect()'s errno, never as a hang.
//   forwarder of the destination host --connect from kIonetForwarderSource--> the rank's
//        listening port on 127.0.0.1, and writes an AcceptPreamble first; the shim in the
//        accepting rank consumes it and reports the virtual source from getpeername().
//   In a direct site ($IONET_DIRECT) the dialling shim connects to the peer's real address and
//        writes the same AcceptPreamble itself: no forwarder, no session, no TLS.
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Environment of the ranks (set by the agent).
#define IONET_ENV_FORWARDER "IONET_FORWARDER"  // "127.0.0.1:PORT" of the local forwarder
#define IONET_ENV_VADDR "IONET_VADDR"          // this host's virtual IPv4 address, dotted
#define IONET_ENV_VNET "IONET_VNET"            // the job's virtual network, "100.64.0.0/10"
#define IONET_ENV_VIF "IONET_VIF"              // name of the virtual interface, "ionet0"
// Hosts of the job in this host's direct site: "VADDR=IPV4,VADDR=IPV4". Their ranks are dialled
// at the real address, kernel to kernel, with the AcceptPreamble written by the dialling shim;
// this host's ranks then listen on every address, not only loopback.
#define IONET_ENV_DIRECT "IONET_DIRECT"
#define IONET_DIRECT_MAX 256

// The forwarder's connections to local ranks come from this loopback address (any 127/8
// address is local on Linux); an accepted connection from it carries an AcceptPreamble.
#define IONET_FORWARDER_SOURCE "127.100.0.1"

// All integers big-endian. Sizes are fixed: 16 bytes each way, 8 for the reply.
typedef struct {
  char magic[4];      // "IOF1"
  uint32_t dstAddr;   // virtual IPv4 address dialled
  uint16_t dstPort;   // port dialled
  uint16_t srcPort;   // the rank's local port towards the forwarder (informational)
  uint32_t reserved;  // 0
} IonetForwardRequest;

typedef struct {
  char magic[4];   // "IOR1"
  int32_t error;   // 0: connected; else a Linux errno (ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT...)
} IonetForwardReply;

typedef struct {
  char magic[4];      // "IOA1"
  uint32_t srcAddr;   // virtual IPv4 address of the connecting rank's host
  uint16_t srcPort;   // the connecting rank's port (as the forwarder saw it)
  uint16_t dstPort;   // the port that was dialled
  uint32_t dstAddr;   // virtual address that was dialled (this host's)
} IonetAcceptPreamble;

#ifdef __cplusplus
}
#endif
