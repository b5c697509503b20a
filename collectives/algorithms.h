// Factories of collbench's own algorithms (one file each), for the registry and for tests.
#pragma once

#include <memory>

#include "collectives/algorithm.h"

namespace collbench::collectives {

// All-reduce.
std::unique_ptr<Algorithm> make_ring_allreduce();
std::unique_ptr<Algorithm> make_recursive_doubling_allreduce();
std::unique_ptr<Algorithm> make_rabenseifner_allreduce();
std::unique_ptr<Algorithm> make_binomial_allreduce();
std::unique_ptr<Algorithm> make_hierarchical_allreduce();
std::unique_ptr<Algorithm> make_hierarchical_leader_allreduce();

// All-to-all.
std::unique_ptr<Algorithm> make_linear_alltoall();
std::unique_ptr<Algorithm> make_pairwise_alltoall();
std::unique_ptr<Algorithm> make_bruck_alltoall();
std::unique_ptr<Algorithm> make_hierarchical_alltoall();

// Reduce-scatter.
std::unique_ptr<Algorithm> make_ring_reduce_scatter();
std::unique_ptr<Algorithm> make_recursive_halving_reduce_scatter();
std::unique_ptr<Algorithm> make_pairwise_reduce_scatter();
std::unique_ptr<Algorithm> make_hierarchical_reduce_scatter();

// All-gather.
std::unique_ptr<Algorithm> make_ring_allgather();
std::unique_ptr<Algorithm> make_recursive_doubling_allgather();
std::unique_ptr<Algorithm> make_bruck_allgather();
std::unique_ptr<Algorithm> make_hierarchical_allgather();

}  // namespace collbench::collectives
