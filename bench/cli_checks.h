// Checks of the command line that CLI11 does not make: a misspelt subcommand named as such
// (with the nearest name), and flags given an empty value.
#pragma once

#include <string>
#include <vector>

#include "bench/cli_fwd.h"

namespace collbench::bench {

// "" when every bare word where a subcommand is expected names one; else the message, e.g.
// "unknown subcommand 'allreduc' (did you mean allreduce?)". args: argv without argv[0].
std::string subcommand_error(const CLI::App& app, const std::vector<std::string>& args);

// Throws UsageError for any option of the parsed subcommands given an empty value
// (--json '', -d ''): empty never means the default, it is a mistake in a script.
void check_no_empty_values(const CLI::App& app);

}  // namespace collbench::bench
