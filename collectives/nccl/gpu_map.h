// The GPU of every rank (--gpu-map) and whether the NCCL backend is built. Free of CUDA and NCCL
// types: the CLI and the tests use it in every build, before MPI starts.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace collbench::collectives {

inline constexpr const char* kBuiltWithoutNccl =
    "collbench was built without NCCL (COLLBENCH_NCCL=OFF or CUDA/NCCL not found)";

// True when this collbench was built with the NCCL backend.
bool nccl_backend_built();

// --gpu-map: the GPU index of each node-local rank, in order: "0,1,2,3", ranges "0-3", or both
// ("4-7,0-3"). Throws UsageError on anything else (empty items, negative or reversed ranges, a
// GPU listed twice).
std::vector<int> parse_gpu_map(const std::string& text);

// The GPU of node-local rank `local_rank` when `visible` GPUs are visible: map[local_rank] with
// a map, local_rank without one -- or 0 when the process sees a single GPU (the scheduler bound
// one to each rank). Throws Error with what to change when there is none.
int choose_gpu(int local_rank, int visible, const std::vector<int>& map);

// The lowest other node-local rank whose GPU has the same PCI bus id as `local_rank`'s
// (bus_ids[i] is local rank i's; empty = no GPU, never a match); nullopt when none.
std::optional<int> shares_gpu_with(const std::vector<std::string>& bus_ids, int local_rank);

}  // namespace collbench::collectives
