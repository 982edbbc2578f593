#include "observe/pool_watch.h"

#include <asio.hpp>
#include <chrono>
#include <map>
#include <thread>

#include "common/control.h"
#include "ionet/log.h"
#include "ionet/wan/session.h"
#include "observe/published.h"

namespace ionet::observe {
namespace {

using namespace std::chrono_literals;

// A lost agent is dialled again this often (a watcher is no launcher: no hurry, no storm).
constexpr auto kRedial = 2s;
constexpr auto kCheck = 500ms;

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct PoolWatch::Impl {
  struct Member {
    const launcher::PoolFileHost* host = nullptr;
    std::shared_ptr<wan::Session> session;
    std::shared_ptr<wan::Channel> channel;
    std::optional<ionet::control::Register> registration;
    bool dialling = false;
    WatchedHost view;
  };

  explicit Impl(launcher::PoolFile p) : pool(std::move(p)), timer(io) {
    credentials = launcher::loadPoolCredentials(pool, "launcher");
    options = launcher::poolSessionOptions(pool);
    for (const auto& h : pool.hosts) {
      auto m = std::make_shared<Member>();
      m->host = &h;
      m->view.name = h.name;
      m->view.site = h.site;
      m->view.relayed = !h.via.empty();
      members.push_back(m);
    }
    publish();
  }

  void dial(const std::shared_ptr<Member>& m) {
    if (stopping || m->dialling) return;
    m->dialling = true;
    std::weak_ptr<Member> weak = m;
    std::string endpoint;
    try {
      endpoint = launcher::agentEndpoint(pool, *m->host);
    } catch (const std::exception& e) {
      m->view.why = e.what();
      return;
    }
    const auto security = wan::Security::fromCredentials(credentials, wan::TlsRole::client);
    wan::Session::connect(io, wan::Endpoint::parse(endpoint), security, options,
                          [this, weak](std::shared_ptr<wan::Session> s, const std::string& error) {
                            auto m = weak.lock();
                            if (!m) return;
                            m->dialling = false;
                            if (!s) {
                              m->view.why = error;
                              return redialLater(m);
                            }
                            if (stopping) return s->close("the queue daemon is stopping", 0ms);
                            m->session = s;
                            m->channel = s->control();
                            m->channel->start({[this, weak](std::string bytes) {
                                                 if (auto m = weak.lock()) onMessage(*m, bytes);
                                               },
                                               [this, weak](const std::string& why) {
                                                 auto m = weak.lock();
                                                 if (!m) return;
                                                 m->view.why = why;
                                                 m->session.reset();
                                                 m->channel.reset();
                                                 m->registration.reset();
                                                 redialLater(m);
                                               }});
                          });
  }

  void redialLater(const std::shared_ptr<Member>& m) {
    if (stopping) return;
    auto t = std::make_shared<asio::steady_timer>(io, kRedial);
    std::weak_ptr<Member> weak = m;
    t->async_wait([this, t, weak](asio::error_code ec) {
      if (auto m = weak.lock(); m && !ec) dial(m);
    });
  }

  void onMessage(Member& m, const std::string& bytes) {
    ionet::control::Envelope e;
    if (!launcher::parseEnvelope(bytes, &e) || !e.has_registration()) return;
    if (e.registration().host_name() != m.host->name) {
      m.view.why = "its agent says it is '" + e.registration().host_name() + "'";
      return;
    }
    m.registration = e.registration();
  }

  // Every kCheck: who is up now, into the published list.
  void check() {
    timer.expires_after(kCheck);
    timer.async_wait([this](asio::error_code ec) {
      if (ec || stopping) return;  // (the destructor reuses the timer)
      publish();
      check();
    });
  }

  void publish() {
    std::vector<WatchedHost> out;
    for (auto& m : members) {
      auto& v = m->view;
      bool up = false;
      if (m->session && m->registration) {
        const auto stats = m->session->stats();
        up = stats.linksUp > 0;
        v.rttMs = static_cast<double>(stats.rtt.count()) / 1000.0;
        if (!up) v.why = "its agent's session lost every link (reconnecting)";
        const auto& r = *m->registration;
        v.cores = r.cores();
        v.memoryBytes = r.memory_bytes();
        v.gpuError = r.gpu_error();
        v.gpus.clear();
        for (const auto& g : r.gpus()) {
          v.gpus.push_back({g.index(), g.model(), g.memory_bytes(), g.checked(), g.health_failure(),
                            g.tflops()});
        }
      }
      if (up != v.up || v.since == 0) v.since = unixNow();
      v.up = up;
      if (up) v.why.clear();
      out.push_back(v);
    }
    published.set(std::move(out));
  }

  void run() {
    for (auto& m : members) dial(m);
    check();
    io.run();
  }

  launcher::PoolFile pool;
  wan::Credentials credentials;
  wan::SessionOptions options;
  asio::io_context io;
  asio::steady_timer timer;
  std::vector<std::shared_ptr<Member>> members;
  Published<std::vector<WatchedHost>> published;
  bool stopping = false;
  std::thread thread;
};

PoolWatch::PoolWatch(launcher::PoolFile pool) : impl_(std::make_unique<Impl>(std::move(pool))) {
  impl_->thread = std::thread([this] {
    try {
      impl_->run();
    } catch (const std::exception& e) {
      log::error("pool watch stopped: ", e.what());
    }
  });
}

PoolWatch::~PoolWatch() {
  // Sessions are closed politely (the agents log a watcher leaving, not a lost peer); what has
  // not gone out in 300 ms, or a dial still unanswered, is cut off with the loop.
  asio::post(impl_->io, [impl = impl_.get()] {
    impl->stopping = true;
    for (auto& m : impl->members) {
      if (m->session) m->session->close("the queue daemon is stopping", 200ms);
    }
    impl->timer.expires_after(300ms);
    impl->timer.async_wait([impl](asio::error_code) { impl->io.stop(); });
  });
  if (impl_->thread.joinable()) impl_->thread.join();
}

const std::string& PoolWatch::poolName() const { return impl_->pool.name; }

std::vector<WatchedHost> PoolWatch::hosts() const {
  auto p = impl_->published.get();
  return p ? *p : std::vector<WatchedHost>{};
}

}  // namespace ionet::observe
