// The queue database: array ids, filters, dependencies on stored jobs, placements.
#include "ionet/jobscripts/queue_db.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "ionet/jobscripts/dependency.h"

namespace ionet::jobscripts {
namespace {

namespace fs = std::filesystem;

class QueueDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "queue-db-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "queue.db").string(); }

  std::int64_t add(QueueDb& db, std::vector<JobRecord> jobs) {
    std::int64_t id = 0;
    db.transaction([&] { id = db.insert(jobs); });
    return id;
  }

  static JobRecord named(const std::string& name) {
    JobRecord j;
    j.name = name;
    j.user = "ana";
    j.args = {"a b", ""};
    j.environment = {"X=1", "Y=with\nnewline"};
    return j;
  }

  fs::path dir_;
};

TEST_F(QueueDbTest, ArrayTasksShareTheFirstId) {
  QueueDb db(path());
  EXPECT_EQ(add(db, {named("solo")}), 1);
  std::vector<JobRecord> tasks;
  for (std::uint32_t t : {0u, 5u, 9u}) {
    auto j = named("arr");
    j.arrayTaskId = t;
    j.arrayMaxRunning = 2;
    tasks.push_back(j);
  }
  EXPECT_EQ(add(db, tasks), 2);
  const auto all = db.jobsNamed("2");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].displayId(), "2_5");
  EXPECT_EQ(all[1].id, 3);
  EXPECT_EQ(db.jobsNamed("2_9").at(0).id, 4);
  EXPECT_TRUE(db.jobsNamed("7").empty());
  // Listing leaves the big columns out; the whole record has them.
  EXPECT_TRUE(all[0].environment.empty());
  EXPECT_EQ(db.job(2)->args, (std::vector<std::string>{"a b", ""}));
  EXPECT_EQ(db.job(2)->environment.at(1), "Y=with\nnewline");
}

TEST_F(QueueDbTest, FiltersAndUpdatesSurviveReopening) {
  {
    QueueDb db(path());
    add(db, {named("a"), named("b")});
    auto j = *db.job(2);
    j.state = JobState::kRunning;
    j.allocation = {{"node1", 2}};
    db.update(j);
  }
  QueueDb db(path());
  EXPECT_EQ(db.jobs({{JobState::kRunning}, {}, {}, {}}).at(0).allocation.at(0).name, "node1");
  EXPECT_EQ(db.jobs({{}, {}, {}, {"a"}}).size(), 1u);
  EXPECT_EQ(db.jobs({{}, {"2"}, {}, {}}).size(), 1u);
  EXPECT_EQ(db.active().size(), 2u);
}

TEST_F(QueueDbTest, DependenciesAgainstStoredJobs) {
  QueueDb db(path());
  add(db, {named("first")});
  auto second = named("second");
  second.dependency = parseDependency("afterok:1");
  add(db, {second});
  DependencyLookup lookup{[&](const std::string& id) { return db.jobsNamed(id); },
                          [&](const JobRecord& j) { return db.sameNameOlderActive(j); }};
  EXPECT_EQ(evaluateDependency(*db.job(2), lookup).status, DependencyStatus::kWaiting);
  auto first = *db.job(1);
  first.state = JobState::kFailed;
  db.update(first);
  auto verdict = evaluateDependency(*db.job(2), lookup);
  EXPECT_EQ(verdict.status, DependencyStatus::kNever);
  EXPECT_EQ(verdict.why, "afterok:1: job 1 FAILED");
  second.dependency = parseDependency("afternotok:1,afterany:1");
  EXPECT_EQ(evaluateDependency(second, lookup).status, DependencyStatus::kSatisfied);
  second.dependency = parseDependency("afterok:99");
  EXPECT_EQ(evaluateDependency(second, lookup).status, DependencyStatus::kNever);
  auto twin = named("first");
  twin.dependency = parseDependency("singleton");
  add(db, {twin, named("first")});
  EXPECT_EQ(evaluateDependency(*db.job(3), lookup).status, DependencyStatus::kSatisfied);
  twin.id = 4;
  EXPECT_EQ(evaluateDependency(twin, lookup).status, DependencyStatus::kWaiting);
}

TEST_F(QueueDbTest, APendingReasonNeverUndoesACancelFromAnotherProcess) {
  QueueDb daemon(path());
  add(daemon, {named("a"), named("b")});
  const auto stale = daemon.active();  // what the daemon read at the start of its pass
  {
    QueueDb cancel(path());  // ionet-cancel, meanwhile
    cancel.transaction([&] {
      auto j = *cancel.job(1);
      j.state = JobState::kCancelled;
      cancel.update(j);
    });
  }
  daemon.setPendingReasons({{stale[0].id, "Resources"}, {stale[1].id, "Priority"}});
  EXPECT_EQ(daemon.job(1)->state, JobState::kCancelled);
  EXPECT_EQ(daemon.job(1)->reason, "None");
  EXPECT_EQ(daemon.job(2)->reason, "Priority");
}

TEST_F(QueueDbTest, IdFiltersInTheQuery) {
  QueueDb db(path());
  add(db, {named("solo")});
  std::vector<JobRecord> tasks(3, named("arr"));
  for (std::uint32_t t = 0; t < 3; ++t) tasks[t].arrayTaskId = t;
  add(db, tasks);
  auto ids = [&](std::set<std::string> filter) {
    std::string out;
    for (const auto& j : db.jobs({{}, filter, {}, {}})) out += j.displayId() + " ";
    return out;
  };
  EXPECT_EQ(ids({"2"}), "2_0 2_1 2_2 ");
  EXPECT_EQ(ids({"2_1", "1"}), "1 2_1 ");
  EXPECT_EQ(ids({"3"}), "2_1 ");  // a task's own job id
  EXPECT_EQ(ids({"x", "2_", "_1"}), "");
}

TEST_F(QueueDbTest, PlacementsAndDownHosts) {
  QueueDb db(path());
  db.addPlacements({{1, 0, 0, 0, "node0", ""}, {1, 0, 0, 1, "node1", "0,1"}});
  EXPECT_EQ(db.placements(1).at(1).gpus, "0,1");
  db.setHostDown("node1", 200, "lost");
  EXPECT_EQ(db.downHosts(100).count("node1"), 1u);
  EXPECT_TRUE(db.downHosts(300).empty());
}

TEST_F(QueueDbTest, ANonDatabaseFileIsAClearError) {
  { std::ofstream(path()) << "this is not sqlite, just text that is long enough to be a header"; }
  try {
    QueueDb db(path());
    FAIL() << "opened";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(path()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ionet::jobscripts
