// The agent's checkpoint store on its "ckpt" channels: replicas land in partner-<host>/ and are
// reported, fetches are answered, and garbage, a wrong token or a hostile file name is refused
// with a reason, without writing anything outside the store. The channel is a fake: what is
// tested is the store's handling of what arrives on it.
#include "agent/checkpoint_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ionet/ckpt/checksum.h"
#include "ionet/ckpt/manifest.h"

namespace ionet::launcher {
namespace {

namespace fs = std::filesystem;

class FakeChannel : public wan::SessionChannel {
 public:
  void start(Handlers handlers) override { handlers_ = std::move(handlers); }
  void send(std::string message) override { sent.push_back(std::move(message)); }
  void close() override { closed = true; }
  const std::string& peer() const override { return peer_; }
  std::size_t queuedBytes() const override { return 0; }
  void onWritable(std::function<void()>) override {}
  void pause() override {}
  void resume() override {}
  const std::string& name() const override { return name_; }

  void deliver(const control::CkptMessage& m) { handlers_.onMessage(m.SerializeAsString()); }
  void deliverRaw(std::string bytes) { handlers_.onMessage(std::move(bytes)); }
  std::vector<control::CkptMessage> received() const {
    std::vector<control::CkptMessage> out;
    for (const auto& s : sent) out.emplace_back().ParseFromString(s);
    return out;
  }
  // The reason of the CkptEnd the store sent last ("" for a clean end), or "no end".
  std::string endError() const {
    auto all = received();
    return all.empty() || !all.back().has_end() ? "no end" : all.back().end().error();
  }

  std::vector<std::string> sent;
  bool closed = false;

 private:
  Handlers handlers_;
  std::string peer_ = "10.0.0.2:7000", name_ = "ckpt";
};

constexpr const char* kToken = "job-token";

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ionet-store-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // Launched here as host h1 of h1, h2, with nothing to fetch.
    control::LaunchJob job;
    job.add_hosts()->set_host_name("h1");
    job.add_hosts()->set_host_name("h2");
    job.set_host_index(0);
    job.mutable_checkpoint()->set_dir(dir_.string());
    store_.stage(job, [](const std::string&) {});
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::shared_ptr<FakeChannel> channel() {
    auto c = std::make_shared<FakeChannel>();
    store_.adoptChannel(c);
    return c;
  }
  control::CkptMessage open(std::int64_t step, bool fetch = false,
                            std::vector<std::uint32_t> ranks = {}) const {
    control::CkptMessage m;
    auto* o = m.mutable_open();
    o->set_token(kToken);
    o->set_dir(dir_.string());
    o->set_from_host("h2");
    o->set_step(step);
    o->set_fetch(fetch);
    for (auto r : ranks) o->add_ranks(r);
    return m;
  }
  static control::CkptMessage file(const std::string& name, const std::string& data, bool last) {
    control::CkptMessage m;
    m.mutable_file()->set_name(name);
    m.mutable_file()->set_data(data);
    m.mutable_file()->set_last(last);
    return m;
  }
  // A MANIFEST of step 5 with 2 ranks whose rank-1.h5 holds `rank1`.
  static std::string manifest(const std::string& rank1) {
    ckpt::Manifest m;
    m.step = 5;
    m.nranks = 2;
    m.files = {{"rank-0.h5", 3, ckpt::checksumBytes("abc")},
               {"rank-1.h5", rank1.size(), ckpt::checksumBytes(rank1)}};
    return m.format();
  }
  // Sends a whole replica of step 5 (MANIFEST, rank-1.h5) from h2.
  void sendReplica(FakeChannel& c, const std::string& rank1) {
    c.deliver(open(5));
    c.deliver(file("MANIFEST", manifest(rank1), false));
    c.deliver(file("MANIFEST", "", true));
    c.deliver(file("rank-1.h5", rank1.substr(0, 4), false));
    c.deliver(file("rank-1.h5", rank1.substr(4), false));
    c.deliver(file("rank-1.h5", "", true));
    control::CkptMessage end;
    end.mutable_end();
    c.deliver(end);
  }
  fs::path mine() const { return dir_ / "host-h1"; }

