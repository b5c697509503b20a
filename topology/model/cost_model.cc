#include "topology/model/cost_model.h"

#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

#include "collectives/error.h"
#include "topology/model/formulas.h"

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

}  // namespace

namespace detail {

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
  if (n.fanout > 1 && collectives::algorithm_info(a).collective == Collective::kAllToAll)
    t = max_of(t, forwarded_copies(n, bytes));
  const double copied = copied_bytes(a, bytes, p, n.group[0], n.in_place);
  if (copied > 0) t += n.delta * copied;
  if constexpr (std::is_same_v<T, double>) {
    return t + n.call_overhead_s;
  } else {
    return t + LinearTime::constant(n.call_overhead_s);
  }
}

}  // namespace detail

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
  const Tuning& u = f.tuning;
  n.channel_cap = u.channels;
  n.tree_eff = u.tree_efficiency;
  n.tree_shared_eff = u.tree_shared_nic_efficiency;
  n.in_switch_alpha = u.in_switch_alpha_us * 1e-6;
  n.in_switch_tree_alpha = u.in_switch_tree_alpha_us * 1e-6;
  n.in_switch_full = u.in_switch_full_gpus;
  n.in_switch_fill = u.in_switch_fill_bytes;
  n.in_switch_serial = u.in_switch_serial_fraction;
  n.p2p_eff = u.p2p_efficiency;
  n.message_gap = u.message_gap_us >= 0 ? u.message_gap_us * 1e-6 : -1;
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
    const std::int64_t members = top ? kUnbounded : detail::ceil_div(net.group[k], stride);
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
  return detail::time_of(net, algo, bytes, ranks);
}

LinearTime predict_linear(const NetT<LinearTime>& net, ModelAlgo algo, double bytes,
                          std::int64_t ranks) {
  return detail::time_of(net, algo, bytes, ranks);
}

double predict_p2p(const ModelNet& net, std::int64_t distance, double bytes) {
  if (distance <= 0) return 0;
  int k = 0;
  while (k + 1 < net.tiers && distance >= net.group[k]) ++k;
  return detail::msg_alpha(net, k, bytes) + detail::inv_rate(net, k, 1.0) * bytes;
}

BestChoice best_algorithm(const ModelNet& net, Collective c, double bytes, std::int64_t ranks) {
  BestChoice best;
  for (const auto& a : algo_table()) {
    if (a.collective != c) continue;
    const double t = detail::time_of(net, a.algo, bytes, ranks);
    if (std::isnan(t)) continue;
    if (std::isnan(best.time_s) || t < best.time_s) best = {a.algo, t};
  }
  return best;
}

}  // namespace collbench::model
