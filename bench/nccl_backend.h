// The backend choice (--backend mpi|nccl) and the NCCL backend's host-side pieces. Free of CUDA
// and NCCL types: the CLI, the runner and the tests include it in every build; what needs CUDA
// is declared in the COLLBENCH_HAVE_NCCL block and defined in nccl_backend.cc.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/backend.h"
#include "bench/options.h"

namespace collbench::bench {

inline constexpr const char* kBuiltWithoutNccl =
    "collbench was built without NCCL (COLLBENCH_NCCL=OFF or CUDA/NCCL not found)";

// True when this collbench was built with the NCCL backend.
bool nccl_backend_built();

// --gpu-map: the GPU index of each node-local rank, in order: "0,1,2,3", ranges "0-3", or both
// ("4-7,0-3"). Throws UsageError on anything else (empty items, negative or reversed ranges).
std::vector<int> parse_gpu_map(const std::string& text);

// The GPU of node-local rank `local_rank` when `visible` GPUs are visible: map[local_rank] with
// a map, local_rank without one. Throws Error with what to change when there is none.
int choose_gpu(int local_rank, int visible, const std::vector<int>& map);

// The lowest other node-local rank whose GPU has the same PCI bus id as `local_rank`'s
// (bus_ids[i] is local rank i's; empty = no GPU, never a match); nullopt when none.
std::optional<int> shares_gpu_with(const std::vector<std::string>& bus_ids, int local_rank);

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
std::unique_ptr<Backend> make_backend(const Options& o);

#if COLLBENCH_HAVE_NCCL
std::unique_ptr<Backend> make_nccl_backend(const Options& o);

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

}  // namespace collbench::bench
