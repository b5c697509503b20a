// All-to-all: linear (every send posted at once), pairwise, Bruck, hierarchical.
#include <algorithm>
#include <cstdint>

#include "topology/model/formulas.h"

namespace collbench::model::detail {

// Inverse rate of all-to-all traffic on tier k: point-to-point transfers over the scale-up links
// reach a fraction of a ring's rate (p2p_eff); the NIC, where it is tier 0, does not.
template <class T>
T a2a_inv_rate(const NetT<T>& n, int k, double f) {
  const T inv = inv_rate(n, k, f);
  return k == 0 && !n.shared_tier0 ? inv * (1.0 / n.p2p_eff) : inv;
}

template <class T>
T alltoall_linear(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  T lat{};
  T bw{};
  T slowest{};  // the latency of the farthest message
  std::int64_t prev = 1;
  const double pd = static_cast<double>(p);
  for (int k = 0; k < n.tiers && prev < p; ++k) {
    const std::int64_t m = within(n, k, p);
    if (m <= prev) continue;
    lat += msg_alpha(n, k, bytes / pd) * static_cast<double>(m - prev);
    slowest = max_of(slowest, msg_alpha(n, k, bytes / pd));
    // Bytes each rank sends out of its tier-(k-1) block, all ranks at once. Tier 0's own
    // links carry only the traffic inside it, unless they are the NIC that carries everything.
    const double out = k == 0 ? bytes * static_cast<double>((n.shared_tier0 ? p : m) - 1) / pd
                              : bytes * static_cast<double>(p - prev) / pd;
    bw = max_of(bw, a2a_inv_rate(n, k, 1.0) * out);
    prev = m;
  }
  // Sends posted at once overlap their latencies: the farthest message and the flag after it
  // that tells the receiver it arrived (GPU-initiated RDMA, a library's proxy), then a gap per
  // message.
  if (n.message_gap >= 0)
    lat = slowest * 2.0 + constant_time<T>(n.message_gap * static_cast<double>(p - 1));
  return lat + bw;
}

template <class T>
T alltoall_pairwise(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  T t{};
  std::int64_t prev = 1;
  const double block = bytes / static_cast<double>(p);
  for (int k = 0; k < n.tiers && prev < p; ++k) {
    const std::int64_t m = within(n, k, p);
    if (m <= prev) continue;
    t += (msg_alpha(n, k, block) + a2a_inv_rate(n, k, 1.0) * block) * static_cast<double>(m - prev);
    prev = m;
  }
  return t;
}

template <class T>
T alltoall_bruck(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  T t{};
  const int rounds = ceil_log2(p);
  const int top = top_tier(n, p);
  const double block = bytes / static_cast<double>(p);
  for (int s = 0; s < rounds; ++s) {
    const std::int64_t d = std::int64_t{1} << s;
    // Blocks with bit s set among 0..p-1.
    const std::int64_t period = d * 2;
    const std::int64_t moved = (p / period) * d + std::max<std::int64_t>(0, p % period - d);
    const double m = block * static_cast<double>(moved);
    const bool inside = d < n.group[0] || n.tiers == 1;
    T step = inside ? msg_alpha(n, 0, m) + a2a_inv_rate(n, 0, 1.0) * m : T{};
    // Shifting by d moves a fraction d / block of each block's ranks across its boundary.
    for (int k = 1; k <= top; ++k) {
      const double f = std::min(1.0, static_cast<double>(d) / static_cast<double>(n.group[k - 1]));
      T cross = msg_alpha(n, k, m) + inv_rate(n, k, f) * m;
      step = max_of(step, cross);
    }
    t += step;
  }
  return t;
}

template <class T>
T alltoall_hierarchical(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const std::int64_t g = std::min(p, n.group[0]);
  if (g == p) return alltoall_linear(n, p, bytes);
  const std::int64_t domains = ceil_div(p, g);
  T t{};
  if (g > 1) {
    const double frac = static_cast<double>(g - 1) / static_cast<double>(g);
    t = msg_alpha(n, 0, bytes / static_cast<double>(p)) * static_cast<double>(g - 1) +
        a2a_inv_rate(n, 0, 1.0) * (bytes * frac);
  }
  NetT<T> rail = strided_net(n, g);
  return t + alltoall_linear(rail, domains, bytes);
}

// MoE dispatch forwards one network copy of a token to several members of the destination domain
// (DeepEP): whatever the algorithm, the scale-up links deliver fanout copies of every byte.
template <class T>
T forwarded_copies(const NetT<T>& n, double bytes) {
  return a2a_inv_rate(n, 0, 1.0) * (n.fanout * bytes);
}
template double forwarded_copies(const NetT<double>&, double);
template LinearTime forwarded_copies(const NetT<LinearTime>&, double);

COLLBENCH_MODEL_INSTANTIATE(alltoall_linear)
COLLBENCH_MODEL_INSTANTIATE(alltoall_pairwise)
COLLBENCH_MODEL_INSTANTIATE(alltoall_bruck)
COLLBENCH_MODEL_INSTANTIATE(alltoall_hierarchical)

}  // namespace collbench::model::detail
