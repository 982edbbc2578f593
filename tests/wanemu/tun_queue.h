// One queue (file descriptor) of a TUN device, opened with a virtio-net header and TCP/UDP
// segmentation offloads so that GSO super-packets (up to 64 KiB) cross user space as one read
// and one write instead of ~45.
#pragma once

#include <cstddef>
#include <string>

namespace ionet::wanemu {

class TunQueue {
 public:
  // Attaches to device name (creating it, non-persistent, when it does not exist).
  // multiQueue: IFF_MULTI_QUEUE, needed to open several queues and to attach to a device made
  // by `ip tuntap add ... multi_queue`. offload=false: plain packets, no header (for comparison).
  TunQueue(const std::string& name, bool multiQueue, bool offload);
  ~TunQueue();
  TunQueue(const TunQueue&) = delete;
  TunQueue& operator=(const TunQueue&) = delete;

  int fd() const { return fd_; }
  // Bytes of virtio-net header in front of every packet read or written (0 without offload).
  std::size_t headerBytes() const { return headerBytes_; }
  // What the kernel accepted, for the log: "csum,tso4,tso6,ecn,uso" or "none".
  const std::string& offloads() const { return offloads_; }

 private:
  int fd_ = -1;
  std::size_t headerBytes_ = 0;
  std::string offloads_ = "none";
};

}  // namespace ionet::wanemu
