#include "http_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <regex>

namespace ionet::test {
namespace {

int millisecondsLeft(ProbeClock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - ProbeClock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

int connectLoopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

bool sendAll(int fd, const std::string& data, ProbeClock::time_point deadline) {
  for (std::size_t done = 0; done < data.size();) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    const int left = millisecondsLeft(deadline);
    if (left == 0) return false;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, left);
  }
  return true;
}

bool readUntil(int fd, std::string& out, ProbeClock::time_point deadline,
               const std::function<bool(const std::string&)>& enough) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      if (enough && enough(out)) return true;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) return true;
    const int left = millisecondsLeft(deadline);
    if (left == 0) return false;
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, left);
  }
}

bool wholeResponse(const std::string& raw) {
  const auto bodyAt = raw.find("\r\n\r\n");
  if (bodyAt == std::string::npos) return false;
  std::smatch m;
  const std::string head = raw.substr(0, bodyAt);
  if (!std::regex_search(head, m, std::regex("\r\nContent-Length: (\\d+)", std::regex::icase))) {
    return false;  // read to the end
  }
  return raw.size() - bodyAt - 4 >= std::stoul(m[1]);
}

HttpAnswer exchange(int fd, const std::string& request, std::chrono::milliseconds timeout) {
  HttpAnswer a;
  if (fd < 0) return a;
  const auto deadline = ProbeClock::now() + timeout;
  sendAll(fd, request, deadline);  // a server that answers early may close mid-request
  std::string raw;
  a.ended = readUntil(fd, raw, deadline, wholeResponse);
  ::close(fd);
  std::smatch m;
  if (std::regex_search(raw, m, std::regex("^HTTP/1\\.[01] (\\d{3})"))) a.status = std::stoi(m[1]);
  const auto bodyAt = raw.find("\r\n\r\n");
  a.head = raw.substr(0, bodyAt);
  if (bodyAt != std::string::npos) a.body = raw.substr(bodyAt + 4);
  return a;
}

HttpAnswer httpGet(std::uint16_t port, const std::string& path, std::chrono::milliseconds timeout) {
  return exchange(connectLoopback(port),
                  "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                  timeout);
}

}  // namespace ionet::test
