// The NCCL backend (one GPU per rank, device buffers, NCCL point-to-point and collectives) and
// what it reports of the GPUs. Declared only in builds with NCCL; gpu_map.h has the host-only
// pieces every build needs.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "collectives/backend.h"
#include "collectives/nccl/gpu_map.h"

namespace collbench::collectives {

#if COLLBENCH_HAVE_NCCL
// Collective over MPI_COMM_WORLD: every rank takes its GPU (by node-local rank or --gpu-map)
// and the ranks agree on whether all could (a few integers over all ranks; bus ids only among a
// node's ranks). When any could not, rank 0 prints the first problem in one line (with CUDA's
// error text) and every rank finalizes MPI and exits with code 2.
std::unique_ptr<Backend> make_nccl_backend(const BackendSettings& s);

// Why this process sees no GPU ("cudaGetDeviceCount: <CUDA error text>" or "cudaGetDeviceCount
// returned 0 devices ..."); nullopt when it sees at least one (then *visible is the count).
std::optional<std::string> gpu_visibility_problem(int* visible = nullptr);

// Library versions for the result provenance, readable without a GPU: nccl_version (the loaded
// library), nccl_version_built (the header), cuda_runtime_version, cuda_driver_version (null
// without a driver), nvidia_driver (kernel module version, null when unknown).
nlohmann::json gpu_library_versions();

// GPU `device` as recorded per rank: index, name, uuid ("GPU-xxxxxxxx-..."), pci_bus_id,
// memory_bytes, compute_capability, sm_count; {"device": d, "error": text} when CUDA cannot
// describe it (e.g. no GPU).
nlohmann::json local_gpu_info(int device);
#endif

}  // namespace collbench::collectives
