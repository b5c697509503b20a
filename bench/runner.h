// The generic measurement driver. For each rank set, repeat, dtype, op, algorithm and size:
// barrier, untimed warm-up, timed iterations (the count fixed in advance and identical on every
// rank), per-iteration max over ranks, statistics, then the exact check.
#pragma once

#include "bench/options.h"

namespace collbench::bench {

// Runs the benchmark described by `o` over MPI_COMM_WORLD (MPI must be initialised).
// Returns the process exit code: 0 ok, 1 wrong results, 2 bad input, 3 timeout.
int run_benchmark(const Options& o);

}  // namespace collbench::bench
