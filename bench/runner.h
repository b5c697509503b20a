// The generic measurement driver. For each rank set, repeat, dtype, op, algorithm and size:
// barrier, untimed warm-up, timed iterations (the count fixed in advance and identical on every
// rank), per-iteration max over ranks, statistics, then the exact check.
#pragma once

#include <mpi.h>

#include <functional>
#include <vector>

#include "bench/options.h"
#include "bench/record.h"
#include "topology/hostmap.h"

namespace collbench::bench {

// Called on rank 0 with every record once the run is complete (used by `collbench tune`).
using RecordsCallback = std::function<void(const std::vector<Record>&)>;

// Runs the benchmark described by `o` over MPI_COMM_WORLD (MPI must be initialised).
// Returns the process exit code: 0 ok, 1 wrong results, 2 bad input, 3 timeout.
int run_benchmark(const Options& o, const RecordsCallback& on_records = {});

// Every rank's hostname, gathered over `comm` (collective), as nodes and local ranks.
topology::HostMap gather_hosts(MPI_Comm comm);

}  // namespace collbench::bench
