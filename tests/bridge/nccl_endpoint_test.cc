// The agent's NCCL endpoint against hostile or broken input, with two real forwarders (plain
// TCP sessions on loopback) standing for two hosts: garbage on its Unix socket, a connect whose
// link memory is wrong or whose host is unknown, a peer's "nccl" channel with a broken or
// foreign open message. Each is refused with its status and the endpoint keeps serving.
#include "ionet/bridge/nccl_endpoint.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "forward_stream.h"
#include "ionet/bridge/forwarder.h"
#include "ionet/bridge/nccl_link.h"
#include "ionet/bridge/nccl_socket.h"

namespace ionet::bridge {
namespace {

using namespace std::chrono_literals;
using nccl::ControlMessage;
using nccl::Op;

// Two hosts' forwarders and endpoints on one io_context, run on a thread.
class NcclEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int h = 0; h < 2; ++h) {
      ForwarderOptions o;
      o.clientSecurity = o.serverSecurity = wan::Security{nullptr, "h" + std::to_string(h)};
      forwarders_.push_back(std::make_unique<Forwarder>(io_, o));
      endpoints_.push_back(std::make_unique<NcclEndpoint>(io_, *forwarders_.back()));
    }
    std::vector<DataHost> hosts;
    for (int h = 0; h < 2; ++h) {
      hosts.push_back({"h" + std::to_string(h), virtualAddressOfHost(h),
                       "127.0.0.1:" + std::to_string(forwarders_[h]->dataPort())});
    }
    for (int h = 0; h < 2; ++h) {
      forwarders_[h]->setHosts(hosts, h, "job1");
      endpoints_[h]->setJob("job1", {virtualAddressOfHost(0), virtualAddressOfHost(1)}, h);
    }
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    onIo([this] {
      endpoints_.clear();
      for (auto& f : forwarders_) f->close();
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Runs f on the io thread and waits for it.
  void onIo(std::function<void()> f) {
    std::promise<void> done;
    asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  std::string address(int h) {
    std::string a;
    onIo([&] { a = endpoints_[h]->address(); });
    return a;
  }

  // A listener registered the plugin's way; true when the agent acknowledged it.
  bool listens(int h, std::uint64_t key, int* socket) {
    *socket = nccl::connectAgent(address(h));
    if (*socket < 0) return false;
    ControlMessage m = nccl::makeControl(Op::kListen);
    m.key = key;
    if (!nccl::sendControl(*socket, m)) return false;
    pollfd p{*socket, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return false;
    ControlMessage answer{};
    int fds[2];
    return nccl::receiveControl(*socket, &answer, fds, 2, true) == 1 &&
           answer.op == Op::kListenAck && answer.error == 0;
  }

  // Waits until a link's state leaves kConnecting; returns it.
  static int awaitState(void* link) {
    auto* h = static_cast<nccl::LinkHeader*>(link);
    for (int i = 0; i < 1000 && h->state.load() == nccl::kConnecting; ++i) {
      std::this_thread::sleep_for(10ms);  // the agent writes the state; polled as the plugin does
    }
    return h->state.load();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::vector<std::unique_ptr<Forwarder>> forwarders_;
  std::vector<std::unique_ptr<NcclEndpoint>> endpoints_;
  std::thread thread_;
};

TEST_F(NcclEndpointTest, GarbageOnTheSocketIsDroppedAndTheEndpointKeepsServing) {
  for (std::size_t n : {std::size_t{3}, sizeof(ControlMessage), std::size_t{200}}) {
    const int s = nccl::connectAgent(address(0));
    ASSERT_GE(s, 0);
    std::string junk(n, '\xab');
    ASSERT_EQ(::send(s, junk.data(), junk.size(), 0), static_cast<ssize_t>(n));
    char byte;
    pollfd p{s, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the agent closes a connection that sent garbage";
    EXPECT_EQ(::recv(s, &byte, 1, 0), 0);
    ::close(s);
  }
  // A well-formed op that makes no sense first, and a connect without its memory.
  for (Op op : {Op::kListenAck, Op::kIncoming, Op::kConnect}) {
    const int s = nccl::connectAgent(address(0));
    ASSERT_TRUE(nccl::sendControl(s, nccl::makeControl(op)));
    pollfd p{s, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    char byte;
    EXPECT_EQ(::recv(s, &byte, 1, 0), 0) << static_cast<int>(op);
    ::close(s);
  }
  int listener;
  EXPECT_TRUE(listens(0, 42, &listener));
  ::close(listener);
}

TEST_F(NcclEndpointTest, AConnectWithLinkMemoryOfTheWrongSizeIsRefused) {
  const int memory = ::memfd_create("short", MFD_CLOEXEC);
  ASSERT_EQ(::ftruncate(memory, 4096), 0);
  const int s = nccl::connectAgent(address(0));
  ControlMessage m = nccl::makeControl(Op::kConnect);
  m.vaddr = virtualAddressOfHost(1);
  ASSERT_TRUE(nccl::sendControl(s, m, &memory, 1));
  pollfd p{s, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  char byte;
  EXPECT_EQ(::recv(s, &byte, 1, 0), 0);
  ::close(s);
  ::close(memory);
  int listener;
  EXPECT_TRUE(listens(0, 7, &listener));
  ::close(listener);
}

TEST_F(NcclEndpointTest, ConnectsToUnknownHostsAndKeysFailWithTheirStatus) {
  int listener;
  ASSERT_TRUE(listens(1, 1234, &listener));
  struct Case {
    std::uint32_t vaddr;
    std::uint64_t key;
    int state;
  };
  for (const Case& c :
       {Case{0x0a000001, 1234, -EHOSTUNREACH}, Case{virtualAddressOfHost(1), 999, -ECONNREFUSED},
        Case{virtualAddressOfHost(1), 1234, nccl::kOpen}}) {
    const int memory = nccl::createLinkMemory();
    void* link = nccl::mapLinkMemory(memory);
    ASSERT_NE(link, nullptr);
    nccl::initLinkHeader(link);
    const int s = nccl::connectAgent(address(0));
    ControlMessage m = nccl::makeControl(Op::kConnect);
    m.vaddr = c.vaddr;
    m.key = c.key;
    ASSERT_TRUE(nccl::sendControl(s, m, &memory, 1));
    ::close(memory);
    EXPECT_EQ(awaitState(link), c.state) << std::hex << c.vaddr << " key " << std::dec << c.key;
    ::close(s);
    nccl::unmapLinkMemory(link);
  }
  // The open one was announced to the listener with its memory and socket.
  pollfd p{listener, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  ControlMessage incoming{};
  int fds[2];
  ASSERT_EQ(nccl::receiveControl(listener, &incoming, fds, 2, true), 1);
  EXPECT_EQ(incoming.op, Op::kIncoming);
  EXPECT_GE(fds[0], 0);
  EXPECT_GE(fds[1], 0);
  for (int fd : fds) ::close(fd);
  ::close(listener);
}

TEST_F(NcclEndpointTest, APeersBrokenOrForeignOpenMessageIsRefused) {
  int listener;
  ASSERT_TRUE(listens(0, 55, &listener));
  for (auto [open, expected] : {std::pair<std::string, int>{"garbage", EPROTO},
                                {"ncclopen otherjob 55 1681915906", ECONNREFUSED},
                                {"ncclopen job1 55 1681915906 trailing", EPROTO},
                                {std::string(3000, 'x'), EPROTO}}) {
    std::promise<std::string> status;
    onIo([&, open = open] {
      forwarders_[1]->openChannel(
          0, kNcclChannel,
          [&, open](std::shared_ptr<wan::SessionChannel> channel, const std::string& error) {
            if (!channel) return status.set_value("no channel: " + error);
            auto once = std::make_shared<bool>(false);
            channel->start({[&, once](std::string m) {
                              if (!std::exchange(*once, true)) status.set_value(m);
                            },
                            [&, once](const std::string& reason) {
                              if (!std::exchange(*once, true))
                                status.set_value("closed: " + reason);
                            }});
            channel->send(open);
          });
    });
    auto f = status.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    int error = 0;
    const std::string got = f.get();
    ASSERT_TRUE(decodeStatus(got, &error)) << got;
    EXPECT_EQ(error, expected) << open.substr(0, 40);
  }
  // Nothing reached the listening rank.
  pollfd p{listener, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 100), 0);
  ::close(listener);
}

}  // namespace
}  // namespace ionet::bridge
