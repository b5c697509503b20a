#include "bench/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>

#include "bench/backend_select.h"
#include "bench/mpi_session.h"
#include "bench/output_file.h"
#include "bench/report.h"
#include "bench/sizes.h"
#include "bench/sweep.h"
#include "collectives/collective.h"
#include "collectives/registry.h"
#include "collectives/selection.h"
#include "topology/discovery.h"

namespace collbench::bench {

using collectives::Collective;

std::string Options::canonical() const {
  std::ostringstream s;
  s << collectives::collective_name(collective) << '|' << min_bytes << '|' << max_bytes << '|'
    << step_factor << '|' << step_bytes << '|' << iters << '|' << warmup << '|';
  for (auto d : dtypes) s << collectives::dtype_name(d) << ',';
  s << '|';
  for (auto o : ops) s << collectives::op_name(o) << ',';
  s << '|';
  for (const auto& a : algorithms) s << a << ',';
  s << '|' << algo_auto << '|' << static_cast<int>(placement) << '|' << check << '|'
    << rotate_buffers << '|' << buffer_passes << '|' << segment_bytes << '|' << inter_node_algorithm
    << '|' << mpi_max_count << '|' << repeat << '|' << ranks_sweep << '|' << ranks_per_node << '|'
    << instability_threshold << '|' << stable_budget_s;
  s << '|' << backend << '|' << gpu_map << '|' << cuda_graph;
  return s.str();
}

void print_algorithm_list() {
  for (Collective c : collectives::kAllCollectives) {
    std::printf("%s:\n", std::string(collectives::collective_name(c)).c_str());
    for (const auto& a : collectives::algorithm_registry()) {
      if (a.collective != c || !a.measurable()) continue;
      if (a.native() && !collectives::backend_built(a.backend)) continue;
      std::printf("  %-24s %s%s\n", std::string(a.name).c_str(), std::string(a.description).c_str(),
                  a.native() ? " [native]" : "");
    }
    std::printf("  %-24s %s\n", "auto", "per size, the algorithm the selection table names");
  }
}

namespace {

// Digits only, at most `max`: CLI11 reads "-1" into an unsigned option as its largest value.
CLI::Validator whole_number(std::size_t max) {
  return CLI::Validator(
      [max](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.size() <= 19 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        if (digits && std::stoull(text) <= max) return {};
        return "must be a whole number between 0 and " + std::to_string(max) + " (got '" + text +
               "')";
      },
      "");
}

std::vector<std::string> split_list(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    std::string cur;
    for (char c : a) {
      if (c == ',') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else if (c != ' ') {
        cur += c;
      }
    }
    if (!cur.empty()) out.push_back(cur);
  }
  return out;
}

}  // namespace

void check_timeout(double seconds, const std::string& flag) {
  // Below a second, a loaded machine (or a rank descheduled for a moment) is taken for a hang.
  if (!(seconds == 0 || (seconds >= 1 && seconds <= 1e6)))
    throw UsageError(flag + " " + CLI::detail::to_string(seconds) +
                     ": must be 0 (never) or between 1 and 1000000 seconds");
}