  fs::path dir_;
  asio::io_context io_;
  bridge::Forwarder forwarder_{io_, bridge::ForwarderOptions{}};
  std::vector<control::CheckpointHoldings> reports_;
  CheckpointStore store_{io_, forwarder_, "h1", kToken,
                         [this](const control::CheckpointHoldings& h) { reports_.push_back(h); }};
};

TEST_F(StoreTest, AReplicaLandsAtThePartnerAndIsReported) {
  auto c = channel();
  sendReplica(*c, "rank one's bytes");
  EXPECT_TRUE(c->closed);
  const fs::path set = mine() / "partner-h2" / "step-5";
  std::ifstream in(set / "rank-1.h5");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), {}), "rank one's bytes");
  EXPECT_FALSE(fs::exists(set.string() + ".tmp"));
  ASSERT_EQ(reports_.size(), 1u);
  ASSERT_EQ(reports_[0].sets_size(), 1);
  EXPECT_EQ(reports_[0].sets(0).step(), 5);
  EXPECT_EQ(reports_[0].sets(0).nranks(), 2u);
  ASSERT_EQ(reports_[0].sets(0).ranks_size(), 1);  // rank 0's file is not here
  EXPECT_EQ(reports_[0].sets(0).ranks(0), 1u);
}

TEST_F(StoreTest, AFetchIsAnsweredWithTheManifestAndTheFile) {
  sendReplica(*channel(), "rank one's bytes");
  auto c = channel();
  c->deliver(open(5, true, {1}));
  auto got = c->received();
  ASSERT_EQ(got.size(), 5u);  // MANIFEST, its end; rank-1.h5, its end; CkptEnd
  EXPECT_EQ(got[0].file().name(), "MANIFEST");
  EXPECT_EQ(got[0].file().data(), manifest("rank one's bytes"));
  EXPECT_EQ(got[2].file().name(), "rank-1.h5");
  EXPECT_EQ(got[2].file().data(), "rank one's bytes");
  EXPECT_TRUE(got[3].file().last());
  EXPECT_EQ(c->endError(), "");
  EXPECT_TRUE(c->closed);

  auto missing = channel();
  missing->deliver(open(5, true, {0}));
  EXPECT_EQ(missing->endError(), "host h1 holds no file of rank 0 in step-5");
}

TEST_F(StoreTest, GarbageWrongTokensAndBadOpensAreRefused) {
  auto garbage = channel();
  garbage->deliverRaw("\xff\xff\xff");
  EXPECT_EQ(garbage->endError(), "malformed message");
  EXPECT_TRUE(garbage->closed);

  auto noOpen = channel();
  noOpen->deliver(file("rank-1.h5", "x", true));
  EXPECT_EQ(noOpen->endError(), "the first message is not an open");

  auto wrongToken = channel();
  auto m = open(5);
  m.mutable_open()->set_token("guess");
  wrongToken->deliver(m);
  EXPECT_EQ(wrongToken->endError(), "wrong job token");

  for (auto bad : {std::string("../h2"), std::string(""), std::string("a/b")}) {
    auto c = channel();
    auto o = open(5);
    o.mutable_open()->set_from_host(bad);
    c->deliver(o);
    EXPECT_EQ(c->endError(), "malformed open") << bad;
  }
  auto relative = channel();
  auto r = open(5);
  r.mutable_open()->set_dir("relative/dir");
  relative->deliver(r);
  EXPECT_EQ(relative->endError(), "malformed open");
  EXPECT_TRUE(reports_.empty());
}

TEST_F(StoreTest, AHostileFileNameWritesNothingAndDropsTheTransfer) {
  auto c = channel();
  c->deliver(open(5));
  c->deliver(file("../../../escaped", "x", true));
  EXPECT_EQ(c->endError(), "file name '../../../escaped' refused");
  EXPECT_TRUE(c->closed);
  EXPECT_FALSE(fs::exists(dir_ / "escaped"));
  EXPECT_FALSE(fs::exists(mine() / "partner-h2" / "step-5.tmp"));
  EXPECT_FALSE(fs::exists(mine() / "partner-h2" / "step-5"));
}

TEST_F(StoreTest, ATransferEndingInAnErrorIsNotKept) {
  auto c = channel();
  c->deliver(open(5));
  c->deliver(file("MANIFEST", manifest("abcd"), true));
  control::CkptMessage end;
  end.mutable_end()->set_error("rank-1.h5: read: Input/output error");
  c->deliver(end);
  EXPECT_FALSE(fs::exists(mine() / "partner-h2" / "step-5"));
  EXPECT_FALSE(fs::exists(mine() / "partner-h2" / "step-5.tmp"));
}

}  // namespace
}  // namespace ionet::launcher
