// Reduce-scatter and all-gather: ring, recursive halving / doubling, pairwise, Bruck, and the
// hierarchical versions (domain, then rails).
#include <algorithm>
#include <cstdint>

#include "topology/model/formulas.h"

namespace collbench::model::detail {

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

template double hierarchical_blocks(const NetT<double>&, std::int64_t, double, bool);
template LinearTime hierarchical_blocks(const NetT<LinearTime>&, std::int64_t, double, bool);

COLLBENCH_MODEL_INSTANTIATE(ring_reduce_scatter)
COLLBENCH_MODEL_INSTANTIATE(halving_reduce_scatter)
COLLBENCH_MODEL_INSTANTIATE(pairwise_reduce_scatter)
COLLBENCH_MODEL_INSTANTIATE(ring_allgather)
COLLBENCH_MODEL_INSTANTIATE(doubling_allgather)
COLLBENCH_MODEL_INSTANTIATE(bruck_allgather)

}  // namespace collbench::model::detail
