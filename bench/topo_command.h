// `collbench topo [--json FILE] [--xml FILE]`: where the ranks of this launch sit (node ->
// package -> NUMA node -> cores -> ranks, with GPUs and NICs and their locality), and the
// warnings about placement. Run it under the same launcher line as the benchmark.
#pragma once

#include <functional>
#include <string>

#include "bench/cli_fwd.h"
#include "topology/layout.h"

namespace collbench::bench {

// Adds the `topo` subcommand; when parsed, `action` is set to run it (it initialises MPI).
void add_topo_command(CLI::App& app, std::function<int()>& action);

// The readable map `collbench topo` prints (pure; needs a complete layout).
std::string render_topology(const topology::Layout& layout);

}  // namespace collbench::bench
