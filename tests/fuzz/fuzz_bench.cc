// Fuzz entry points of the collbench command line: size flags and the CLI11 parse.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <functional>

#include "bench/cli.h"
#include "bench/cli_checks.h"
#include "bench/model/commands.h"
#include "bench/options.h"
#include "bench/sizes.h"
#include "bench/topo_command.h"
#include "bench/workload_run.h"
#include "collectives/error.h"
#include "tests/fuzz/fuzz_util.h"

namespace collbench::fuzz {

void fuzz_size(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  if (text.find(';') == std::string_view::npos) {
    std::size_t v = 0;
    try {
      v = bench::parse_size(text, "--max-bytes");
    } catch (const UsageError& e) {
      check_message(e);
      return;
    }
    require(v <= (std::size_t{1} << 50), "parse_size accepted more than 1 PiB");
    // format_size keeps 3 significant digits: what it prints without decimals reads back
    // within that rounding (0.5%), and exactly below 1K.
    const std::string shown = bench::format_size(v);
    if (shown.find('.') == std::string::npos) {
      const double back = static_cast<double>(bench::parse_size(shown));
      const double x = static_cast<double>(v);
      require(v < 1024 ? back == x : std::abs(back - x) <= 0.005 * x,
              "format_size(" + std::to_string(v) + ") = '" + shown + "' reads back as " +
                  std::to_string(back));
    }
    return;
  }
  // "MIN;MAX;FACTOR;STEP;TIMEOUT": the numeric options of the benchmark subcommands, validated,
  // then used as the runner uses them first (the sweep, the deadline of a wait).
  const auto parts = split(text, ';');
  bench::Options o;
  // CLI11 reads doubles with strtod semantics: "inf", "nan" and "1e999" reach validation too.
  auto real = [](const std::string& f, double& out) {
    char* end = nullptr;
    out = std::strtod(f.c_str(), &end);
    return !f.empty() && end == f.c_str() + f.size();
  };
  try {
    o.min_bytes = bench::parse_size(parts[0], "--min-bytes");
    if (parts.size() > 1) o.max_bytes = bench::parse_size(parts[1], "--max-bytes");
    if (parts.size() > 2 && !real(parts[2], o.step_factor)) return;  // CLI11 would reject it
    if (parts.size() > 3) o.step_bytes = bench::parse_size(parts[3], "--step-bytes");
    if (parts.size() > 4 && !real(parts[4], o.timeout_s)) return;
    bench::validate_options(o, {}, {}, {}, "both");
  } catch (const UsageError& e) {
    check_message(e);
    return;
  }
  require(!Deadline::In(o.timeout_s).expired() || o.timeout_s < 1e-3,
          "a deadline of --timeout " + std::to_string(o.timeout_s) + " s has already passed");
  const auto sizes = bench::size_sweep(o.min_bytes, o.max_bytes, o.step_factor, o.step_bytes);
  require(!sizes.empty() && sizes.front() == o.min_bytes,
          "the sweep does not start at --min-bytes");
  require(sizes.back() <= o.max_bytes, "the sweep goes past --max-bytes");
  require(std::adjacent_find(sizes.begin(), sizes.end(), std::greater_equal<>()) == sizes.end(),
          "the sweep is not strictly increasing");
  require(sizes.size() <= bench::kMaxSweepSizes,
          "validated options give a sweep of " + std::to_string(sizes.size()) + " sizes");
}

void fuzz_cli(const std::uint8_t* data, std::size_t size) {
  // The App exactly as bench/main.cc builds it; parse only (the action would start MPI).
  std::vector<std::string> args{"collbench"};
  if (size > 0)
    for (auto& a : split(as_text(data, size), '\n')) args.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(args.size());
  char** argv_raw = argv.data();

  CLI::App app{"collbench: all-reduce and all-to-all benchmarks with one methodology", "collbench"};
  app.require_subcommand(0, 1);
  bool list = false;
  app.add_flag("--list", list, "list every algorithm that can be measured, then exit");
  app.set_version_flag("--version", std::string("collbench fuzz"));
  std::function<int()> action;
  bench::add_benchmark_commands(app, action, args, &argc, &argv_raw);
  bench::add_tune_command(app, action, args, &argc, &argv_raw);
  bench::add_topo_command(app, action);
  bench::add_model_commands(app, action);
  bench::add_workload_command(app, action, args, &argc, &argv_raw);
  // main()'s checks around the parse: a misspelt subcommand, then empty values.
  const std::string bad = bench::subcommand_error(app, {args.begin() + 1, args.end()});
  if (!bad.empty()) {
    require(bad.find('\n') == std::string::npos, "a subcommand error of more than one line");
    return;
  }
  try {
    app.parse(argc, argv_raw);
    bench::check_no_empty_values(app);
  } catch (const CLI::ParseError&) {  // includes --help and --version
    return;
  } catch (const UsageError& e) {
    check_message(e);
    require(std::string_view(e.what()).find('\n') == std::string_view::npos,
            "a usage error of more than one line");
    return;
  }
}

}  // namespace collbench::fuzz
