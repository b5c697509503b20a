// Where every rank sits: node (by hostname, through hostmap.h), local rank, node leaders,
// NUMA node and package of each rank's binding, the GPU and NIC each rank is taken to use,
// the groups hierarchical algorithms split into, and the warnings a user should see before
// trusting a measurement.
//
// build_layout() is pure (tests call it with hand-made reports); gather_layout() and
// collect_topology_json() gather the reports with MPI and call it.
#pragma once

#include <mpi.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "topology/discovery.h"
#include "topology/hostmap.h"

namespace collbench::topology {

// What each rank contributes.
struct RankReport {
  std::string hostname;
  Binding binding;
  double discovery_seconds = 0;
  double discovery_cpu_seconds = 0;
  // The CUDA_VISIBLE_DEVICES value of the rank, if it was set.
  std::optional<std::string> cuda_visible_devices;
};

struct RankPlacement {
  int rank = 0;
  int node = 0;
  int local_rank = 0;
  std::string host;
  Binding binding;
  int numa = -1;         // logical NUMA node when the binding lies within one, else -1
  int package = -1;      // likewise for packages
  int gpu = -1;          // index into the node's Hardware::gpus, -1 for none
  std::string gpu_rule;  // how gpu was chosen: "local rank", "CUDA_VISIBLE_DEVICES", ""
  int nic = -1;          // index into the node's Hardware::nics, -1 for none
};

struct NodePlacement {
  int node = 0;
  std::string host;
  std::vector<int> ranks;
  int leader = 0;                    // lowest rank of the node
  std::optional<Hardware> hardware;  // absent when the node's leader did not report it
};

enum class GroupKind {
  kNode,     // ranks of one node
  kNuma,     // ranks of one node bound within one NUMA node (unbound ranks: one group per node)
  kSocket,   // likewise for packages
  kRail,     // ranks with the same local rank on every node (the per-rail inter-node groups)
  kLeaders,  // node leaders; other ranks get color -1 (MPI_UNDEFINED)
};

struct Layout {
  HostMap hosts;
  std::vector<RankPlacement> ranks;
  std::vector<NodePlacement> nodes;
  std::vector<int> leaders;  // by node
  std::vector<std::string> warnings;
  double discovery_max_s = 0;
  double discovery_mean_s = 0;
  double discovery_cpu_max_s = 0;  // CPU time: what discovery costs without contention
  // True on the rank that holds everything (rank 0 of gather_layout, or build_layout's caller).
  // Elsewhere node names are opaque keys (hostname hashes), bindings hold only their NUMA node
  // and package, and there is no hardware, no warnings and no discovery time; the node
  // structure (node of every rank, local ranks, leaders, groups) is the same everywhere.
  bool complete = true;

  int nodes_count() const { return hosts.nodes(); }
  int ranks_count() const { return hosts.ranks(); }
  // A color per rank for MPI_Comm_split / Transport::split: equal colors, one group.
  // Colors are dense non-negative numbers, except -1 for ranks outside a kLeaders group.
  std::vector<int> group_colors(GroupKind kind) const;
};

// Pure. reports by rank; hardware by node, in the order nodes first appear in the reports (as
// make_host_map numbers them); missing entries (shorter vector or nullopt) mean "not reported".
Layout build_layout(const std::vector<RankReport>& reports,
                    const std::vector<std::optional<Hardware>>& hardware);

// GPU a rank is taken to use: CUDA_VISIBLE_DEVICES (ordinals or GPU-UUIDs) when set, else
// local rank modulo the GPUs of the node. -1 when there is none. `rule` gets how it was chosen.
int assign_gpu(const Hardware& hw, int local_rank, const std::optional<std::string>& cvd,
               std::string* rule);
// NIC a rank is taken to use: the one nearest its GPU, else a rail NIC on its NUMA node
// (by local rank), else any rail NIC. -1 when the node has none.
int assign_nic(const Hardware& hw, int gpu, int numa, int local_rank);

// Collective over comm. Every rank gets node/local rank/leaders/NUMA/package of every rank;
// rank 0 also gets bindings, hardware and warnings (complete). If discovery failed on any rank,
// every rank throws collbench::Error naming the first failing rank.
Layout gather_layout(MPI_Comm comm, const DiscoveryOptions& options = {});

// A communicator for one kind of group (the node, the rank's NUMA node, ...). MPI_COMM_NULL
// for ranks outside a kLeaders group. Collective over comm; free the result with MPI_Comm_free.
MPI_Comm split_comm(MPI_Comm comm, const Layout& layout, GroupKind kind);

// The `topology` object of result files: per-node hardware summary, rank map, warnings.
nlohmann::json to_json(const Layout& layout);

// Collective over comm. On rank 0 the `topology` object of result files; an empty json on the
// other ranks. Never throws for a discovery failure: rank 0 then gets {"error": "..."}.
nlohmann::json collect_topology_json(MPI_Comm comm, const DiscoveryOptions& options = {});

}  // namespace collbench::topology
