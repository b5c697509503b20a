// The backend choice (--backend mpi|nccl).
#pragma once

#include <memory>

#include "bench/options.h"
#include "collectives/backend.h"

namespace collbench::bench {

// Checks of the backend flags that need no MPI (the CLI runs them before MPI starts, so a bad
// flag is reported once): --backend is mpi or nccl, nccl is built in, --gpu-map parses,
// --cuda-graph is not negative, --gpu-map and --cuda-graph only with nccl. Throws UsageError.
// Whether a GPU is visible is checked by make_backend, on every rank.
void validate_backend_options(const Options& o);

// The backend `o.backend` names; MPI must be initialised. For nccl this is collective over
// MPI_COMM_WORLD: every rank takes its GPU (by node-local rank or --gpu-map) and the ranks agree
// on whether all could (a few integers over all ranks; bus ids only among a node's ranks). When any
// could not (no GPU visible, no GPU for its local rank, two ranks on one GPU), rank 0 prints the
// first problem in one line (with CUDA's error text) and every rank finalizes MPI and exits with
// code 2 (the other ranks without printing).
std::unique_ptr<collectives::Backend> make_backend(const Options& o);

// The settings of Options a backend reads.
collectives::BackendSettings backend_settings(const Options& o);

}  // namespace collbench::bench
