// All-reduce: the flat algorithms (ring, recursive doubling, Rabenseifner, binomial), NCCL's
// double binary tree, the hierarchical ones and in-switch reduction.
#include <algorithm>
#include <cstdint>

#include "topology/model/formulas.h"

namespace collbench::model::detail {

template <class T>
T ring_allreduce(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const double frac = static_cast<double>(p - 1) / static_cast<double>(p);
  return ring_pass(n, p, bytes) * 2.0 + n.gamma * (frac * bytes);
}

template <class T>
T recursive_doubling(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const std::int64_t p2 = floor_pow2(p);
  T t{};
  for (std::int64_t d = 1; d < p2; d *= 2) t += xor_step(n, p, d, bytes, 1.0) + n.gamma * bytes;
  if (p2 < p) t += fold_cost(n, p, bytes);
  return t;
}

template <class T>
T rabenseifner(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const std::int64_t p2 = floor_pow2(p);
  T t{};
  // Halving starts at distance 1 with half the vector, so the big messages stay on low tiers.
  for (std::int64_t d = 1; d < p2; d *= 2) {
    const double m = bytes / static_cast<double>(2 * d);
    t += xor_step(n, p, d, m, 1.0) * 2.0 + n.gamma * m;
  }
  if (p2 < p) t += fold_cost(n, p, bytes);
  return t;
}

template <class T>
T binomial_one_way(const NetT<T>& n, std::int64_t p, double bytes, bool reduce) {
  T t{};
  const int steps = ceil_log2(p);
  for (int s = 0; s < steps; ++s) {
    const std::int64_t d = std::int64_t{1} << s;
    t += xor_step(n, p, d, bytes, 1.0 / static_cast<double>(2 * d));
    if (reduce) t += n.gamma * bytes;
  }
  return t;
}

template <class T>
T binomial(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  return binomial_one_way(n, p, bytes, true) + binomial_one_way(n, p, bytes, false);
}

// Whether the ranks of a tier-(k-1) block share a link at tier k: one flow reaches more than a
// rank's share (GPUs sharing a NIC, the ranks of a CPU node).
template <class T>
bool shared_link(const NetT<T>& n, int k) {
  return value_of(n.flow_beta[k]) < value_of(n.beta[k]);
}

template <class T>
T double_binary_tree(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const std::int64_t g = std::min(p, n.group[0]);
  const std::int64_t domains = ceil_div(p, g);
  // Chunks of a large buffer go by the library's bulk protocol (msg_alpha's rendezvous).
  T lat = msg_alpha(n, 0, bytes) * (2.0 * static_cast<double>(g - 1));
  // Pipelined: every rank sends about 2n (up the chain and down again); a domain sends 2n over
  // its links to the other domains in the two trees together. A library's trees reach a
  // fraction of the links' rate (NCCL: 0.92, and 0.85 more where GPUs share a NIC).
  T bw = g > 1 ? inv_rate(n, 0, 1.0) * (2.0 * bytes / n.tree_eff) : T{};
  if (domains > 1) {
    int prev_levels = ceil_log2(domains);
    const int top = top_tier(n, p);
    for (int k = 1; k <= top; ++k) {
      const int levels = ceil_log2(blocks(n, k, p));
      lat += msg_alpha(n, k, bytes) * (2.0 * (prev_levels - levels));
      prev_levels = levels;
      const double eff = n.tree_eff * (shared_link(n, k) ? n.tree_shared_eff : 1.0);
      T cross = spread_inv_rate(n, k) * (2.0 * bytes / eff);
      bw = max_of(bw, cross);
    }
  }
  return lat + bw + n.gamma * bytes;
}

// Best of the flat algorithms that run between the domains of a hierarchical algorithm.
template <class T>
T inner_allreduce(const NetT<T>& n, std::int64_t p, double bytes) {
  switch (n.inner) {
    case ModelAlgo::kRingAllreduce:
      return ring_allreduce(n, p, bytes);
    case ModelAlgo::kRecursiveDoublingAllreduce:
      return recursive_doubling(n, p, bytes);
    case ModelAlgo::kBinomialAllreduce:
      return binomial(n, p, bytes);
    case ModelAlgo::kRabenseifnerAllreduce:
      return rabenseifner(n, p, bytes);
    case ModelAlgo::kDoubleBinaryTreeAllreduce:
      return double_binary_tree(n, p, bytes);
    default:
      break;
  }
  T best = ring_allreduce(n, p, bytes);
  T other = rabenseifner(n, p, bytes);
  if (value_of(other) < value_of(best)) best = other;
  other = double_binary_tree(n, p, bytes);
  if (value_of(other) < value_of(best)) best = other;
  return best;
}

template <class T>
T intra_rs_ag(const NetT<T>& n, std::int64_t g, double bytes) {
  if (g <= 1) return T{};
  const double frac = static_cast<double>(g - 1) / static_cast<double>(g);
  return ring_pass(n, g, bytes) * 2.0 + n.gamma * (frac * bytes);
}

template <class T>
T hierarchical(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const std::int64_t g = std::min(p, n.group[0]);
  if (g == p) return ring_allreduce(n, p, bytes);
  const std::int64_t domains = ceil_div(p, g);
  NetT<T> rail = strided_net(n, g);
  return intra_rs_ag(n, g, bytes) + inner_allreduce(rail, domains, bytes / static_cast<double>(g));
}

template <class T>
T hierarchical3(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1 || n.tiers < 3) return not_applicable<T>();
  const std::int64_t g0 = std::min(p, n.group[0]);
  const std::int64_t domains = ceil_div(p, g0);
  NetT<T> level1 = strided_net(n, g0);
  if (level1.tiers < 2) return not_applicable<T>();
  const std::int64_t g1 = std::min(domains, level1.group[0]);
  if (g1 >= domains || g1 <= 1) return not_applicable<T>();
  const std::int64_t blocks1 = ceil_div(domains, g1);
  const double m1 = bytes / static_cast<double>(g0);
  NetT<T> level2 = strided_net(level1, g1);
  return intra_rs_ag(n, g0, bytes) + intra_rs_ag(level1, g1, m1) +
         inner_allreduce(level2, blocks1, m1 / static_cast<double>(g1));
}

