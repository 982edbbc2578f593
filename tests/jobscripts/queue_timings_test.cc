// The queue's timings from the environment: defaults, values in range, and a usage error naming
// the variable for a bad one (the shepherd used to fall back to a default silently).
#include <gtest/gtest.h>
#include <stdlib.h>

#include "ionet/error.h"
#include "ionet/jobscripts/queue_dir.h"

namespace ionet::jobscripts {
namespace {

class QueueTimingsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* v : kVariables) ::unsetenv(v);
  }
  static constexpr const char* kVariables[] = {"IONET_KILL_WAIT", "IONET_QUEUE_HOST_COOLDOWN",
                                               "IONET_QUEUE_IDLE_EXIT"};
};

TEST_F(QueueTimingsTest, DefaultsAndValues) {
  for (const char* v : kVariables) ::unsetenv(v);
  QueueTimings t = queueTimings();
  EXPECT_EQ(t.killWait, 30);
  EXPECT_EQ(t.hostCooldown, 300);
  EXPECT_EQ(t.idleExit, 300);
  ::setenv("IONET_KILL_WAIT", "2.5", 1);
  ::setenv("IONET_QUEUE_HOST_COOLDOWN", "0", 1);
  ::setenv("IONET_QUEUE_IDLE_EXIT", "86400", 1);
  t = queueTimings();
  EXPECT_EQ(t.killWait, 2.5);
  EXPECT_EQ(t.hostCooldown, 0);
  EXPECT_EQ(t.idleExit, 86400);
}

TEST_F(QueueTimingsTest, BadValuesNameTheVariable) {
  for (const char* variable : kVariables) {
    for (const char* value : {"-1", "ten", "5s", "1e9", "nan"}) {
      for (const char* v : kVariables) ::unsetenv(v);
      ::setenv(variable, value, 1);
      try {
        queueTimings();
        ADD_FAILURE() << variable << "=" << value << " was taken";
      } catch (const UsageError& e) {
        const std::string expected = std::string(variable) + "=" + value + ": expected seconds";
        EXPECT_EQ(std::string(e.what()).rfind(expected, 0), 0u) << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace ionet::jobscripts
