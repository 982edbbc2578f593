#include "run/wan_tuning.h"

#include <algorithm>
#include <cmath>

namespace ionet::launcher {

std::size_t eagerLimitFor(std::chrono::microseconds rtt, double rateMbps) {
  constexpr double kMin = 64 * 1024, kMax = 8 * 1024 * 1024;
  const double bdp = static_cast<double>(rtt.count()) * 1e-6 * rateMbps * 1e6 / 8;
  return static_cast<std::size_t>(std::clamp(std::ceil(bdp / 4096) * 4096, kMin, kMax));
}

std::vector<std::string> collectiveVariables(const CollectiveSettings& s,
                                             std::chrono::microseconds rtt) {
  std::vector<std::string> env;
  if (s.library) {
    if (rtt.count() > 0) env.push_back("IONET_COLL_RTT_US=" + std::to_string(rtt.count()));
    env.push_back("IONET_COLL_RATE_MBPS=" + std::to_string(static_cast<long long>(s.rateMbps)));
    if (!s.compress.empty()) env.push_back("IONET_WAN_COMPRESS=" + s.compress);
    if (rtt >= kWanRtt) env.push_back("IONET_COLL=1");  // the library takes the calls
  }
  if (!s.tuneMpi || rtt < kWanRtt) return env;
  // Every message above the eager limit waits a round trip for its rendezvous: at 50 ms and
  // 1 Gbit/s, 8 MiB limits took a 1 MiB MPI_Allreduce from 519 to 232 ms (issue 18).
  const auto eager = std::to_string(eagerLimitFor(rtt, s.rateMbps));
  env.push_back("OMPI_MCA_btl_tcp_eager_limit=" + eager);
  env.push_back("OMPI_MCA_btl_tcp_rndv_eager_limit=" + eager);
  env.push_back("OMPI_MCA_btl_tcp_max_send_size=" + eager);
  // Recursive doubling takes log2(P) steps where Open MPI's default for mid-sized messages
  // (a ring) takes 2(P-1): 1 MiB went from 232 to 181 ms on 6 ranks at 50 ms (issue 18).
  // With libionet-coll it serves only the calls the library hands back.
  env.push_back("OMPI_MCA_coll_tuned_use_dynamic_rules=1");
  env.push_back("OMPI_MCA_coll_tuned_allreduce_algorithm=3");
  return env;
}

}  // namespace ionet::launcher
