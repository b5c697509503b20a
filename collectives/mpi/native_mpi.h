// The MPI library's own collectives as algorithms (registry rows of backend "mpi").
#pragma once

#include <memory>

#include "collectives/algorithm.h"
#include "collectives/registry.h"

namespace collbench::collectives {

// The native MPI collective `id`, or nullptr when id is not one of the MPI library's.
std::unique_ptr<Algorithm> make_mpi_native(AlgorithmId id);

}  // namespace collbench::collectives
