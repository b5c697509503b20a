// The backend choice (--backend mpi|nccl): flag checks before MPI starts, then the backend.
#include "bench/backend_select.h"

#include "collectives/error.h"
#include "collectives/nccl/gpu_map.h"
#include "collectives/nccl/nccl_backend.h"

namespace collbench::bench {

using collectives::kBuiltWithoutNccl;

collectives::BackendSettings backend_settings(const Options& o) {
  collectives::BackendSettings s;
  s.mpi_max_count = o.mpi_max_count;
  s.timeout_s = o.timeout_s;
  s.gpu_map = o.gpu_map;
  s.cuda_graph = o.cuda_graph;
  return s;
}

void validate_backend_options(const Options& o) {
  if (o.backend != "mpi" && o.backend != "nccl")
    throw UsageError("unknown --backend '" + o.backend + "' (use mpi or nccl)");
  if (o.cuda_graph < 0) throw UsageError("--cuda-graph cannot be negative");
  if (o.backend != "nccl") {
    // Every algorithm the NCCL backend runs can be captured (they only enqueue stream work);
    // the MPI backend's run on the host and cannot.
    if (o.cuda_graph > 0)
      throw UsageError(
          "--cuda-graph needs --backend nccl (--backend " + o.backend +
          " runs on the host, which a CUDA graph cannot capture): add --backend nccl or drop "
          "--cuda-graph");
    if (!o.gpu_map.empty())
      throw UsageError(
          "--gpu-map needs --backend nccl (it picks each rank's GPU): add --backend "
          "nccl or drop --gpu-map");
    return;
  }
  if (!collectives::nccl_backend_built()) throw UsageError(kBuiltWithoutNccl);
  collectives::parse_gpu_map(o.gpu_map);
}

std::unique_ptr<collectives::Backend> make_backend(const Options& o) {
  if (o.backend == "nccl") {
#if COLLBENCH_HAVE_NCCL
    return collectives::make_nccl_backend(backend_settings(o));
#else
    throw UsageError(kBuiltWithoutNccl);
#endif
  }
  return collectives::make_mpi_backend(backend_settings(o));
}

}  // namespace collbench::bench