void validate_options(Options& o, const std::vector<std::string>& algo_args,
                      const std::vector<std::string>& dtype_args,
                      const std::vector<std::string>& op_args, const std::string& placement) {
  if (o.min_bytes > o.max_bytes)
    throw UsageError("--min-bytes (" + format_size(o.min_bytes) + ") is larger than --max-bytes (" +
                     format_size(o.max_bytes) + ")");
  if (o.step_bytes == 0 && !(o.step_factor > 1.0))
    throw UsageError("--step-factor must be greater than 1 (got " + std::to_string(o.step_factor) +
                     ")");
  if (o.iters < 1) throw UsageError("--iters must be at least 1");
  if (o.warmup < 0) throw UsageError("--warmup cannot be negative");
  if (o.check < 0) throw UsageError("--check cannot be negative");
  check_timeout(o.timeout_s, "--timeout");
  if (o.repeat < 1) throw UsageError("--repeat must be at least 1");
  if (!(o.instability_threshold > 0 && o.instability_threshold < 1))
    throw UsageError("--instability-threshold " + std::to_string(o.instability_threshold) +
                     ": must be a fraction between 0 and 1 (e.g. 0.25: a 25% change of level)");
  if ((o.stable_budget_s != 0 && !(o.stable_budget_s > 0 && o.stable_budget_s <= 1e6)) ||
      std::isnan(o.stable_budget_s))
    throw UsageError("--stable " + std::to_string(o.stable_budget_s) +
                     ": the budget per point must be a number of seconds above 0");
  if (o.ranks_per_node < 0) throw UsageError("--ranks-per-node cannot be negative");
  if (o.mpi_max_count < 1) throw UsageError("--mpi-max-count must be at least 1");
  size_sweep(o.min_bytes, o.max_bytes, o.step_factor, o.step_bytes);  // throws when too long

  o.dtypes.clear();
  o.dtypes_all = false;
  for (const auto& d : split_list(dtype_args)) {
    if (d == "all") {
      o.dtypes_all = true;
      o.dtypes.assign(collectives::all_dtypes().begin(), collectives::all_dtypes().end());
      continue;
    }
    auto t = collectives::parse_dtype(d);
    if (!t)
      throw UsageError("unknown dtype '" + d + "' (known: " + collectives::dtype_list() + ")");
    o.dtypes.push_back(*t);
  }
  if (o.dtypes.empty()) o.dtypes.push_back(collectives::DType::kF32);

  o.ops.clear();
  if (!collectives::traits(o.collective).reduces) {
    o.ops.push_back(collectives::ReduceOp::kSum);  // unused: the collective does not reduce
  } else {
    for (const auto& s : split_list(op_args)) {
      if (s == "all") {
        o.ops.assign(collectives::all_ops().begin(), collectives::all_ops().end());
        continue;
      }
      auto op = collectives::parse_op(s);
      if (!op) throw UsageError("unknown op '" + s + "' (known: " + collectives::op_list() + ")");
      o.ops.push_back(*op);
    }
    if (o.ops.empty()) o.ops.push_back(collectives::ReduceOp::kSum);
  }

  if (placement == "out") {
    o.placement = Placement::kOut;
  } else if (placement == "in") {
    o.placement = Placement::kIn;
  } else if (placement == "both") {
    o.placement = Placement::kBoth;
  } else {
    throw UsageError("unknown --placement '" + placement + "' (use in, out or both)");
  }

  o.algorithms.clear();
  o.algo_auto = false;
  // An algorithm can run here when it is collbench's own or the chosen backend's native one.
  auto usable = [&](const collectives::AlgorithmInfo& a) {
    return a.collective == o.collective && a.measurable() &&
           (!a.native() || a.backend == o.backend);
  };
  const std::string title(collectives::traits(o.collective).name);
  const auto names = split_list(algo_args);
  for (const auto& n : names) {
    if (n == "all") {
      for (const auto& a : collectives::algorithm_registry())
        if (usable(a) &&
            std::find(o.algorithms.begin(), o.algorithms.end(), a.name) == o.algorithms.end())
          o.algorithms.emplace_back(a.name);
      continue;
    }
    if (n == "auto") {
      o.algo_auto = true;
      continue;
    }
    const auto* info = collectives::find_algorithm(o.collective, n);
    if (!info || !info->measurable()) {
      std::string known;
      for (const auto& a : collectives::algorithm_registry())
        if (a.collective == o.collective && a.measurable())
          known += (known.empty() ? "" : ", ") + std::string(a.name);
      throw UsageError("unknown " + title + " algorithm '" + n + "' (known: " + known +
                       ", auto, all)");
    }
    if (info->native() && info->backend != o.backend)
      throw UsageError("--algo " + n + " is the " + std::string(info->backend) + " library's " +
                       title + ": it needs --backend " + std::string(info->backend) +
                       " (this run uses --backend " + o.backend + ")");
    if (std::find(o.algorithms.begin(), o.algorithms.end(), n) == o.algorithms.end())
      o.algorithms.push_back(n);
  }
  if (o.algorithms.empty() && !o.algo_auto) {
    // The default: the backend's own library collective.
    for (const auto& a : collectives::algorithm_registry())
      if (usable(a) && a.native()) o.algorithms.emplace_back(a.name);
  }
  // Checked whether or not a hierarchical algorithm runs: a flag given must mean something.
  if (o.collective != Collective::kAllToAll) {
    const auto* inner = collectives::find_algorithm(o.collective, o.inter_node_algorithm);
    if (!inner || inner->kind != collectives::AlgorithmKind::kOwn ||
        inner->name.rfind("hierarchical", 0) == 0)
      throw UsageError("unknown --inter-node-algo '" + o.inter_node_algorithm + "' (a flat " +
                       title + " algorithm of collbench's own, e.g. ring)");
  }
}

