#pragma once

#include <memory>

#include "collectives/algorithm.h"

namespace collbench::collectives {

std::unique_ptr<Algorithm> make_mpi_allreduce();
std::unique_ptr<Algorithm> make_mpi_alltoall();

}  // namespace collbench::collectives
