// collbench: benchmarks of all-reduce and all-to-all (MPI, NCCL, own algorithms), topology,
// and the cost model of a cluster-scale training run.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "bench/cli.h"
#include "bench/cli_checks.h"
#include "bench/model/commands.h"
#include "bench/mpi_session.h"
#include "bench/provenance.h"
#include "bench/signals.h"
#include "bench/topo_command.h"
#include "bench/workload_run.h"
#include "collectives/error.h"

int main(int argc, char** argv) {
  using namespace collbench;
  // First: a signal during the set-up or a model command removes a temporary file in flight and
  // exits with 128 + N (signals.h).
  bench::install_signal_handlers();
  std::vector<std::string> args(argv, argv + argc);
  CLI::App app{"collbench: all-reduce and all-to-all benchmarks with one methodology", "collbench"};
  app.require_subcommand(0, 1);
  bool list = false;
  app.add_flag("--list", list, "list every algorithm that can be measured, then exit");
  app.set_version_flag("--version", std::string("collbench ") + bench::version_string());

  std::function<int()> action;
  bench::add_benchmark_commands(app, action, args, &argc, &argv);
  bench::add_tune_command(app, action, args, &argc, &argv);
  bench::add_topo_command(app, action);
  bench::add_model_commands(app, action);
  bench::add_workload_command(app, action, args, &argc, &argv);

  // Usage errors are reported once per command line (launcher rank 0, and the first rank of each
  // other MPMD command line) before MPI starts, so a bad flag never leaves ranks waiting for each
  // other.
  const bool speaker = bench::reports_usage_errors();
  if (const std::string bad = bench::subcommand_error(app, {args.begin() + 1, args.end()});
      !bad.empty()) {
    if (speaker) std::fprintf(stderr, "collbench: error: %s\n", bad.c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
    bench::check_no_empty_values(app);
  } catch (const CLI::CallForHelp& e) {
    return speaker ? app.exit(e) : 0;
  } catch (const CLI::CallForAllHelp& e) {
    return speaker ? app.exit(e) : 0;
  } catch (const CLI::CallForVersion& e) {
    return speaker ? app.exit(e) : 0;
  } catch (const CLI::ParseError& e) {
    if (speaker) std::fprintf(stderr, "collbench: error: %s\n", e.what());
    return 2;
  } catch (const UsageError& e) {
    if (speaker) std::fprintf(stderr, "collbench: error: %s\n", e.what());
    return 2;
  }
  if (list) {
    bench::print_algorithm_list();
    return 0;
  }
  if (!action) {
    if (speaker) std::fprintf(stderr, "%s", app.help().c_str());
    return 2;
  }
  try {
    return action();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "collbench: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "collbench: error: %s\n", e.what());
    return 1;
  }
}
