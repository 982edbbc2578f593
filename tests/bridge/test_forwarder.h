// A forwarder for the shim's tests that speaks shim_protocol.h: it stands for one host's agent.
// Every virtual address maps to this machine, so "the remote agent" is skipped: the onward
// connection goes straight to 127.0.0.1:dstPort from IONET_FORWARDER_SOURCE.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ionet::test {

class TestForwarder {
 public:
  // hostVaddr: the virtual address of the host it serves, sent as the preamble's source.
  explicit TestForwarder(std::string hostVaddr);
  ~TestForwarder();
  TestForwarder(const TestForwarder&) = delete;
  TestForwarder& operator=(const TestForwarder&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Requests for this destination port are answered ECONNREFUSED without dialling.
  void refusePort(uint16_t port);

  int requests() const { return requests_.load(); }        // ForwardRequests received
  int connected() const { return connected_.load(); }      // onward connections made
  uint64_t bytesCarried() const { return bytes_.load(); }  // both directions, after handshake

 private:
  void acceptLoop();
  void serve(int client);
  void relay(int a, int b);

  std::string hostVaddr_;
  uint32_t hostVaddrN_ = 0;
  int listenFd_ = -1;
  int wakeRead_ = -1, wakeWrite_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0}, connected_{0};
  std::atomic<uint64_t> bytes_{0};
  std::mutex mutex_;
  std::set<uint16_t> refused_;
  std::set<int> live_;  // relayed fds, shut down when the forwarder stops
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace ionet::test
