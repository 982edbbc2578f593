#include "observe/metrics_text.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "ionet/error.h"
#include "promtool.h"

namespace ionet::observe {
namespace {

TEST(MetricsText, FamiliesHaveOneHelpAndTypeAndTheirSeriesTogether) {
  MetricsText m;
  m.gauge("ionet_host_up", "1 while the host answers.", {{"host", "h1"}}, 1);
  m.counter("ionet_bytes_total", "Bytes.", {}, 5);
  m.gauge("ionet_host_up", "1 while the host answers.", {{"host", "h2"}}, 0);
  EXPECT_EQ(m.render(),
            "# HELP ionet_host_up 1 while the host answers.\n"
            "# TYPE ionet_host_up gauge\n"
            "ionet_host_up{host=\"h1\"} 1\n"
            "ionet_host_up{host=\"h2\"} 0\n"
            "# HELP ionet_bytes_total Bytes.\n"
            "# TYPE ionet_bytes_total counter\n"
            "ionet_bytes_total 5\n"
            "# HELP ionet_metrics_series_dropped Series left out of this scrape because a family "
            "reached its cap of 1000.\n"
            "# TYPE ionet_metrics_series_dropped gauge\n"
            "ionet_metrics_series_dropped 0\n");
}

TEST(MetricsText, LabelValuesAreEscaped) {
  EXPECT_EQ(escapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  MetricsText m;
  m.gauge("x", "h", {{"host", "evil\"} 1\nfake 2"}}, 1);
  EXPECT_NE(m.render().find("x{host=\"evil\\\"} 1\\nfake 2\"} 1\n"), std::string::npos);
}

TEST(MetricsText, NumbersAreWrittenAsPrometheusReadsThem) {
  EXPECT_EQ(formatValue(3), "3");
  EXPECT_EQ(formatValue(0.25), "0.25");
  EXPECT_EQ(formatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(formatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(formatValue(0.0 / 0.0), "NaN");
  EXPECT_EQ(formatValue(12345678901234.0), "12345678901234");
  EXPECT_EQ(formatValue(1125899906842624.0 + 1), "1125899906842625");  // a petabyte and a byte
  EXPECT_EQ(formatValue(0.00025), "0.00025");
  EXPECT_EQ(std::strtod(formatValue(0.1 + 0.2).c_str(), nullptr), 0.1 + 0.2);
}

TEST(MetricsText, BadNamesAndTwoTypesForOneFamilyAreErrors) {
  MetricsText m;
  EXPECT_THROW(m.gauge("1bad", "h", {}, 1), Error);
  EXPECT_THROW(m.gauge("ok", "h", {{"bad-label", "v"}}, 1), Error);
  m.gauge("ok", "h", {}, 1);
  EXPECT_THROW(m.counter("ok", "h", {}, 1), Error);
}

TEST(MetricsText, AFamilyIsCappedAndTheDropsAreCounted) {
  MetricsText m;
  for (int r = 0; r < 1500; ++r) m.gauge("ionet_rank_up", "h", {{"rank", std::to_string(r)}}, 1);
  const std::string text = m.render();
  EXPECT_NE(text.find("rank=\"999\""), std::string::npos);
  EXPECT_EQ(text.find("rank=\"1000\""), std::string::npos);
  EXPECT_NE(text.find("ionet_metrics_series_dropped 500\n"), std::string::npos);
}

TEST(MetricsText, HistogramBucketsAreCumulative) {
  Histogram h;
  h.bounds = {0.1, 1};
  h.observe(0.05);
  h.observe(0.5);
  h.observe(0.7);
  h.observe(30);
  MetricsText m;
  m.histogram("ionet_wait_seconds", "Wait.", {{"job", "1"}}, h);
  const std::string text = m.render();
  EXPECT_NE(text.find("ionet_wait_seconds_bucket{job=\"1\",le=\"0.1\"} 1\n"
                      "ionet_wait_seconds_bucket{job=\"1\",le=\"1\"} 3\n"
                      "ionet_wait_seconds_bucket{job=\"1\",le=\"+Inf\"} 4\n"
                      "ionet_wait_seconds_sum{job=\"1\"} 31.25\n"
                      "ionet_wait_seconds_count{job=\"1\"} 4\n"),
            std::string::npos)
      << text;
}

// Prometheus' own checker (Debian's prometheus package) reads what we write.
TEST(MetricsText, PromtoolAcceptsTheOutput) {
  MetricsText m;
  m.gauge("ionet_host_up", "1 while the host answers.", {{"host", "a\"b"}}, 1);
  m.counter("ionet_session_bytes_sent_total", "Bytes sent.", {{"peer", "h2"}}, 1e12);
  Histogram h;
  h.bounds = latencyBounds();
  h.observe(0.003);
  m.histogram("ionet_fence_latency_seconds", "Fence latency.", {}, h);
  m.declare("ionet_restarts_total", MetricType::counter, "Restarts.");
  EXPECT_EQ(test::promtoolCheck(m.render(), ::testing::TempDir() + "/metrics.txt"), "");
}

}  // namespace
}  // namespace ionet::observe
