// The pipeline-parallel exchange of a training step (each stage sends its activations to the
// next stage and receives from the previous one), measured for `workload run`. It is not one of
// the collectives, so it has no record of its own in the result file; it is timed through the
// backend's transport and clock like every collective, and checked with the all-gather pattern
// (a pipeline exchange is one half of a two-rank all-gather: the receiver must end with the
// sender's block).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <vector>

#include "bench/options.h"
#include "bench/watchdog.h"
#include "collectives/backend.h"
#include "topology/model/workload.h"

namespace collbench::bench {

struct P2pResult {
  double each_s = 0;  // per exchange at the step's size (extrapolated above the cap)
  std::size_t measured = 0;
  bool extrapolated = false;
  std::int64_t wrong = 0;          // summed over ranks; -1 when not checked
  std::vector<double> samples_us;  // at the measured size: per iteration, the max over ranks
  nlohmann::json to_json(nlohmann::json step) const;
};

// Collective over MPI_COMM_WORLD. `c.stride` is the distance between consecutive stages.
P2pResult measure_p2p(const Options& o, collectives::Backend& backend, Watchdog& watchdog,
                      const model::StepCollective& c, std::size_t cap);

}  // namespace collbench::bench
