// Prometheus' text exposition format (version 0.0.4), built from plain values: what a
// /metrics endpoint of ionet serves. Pure: no I/O, no clock; the caller gathers the values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ionet::observe {

enum class MetricType { counter, gauge, histogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

// Cumulative-bucket histogram with fixed upper bounds (seconds, bytes...). +Inf is implicit.
struct Histogram {
  std::vector<double> bounds;          // ascending upper bounds
  std::vector<std::uint64_t> buckets;  // per bound, not cumulative; sized on first observe
  double sum = 0;
  std::uint64_t count = 0;

  void observe(double value);
};

// Bounds for latencies from 100 us to ~100 s, a factor of ~2.5 apart.
std::vector<double> latencyBounds();

class MetricsText {
 public:
  // A family holds at most this many series; the rest are dropped and counted in
  // ionet_metrics_series_dropped, so one label per rank of a huge job cannot blow up a
  // scrape.
  static constexpr std::size_t kMaxSeriesPerFamily = 1000;

  // name must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*; values are
  // escaped. Throws ionet::Error for a bad name or a family added with two types.
  void add(const std::string& name, MetricType type, const std::string& help, Labels labels,
           double value);
  void counter(const std::string& name, const std::string& help, Labels labels, double value) {
    add(name, MetricType::counter, help, std::move(labels), value);
  }
  void gauge(const std::string& name, const std::string& help, Labels labels, double value) {
    add(name, MetricType::gauge, help, std::move(labels), value);
  }
  void histogram(const std::string& name, const std::string& help, Labels labels,
                 const Histogram& h);
  // A family with HELP and TYPE but no series yet (so a scraper sees it exists).
  void declare(const std::string& name, MetricType type, const std::string& help);

  std::string render() const;

 private:
  struct Family {
    MetricType type;
    std::string help;
    std::vector<std::string> lines;  // rendered series
    std::size_t series = 0;
  };
  Family& family(const std::string& name, MetricType type, const std::string& help);

  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
  std::size_t dropped_ = 0;
};

// Label value escaping: backslash, double quote and newline.
std::string escapeLabelValue(std::string_view value);
// A Prometheus number: integers without exponent, NaN, +Inf, -Inf.
std::string formatValue(double value);

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace ionet::observe
