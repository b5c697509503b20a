// `collbench workload run [CONFIG | --example NAME]`: one training step's collective mix (the
// step `collbench model step` describes) scaled down to the ranks of this launch and measured.
//
// The parallel degrees shrink to divisors of the rank count (model::scaled_parallelism); each
// collective runs on groups shaped as the step's (TP consecutive, DP strided by TP, ...), every
// group at once, with the full step's message size and calls per step. Per collective: the
// median over iterations of the slowest rank's time, the time per step (× calls), an exact check
// of the output, and with --fabric the model's prediction for the same groups beside it, so that
// a projection can be checked against a measurement at small scale. Results go to --json
// atomically after every collective (complete: false until the end).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bench/cli_fwd.h"

namespace collbench::bench {

void add_workload_command(CLI::App& app, std::function<int()>& action,
                          const std::vector<std::string>& argv, int* argc, char*** argv_raw);

}  // namespace collbench::bench
