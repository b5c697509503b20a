// Everything one benchmark run is told, as an explicit value (no globals).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "collectives/backend.h"
#include "collectives/collective.h"
#include "collectives/dtype.h"

namespace collbench::bench {

enum class Placement { kOut, kIn, kBoth };

struct Options {
  collectives::Collective collective = collectives::Collective::kAllReduce;
  std::size_t min_bytes = 8;
  std::size_t max_bytes = 64u << 20;
  double step_factor = 2.0;
  std::size_t step_bytes = 0;
  int iters = 20;
  int warmup = 5;
  std::vector<collectives::DType> dtypes{collectives::DType::kF32};
  bool dtypes_all = false;  // -d all: a dtype no algorithm runs is skipped, not bad input
  std::vector<collectives::ReduceOp> ops{collectives::ReduceOp::kSum};
  std::vector<std::string> algorithms;  // resolved names; empty = the native one
  bool algo_auto = false;               // --algo auto: choose per size from the selection table
  std::string selection_file;           // --selection FILE overrides the built-in table
  Placement placement = Placement::kBoth;
  int check = 1;  // check repetitions after timing; 0 = none
  std::string json_path;
  std::string csv_path;
  double timeout_s = 300;
  bool rotate_buffers = true;
  // Untimed passes over the windows a point's calls use, between the ranks of a node, before the
  // point (docs/methodology.md, "What the regime switch was"); 0 = none.
  int buffer_passes = 3;
  std::size_t segment_bytes = 0;
  std::string inter_node_algorithm = "ring";
  std::size_t mpi_max_count = 2147483647;  // largest count in one MPI call (testing: set low)
  int repeat = 1;
  // Instability of a point (bench/stability.h): the relative change that counts as another
  // regime, and with --stable the seconds a point may be re-measured until it is stable (0: no).
  double instability_threshold = 0.25;
  double stable_budget_s = 0;
  // --timing: how calls are timed (collectives/backend.h); recorded in every record.
  collectives::TimingMode timing = collectives::TimingMode::kPerCall;
  bool rank_spread = false;  // --rank-spread: the table adds min/avg/max over ranks
  bool ranks_sweep = false;
  int ranks_per_node = 0;  // with --ranks-sweep: ranks used per node (0 = all)
  std::string label;       // hardware label recorded in provenance
  std::string topology_xml;
  bool quiet = false;
  std::string backend = "mpi";  // --backend: mpi (host buffers) or nccl (one GPU per rank)
  std::string gpu_map;          // --gpu-map: GPU index per node-local rank ("" = local rank)
  int cuda_graph = 0;           // --cuda-graph N: replay the timed iterations as a graph N times
  std::vector<std::string> command_line;

  // The fields every rank must agree on, as one string (hashed to detect launch mismatches).
  std::string canonical() const;
};

}  // namespace collbench::bench
