// Hostfiles and -H values in Open MPI's syntax, and every way they are refused.
#include "hosts/hostfile.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "ionet/error.h"
#include "usage_error.h"

namespace ionet::launcher {
namespace {

std::string hostfileError(const std::string& text) {
  return usageError([&] { parseHostfileText(text, "hosts.txt"); });
}

TEST(Hostfile, CommentsBlankLinesSlotsAndDuplicates) {
  const auto hosts = parseHostfileText(
      "# the cluster\n"
      "a slots=2\n"
      "\n"
      "   \t \n"
      "b    # no slots: one\n"
      "a slots=3 max_slots=4\n"
      "c max_slots=8\n",
      "hosts.txt");
  ASSERT_EQ(hosts.size(), 3u);
  EXPECT_EQ(hosts[0].name, "a");
  EXPECT_EQ(hosts[0].slots, 5u);  // 2 + 3: duplicates add up
  EXPECT_TRUE(hosts[0].slotsGiven);
  EXPECT_EQ(hosts[0].origin, "hosts.txt:2");  // the first mention
  EXPECT_EQ(hosts[1].name, "b");
  EXPECT_EQ(hosts[1].slots, 1u);
  EXPECT_FALSE(hosts[1].slotsGiven);
  EXPECT_EQ(hosts[1].origin, "hosts.txt:5");
  EXPECT_EQ(hosts[2].name, "c");
  EXPECT_EQ(hosts[2].slots, 1u);
  EXPECT_FALSE(hosts[2].slotsGiven);
}

TEST(Hostfile, NoTrailingNewline) {
  const auto hosts = parseHostfileText("x slots=4", "h");
  ASSERT_EQ(hosts.size(), 1u);
  EXPECT_EQ(hosts[0].slots, 4u);
}

TEST(Hostfile, UnknownAttribute) {
  const auto msg = hostfileError("a\n# ok\nb colour=red\n");
  EXPECT_NE(msg.find("hosts.txt:3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown attribute 'colour'"), std::string::npos) << msg;
}

TEST(Hostfile, ZeroSlots) {
  const auto msg = hostfileError("a slots=0\n");
  EXPECT_NE(msg.find("hosts.txt:1:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("slots must be a positive integer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'0'"), std::string::npos) << msg;
}

TEST(Hostfile, NonNumericSlots) {
  for (const char* text : {"a\nb slots=abc\n", "a\nb slots=2x\n", "a\nb slots=-1\n"}) {
    const auto msg = hostfileError(text);
    EXPECT_NE(msg.find("hosts.txt:2:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("slots must be a positive integer"), std::string::npos) << msg;
  }
}

TEST(Hostfile, MaxSlotsBelowSlots) {
  const auto msg = hostfileError("a slots=4 max_slots=2\n");
  EXPECT_NE(msg.find("hosts.txt:1:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("max_slots=2 is less than slots=4"), std::string::npos) << msg;
}

TEST(Hostfile, AttributeWithoutValue) {
  for (const char* text : {"a slots\n", "a slots=\n"}) {
    const auto msg = hostfileError(text);
    EXPECT_NE(msg.find("hosts.txt:1:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("needs a value"), std::string::npos) << msg;
  }
}

TEST(Hostfile, LineStartingWithAttribute) {
  const auto msg = hostfileError("a\n\nslots=4\n");
  EXPECT_NE(msg.find("hosts.txt:3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected a host name"), std::string::npos) << msg;
}

TEST(Hostfile, EmptyFile) {
  for (const char* text : {"", "\n\n", "# nothing here\n  # nor here\n"}) {
    const auto msg = hostfileError(text);
    EXPECT_NE(msg.find("hosts.txt"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no hosts"), std::string::npos) << msg;
  }
}

TEST(Hostfile, ReadsFileFromDisk) {
  char dir[] = "/tmp/ionet-hostfile-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/hosts";
  std::ofstream(path) << "n1 slots=2\nn2\n";
  const auto hosts = parseHostfile(path);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].name, "n1");
  EXPECT_EQ(hosts[0].slots, 2u);
  EXPECT_EQ(hosts[0].origin, path + ":1");
  EXPECT_EQ(hosts[1].name, "n2");
}

TEST(Hostfile, MissingFile) {
  const std::string path = "/nonexistent/ionet/hosts.txt";
  const auto msg = usageError([&] { parseHostfile(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
}

TEST(HostList, DuplicatesAndSlots) {
  const auto hosts = parseHostList("a,b:2,a");
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].name, "a");
  EXPECT_EQ(hosts[0].slots, 2u);     // 1 + 1
  EXPECT_TRUE(hosts[0].slotsGiven);  // mpirun 4.x: each -H mention is one stated slot
  EXPECT_EQ(hosts[1].name, "b");
  EXPECT_EQ(hosts[1].slots, 2u);
  EXPECT_TRUE(hosts[1].slotsGiven);
  EXPECT_EQ(hosts[1].origin, "-H a,b:2,a");
}

TEST(HostList, Rejections) {
  EXPECT_NE(usageError([] { parseHostList("a,,b"); }).find("empty host name"), std::string::npos);
  EXPECT_NE(usageError([] { parseHostList(":3"); }).find("empty host name"), std::string::npos);
  EXPECT_NE(usageError([] { parseHostList(",a"); }).find("empty host name"), std::string::npos);
  EXPECT_NE(usageError([] { parseHostList(""); }).find("no hosts"), std::string::npos);
  for (const char* value : {"a:0", "a:x", "a:"}) {
    const auto msg = usageError([&] { parseHostList(value); });
    EXPECT_NE(msg.find(std::string("-H ") + value), std::string::npos) << msg;
    EXPECT_NE(msg.find("positive integer"), std::string::npos) << msg;
  }
}

// "a,,b", ",a" and "a,b," are all refused for their empty host name.
TEST(HostList, TrailingCommaRejectedLikeOtherEmptyNames) {
  EXPECT_NE(usageError([] { parseHostList("a,b,"); }).find("empty host name"), std::string::npos);
}

TEST(MergeHosts, AddsSlotsToFirstMentionAndAppendsNewHosts) {
  std::vector<HostEntry> a = {{"x", 1, false, "f:1"}, {"y", 3, true, "f:2"}};
  mergeHosts(a, {{"z", 2, true, "-H z:2,x:4"}, {"x", 4, true, "-H z:2,x:4"}});
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].name, "x");
  EXPECT_EQ(a[0].slots, 5u);
  EXPECT_TRUE(a[0].slotsGiven);
  EXPECT_EQ(a[0].origin, "f:1");
  EXPECT_EQ(a[1].slots, 3u);
  EXPECT_EQ(a[2].name, "z");
  EXPECT_EQ(a[2].slots, 2u);
}

}  // namespace
}  // namespace ionet::launcher
