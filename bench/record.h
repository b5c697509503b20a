// One measured point: (collective, algorithm, dtype, op, size, placement, ranks, repeat).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/stability.h"
#include "bench/stats.h"
#include "collectives/collective.h"
#include "collectives/dtype.h"

namespace collbench::bench {

struct Record {
  collectives::Collective collective = collectives::Collective::kAllReduce;
  std::string algorithm;
  std::string selected_algorithm;  // with --algo auto: what the table chose
  std::string backend = "mpi";
  collectives::DType dtype = collectives::DType::kF32;
  collectives::ReduceOp op = collectives::ReduceOp::kSum;
  bool in_place = false;
  std::size_t bytes = 0;
  std::size_t count = 0;
  int ranks = 1, nodes = 1, ranks_per_node = 1, repeat = 0, iters = 0, warmup = 0;
  Stats time_us;
  double algbw_gbps = 0, busbw_gbps = 0, algbw_p50_gbps = 0, busbw_p50_gbps = 0;
  double busbw_factor = 0;
  int slowest_rank = 0;
  double slowest_rank_share = 0;
  std::int64_t wrong = -1;  // -1: not checked
  int check_reps = 0;
  nlohmann::json first_wrong;  // null or {rank, index, expected, actual}
  std::vector<double> samples_us;
  std::string timing = "per-call";  // --timing of the run
  // What samples_us holds: per-iteration max over ranks (per-call), per-iteration mean over
  // ranks (barrier), or one loop average per rank (loop).
  std::string samples_are;
  // Per rank, the mean of its own call times (loop: its loop average); min/avg/max over ranks.
  std::vector<double> rank_mean_us;
  double rank_min_us = 0, rank_avg_us = 0, rank_max_us = 0;
  double nccl_estimate_us = -1;  // NCCL's own model time (ncclGroupSimulateEnd); -1: none
  // Page faults (minor + major) a rank's process took per timed call, the most over ranks: a
  // library or algorithm that maps fresh memory on every call pays them inside the time.
  double page_faults_per_call = 0;
  nlohmann::json step;  // workload runs: the training-step item measured; else null
  std::optional<Instability> instability;  // set when the samples are not one regime
  int attempts = 1;                        // --stable: measurements of this point
  std::string stable_outcome;              // --stable: "stable" or "budget exhausted"

  nlohmann::json to_json() const;
};

}  // namespace collbench::bench
