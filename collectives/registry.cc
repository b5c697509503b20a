// The table of every algorithm collbench can measure. One row per algorithm; the factory
// functions are declared in the header of each algorithm's file.
#include "collectives/registry.h"

#include <vector>

#include "collectives/algorithms.h"
#include "collectives/native_mpi.h"
#if COLLBENCH_HAVE_NCCL
#include "collectives/native_nccl.h"
#endif

namespace collbench::collectives {

std::span<const AlgorithmInfo> algorithm_registry() {
  static const std::vector<AlgorithmInfo> kTable = {
      // name, collective, description, native, factory
      {"MPI_Allreduce", Collective::kAllReduce,
       "the MPI library's MPI_Allreduce (its own algorithm selection)", true, make_mpi_allreduce},
      {"MPI_Alltoall", Collective::kAllToAll,
       "the MPI library's MPI_Alltoall (its own algorithm selection)", true, make_mpi_alltoall},
#if COLLBENCH_HAVE_NCCL
      {"nccl", Collective::kAllReduce,
       "NCCL's ncclAllReduce (its own ring/tree/NVLS choice; needs --backend nccl)", true,
       make_nccl_allreduce},
      {"nccl", Collective::kAllToAll, "NCCL's ncclAlltoAll (needs --backend nccl)", true,
       make_nccl_alltoall},
#endif
      {"ring", Collective::kAllReduce,
       "ring reduce-scatter + all-gather, pipelined in segments (bandwidth-optimal)", false,
       make_ring_allreduce},
      {"recursive_doubling", Collective::kAllReduce,
       "lg p whole-vector exchanges with XOR partners (latency-optimal, short vectors)", false,
       make_recursive_doubling_allreduce},
      {"rabenseifner", Collective::kAllReduce,
       "recursive-halving reduce-scatter + recursive-doubling all-gather (long vectors)", false,
       make_rabenseifner_allreduce},
      {"binomial", Collective::kAllReduce,
       "binomial-tree reduce to rank 0 + binomial-tree broadcast", false,
       make_binomial_allreduce},
      {"hierarchical", Collective::kAllReduce,
       "node reduce-scatter, per-rail all-reduce between nodes (--inter-node-algo), node all-gather",
       false, make_hierarchical_allreduce},
      {"hierarchical_leader", Collective::kAllReduce,
       "node reduce to a leader, leaders all-reduce (--inter-node-algo), node broadcast", false,
       make_hierarchical_leader_allreduce},
      {"linear", Collective::kAllToAll,
       "all p-1 sends and receives posted at once, order staggered per rank", false,
       make_linear_alltoall},
      {"pairwise", Collective::kAllToAll,
       "p-1 exchange steps, XOR partner for powers of two, shifted partner otherwise", false,
       make_pairwise_alltoall},
      {"bruck", Collective::kAllToAll,
       "ceil(lg p) rounds of packed blocks with local rotations (short blocks)", false,
       make_bruck_alltoall},
      {"hierarchical", Collective::kAllToAll,
       "node-aware two-phase: aggregate per destination inside the node, one message per rail", false,
       make_hierarchical_alltoall},
  };
  return kTable;
}

const AlgorithmInfo* find_algorithm(Collective c, std::string_view name) {
  for (const auto& a : algorithm_registry())
    if (a.collective == c && a.name == name) return &a;
  return nullptr;
}

}  // namespace collbench::collectives
