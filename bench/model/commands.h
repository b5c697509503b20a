// `collbench model ...`: the cost model's commands. None of them calls MPI.
//
//   model profiles   built-in hardware profiles and the source of every field
//   model site       GPUs, nodes, domains and switch tiers a power budget holds
//   model predict    time and busbw of every algorithm, sizes x GPU counts, per profile/fabric
//   model fit        α/β/γ per tier from result files -> fabric JSON
//   model validate   fit on part of a sweep, predict the held-out rest
//   model step       a training step's collectives and their time per hardware generation
//
// Each prints a table with units and the assumptions used, and with --json FILE writes the same
// content as JSON (atomically). Exit codes: 0 ok, 2 bad input (one line on stderr naming the
// field or flag), 1 any other failure.
#pragma once

#include <functional>

#include "bench/cli_fwd.h"

namespace collbench::bench {

void add_model_commands(CLI::App& app, std::function<int()>& action);

}  // namespace collbench::bench
