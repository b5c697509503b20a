// The table of every algorithm collbench knows. One row per algorithm, in AlgorithmId order; the
// factories of own algorithms are declared in algorithms.h, natives are made by their backend.
#include "collectives/registry.h"

#include <string>

#include "collectives/algorithms.h"
#include "collectives/error.h"

namespace collbench::collectives {
namespace {

using K = AlgorithmKind;
using C = Collective;
using A = AlgorithmId;

// clang-format off
constexpr AlgorithmInfo kTable[] = {
    {A::kMpiAllreduce, C::kAllReduce, "MPI_Allreduce",
     "the MPI library's MPI_Allreduce (its own algorithm selection)", K::kNative, "mpi", nullptr},
    {A::kMpiAlltoall, C::kAllToAll, "MPI_Alltoall",
     "the MPI library's MPI_Alltoall (its own algorithm selection)", K::kNative, "mpi", nullptr},
    {A::kMpiReduceScatter, C::kReduceScatter, "MPI_Reduce_scatter_block",
     "the MPI library's MPI_Reduce_scatter_block (its own algorithm selection)", K::kNative, "mpi",
     nullptr},
    {A::kMpiAllgather, C::kAllGather, "MPI_Allgather",
     "the MPI library's MPI_Allgather (its own algorithm selection)", K::kNative, "mpi", nullptr},
    {A::kNcclAllreduce, C::kAllReduce, "nccl",
     "NCCL's ncclAllReduce (its own ring/tree/NVLS choice; needs --backend nccl)", K::kNative,
     "nccl", nullptr},
    {A::kNcclAlltoall, C::kAllToAll, "nccl", "NCCL's ncclAlltoAll (needs --backend nccl)",
     K::kNative, "nccl", nullptr},
    {A::kNcclReduceScatter, C::kReduceScatter, "nccl",
     "NCCL's ncclReduceScatter (needs --backend nccl)", K::kNative, "nccl", nullptr},
    {A::kNcclAllgather, C::kAllGather, "nccl", "NCCL's ncclAllGather (needs --backend nccl)",
     K::kNative, "nccl", nullptr},

    {A::kRingAllreduce, C::kAllReduce, "ring",
     "ring reduce-scatter + ring all-gather, pipelined in segments (bandwidth-optimal)", K::kOwn,
     "", make_ring_allreduce},
    {A::kRecursiveDoublingAllreduce, C::kAllReduce, "recursive_doubling",
     "lg p whole-vector exchanges with XOR partners (latency-optimal, short vectors)", K::kOwn, "",
     make_recursive_doubling_allreduce},
    {A::kRabenseifnerAllreduce, C::kAllReduce, "rabenseifner",
     "recursive-halving reduce-scatter + recursive-doubling all-gather (long vectors)", K::kOwn, "",
     make_rabenseifner_allreduce},
    {A::kBinomialAllreduce, C::kAllReduce, "binomial",
     "binomial-tree reduce to rank 0 + binomial-tree broadcast", K::kOwn, "",
     make_binomial_allreduce},
    {A::kHierarchicalAllreduce, C::kAllReduce, "hierarchical",
     "node reduce-scatter, per-rail all-reduce between nodes (--inter-node-algo), node all-gather",
     K::kOwn, "", make_hierarchical_allreduce},
    {A::kHierarchicalLeaderAllreduce, C::kAllReduce, "hierarchical_leader",
     "node reduce to a leader, leaders all-reduce (--inter-node-algo), node broadcast", K::kOwn, "",
     make_hierarchical_leader_allreduce},
    {A::kDoubleBinaryTreeAllreduce, C::kAllReduce, "double_binary_tree",
     "NCCL's pipelined double binary tree between domains (modelled)", K::kModelled, "", nullptr},
    {A::kHierarchical3Allreduce, C::kAllReduce, "hierarchical3",
     "hierarchical with one more reduce-scatter level across the tier-1 block (modelled)",
     K::kModelled, "", nullptr},
    {A::kInSwitchAllreduce, C::kAllReduce, "in_switch",
     "in-switch reduction: NVLS inside a domain, SHARP between (modelled)", K::kModelled, "",
     nullptr},

    {A::kLinearAlltoall, C::kAllToAll, "linear",
     "all p-1 sends and receives posted at once, order staggered per rank", K::kOwn, "",
     make_linear_alltoall},
    {A::kPairwiseAlltoall, C::kAllToAll, "pairwise",
     "p-1 exchange steps, XOR partner for powers of two, shifted partner otherwise", K::kOwn, "",
     make_pairwise_alltoall},
    {A::kBruckAlltoall, C::kAllToAll, "bruck",
     "ceil(lg p) rounds of packed blocks with local rotations (short blocks)", K::kOwn, "",
     make_bruck_alltoall},
    {A::kHierarchicalAlltoall, C::kAllToAll, "hierarchical",
     "node-aware two-phase: aggregate per destination inside the node, one message per rail",
     K::kOwn, "", make_hierarchical_alltoall},

    {A::kRingReduceScatter, C::kReduceScatter, "ring",
     "p-1 ring steps, each adding this rank's block to the partial passing by (bandwidth-optimal)",
     K::kOwn, "", make_ring_reduce_scatter},
    {A::kRecursiveHalvingReduceScatter, C::kReduceScatter, "recursive_halving",
     "lg p steps exchanging half of the remaining vector with XOR partners", K::kOwn, "",
     make_recursive_halving_reduce_scatter},
    {A::kPairwiseReduceScatter, C::kReduceScatter, "pairwise",
     "p-1 exchange steps: block j goes straight to rank j and is reduced there", K::kOwn, "",
     make_pairwise_reduce_scatter},
    {A::kHierarchicalReduceScatter, C::kReduceScatter, "hierarchical",
     "node reduce-scatter, then a reduce-scatter per rail between nodes", K::kOwn, "",
     make_hierarchical_reduce_scatter},

    {A::kRingAllgather, C::kAllGather, "ring",
     "p-1 ring steps, each forwarding the block received last (bandwidth-optimal)", K::kOwn, "",
     make_ring_allgather},
    {A::kRecursiveDoublingAllgather, C::kAllGather, "recursive_doubling",
     "lg p steps exchanging everything gathered so far with XOR partners", K::kOwn, "",
     make_recursive_doubling_allgather},
    {A::kBruckAllgather, C::kAllGather, "bruck",
     "ceil(lg p) steps to rank r - 2^k, then one local rotation (any p, short blocks)", K::kOwn, "",
     make_bruck_allgather},
    {A::kHierarchicalAllgather, C::kAllGather, "hierarchical",
     "an all-gather per rail between nodes, then a node all-gather", K::kOwn, "",
     make_hierarchical_allgather},
};
// clang-format on

constexpr bool rows_in_id_order() {
  for (int i = 0; i < kNumAlgorithmIds; ++i)
    if (static_cast<int>(kTable[i].id) != i) return false;
  return true;
}
static_assert(std::size(kTable) == kNumAlgorithmIds, "one row per AlgorithmId");
static_assert(rows_in_id_order(), "rows in AlgorithmId order: algorithm_info() indexes by id");

}  // namespace

std::span<const AlgorithmInfo> algorithm_registry() { return kTable; }

const AlgorithmInfo& algorithm_info(AlgorithmId id) { return kTable[static_cast<int>(id)]; }

const AlgorithmInfo* find_algorithm(Collective c, std::string_view name) {
  for (const auto& a : kTable)
    if (a.collective == c && a.name == name) return &a;
  return nullptr;
}

std::unique_ptr<Algorithm> make_own_algorithm(AlgorithmId id) {
  const AlgorithmInfo& info = algorithm_info(id);
  if (!info.make)
    throw Error(std::string(info.name) + " (" + std::string(collective_name(info.collective)) +
                ") is not one of collbench's own algorithms");
  return info.make();
}

bool backend_built(std::string_view backend) {
  if (backend == "mpi") return true;
#if COLLBENCH_HAVE_NCCL
  if (backend == "nccl") return true;
#endif
  return false;
}

}  // namespace collbench::collectives
