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

}  // namespace collbench::collectives
