// The collbench command line: subcommands allreduce and alltoall (benchmarks), --list, and the
// subcommands other parts register (topo, model, tune, workload).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bench/cli_fwd.h"
#include "bench/options.h"

namespace collbench::bench {

// Adds `allreduce` and `alltoall` to app. When one is parsed, `action` is set to run it.
// argv is kept for provenance.
void add_benchmark_commands(CLI::App& app, std::function<int()>& action,
                            const std::vector<std::string>& argv, int* argc, char*** argv_raw);

// Adds `tune`: measures every algorithm per size and writes the --algo auto selection table.
void add_tune_command(CLI::App& app, std::function<int()>& action,
                      const std::vector<std::string>& argv, int* argc, char*** argv_raw);

// Prints every algorithm per collective with its description (`collbench --list`).
void print_algorithm_list();

// Throws UsageError unless `seconds` is 0 (never) or in [1, 1e6].
void check_timeout(double seconds, const std::string& flag);

// Validation that needs no MPI: resolves algorithm names, dtypes, ops; throws UsageError.
void validate_options(Options& o, const std::vector<std::string>& algo_args,
                      const std::vector<std::string>& dtype_args,
                      const std::vector<std::string>& op_args, const std::string& placement);

}  // namespace collbench::bench
