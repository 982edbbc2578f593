// Opening a TUN queue with the virtio-net header and offloads.
#include "tun_queue.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ionet/error.h"

// UDP segmentation offload for TUN arrived in Linux 6.2, after Debian 12's headers.
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

namespace ionet::wanemu {

namespace {
// struct virtio_net_hdr of <linux/virtio_net.h>, which C++ cannot include (a member named
// "class"). Passed through untouched: it tells the kernel the packet's GSO and checksum state.
constexpr std::size_t kVirtioNetHeaderBytes = 10;
}  // namespace

TunQueue::TunQueue(const std::string& name, bool multiQueue, bool offload) {
  IONET_ENFORCE(name.size() < IFNAMSIZ, "TUN device name ", name, " is longer than ", IFNAMSIZ - 1,
                " characters");
  fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  IONET_ENFORCE(fd_ >= 0, "open /dev/net/tun: ", std::strerror(errno));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (offload) ifr.ifr_flags |= IFF_VNET_HDR;
  if (multiQueue) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  if (::ioctl(fd_, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    IONET_THROW(
        "TUNSETIFF ", name, ": ", std::strerror(err),
        err == EINVAL ? " (an existing device with other flags? multi_queue must match)" : "");
  }
  if (!offload) return;
  headerBytes_ = kVirtioNetHeaderBytes;
  int hdr = static_cast<int>(headerBytes_);
  IONET_ENFORCE(::ioctl(fd_, TUNSETVNETHDRSZ, &hdr) == 0,
                "TUNSETVNETHDRSZ: ", std::strerror(errno));
  // Without USO first-choice, fall back for kernels that predate it: the kernel then
  // segments UDP GSO packets before they reach us, which is only slower.
  unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
  if (::ioctl(fd_, TUNSETOFFLOAD, base | TUN_F_USO4 | TUN_F_USO6) == 0) {
    offloads_ = "csum,tso4,tso6,ecn,uso";
  } else if (::ioctl(fd_, TUNSETOFFLOAD, base) == 0) {
    offloads_ = "csum,tso4,tso6,ecn";
  } else {
    IONET_THROW("TUNSETOFFLOAD ", name, ": ", std::strerror(errno));
  }
}

TunQueue::~TunQueue() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace ionet::wanemu
