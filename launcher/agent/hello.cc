#include "agent/hello.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "ionet/error.h"

namespace ionet::launcher {

control::Hello makeHello(const AgentOptions& options, const std::string& tmpDir,
                         const std::string& shmDir, std::uint32_t dataPort) {
  control::Hello h;
  h.set_protocol_version(kProtocolVersion);
  h.set_host_name(options.hostName);
  h.set_address(options.address);
  h.set_free_port(freeTcpPort());
  h.set_cores(std::thread::hardware_concurrency());
  h.set_pid(::getpid());
  h.set_tmp_dir(tmpDir);
  h.set_shm_dir(shmDir);
  h.set_token(options.token);
  h.set_data_port(dataPort);
  return h;
}

std::string makePrivateDir(const std::string& root, const std::string& stem) {
  std::string tmpl = root + "/" + stem + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw Error("cannot create a directory in " + root + ": " + std::strerror(errno));
  }
  return tmpl;
}

std::uint32_t freeTcpPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  socklen_t len = sizeof(addr);
  std::uint32_t port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

}  // namespace ionet::launcher
