// What every MPI entry point checks before it measures anything: that every rank was started
// with the same measurement arguments, and that no rank found a problem during set-up; either way
// one line is printed (by rank 0) and every rank returns 2 instead of waiting for the others.
#pragma once

#include <mpi.h>

#include <string>

#include "bench/options.h"

namespace collbench::bench {

// 0 when every rank's o.canonical() agrees; else 2 after rank 0 named the ranks and settings
// that differ. Collective over world.
int check_same_arguments(const Options& o, MPI_Comm world);

// True when any rank's `error` is non-empty: rank 0 prints the first rank's error in one line.
// Collective over world.
bool any_setup_error(std::string error, MPI_Comm world);

// Waits for every rank without spinning on a core (ranks that sit out a --ranks-sweep step must
// not steal CPU from the ranks being measured).
void quiet_barrier(MPI_Comm comm);

}  // namespace collbench::bench
