// Internal to the cost model: the pieces every family of formulas shares (how a step is charged
// on a tier, a ring pass, a pairwise step), and the formula of each algorithm, one function per
// algorithm, defined in the file of its collective family (allreduce_formulas.cc,
// alltoall_formulas.cc, reduce_scatter_allgather_formulas.cc) for T = double (prediction) and
// T = LinearTime (fitting). cost_model.cc dispatches to them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "topology/model/cost_model.h"

namespace collbench::model::detail {

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
// A constant time (no parameter of a fit moves it).
template <class T>
T constant_time(double seconds) {
  if constexpr (std::is_same_v<T, double>) {
    return seconds;
  } else {
    return LinearTime::constant(seconds);
  }
}
template <class T>
T min_of(const T& a, const T& b) {
  return value_of(a) <= value_of(b) ? a : b;
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
  double c = std::min(static_cast<double>(n.channels), below);
  if (n.channel_cap > 0) c = std::min(c, static_cast<double>(n.channel_cap));
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

// Members of p consecutive ones inside one block of tier k.
template <class T>
std::int64_t within(const NetT<T>& n, int k, std::int64_t p) {
  return k + 1 >= n.tiers ? p : std::min(n.group[k], p);
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

// --- one function per algorithm (p ranks, `bytes` per rank) ---------------------------------

template <class T>
T ring_allreduce(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T recursive_doubling(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T rabenseifner(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T binomial(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T double_binary_tree(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T hierarchical(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T hierarchical3(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T hierarchical_leader(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T in_switch(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T alltoall_linear(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T alltoall_pairwise(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T alltoall_bruck(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T alltoall_hierarchical(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T ring_reduce_scatter(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T halving_reduce_scatter(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T pairwise_reduce_scatter(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T ring_allgather(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T doubling_allgather(const NetT<T>& n, std::int64_t p, double bytes);
template <class T>
T bruck_allgather(const NetT<T>& n, std::int64_t p, double bytes);

// The scale-up links' time for the forwarded copies of an MoE dispatch (NetT::fanout).
template <class T>
T forwarded_copies(const NetT<T>& n, double bytes);

// Reduce-scatter (reduce) or all-gather in two levels: the domain, then the rails.
template <class T>
T hierarchical_blocks(const NetT<T>& n, std::int64_t p, double bytes, bool reduce);

// The formulas a file defines, for both time types.
#define COLLBENCH_MODEL_INSTANTIATE(name)                          \
  template double name(const NetT<double>&, std::int64_t, double); \
  template LinearTime name(const NetT<LinearTime>&, std::int64_t, double);

}  // namespace collbench::model::detail
