// The benchmark subcommands' driver: the size sweep over rank sets, repeats, dtypes, ops and
// algorithms (bench/sweep.cc), every point measured by the Runner.
#pragma once

#include <functional>
#include <vector>

#include "bench/options.h"
#include "bench/record.h"

namespace collbench::bench {

// Called on rank 0 with every record once the run is complete (used by `collbench tune`).
using RecordsCallback = std::function<void(const std::vector<Record>&)>;

// Runs the benchmark described by `o` over MPI_COMM_WORLD (MPI must be initialised).
// Returns the process exit code: 0 ok, 1 wrong results, 2 bad input (nothing measurable
// included), 3 timeout.
int run_benchmark(const Options& o, const RecordsCallback& on_records = {});

}  // namespace collbench::bench
