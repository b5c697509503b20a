// NCCL's own collectives as algorithms (registered as `nccl` when built with NCCL), and NCCL's
// own time estimate of one of them.
#pragma once

#include <memory>
#include <optional>

#include "collectives/algorithm.h"
#include "collectives/registry.h"

namespace collbench::collectives {

// The native NCCL collective `id`, or nullptr when id is not one of NCCL's.
std::unique_ptr<Algorithm> make_nccl_native(AlgorithmId id);

// NCCL's model time (ncclGroupSimulateEnd, microseconds) of one call of `algo` with `args` on
// the buffers of its last run(); nullopt when `algo` is not a native NCCL algorithm, the NCCL
// headers lack ncclGroupSimulateEnd, or NCCL gives no estimate (one rank, or an error).
// Purely local (no communication), but call it on every rank alike: it is an NCCL call.
std::optional<double> nccl_estimate_us(Algorithm& algo, const CollectiveArgs& args);

}  // namespace collbench::collectives
