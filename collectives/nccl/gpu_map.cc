// The GPU of every rank (--gpu-map) and whether the NCCL backend is built: host-only pieces of
// the NCCL backend, built in every configuration so that flags are checked before MPI starts.
#include "collectives/nccl/gpu_map.h"

#include <cctype>
#include <string>

#include "collectives/error.h"

namespace collbench::collectives {

namespace {

int parse_index(const std::string& s, const std::string& item) {
  if (s.empty() || s.size() > 4)
    throw UsageError("invalid --gpu-map item '" + item +
                     "' (expected GPU indices like 0,1,2,3 or ranges like 0-3)");
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      throw UsageError("invalid --gpu-map item '" + item +
                       "' (expected GPU indices like 0,1,2,3 or ranges like 0-3)");
  return std::stoi(s);
}

}  // namespace

bool nccl_backend_built() {
#if COLLBENCH_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

std::vector<int> parse_gpu_map(const std::string& text) {
  std::vector<int> map;
  std::string item;
  auto flush = [&](bool last) {
    if (item.empty()) {
      if (last && map.empty() && text.find(',') == std::string::npos) return;
      throw UsageError("invalid --gpu-map '" + text + "' (an item is empty)");
    }
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      map.push_back(parse_index(item, item));
    } else {
      const int lo = parse_index(item.substr(0, dash), item);
      const int hi = parse_index(item.substr(dash + 1), item);
      if (hi < lo) throw UsageError("invalid --gpu-map range '" + item + "' (end before start)");
      for (int g = lo; g <= hi; ++g) map.push_back(g);
    }
    item.clear();
  };
  for (char c : text) {
    if (c == ' ') continue;
    if (c == ',') {
      flush(false);
    } else {
      item += c;
    }
  }
  flush(true);
  // A GPU listed twice would put two ranks on one GPU, which NCCL does not support.
  for (std::size_t i = 0; i < map.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (map[i] == map[j])
        throw UsageError("invalid --gpu-map '" + text + "': GPU " + std::to_string(map[i]) +
                         " is listed for node-local ranks " + std::to_string(j) + " and " +
                         std::to_string(i) +
                         " (NCCL needs a GPU per rank); list each GPU once, or leave --gpu-map "
                         "out when the scheduler gives each rank a GPU of its own (Slurm "
                         "--gpus-per-task=1)");
  return map;
}

int choose_gpu(int local_rank, int visible, const std::vector<int>& map) {
  if (visible < 1) throw Error("no GPU is visible");
  if (map.empty()) {
    if (local_rank < visible) return local_rank;
    // The scheduler bound one GPU to each rank (Slurm --gpus-per-task=1, CUDA_VISIBLE_DEVICES
    // per rank): every rank's GPU is its index 0. Ranks that truly share it are refused later,
    // when the node's ranks compare PCI bus ids.
    if (visible == 1) return 0;
    throw Error("node-local rank " + std::to_string(local_rank) +
                " has no GPU of its own: " + std::to_string(visible) +
                " GPUs are visible to it; start at most " + std::to_string(visible) +
                " ranks per node, give --gpu-map, or let the scheduler give each rank one GPU "
                "(Slurm --gpus-per-task=1)");
  }
  if (local_rank >= static_cast<int>(map.size()))
    throw Error("--gpu-map lists " + std::to_string(map.size()) + " GPU(s) but node-local rank " +
                std::to_string(local_rank) + " needs one");
  const int g = map[static_cast<std::size_t>(local_rank)];
  if (g >= visible)
    throw Error(
        "--gpu-map gives node-local rank " + std::to_string(local_rank) + " GPU " +
        std::to_string(g) + " but only " + std::to_string(visible) +
        " GPU(s) are visible (indices 0-" + std::to_string(visible - 1) +
        ", after CUDA_VISIBLE_DEVICES); list only visible GPUs in --gpu-map" +
        (visible == 1 ? ", or leave it out when the scheduler gives each rank its own GPU" : ""));
  return g;
}

std::optional<int> shares_gpu_with(const std::vector<std::string>& bus_ids, int local_rank) {
  if (local_rank < 0 || local_rank >= static_cast<int>(bus_ids.size())) return std::nullopt;
  const std::string& mine = bus_ids[static_cast<std::size_t>(local_rank)];
  if (mine.empty()) return std::nullopt;
  for (int r = 0; r < static_cast<int>(bus_ids.size()); ++r)
    if (r != local_rank && bus_ids[static_cast<std::size_t>(r)] == mine) return r;
  return std::nullopt;
}

}  // namespace collbench::collectives