void add_benchmark_commands(CLI::App& app, std::function<int()>& action,
                            const std::vector<std::string>& argv, int* argc, char*** argv_raw) {
  for (Collective c : collectives::kAllCollectives) {
    const auto& tr = collectives::traits(c);
    auto* sub = app.add_subcommand(
        std::string(tr.name),
        "measure " + std::string(tr.title) + " (size = " + std::string(tr.size_meaning) + ")");
    struct Raw {
      std::string min = "8", max = "64M", step = "0", segment = "0";
      std::vector<std::string> algos, dtypes{"f32"}, ops{"sum"};
      std::string placement = "both";
      std::string timing = "per-call";
      bool no_rotate = false;
      Options o;
    };
    auto raw = std::make_shared<Raw>();
    raw->o.collective = c;
    sub->add_option("-b,--min-bytes", raw->min, "smallest size (K/M/G = 1024^k)")
        ->capture_default_str();
    sub->add_option("-e,--max-bytes", raw->max, "largest size")->capture_default_str();
    auto* factor_opt = sub->add_option("-f,--step-factor", raw->o.step_factor,
                                       "multiply the size by this per step")
                           ->capture_default_str();
    sub->add_option("-i,--step-bytes", raw->step, "add this many bytes per step instead of -f")
        ->excludes(factor_opt);
    sub->add_option("-n,--iters", raw->o.iters, "timed iterations per size")->capture_default_str();
    sub->add_option("-w,--warmup", raw->o.warmup, "untimed warm-up iterations per size")
        ->capture_default_str();
    sub->add_option("-d,--dtype", raw->dtypes,
                    "element types, comma-separated or 'all': " + collectives::dtype_list())
        ->capture_default_str();
    if (tr.reduces)
      sub->add_option("-o,--op", raw->ops,
                      "reduction ops, comma-separated or 'all': sum, prod, min, max")
          ->capture_default_str();
    sub->add_option("-a,--algo", raw->algos,
                    "algorithms, comma-separated, 'all' or 'auto' (see collbench --list); "
                    "default: the MPI library's own (NCCL's with --backend nccl)");
    sub->add_option("--selection", raw->o.selection_file,
                    "selection table (JSON) for --algo auto, replacing the built-in one");
    sub->add_option("--placement", raw->placement, "out, in or both (same row)")
        ->capture_default_str();
    sub->add_option("-c,--check", raw->o.check,
                    "check repetitions with fresh data after timing (0 = no check)")
        ->capture_default_str();
    sub->add_option("--json", raw->o.json_path, "write results as JSON (schema v1) to FILE");
    sub->add_option("--csv", raw->o.csv_path, "write results as CSV to FILE");
    sub->add_option("-T,--timeout", raw->o.timeout_s,
                    "seconds one collective may take before the run is ended (0 = never)")
        ->capture_default_str();
    sub->add_flag(
        "--no-rotate", raw->no_rotate,
        "do not rotate the buffer offset across iterations (caches may flatter small sizes)");
    sub->add_option("--buffer-passes", raw->o.buffer_passes,
                    "untimed passes over the buffer windows of each point, between the ranks of "
                    "a node, before it is measured (0 = none; see docs/methodology.md)")
        ->capture_default_str()
        ->check(whole_number(16));
    sub->add_option("--segment", raw->segment,
                    "pipeline segment size for ring algorithms (0 = none)");
    if (c != Collective::kAllToAll)
      sub->add_option("--inter-node-algo", raw->o.inter_node_algorithm,
                      "flat algorithm between nodes in the hierarchical " + std::string(tr.title))
          ->capture_default_str();
    sub->add_option("--repeat", raw->o.repeat, "repeat the whole sweep N times")
        ->capture_default_str();
    sub->add_option("--stable", raw->o.stable_budget_s,
                    "re-measure a point whose samples are not one regime, for up to SECONDS per "
                    "point (the record says how many attempts and whether it became stable)");
    sub->add_option("--timing", raw->timing,
                    "per-call (each call timed, max over ranks per iteration; default), barrier "
                    "(a barrier after every call, mean over ranks: OSU's avg) or loop (one timer "
                    "around all calls: nccl-tests' and IMB's loop average)")
        ->capture_default_str();
    sub->add_flag("--rank-spread", raw->o.rank_spread,
                  "the table adds min/avg/max over ranks of each rank's mean time (OSU -f)");
    sub->add_option("--instability-threshold", raw->o.instability_threshold,
                    "relative change of level that flags a point unstable (regime switch inside "
                    "its samples, or repeats that disagree); tail: p95/p50 above 1 + 4x this")
        ->capture_default_str();
    sub->add_flag("--ranks-sweep", raw->o.ranks_sweep,
                  "measure on 2, 4, 8, ... ranks up to all, choosing whole nodes first");
    sub->add_option("--ranks-per-node", raw->o.ranks_per_node,
                    "with --ranks-sweep: ranks used on each node (default: all)");
    sub->add_option("--label", raw->o.label,
                    "hardware label recorded in the result (for comparisons)");
    sub->add_option("--topology-xml", raw->o.topology_xml,
                    "read the topology from an hwloc XML file");
    sub->add_option("--mpi-max-count", raw->o.mpi_max_count,
                    "largest element count in one MPI call (for testing the 64-bit size paths)")
        ->check(whole_number(std::size_t{1} << 62));
    sub->add_flag("-q,--quiet", raw->o.quiet, "no table on stdout (results still written)");
    sub->add_option("--backend", raw->o.backend,
                    "mpi (host buffers, MPI) or nccl (one GPU per rank, NCCL; see docs/nccl.md)")
        ->capture_default_str();
    sub->add_option("--gpu-map", raw->o.gpu_map,
                    "with --backend nccl: GPU of each node-local rank, e.g. 0,1,2,3 or 4-7,0-3 "
                    "(default: the local rank)");
    sub->add_option("--cuda-graph", raw->o.cuda_graph,
                    "with --backend nccl: capture the timed iterations in a CUDA graph and launch "
                    "it N times (samples from the last launch); 0 = no graph")
        ->capture_default_str();

    sub->callback([raw, sub, &action, argv, argc, argv_raw]() {
      Options& o = raw->o;
      o.min_bytes = parse_size(raw->min, "--min-bytes");
      o.max_bytes = parse_size(raw->max, "--max-bytes");
      o.step_bytes = parse_size(raw->step, "--step-bytes");
      if (sub->count("--step-bytes") && o.step_bytes == 0)
        throw UsageError("--step-bytes 0: must be > 0 (leave it out to step by --step-factor)");
      check_distinct_outputs({{"--json", o.json_path}, {"--csv", o.csv_path}});
      if (!o.json_path.empty()) check_replaceable(o.json_path, "--json");
      if (!o.csv_path.empty()) check_replaceable(o.csv_path, "--csv");
      if (!o.topology_xml.empty()) topology::check_topology_xml(o.topology_xml);
      o.segment_bytes = parse_size(raw->segment, "--segment");
      o.rotate_buffers = !raw->no_rotate;
      o.command_line = argv;
      const auto timing = collectives::parse_timing(raw->timing);
      if (!timing)
        throw UsageError("unknown --timing '" + raw->timing + "' (per-call, barrier or loop)");
      o.timing = *timing;
      if (o.cuda_graph > 0 && o.timing != collectives::TimingMode::kPerCall)
        throw UsageError("--cuda-graph " + std::to_string(o.cuda_graph) + " with --timing " +
                         raw->timing +
                         ": a captured graph replays the calls back to back, with no barrier or "
                         "host clock between them; use --timing per-call with --cuda-graph");
      if (o.timing == collectives::TimingMode::kLoop && o.stable_budget_s > 0)
        throw UsageError(
            "--timing loop records one loop average per rank, not per-iteration samples, and "
            "--stable tests per-iteration samples: use --timing per-call or barrier with --stable");
      validate_backend_options(o);
      validate_options(o, raw->algos, raw->dtypes, raw->ops, raw->placement);
      if (!o.selection_file.empty()) {
        if (!o.algo_auto)
          throw UsageError("--selection " + o.selection_file +
                           ": the table is used only with --algo auto");
        collectives::SelectionTable::load(o.selection_file);  // a bad file said before MPI
      }
      action = [raw, argc, argv_raw]() {
        MpiSession session(argc, argv_raw);
        session.set_finalize_timeout(raw->o.timeout_s);
        return run_benchmark(raw->o);
      };
    });
  }
}

