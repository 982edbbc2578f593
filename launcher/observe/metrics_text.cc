#include "observe/metrics_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "ionet/error.h"

namespace ionet::observe {
namespace {

bool validName(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string series(const std::string& name, const Labels& labels, double value) {
  std::string out = name;
  if (!labels.empty()) {
    out += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      IONET_ENFORCE(validName(labels[i].first, false), "bad label name '", labels[i].first, "' on ",
                    name);
      if (i) out += ',';
      out += labels[i].first + "=\"" + escapeLabelValue(labels[i].second) + '"';
    }
    out += '}';
  }
  return out + ' ' + formatValue(value);
}

const char* typeName(MetricType t) {
  switch (t) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

std::string escapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void Histogram::observe(double value) {
  if (buckets.size() != bounds.size()) buckets.assign(bounds.size(), 0);
  const auto it = std::lower_bound(bounds.begin(), bounds.end(), value);
  if (it != bounds.end()) ++buckets[static_cast<std::size_t>(it - bounds.begin())];
  sum += value;
  ++count;
}

std::vector<double> latencyBounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,   0.5,     1,      2.5,   5,      10,    25,   50,    100};
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string formatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Byte counters are integers: every digit (a petabyte counter keeps its last bytes); other
  // values with the fewest digits (15, else 17) that give the double back.
  if (value == std::floor(value) && std::fabs(value) < 1e18) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  } else {
    std::snprintf(buf, sizeof buf, "%.15g", value);
    if (std::strtod(buf, nullptr) != value) std::snprintf(buf, sizeof buf, "%.17g", value);
  }
  return buf;
}

MetricsText::Family& MetricsText::family(const std::string& name, MetricType type,
                                         const std::string& help) {
  IONET_ENFORCE(validName(name, true), "bad metric name '", name, "'");
  auto it = families_.find(name);
  if (it == families_.end()) {
    order_.push_back(name);
    it = families_.emplace(name, Family{type, help, {}, 0}).first;
  }
  IONET_ENFORCE(it->second.type == type, "metric ", name, " added as ", typeName(type), " and as ",
                typeName(it->second.type));
  return it->second;
}

void MetricsText::declare(const std::string& name, MetricType type, const std::string& help) {
  family(name, type, help);
}

void MetricsText::add(const std::string& name, MetricType type, const std::string& help,
                      Labels labels, double value) {
  auto& f = family(name, type, help);
  if (f.series >= kMaxSeriesPerFamily) {
    ++dropped_;
    return;
  }
  ++f.series;
  f.lines.push_back(series(name, labels, value));
}

void MetricsText::histogram(const std::string& name, const std::string& help, Labels labels,
                            const Histogram& h) {
  auto& f = family(name, MetricType::histogram, help);
  if (f.series >= kMaxSeriesPerFamily) {
    ++dropped_;
    return;
  }
  ++f.series;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.bounds.size(); ++i) {
    cumulative += i < h.buckets.size() ? h.buckets[i] : 0;
    Labels l = labels;
    l.emplace_back("le", formatValue(h.bounds[i]));
    f.lines.push_back(series(name + "_bucket", l, static_cast<double>(cumulative)));
  }
  Labels inf = labels;
  inf.emplace_back("le", "+Inf");
  f.lines.push_back(series(name + "_bucket", inf, static_cast<double>(h.count)));
  f.lines.push_back(series(name + "_sum", labels, h.sum));
  f.lines.push_back(series(name + "_count", labels, static_cast<double>(h.count)));
}

std::string MetricsText::render() const {
  std::string out;
  for (const auto& name : order_) {
    const auto& f = families_.at(name);
    out += "# HELP " + name + ' ' + escapeHelp(f.help) + '\n';
    out += "# TYPE " + name + ' ' + typeName(f.type) + '\n';
    for (const auto& line : f.lines) out += line + '\n';
  }
  out +=
      "# HELP ionet_metrics_series_dropped Series left out of this scrape because a "
      "family reached its cap of " +
      std::to_string(kMaxSeriesPerFamily) + ".\n";
  out += "# TYPE ionet_metrics_series_dropped gauge\n";
  out += "ionet_metrics_series_dropped " + std::to_string(dropped_) + '\n';
  return out;
}

}  // namespace ionet::observe
