#include "cost_model.h"

namespace ionet::coll {
namespace {

double stepSeconds(std::size_t messageBytes, std::size_t bytesSent, const LinkModel& link) {
  double s = link.rttSeconds / 2 + static_cast<double>(bytesSent) / link.bytesPerSecond;
  if (messageBytes > link.eagerLimit) s += link.rttSeconds;
  return s;
}

}  // namespace

double exchangeSeconds(Exchange e, int hosts, std::size_t bytes, const LinkModel& link) {
  if (hosts < 2) return 0;
  const auto others = static_cast<std::size_t>(hosts - 1);
  if (e == Exchange::kDirect) return stepSeconds(bytes, others * bytes, link);
  const std::size_t piece = (bytes + static_cast<std::size_t>(hosts) - 1) / hosts;
  return 2 * stepSeconds(piece, others * piece, link);
}

Exchange chooseExchange(int hosts, std::size_t bytes, const LinkModel& link) {
  if (hosts <= 2) return Exchange::kDirect;
  return exchangeSeconds(Exchange::kReduceScatterAllgather, hosts, bytes, link) <
                 exchangeSeconds(Exchange::kDirect, hosts, bytes, link)
             ? Exchange::kReduceScatterAllgather
             : Exchange::kDirect;
}

const char* toString(Exchange e) {
  return e == Exchange::kDirect ? "direct" : "reduce-scatter+allgather";
}

}  // namespace ionet::coll
