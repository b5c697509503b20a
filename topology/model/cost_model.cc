#include "topology/model/cost_model.h"

#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

#include "collectives/error.h"

namespace collbench::model {
namespace {

// The algorithms with a formula (their names and collectives are the registry's).
struct Summary {
  ModelAlgo algo;
  std::string_view summary;
};
constexpr Summary kSummaries[] = {
    {ModelAlgo::kRingAllreduce, "reduce-scatter + all-gather around a ring of all ranks"},
    {ModelAlgo::kRecursiveDoublingAllreduce, "lg p exchanges of the whole vector"},
    {ModelAlgo::kRabenseifnerAllreduce,
     "recursive-halving reduce-scatter + recursive-doubling all-gather"},
    {ModelAlgo::kBinomialAllreduce, "binomial-tree reduce to rank 0, then binomial broadcast"},
    {ModelAlgo::kHierarchicalAllreduce,
     "intra-domain reduce-scatter, per-rail all-reduce (best of ring/rabenseifner/tree), "
     "intra-domain all-gather"},
    {ModelAlgo::kHierarchicalLeaderAllreduce,
     "intra-domain binomial reduce to a leader, leaders' all-reduce, binomial broadcast"},
    {ModelAlgo::kDoubleBinaryTreeAllreduce,
     "NCCL-style: intra-domain chain, two pipelined binary trees across domains"},
    {ModelAlgo::kHierarchical3Allreduce,
     "three levels: domain, tier-1 block (per rail), then across tier-1 blocks"},
    {ModelAlgo::kInSwitchAllreduce,
     "reduction in the switch (NVLS in the scale-up domain, SHARP in the network if present)"},
    {ModelAlgo::kLinearAlltoall, "all p-1 sends posted at once"},
    {ModelAlgo::kPairwiseAlltoall, "p-1 steps, one partner per step"},
    {ModelAlgo::kBruckAlltoall, "ceil(lg p) steps of about n/2 bytes"},
    {ModelAlgo::kHierarchicalAlltoall,
     "intra-domain exchange by destination rail, then one message per remote domain"},
    {ModelAlgo::kRingReduceScatter, "one pass of a ring: p-1 steps of n/p, each reduced"},
    {ModelAlgo::kRecursiveHalvingReduceScatter,
     "lg p steps of n/2, n/4, ... at distance p/2, p/4, ... (fold when p != 2^k)"},
    {ModelAlgo::kPairwiseReduceScatter, "p-1 steps, one block to one partner per step, reduced"},
    {ModelAlgo::kHierarchicalReduceScatter,
     "pack, intra-domain ring reduce-scatter, per-rail reduce-scatter of n/g"},
    {ModelAlgo::kRingAllgather, "one pass of a ring: p-1 steps of n/p"},
    {ModelAlgo::kRecursiveDoublingAllgather,
     "lg p steps of n/p, 2n/p, ... at distance 1, 2, ... (fold when p != 2^k)"},
    {ModelAlgo::kBruckAllgather, "ceil(lg p) shifts of 2^k blocks, then a local rotation"},
    {ModelAlgo::kHierarchicalAllgather,
     "per-rail all-gather of n/g, intra-domain ring all-gather, unpack"},
};

const std::vector<ModelAlgoInfo>& algo_table() {
  static const std::vector<ModelAlgoInfo> table = [] {
    std::vector<ModelAlgoInfo> v;
    for (const auto& s : kSummaries) {
      const auto& info = collectives::algorithm_info(s.algo);
      v.push_back({s.algo, info.collective, info.name, s.summary});
    }
    return v;
  }();
  return table;
}

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
inline int ceil_log2(std::int64_t p) {
  int s = 0;
  while ((std::int64_t{1} << s) < p) ++s;
  return s;
}
inline std::int64_t floor_pow2(std::int64_t p) {
  std::int64_t r = 1;
  while (r * 2 <= p) r *= 2;
  return r;
}

template <class T>
T not_applicable() {
  T t{};
  if constexpr (std::is_same_v<T, double>) {
    t = std::numeric_limits<double>::quiet_NaN();
  } else {
    t.v = std::numeric_limits<double>::quiet_NaN();
  }
  return t;
}
template <class T>
bool is_na(const T& t) {
  return std::isnan(value_of(t));
}

// Lowest tier whose block holds all p members.
template <class T>
int top_tier(const NetT<T>& n, std::int64_t p) {
  for (int k = 0; k + 1 < n.tiers; ++k)
    if (p <= n.group[k]) return k;
  return n.tiers - 1;
}

// Blocks of tier k that p consecutive members touch.
template <class T>
std::int64_t blocks(const NetT<T>& n, int k, std::int64_t p) {
  return k + 1 >= n.tiers ? 1 : ceil_div(p, n.group[k]);
}

// Inverse rate (s/byte) of one flow across tier k when a fraction f of the members of a
// tier-(k-1) block send across it at the same time.
template <class T>
T inv_rate(const NetT<T>& n, int k, double f) {
  return max_of(n.flow_beta[k], n.beta[k] * (f * n.active * n.taper[k]));
}

// Inverse rate of traffic that crosses tier k from one block through a single path (a ring or
// tree edge), spread over the channels of the scale-up domain.
template <class T>
T spread_inv_rate(const NetT<T>& n, int k) {
  const double below = static_cast<double>(n.group[k - 1]);
  const double c = std::min(static_cast<double>(n.channels), below);
  return inv_rate(n, k, c / below) * (1.0 / c);
}

// Worst spread inverse rate over the tiers 1..top that p consecutive members cross, and tier 0.
template <class T>
T ring_inv_rate(const NetT<T>& n, std::int64_t p) {
  // Tier 0 carries ring traffic only when its blocks hold two members or more.
  T inv = n.group[0] > 1 || n.tiers == 1 ? inv_rate(n, 0, 1.0) : T{};
  const int top = top_tier(n, p);
  for (int k = 1; k <= top; ++k) inv = max_of(inv, spread_inv_rate(n, k));
  return inv;
}

// The latency of one message of `msg` bytes on tier k: α_k, plus the rendezvous at or above the
// tier's eager limit.
template <class T>
T msg_alpha(const NetT<T>& n, int k, double msg) {
  if (n.eager[k] > 0 && msg >= n.eager[k]) return n.alpha[k] + n.rndv[k];
  return n.alpha[k];
}

// One pass of a ring (p-1 steps, (p-1)/p·bytes per rank): the reduce-scatter or the all-gather.
// The chain of dependencies runs along the ring, so the latency is the hops' mix of tiers.
template <class T>
T ring_pass(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  T hops{};
  std::int64_t prev = p;  // ring edges that leave a block of the tier below (all of them at first)
  for (int k = 0; k < n.tiers; ++k) {
    const std::int64_t nb = blocks(n, k, p);
    const std::int64_t leaving = nb >= 2 ? nb : 0;
    if (prev > leaving)
      hops += msg_alpha(n, k, bytes / static_cast<double>(p)) * static_cast<double>(prev - leaving);
    prev = leaving;
    if (leaving == 0) break;
  }
  const double frac = static_cast<double>(p - 1) / static_cast<double>(p);
  return hops * frac + ring_inv_rate(n, p) * (frac * bytes);
}

template <class T>
T ring_allreduce(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const double frac = static_cast<double>(p - 1) / static_cast<double>(p);
  return ring_pass(n, p, bytes) * 2.0 + n.gamma * (frac * bytes);
}

// One step in which member i exchanges `bytes` with member i xor d; `senders` is the fraction of
// all members that send in this step (binomial trees use fewer).
template <class T>
T xor_step(const NetT<T>& n, std::int64_t p, std::int64_t d, double bytes, double senders) {
  int top = 0;
  for (int k = 1; k < n.tiers; ++k) {
    const std::int64_t g = n.group[k - 1];
    if (p > g && (d >= g || g % (2 * d) != 0)) top = k;
  }
  const bool inside = d < n.group[0] || n.tiers == 1;
  T t{};
  // Inside tier 0 the senders of a tree step share its bandwidth with fewer peers.
  if (inside) t = msg_alpha(n, 0, bytes) + inv_rate(n, 0, std::min(1.0, senders)) * bytes;
  if (top > 0) {
    const double f = std::max(senders, 1.0 / static_cast<double>(n.group[top - 1]));
    T cross = msg_alpha(n, top, bytes) + inv_rate(n, top, f) * bytes;
    t = inside ? max_of(t, cross) : cross;
  }
  return t;
}

// Non-power-of-two fold: the extra ranks hand their vector to a neighbour and get the result
// back (two steps of the whole vector at distance 1, one reduction).
template <class T>
T fold_cost(const NetT<T>& n, std::int64_t p, double bytes) {
  return xor_step(n, p, 1, bytes, 1.0) * 2.0 + n.gamma * bytes;
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

template <class T>
T double_binary_tree(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const std::int64_t g = std::min(p, n.group[0]);
  const std::int64_t domains = ceil_div(p, g);
  T lat = n.alpha[0] * (2.0 * static_cast<double>(g - 1));
  // Pipelined: every rank sends about 2n (up the chain and down again); a domain sends 2n over
  // its links to the other domains in the two trees together.
  T bw = g > 1 ? inv_rate(n, 0, 1.0) * (2.0 * bytes) : T{};
  if (domains > 1) {
    int prev_levels = ceil_log2(domains);
    const int top = top_tier(n, p);
    for (int k = 1; k <= top; ++k) {
      const int levels = ceil_log2(blocks(n, k, p));
      lat += n.alpha[k] * (2.0 * (prev_levels - levels));
      prev_levels = levels;
      T cross = spread_inv_rate(n, k) * (2.0 * bytes);
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

template <class T>
T in_switch(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  if (!n.in_switch[0]) return not_applicable<T>();
  const std::int64_t g = std::min(p, n.group[0]);
  const double gd = static_cast<double>(g);
  // Reduce-scatter through the switch (each rank sends n, receives n/g) pipelined with the
  // multicast all-gather (sends n/g, receives n): n(1 + 1/g) each way.
  T lat = n.alpha[0] * 2.0;
  T intra = inv_rate(n, 0, 1.0) * (bytes * (1.0 + 1.0 / gd) / n.in_switch_eff[0]);
  if (g == p) return lat + intra;
  const std::int64_t domains = ceil_div(p, g);
  NetT<T> rail = strided_net(n, g);
  const double m = bytes / gd;
  bool sharp = true;
  for (int k = 0; k < rail.tiers; ++k) sharp = sharp && rail.in_switch[k];
  T inter{};
  if (sharp) {
    // Each rank sends its n/g shard up the switch tree once and receives the result once.
    const int top = top_tier(rail, domains);
    T inv = inv_rate(rail, 0, 1.0) * (1.0 / rail.in_switch_eff[0]);
    T hop = rail.alpha[0] * 2.0;
    for (int k = 1; k <= top; ++k) {
      inv = max_of(inv, inv_rate(rail, k, 1.0) * (1.0 / rail.in_switch_eff[k]));
      hop += rail.alpha[k] * 2.0;
    }
    inter = hop + inv * m;
  } else {
    inter = inner_allreduce(rail, domains, m);
  }
  return lat + max_of(intra, inter);
}

// Members of p consecutive ones inside one block of tier k.
template <class T>
std::int64_t within(const NetT<T>& n, int k, std::int64_t p) {
  return k + 1 >= n.tiers ? p : std::min(n.group[k], p);
}

template <class T>
T alltoall_linear(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  T lat{};
  T bw{};
  std::int64_t prev = 1;
  const double pd = static_cast<double>(p);
  for (int k = 0; k < n.tiers && prev < p; ++k) {
    const std::int64_t m = within(n, k, p);
    if (m <= prev) continue;
    lat += msg_alpha(n, k, bytes / pd) * static_cast<double>(m - prev);
    // Bytes each rank sends out of its tier-(k-1) block, all ranks at once. Tier 0's own
    // links carry only the traffic inside it, unless they are the NIC that carries everything.
    const double out = k == 0 ? bytes * static_cast<double>((n.shared_tier0 ? p : m) - 1) / pd
                              : bytes * static_cast<double>(p - prev) / pd;
    bw = max_of(bw, inv_rate(n, k, 1.0) * out);
    prev = m;
  }
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
    t += (msg_alpha(n, k, block) + inv_rate(n, k, 1.0) * block) * static_cast<double>(m - prev);
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
    T step = inside ? msg_alpha(n, 0, m) + inv_rate(n, 0, 1.0) * m : T{};
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
        inv_rate(n, 0, 1.0) * (bytes * frac);
  }
  NetT<T> rail = strided_net(n, g);
  return t + alltoall_linear(rail, domains, bytes);
}

// --- reduce-scatter and all-gather ----------------------------------------------------------

template <class T>
T ring_reduce_scatter(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const double frac = static_cast<double>(p - 1) / static_cast<double>(p);
  return ring_pass(n, p, bytes) + n.gamma * (frac * bytes);
}

// Far partners first: the step at distance d exchanges d/pof2 of the vector (collectives'
// recursive_halving_reduce_scatter.cc). A fold sends the whole input and gets one block back.
template <class T>
T halving_reduce_scatter(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const std::int64_t p2 = floor_pow2(p);
  T t{};
  for (std::int64_t d = p2 / 2; d >= 1; d /= 2) {
    const double m = bytes * static_cast<double>(d) / static_cast<double>(p2);
    t += xor_step(n, p, d, m, 1.0) + n.gamma * m;
  }
  if (p2 < p)
    t += xor_step(n, p, 1, bytes, 1.0) + n.gamma * bytes +
         xor_step(n, p, 1, bytes / static_cast<double>(p), 1.0);
  return t;
}

template <class T>
T pairwise_reduce_scatter(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const double frac = static_cast<double>(p - 1) / static_cast<double>(p);
  return alltoall_pairwise(n, p, bytes) + n.gamma * (frac * bytes);
}

template <class T>
T ring_allgather(const NetT<T>& n, std::int64_t p, double bytes) {
  return ring_pass(n, p, bytes);
}

// Near partners first, the held part doubling: the step at distance d sends d/pof2 of the
// vector. A fold sends one block in and the whole vector back.
template <class T>
T doubling_allgather(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const std::int64_t p2 = floor_pow2(p);
  T t{};
  for (std::int64_t d = 1; d < p2; d *= 2)
    t += xor_step(n, p, d, bytes * static_cast<double>(d) / static_cast<double>(p2), 1.0);
  if (p2 < p)
    t += xor_step(n, p, 1, bytes / static_cast<double>(p), 1.0) + xor_step(n, p, 1, bytes, 1.0);
  return t;
}

// One shift by d (every member sends m bytes to the member d below): Bruck's steps. Shifting by
// d moves a fraction d / block of each block's members across its boundary.
template <class T>
T shift_step(const NetT<T>& n, std::int64_t p, std::int64_t d, double m) {
  const int top = top_tier(n, p);
  const bool inside = d < n.group[0] || n.tiers == 1;
  T step = inside ? msg_alpha(n, 0, m) + inv_rate(n, 0, 1.0) * m : T{};
  for (int k = 1; k <= top; ++k) {
    const double f = std::min(1.0, static_cast<double>(d) / static_cast<double>(n.group[k - 1]));
    step = max_of(step, msg_alpha(n, k, m) + inv_rate(n, k, f) * m);
  }
  return step;
}

template <class T>
T bruck_allgather(const NetT<T>& n, std::int64_t p, double bytes) {
  if (p <= 1) return T{};
  const double block = bytes / static_cast<double>(p);
  T t{};
  for (std::int64_t d = 1; d < p; d *= 2)
    t += shift_step(n, p, d, block * static_cast<double>(std::min(d, p - d)));
  return t;
}

// The flat algorithm of the same collective between the domains of a hierarchical one: the
// one the measurement ran (n.inner), else the best.
template <class T>
T inner_reduce_scatter(const NetT<T>& n, std::int64_t p, double bytes) {
  switch (n.inner) {
    case ModelAlgo::kRingReduceScatter:
      return ring_reduce_scatter(n, p, bytes);
    case ModelAlgo::kRecursiveHalvingReduceScatter:
      return halving_reduce_scatter(n, p, bytes);
    case ModelAlgo::kPairwiseReduceScatter:
      return pairwise_reduce_scatter(n, p, bytes);
    default:
      break;
  }
  T best = ring_reduce_scatter(n, p, bytes);
  for (T other : {halving_reduce_scatter(n, p, bytes), pairwise_reduce_scatter(n, p, bytes)})
    if (value_of(other) < value_of(best)) best = other;
  return best;
}

template <class T>
T inner_allgather(const NetT<T>& n, std::int64_t p, double bytes) {
  switch (n.inner) {
    case ModelAlgo::kRingAllgather:
      return ring_allgather(n, p, bytes);
    case ModelAlgo::kRecursiveDoublingAllgather:
      return doubling_allgather(n, p, bytes);
    case ModelAlgo::kBruckAllgather:
      return bruck_allgather(n, p, bytes);
    default:
      break;
  }
  T best = ring_allgather(n, p, bytes);
  for (T other : {doubling_allgather(n, p, bytes), bruck_allgather(n, p, bytes)})
    if (value_of(other) < value_of(best)) best = other;
  return best;
}

// Intra-domain ring pass over the whole vector, then the rails on n/g (or the reverse for the
// all-gather); the pack or unpack is a local copy (copied_bytes).
template <class T>
T hierarchical_blocks(const NetT<T>& n, std::int64_t p, double bytes, bool reduce) {
  if (p <= 1) return T{};
  const std::int64_t g = std::min(p, n.group[0]);
  if (g == p) return reduce ? ring_reduce_scatter(n, p, bytes) : ring_allgather(n, p, bytes);
  const std::int64_t domains = ceil_div(p, g);
  NetT<T> rail = strided_net(n, g);
  const double m = bytes / static_cast<double>(g);
  return reduce ? ring_reduce_scatter(n, g, bytes) + inner_reduce_scatter(rail, domains, m)
                : ring_allgather(n, g, bytes) + inner_allgather(rail, domains, m);
}

template <class T>
T time_of(const NetT<T>& n, ModelAlgo a, double bytes, std::int64_t p) {
  if (p <= 1) return T{};
  T t{};
  switch (a) {
    case ModelAlgo::kRingAllreduce:
      t = ring_allreduce(n, p, bytes);
      break;
    case ModelAlgo::kRecursiveDoublingAllreduce:
      t = recursive_doubling(n, p, bytes);
      break;
    case ModelAlgo::kRabenseifnerAllreduce:
      t = rabenseifner(n, p, bytes);
      break;
    case ModelAlgo::kBinomialAllreduce:
      t = binomial(n, p, bytes);
      break;
    case ModelAlgo::kDoubleBinaryTreeAllreduce:
      t = double_binary_tree(n, p, bytes);
      break;
    case ModelAlgo::kHierarchicalAllreduce:
      t = hierarchical(n, p, bytes);
      break;
    case ModelAlgo::kHierarchical3Allreduce:
      t = hierarchical3(n, p, bytes);
      break;
    case ModelAlgo::kHierarchicalLeaderAllreduce:
      t = hierarchical_leader(n, p, bytes);
      break;
    case ModelAlgo::kInSwitchAllreduce:
      t = in_switch(n, p, bytes);
      break;
    case ModelAlgo::kLinearAlltoall:
      t = alltoall_linear(n, p, bytes);
      break;
    case ModelAlgo::kPairwiseAlltoall:
      t = alltoall_pairwise(n, p, bytes);
      break;
    case ModelAlgo::kBruckAlltoall:
      t = alltoall_bruck(n, p, bytes);
      break;
    case ModelAlgo::kHierarchicalAlltoall:
      t = alltoall_hierarchical(n, p, bytes);
      break;
    case ModelAlgo::kRingReduceScatter:
      t = ring_reduce_scatter(n, p, bytes);
      break;
    case ModelAlgo::kRecursiveHalvingReduceScatter:
      t = halving_reduce_scatter(n, p, bytes);
      break;
    case ModelAlgo::kPairwiseReduceScatter:
      t = pairwise_reduce_scatter(n, p, bytes);
      break;
    case ModelAlgo::kHierarchicalReduceScatter:
      t = hierarchical_blocks(n, p, bytes, true);
      break;
    case ModelAlgo::kRingAllgather:
      t = ring_allgather(n, p, bytes);
      break;
    case ModelAlgo::kRecursiveDoublingAllgather:
      t = doubling_allgather(n, p, bytes);
      break;
    case ModelAlgo::kBruckAllgather:
      t = bruck_allgather(n, p, bytes);
      break;
    case ModelAlgo::kHierarchicalAllgather:
      t = hierarchical_blocks(n, p, bytes, false);
      break;
    // A library's collective hides its algorithm: no formula of its own.
    case ModelAlgo::kMpiAllreduce:
    case ModelAlgo::kMpiAlltoall:
    case ModelAlgo::kMpiReduceScatter:
    case ModelAlgo::kMpiAllgather:
    case ModelAlgo::kNcclAllreduce:
    case ModelAlgo::kNcclAlltoall:
    case ModelAlgo::kNcclReduceScatter:
    case ModelAlgo::kNcclAllgather:
    case ModelAlgo::kCount:
      return not_applicable<T>();
  }
  if (is_na(t)) return t;
  const double copied = copied_bytes(a, bytes, p, n.group[0], n.in_place);
  if (copied > 0) t += n.delta * copied;
  if constexpr (std::is_same_v<T, double>) {
    return t + n.call_overhead_s;
  } else {
    return t + LinearTime::constant(n.call_overhead_s);
  }
}

}  // namespace

double copied_bytes(ModelAlgo algo, double bytes, std::int64_t p, std::int64_t per_domain,
                    bool in_place) {
  if (p <= 1 || !(bytes > 0)) return 0;
  const double pd = static_cast<double>(p);
  const std::int64_t g = std::max<std::int64_t>(1, std::min(p, per_domain));
  switch (algo) {
    case ModelAlgo::kHierarchicalAllreduce:
      // One rank per node: the input is copied to the output, then reduced in place there.
      return g == 1 && !in_place ? bytes : 0;
    case ModelAlgo::kHierarchicalLeaderAllreduce:
      return in_place ? 0 : bytes;  // the leader's tree reduces in the output buffer
    case ModelAlgo::kLinearAlltoall:
    case ModelAlgo::kPairwiseAlltoall:
      // The own block; in place the whole input is first saved to scratch.
      return bytes / pd + (in_place ? bytes : 0);
    case ModelAlgo::kBruckAlltoall: {
      // Rotation into scratch, pack and unpack of the moved blocks each round, final placement.
      double c = 2 * bytes;
      const double block = bytes / pd;
      for (std::int64_t d = 1; d < p; d *= 2) {
        const std::int64_t period = d * 2;
        const std::int64_t moved = (p / period) * d + std::max<std::int64_t>(0, p % period - d);
        c += 2 * block * static_cast<double>(moved);
      }
      return c;
    }
    case ModelAlgo::kHierarchicalReduceScatter:
    case ModelAlgo::kHierarchicalAllgather:
      return g > 1 && g < p ? bytes : 0;  // the pack (unpack) into (out of) the staging copy
    case ModelAlgo::kPairwiseReduceScatter:
    case ModelAlgo::kRingAllgather:
    case ModelAlgo::kRecursiveDoublingAllgather:
      return in_place ? 0 : bytes / pd;  // the own block into place
    case ModelAlgo::kBruckAllgather:
      return bytes + bytes / pd;  // the own block into the work vector, the final rotation
    case ModelAlgo::kHierarchicalAlltoall: {
      const double nodes = std::ceil(pd / static_cast<double>(g));
      const double block = bytes / pd;
      // Blocks for the other nodes are staged; the own block goes straight out of place, in
      // place the blocks from the node's peers come through the stage.
      return block * (nodes - 1) + (in_place ? block * static_cast<double>(g - 1) : block);
    }
    default:
      return 0;  // the all-reduce algorithms receive and reduce in the output buffer
  }
}

std::span<const ModelAlgoInfo> model_algorithms() { return algo_table(); }

const ModelAlgoInfo& model_algorithm(ModelAlgo a) {
  for (const auto& i : algo_table())
    if (i.algo == a) return i;
  throw Error(std::string(collectives::algorithm_info(a).name) + " (" +
              std::string(collectives::collective_name(collectives::algorithm_info(a).collective)) +
              ") has no formula in the cost model");
}

std::optional<ModelAlgo> find_model_algorithm(Collective c, std::string_view name) {
  for (const auto& a : algo_table())
    if (a.collective == c && a.name == name) return a.algo;
  return std::nullopt;
}

ModelNet make_net(const Fabric& f) {
  f.validate();
  ModelNet n;
  n.tiers = static_cast<int>(f.tiers.size());
  double taper = 1;
  for (int k = 0; k < n.tiers; ++k) {
    const Tier& t = f.tiers[k];
    const bool top = k + 1 == n.tiers;
    n.group[k] = top || t.group_size == 0 ? kUnbounded : t.group_size;
    n.alpha[k] = t.alpha_us * 1e-6;
    n.beta[k] = 1.0 / (t.effective_gbps() * 1e9);
    n.flow_beta[k] = 1.0 / (t.effective_flow_gbps() * 1e9);
    if (k > 0) taper *= t.oversubscription;
    n.taper[k] = taper;
    n.in_switch[k] = t.in_switch;
    n.in_switch_eff[k] = t.in_switch_efficiency;
    n.eager[k] = t.eager_limit_bytes;
    n.rndv[k] = t.rendezvous_us * 1e-6;
  }
  n.channels = n.tiers > 1 ? n.group[0] : 1;
  n.gamma = f.gamma_s_per_byte();
  n.delta = f.copy_gbps > 0 ? 1.0 / (f.copy_gbps * 1e9) : 0.0;
  n.call_overhead_s = f.call_overhead_us * 1e-6;
  return n;
}

template <class T>
NetT<T> strided_net(const NetT<T>& net, std::int64_t stride, double active_scale) {
  NetT<T> out = net;
  if (stride <= 1 && active_scale == 1.0) return out;
  out.tiers = 0;
  for (int k = 0; k < net.tiers; ++k) {
    const bool top = k + 1 == net.tiers;
    const std::int64_t members = top ? kUnbounded : ceil_div(net.group[k], stride);
    if (!top && members <= 1) {  // a block of this tier holds one member: no traffic
      if (k == 0) out.shared_tier0 = true;
      continue;
    }
    const int j = out.tiers++;
    out.group[j] = members;
    out.alpha[j] = net.alpha[k];
    out.beta[j] = net.beta[k];
    out.flow_beta[j] = net.flow_beta[k];
    out.taper[j] = net.taper[k];
    out.in_switch[j] = net.in_switch[k];
    out.in_switch_eff[j] = net.in_switch_eff[k];
    out.eager[j] = net.eager[k];
    out.rndv[j] = net.rndv[k];
  }
  out.channels = std::max<std::int64_t>(1, net.channels / std::max<std::int64_t>(stride, 1));
  out.active = net.active * active_scale;
  return out;
}

template NetT<double> strided_net(const NetT<double>&, std::int64_t, double);
template NetT<LinearTime> strided_net(const NetT<LinearTime>&, std::int64_t, double);

double predict_time(const ModelNet& net, ModelAlgo algo, double bytes, std::int64_t ranks) {
  return time_of(net, algo, bytes, ranks);
}

LinearTime predict_linear(const NetT<LinearTime>& net, ModelAlgo algo, double bytes,
                          std::int64_t ranks) {
  return time_of(net, algo, bytes, ranks);
}

double predict_p2p(const ModelNet& net, std::int64_t distance, double bytes) {
  if (distance <= 0) return 0;
  int k = 0;
  while (k + 1 < net.tiers && distance >= net.group[k]) ++k;
  return msg_alpha(net, k, bytes) + inv_rate(net, k, 1.0) * bytes;
}

BestChoice best_algorithm(const ModelNet& net, Collective c, double bytes, std::int64_t ranks) {
  BestChoice best;
  for (const auto& a : algo_table()) {
    if (a.collective != c) continue;
    const double t = time_of(net, a.algo, bytes, ranks);
    if (std::isnan(t)) continue;
    if (std::isnan(best.time_s) || t < best.time_s) best = {a.algo, t};
  }
  return best;
}

}  // namespace collbench::model