void add_tune_command(CLI::App& app, std::function<int()>& action,
                      const std::vector<std::string>& argv, int* argc, char*** argv_raw) {
  auto* sub = app.add_subcommand(
      "tune", "measure every algorithm per size on these ranks and write the --algo auto table");
  struct Raw {
    std::string collective = "all", min = "4", max = "64M", output, base;
    std::vector<std::string> dtypes{"f32"};
    Options o;
  };
  auto raw = std::make_shared<Raw>();
  raw->o.iters = 20;
  raw->o.warmup = 5;
  raw->o.step_factor = 4;
  sub->add_option("-C,--collective", raw->collective,
                  "comma list of " + collectives::collective_list() + ", or all")
      ->capture_default_str();
  sub->add_option("-b,--min-bytes", raw->min, "smallest size")->capture_default_str();
  sub->add_option("-e,--max-bytes", raw->max, "largest size")->capture_default_str();
  sub->add_option("-f,--step-factor", raw->o.step_factor, "size factor per step")
      ->capture_default_str();
  sub->add_option("-n,--iters", raw->o.iters, "timed iterations per size")->capture_default_str();
  sub->add_option("-w,--warmup", raw->o.warmup, "warm-up iterations per size")
      ->capture_default_str();
  sub->add_option("-d,--dtype", raw->dtypes, "element type")->capture_default_str();
  sub->add_option("--selection", raw->base,
                  "table to update (default: $COLLBENCH_SELECTION or the built-in table)");
  sub->add_option("-O,--output", raw->output, "where to write the selection table (JSON)")
      ->required();
  sub->add_option("--json", raw->o.json_path, "also keep the raw measurements (result JSON)");
  sub->add_option("-T,--timeout", raw->o.timeout_s, "seconds one collective may take")
      ->capture_default_str();
  sub->callback([raw, &action, argv, argc, argv_raw]() {
    std::vector<Collective> colls;
    if (raw->collective == "all" || raw->collective == "both") {
      colls.assign(collectives::kAllCollectives.begin(), collectives::kAllCollectives.end());
    } else {
      for (const auto& name : split_list({raw->collective})) {
        const auto c = collectives::parse_collective(name);
        if (!c)
          throw UsageError("unknown --collective '" + name + "' (" +
                           collectives::collective_list() + ", all)");
        colls.push_back(*c);
      }
    }
    // With several collectives the raw measurements go to FILE.<collective>.json.
    if (!raw->o.json_path.empty()) check_replaceable(raw->o.json_path, "--json");
    std::vector<Options> runs;
    for (Collective c : colls) {
      Options o = raw->o;
      o.collective = c;
      o.min_bytes = parse_size(raw->min, "--min-bytes");
      o.max_bytes = parse_size(raw->max, "--max-bytes");
      o.command_line = argv;
      if (!o.json_path.empty() && colls.size() > 1)
        o.json_path = o.json_path + "." + std::string(collectives::collective_name(c)) + ".json";
      validate_options(o, {"all"}, raw->dtypes, {"sum"}, "out");
      if (!o.json_path.empty()) check_replaceable(o.json_path, "--json");
      runs.push_back(o);
    }
    check_distinct_outputs({{"--output", raw->output}, {"--json", raw->o.json_path}});
    check_writable(raw->output, "--output");
    auto table = std::make_shared<collectives::SelectionTable>(
        collectives::SelectionTable::load_default(raw->base));
    action = [raw, runs, table, argc, argv_raw]() {
      MpiSession session(argc, argv_raw);
      if (!runs.empty()) session.set_finalize_timeout(runs.front().timeout_s);
      int rc = 0;
      for (const Options& o : runs) {
        const int r = run_benchmark(o, [&](const std::vector<Record>& records) {
          // Per size, the algorithm with the lowest mean time among those that checked clean.
          std::map<std::size_t, std::pair<double, std::string>> best;
          for (const auto& rec : records) {
            if (rec.wrong > 0) continue;
            auto it = best.find(rec.bytes);
            if (it == best.end() || rec.time_us.mean < it->second.first)
              best[rec.bytes] = {rec.time_us.mean, rec.algorithm};
          }
          std::vector<std::pair<std::size_t, std::string>> winners;
          std::printf("# tune %s on %d ranks: fastest algorithm per size\n",
                      std::string(collectives::collective_name(o.collective)).c_str(),
                      session.size());
          for (const auto& [bytes, w] : best) {
            winners.emplace_back(bytes, w.second);
            std::printf("#   %10s  %-20s %10.2f us\n", format_size(bytes).c_str(), w.second.c_str(),
                        w.first);
          }
          table->replace_for_ranks(
              o.collective, session.size(),
              collectives::SelectionTable::rules_from_winners(winners, session.size()));
        });
        rc = std::max(rc, r);
        if (r >= 2) return r;
      }
      if (session.rank() == 0) {
        table->note = "tuned by collbench tune on " + std::to_string(session.size()) + " ranks";
        write_file_atomic(raw->output, table->to_json());
        std::printf("# selection table written to %s (use: --algo auto --selection %s)\n",
                    raw->output.c_str(), raw->output.c_str());
      }
      return rc;
    };
  });
}

}  // namespace collbench::bench