template <class T>
T hierarchical_leader(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const std::int64_t g = std::min(p, n.group[0]);
  if (g == p) return binomial(n, p, bytes);
  const std::int64_t domains = ceil_div(p, g);
  NetT<T> leaders = strided_net(n, g, 1.0 / static_cast<double>(g));
  return binomial(n, g, bytes) + inner_allreduce(leaders, domains, bytes);
}

// In-switch reduction inside one domain (NVLS): the reduce-scatter through the switch (each rank
// sends n, receives n/g) pipelined with the multicast all-gather (sends n/g, receives n), n(1+1/g)
// each way. Beyond in_switch_full GPUs the bus bandwidth stops growing: the time is that of the
// same bus bandwidth over 2(g-1)/g·n.
template <class T>
T in_switch_domain(const NetT<T>& n, std::int64_t g, double bytes) {
  if (g <= 1) return T{};
  const double gd = static_cast<double>(g);
  const double gs = n.in_switch_full > 1 ? std::min(gd, n.in_switch_full) : gd;
  const double per_rank = bytes * (1.0 + 1.0 / gs) * ((gd - 1) / gd) * (gs / (gs - 1));
  return inv_rate(n, 0, 1.0) * (per_rank / n.in_switch_eff[0]);
}

template <class T>
T in_switch(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  if (!n.in_switch[0]) return not_applicable<T>();
  const std::int64_t g = std::min(p, n.group[0]);
  T lat = n.in_switch_alpha > 0 ? constant_time<T>(n.in_switch_alpha) : n.alpha[0] * 2.0;
  // Start-up: in_switch_fill bytes per domain GPU at a GPU's link rate before the pipeline
  // streams (what makes 512 MiB slower than 4 GiB per byte); a buffer smaller than that never
  // streams and pays its own size once more (8 H100: 16 MiB +45 us, measured +40 us over 8 GiB's
  // rate).
  if (n.in_switch_fill > 0)
    lat += inv_rate(n, 0, 1.0) * std::min(n.in_switch_fill * static_cast<double>(g), bytes);
  const T intra = in_switch_domain(n, g, bytes);
  if (g == p) return lat + intra;
  const std::int64_t domains = ceil_div(p, g);
  NetT<T> rail = strided_net(n, g);
  bool sharp = true;
  for (int k = 0; k < rail.tiers; ++k) sharp = sharp && rail.in_switch[k];
  T inter{};
  if (sharp) {
    // Each rank sends its n/g shard up the switch tree once and receives the result once.
    const double m = bytes / static_cast<double>(g);
    const int top = top_tier(rail, domains);
    T inv = inv_rate(rail, 0, 1.0) * (1.0 / rail.in_switch_eff[0]);
    T hop = rail.alpha[0] * 2.0;
    for (int k = 1; k <= top; ++k) {
      inv = max_of(inv, inv_rate(rail, k, 1.0) * (1.0 / rail.in_switch_eff[k]));
      hop += rail.alpha[k] * 2.0;
    }
    inter = hop + inv * m;
  } else {
    // NVLS tree: the domain's reduced buffer goes up and down a tree of domains over the channels
    // it spreads across. Two domains exchange n once; more move 2n each way through an interior
    // domain of the two trees (NCCL doubles the network rate only for two nodes).
    const double traffic = domains <= 2 ? bytes : 2.0 * bytes;
    int prev_levels = ceil_log2(domains);
    const int top = top_tier(n, p);
    for (int k = 1; k <= top; ++k) {
      const int levels = ceil_log2(blocks(n, k, p));
      const T hop =
          n.in_switch_tree_alpha > 0 ? constant_time<T>(n.in_switch_tree_alpha) : n.alpha[k];
      lat += hop * (2.0 * (prev_levels - levels));
      prev_levels = levels;
      inter = max_of(inter, spread_inv_rate(n, k) * traffic);
    }
  }
  // The stages overlap but for a fraction of the shorter one.
  return lat + max_of(intra, inter) + min_of(intra, inter) * n.in_switch_serial;
}

COLLBENCH_MODEL_INSTANTIATE(ring_allreduce)
COLLBENCH_MODEL_INSTANTIATE(recursive_doubling)
COLLBENCH_MODEL_INSTANTIATE(rabenseifner)
COLLBENCH_MODEL_INSTANTIATE(binomial)
COLLBENCH_MODEL_INSTANTIATE(double_binary_tree)
COLLBENCH_MODEL_INSTANTIATE(hierarchical)
COLLBENCH_MODEL_INSTANTIATE(hierarchical3)
COLLBENCH_MODEL_INSTANTIATE(hierarchical_leader)
COLLBENCH_MODEL_INSTANTIATE(in_switch)

}  // namespace collbench::model::detail
