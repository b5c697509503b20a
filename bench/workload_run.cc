// `collbench workload run`: one training step's collective mix scaled down to the ranks of this
// launch, every collective measured by the Runner (bench/workload_run.h).
#include "bench/workload_run.h"

#include <mpi.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/backend_select.h"
#include "bench/cli.h"
#include "bench/launch.h"
#include "bench/mpi_session.h"
#include "bench/provenance.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "bench/sizes.h"
#include "bench/table.h"
#include "bench/workload_p2p.h"
#include "collectives/mpi/mpi_transport.h"
#include "collectives/registry.h"
#include "topology/layout.h"
#include "topology/model/cost_model.h"
#include "topology/model/fabric.h"
#include "topology/model/workload.h"

namespace collbench::bench {
namespace {

using collectives::Collective;
using model::StepCollective;
using model::StepOp;
using nlohmann::json;

struct WorkloadRunArgs {
  std::string example, config, fabric_path;
  std::string max_bytes_text = "64M";
  std::vector<std::string> algos;
  std::string dtype = "f32";
  Options o;  // iters, warmup, check, timeout, json, backend, quiet, ...
};

// Where this rank sits in the groups of one collective: groups of `size` members `stride` ranks
// apart, in rank order (members r, r + stride, ... inside blocks of size * stride ranks).
struct Membership {
  int color = 0;  // which group
  int key = 0;    // position in it
};

Membership membership(int rank, std::int64_t size, std::int64_t stride) {
  const std::int64_t block = rank / (size * stride);
  const std::int64_t offset = rank % stride;
  return {static_cast<int>(block * stride + offset), static_cast<int>((rank / stride) % size)};
}

// Bytes actually moved per call: the step's size, capped, in whole blocks of every member.
std::size_t measured_bytes(double full, std::size_t cap, std::int64_t group, std::size_t elem) {
  const std::size_t unit = elem * static_cast<std::size_t>(std::max<std::int64_t>(group, 1));
  const double want = std::min(full, static_cast<double>(cap));
  return std::max(static_cast<std::size_t>(want) / unit * unit, unit);
}

// The algorithm each collective of the step runs: `collective=name` entries first, then the
// first plain name that exists for the collective, then the backend's own library collective.
std::string algorithm_for(Collective c, const std::vector<std::string>& names,
                          const std::string& backend) {
  const std::string prefix = std::string(collectives::collective_name(c)) + "=";
  for (const auto& n : names)
    if (n.rfind(prefix, 0) == 0) return n.substr(prefix.size());
  for (const auto& n : names)
    if (n.find('=') == std::string::npos)
      if (const auto* info = collectives::find_algorithm(c, n); info && info->measurable())
        return n;
  for (const auto& a : collectives::algorithm_registry())
    if (a.collective == c && a.native() && a.backend == backend) return std::string(a.name);
  return "";
}

// Refuses --algo entries that name no algorithm of any collective the step runs.
void validate_algorithms(const std::vector<std::string>& names,
                         const std::vector<StepCollective>& plan, const std::string& backend) {
  for (const auto& n : names) {
    const auto eq = n.find('=');
    std::vector<Collective> colls;
    if (eq != std::string::npos) {
      const auto c = collectives::parse_collective(n.substr(0, eq));
      if (!c)
        throw UsageError("--algo " + n + ": unknown collective '" + n.substr(0, eq) + "' (" +
                         collectives::collective_list() + ")");
      colls = {*c};
    } else {
      for (const auto& s : plan)
        if (s.op != StepOp::kSendRecv) colls.push_back(model::step_collective(s.op));
    }
    const std::string name = eq == std::string::npos ? n : n.substr(eq + 1);
    bool found = false;
    for (Collective c : colls) {
      const auto* info = collectives::find_algorithm(c, name);
      if (!info || !info->measurable()) continue;
      if (info->native() && info->backend != backend)
        throw UsageError("--algo " + n + " is the " + std::string(info->backend) +
                         " library's collective: it needs --backend " + std::string(info->backend));
      found = true;
    }
    if (!found)
      throw UsageError(
          "--algo " + n + ": no algorithm '" + name + "' for the " +
          (eq == std::string::npos ? std::string("collectives of this step") : n.substr(0, eq)) +
          " (see collbench --list)");
  }
}

// One step collective on this rank's group: opens the group, measures the capped size (and half
// of it when the step's size is above the cap), returns the records (on world rank 0).
struct ItemResult {
  std::vector<Record> records;
  double each_s = 0;  // per call at the step's size (extrapolated above the cap)
  bool extrapolated = false;
  std::size_t measured = 0;
  std::string algorithm;
  std::int64_t wrong = 0;
};

ItemResult measure_item(Runner& runner, Watchdog& watchdog, const Options& o,
                        const StepCollective& c, const topology::HostMap& hosts, std::size_t cap,
                        collectives::DType dtype, const std::vector<std::string>& algos,
                        json step) {
  MPI_Comm world = MPI_COMM_WORLD;
  int rank = 0;
  MPI_Comm_rank(world, &rank);
  const Membership m = membership(rank, c.group_size, c.stride);
  MPI_Comm comm = MPI_COMM_NULL;
  // Every collective of the item's set-up is armed: a rank that stops (SIGSTOP) or never arrives
  // is named, not waited for.
  watchdog.begin_call_step("the split into the " + c.group + " groups of " + c.what);
  CB_MPI_CHECK(MPI_Comm_split(world, m.color, m.key, &comm));
  int gsize = 1;
  MPI_Comm_size(comm, &gsize);
  std::vector<int> members(static_cast<std::size_t>(gsize));
  CB_MPI_CHECK(MPI_Allgather(&rank, 1, MPI_INT, members.data(), 1, MPI_INT, comm));
  watchdog.end_step();
  std::vector<std::string> names;
  for (int r : members) names.push_back(hosts.hostnames[static_cast<std::size_t>(r)]);
  const topology::HostMap gh = topology::make_host_map(names);

  const Collective coll = model::step_collective(c.op);
  const std::size_t es = collectives::dtype_size(dtype);
  ItemResult out;
  out.algorithm = algorithm_for(coll, algos, o.backend);
  out.measured = measured_bytes(c.bytes, cap, c.group_size, es);
  out.extrapolated = static_cast<double>(out.measured) < c.bytes;
  std::vector<std::size_t> sizes{out.measured};
  if (out.extrapolated) sizes.push_back(measured_bytes(out.measured / 2.0, cap, c.group_size, es));

  Group g;
  runner.open(g, comm, world, out.measured, gh.node_of_rank, gh.nodes(),
              gh.uniform_ranks_per_node());
  collectives::CollectiveArgs max_args{
      coll, collectives::count_for_bytes(coll, out.measured, dtype, gsize), dtype,
      collectives::ReduceOp::kSum, false};
  Runner::Prepared prep = runner.prepare(g, out.algorithm, max_args);
  // Every group must be able to run it, or no group measures (they run at once).
  int refused = prep.refusal ? 1 : 0, any = 0;
  watchdog.begin_call_step("the check that every " + c.group + " group runs " + out.algorithm);
  CB_MPI_CHECK(MPI_Allreduce(&refused, &any, 1, MPI_INT, MPI_MAX, world));
  watchdog.end_step();
  if (any) {
    runner.close(g);
    MPI_Comm_free(&comm);
    throw UsageError(std::string(collectives::collective_name(coll)) + " " + out.algorithm +
                     " cannot run the step's " + c.what + " on its " + c.group +
                     " groups: " + (prep.refusal ? *prep.refusal : "refused on another rank"));
  }
  std::vector<double> times;
  for (std::size_t bytes : sizes) {
    collectives::CollectiveArgs args = max_args;
    args.count = collectives::count_for_bytes(coll, bytes, dtype, gsize);
    Record r = runner.measure(g, *prep.algo, PointSpec{out.algorithm, "", args, bytes, 0, step});
    times.push_back(r.time_us.p50 * 1e-6);
    if (g.stats_rank == 0) {
      out.wrong += std::max<std::int64_t>(r.wrong, 0);
      out.records.push_back(std::move(r));
    }
  }
  prep.algo.reset();
  runner.close(g);
  MPI_Comm_free(&comm);
  // Linear in the size above the cap, from the two measured points (or proportional when the
  // two do not give a positive slope).
  out.each_s = times.front();
  if (out.extrapolated) {
    const double slope = (times[0] - times[1]) / static_cast<double>(sizes[0] - sizes[1]);
    out.each_s = slope > 0 ? times[0] + slope * (c.bytes - static_cast<double>(sizes[0]))
                           : times[0] * c.bytes / static_cast<double>(sizes[0]);
  }
  return out;
}

std::string group_text(const StepCollective& c) {
  return c.group + std::to_string(c.group_size) +
         (c.stride > 1 ? "/" + std::to_string(c.stride) : std::string());
}

int run_workload(WorkloadRunArgs& a, int* argc, char*** argv) {
  // Everything that can be wrong with the input is found before MPI starts, and said once.
  model::Workload w, resolved;
  std::optional<model::Fabric> fabric;
  try {
    if (!a.example.empty() && !a.config.empty())
      throw UsageError("--example and CONFIG: give one of them");
    w = a.config.empty() ? model::builtin_workload(a.example.empty() ? "llama3-405b" : a.example)
                         : model::load_workload(a.config);
    resolved = model::resolve_workload(w, 1 << 20);
    if (!a.fabric_path.empty()) fabric = model::load_fabric(a.fabric_path);
  } catch (const UsageError& e) {
    if (reports_usage_errors()) std::fprintf(stderr, "collbench: error: %s\n", e.what());
    return 2;
  }

  MpiSession mpi(argc, argv);
  MPI_Comm world = MPI_COMM_WORLD;
  const int rank = mpi.rank(), size = mpi.size();
  const bool lead = rank == 0;
  Options& o = a.o;
  mpi.set_finalize_timeout(o.timeout_s);
  if (const int rc = check_same_arguments(o, world); rc != 0) return rc;

  const model::Workload small = model::scaled_parallelism(resolved, size);
  const std::vector<StepCollective> plan = model::scaled_step(resolved, size);
  std::string setup_error;
  if (plan.empty())
    setup_error = "workload '" + w.name + "' scaled to " + std::to_string(size) + " rank" +
                  (size == 1 ? "" : "s") +
                  " has no collective with more than one rank; launch more ranks (e.g. mpirun -np "
                  "4)";
  else if (fabric && fabric->gpus > 0 && size > fabric->gpus)
    setup_error = "--fabric '" + a.fabric_path + "' holds " + std::to_string(fabric->gpus) +
                  " ranks, fewer than the " + std::to_string(size) + " launched";
  const auto dtype = collectives::parse_dtype(a.dtype);
  if (setup_error.empty() && !dtype)
    setup_error = "unknown --dtype '" + a.dtype + "' (known: " + collectives::dtype_list() + ")";
  Faults faults;
  try {
    if (setup_error.empty()) {
      validate_algorithms(a.algos, plan, o.backend);
      faults = Faults::from_env();
      if (lead && !o.json_path.empty()) check_writable(o.json_path, "--json");
    }
  } catch (const Error& e) {
    setup_error = e.what();
  }
  if (any_setup_error(setup_error, world)) return 2;

  auto backend = make_backend(o);
  const topology::HostMap hosts = gather_hosts(world);
  topology::DiscoveryOptions discovery;
  const json topo = topology::collect_topology_json(world, discovery);
  std::unique_ptr<ResultSink> sink;
  json prov = make_provenance(o, hosts, backend->name());
  const json meta = backend->metadata();
  for (const auto& [k, v] : meta.items()) prov[k] = v;
  json summary = {{"name", w.name},
                  {"definition", model::workload_to_json(w)},
                  {"ranks", size},
                  {"nodes", hosts.nodes()},
                  {"parallel",
                   {{"tp", small.parallel.tp},
                    {"cp", small.parallel.cp},
                    {"pp", small.parallel.pp},
                    {"dp", small.parallel.dp},
                    {"ep", small.parallel.ep}}},
                  {"max_bytes", o.max_bytes},
                  {"items", json::array()},
                  {"p2p", json::array()}};
  if (fabric) summary["fabric"] = {{"path", a.fabric_path}, {"name", fabric->name}};
  if (lead) {
    sink = std::make_unique<ResultSink>(o, prov, options_json(o));
    sink->set_topology(topo);
    sink->set_extra("workload", summary);
  }
  Watchdog watchdog(world, o.timeout_s, [&sink](const std::string& why) {
    if (!sink) return;
    try {
      sink->finish(false, why);
    } catch (...) {
    }
  });
  watchdog.set_abort_hook(
      [&backend](const std::string& why) { backend->abort_communication(why); });
  Runner runner(o, *backend, watchdog, faults, rank);

  const bool table = lead && !o.quiet;
  if (table) {
    std::printf("# collbench workload run: %s on %d ranks (%d node%s): %s, backend %s, %s\n",
                w.name.c_str(), size, hosts.nodes(), hosts.nodes() == 1 ? "" : "s",
                model::parallel_text(small.parallel).c_str(), backend->name().c_str(),
                a.dtype.c_str());
    std::printf("# full step: %s; message sizes and counts are the full step's\n",
                model::parallel_text(resolved.parallel).c_str());
  }
  Table t({"collective", "op", "group", "algorithm", "MB/GPU", "meas. MB", "calls/step",
           "each (us)", "step (ms)", "model (us)", "meas/model", "#wrong"});
  double total_s = 0, total_model_s = 0;
  std::int64_t wrong_all = 0;
  try {
    for (const StepCollective& c : plan) {
      json step = {{"what", c.what},           {"op", model::step_op_name(c.op)},
                   {"group", c.group},         {"group_size", c.group_size},
                   {"stride", c.stride},       {"full_bytes", c.bytes},
                   {"calls_per_step", c.count}};
      double each = 0;
      std::size_t meas = 0;
      std::string algo = "p2p";
      bool extrapolated = false;
      if (c.op == StepOp::kSendRecv) {
        const P2pResult r = measure_p2p(o, *backend, watchdog, c, a.o.max_bytes);
        each = r.each_s;
        meas = r.measured;
        extrapolated = r.extrapolated;
        wrong_all += r.wrong;
        if (lead) summary["p2p"].push_back(r.to_json(step));
      } else {
        ItemResult r =
            measure_item(runner, watchdog, o, c, hosts, o.max_bytes, *dtype, a.algos, step);
        each = r.each_s;
        meas = r.measured;
        algo = r.algorithm;
        extrapolated = r.extrapolated;
        wrong_all += r.wrong;
        if (lead)
          for (auto& rec : r.records) sink->add(rec);
      }
      const double step_s = each * c.count;
      total_s += step_s;
      double model_each = -1;
      if (fabric) {
        const model::StepTiming st = model::time_collectives({c}, model::make_net(*fabric));
        model_each = st.items.empty() ? -1 : st.items.front().time_each_s;
        if (model_each > 0) total_model_s += model_each * c.count;
      }
      if (!lead) continue;
      step["algorithm"] = algo;
      step["measured_bytes"] = meas;
      step["extrapolated"] = extrapolated;
      step["time_each_us"] = each * 1e6;
      step["time_step_ms"] = step_s * 1e3;
      if (model_each > 0) step["model_each_us"] = model_each * 1e6;
      summary["items"].push_back(step);
      summary["total_ms"] = total_s * 1e3;
      if (fabric) summary["model_total_ms"] = total_model_s * 1e3;
      sink->set_extra("workload", summary);
      t.row({c.what, model::step_op_name(c.op), group_text(c), algo, sig(c.bytes / 1e6),
             sig(static_cast<double>(meas) / 1e6), sig(c.count),
             sig(each * 1e6) + (extrapolated ? "*" : ""), sig(step_s * 1e3),
             model_each > 0 ? sig(model_each * 1e6) : "-",
             model_each > 0 ? sig(each / model_each) : "-", std::to_string(wrong_all)});
    }
  } catch (const CommError& e) {
    watchdog.fire_now(e.what());
  } catch (const UsageError& e) {
    // Raised on every rank at once (an algorithm the step's groups cannot run): one line.
    if (lead) {
      std::fprintf(stderr, "collbench: error: %s\n", e.what());
      sink->finish(false, e.what());
    }
    return 2;
  }
  if (lead) {
    sink->finish(true, "");
    if (table) {
      t.row({"total", "", "", "", "", "", "", "", sig(total_s * 1e3),
             fabric ? sig(total_model_s * 1e3) + " ms" : "-",
             fabric && total_model_s > 0 ? sig(total_s / total_model_s) : "-",
             std::to_string(wrong_all)});
      std::printf("%s", t.str().c_str());
      std::printf(
          "# each: per iteration the slowest rank of all groups (they run at once), median over "
          "iterations\n# * extrapolated from measurements at the cap (--max-bytes %s) and half "
          "of it\n",
          a.max_bytes_text.c_str());
      if (!o.json_path.empty()) std::printf("# wrote %s\n", o.json_path.c_str());
      if (wrong_all)
        std::printf("# %lld wrong elements: the results are not valid\n",
                    static_cast<long long>(wrong_all));
    }
  }
  std::int64_t wrong = wrong_all;
  watchdog.begin_call_step("the end of the run");
  CB_MPI_CHECK(MPI_Bcast(&wrong, 1, MPI_INT64_T, 0, world));
  watchdog.end_step();
  return wrong ? 1 : 0;
}

}  // namespace

void add_workload_command(CLI::App& app, std::function<int()>& action,
                          const std::vector<std::string>& argv, int* argc, char*** argv_raw) {
  auto a = std::make_shared<WorkloadRunArgs>();
  a->o.command_line = argv;
  a->o.iters = 10;
  a->o.warmup = 2;
  a->o.placement = Placement::kOut;
  CLI::App* wl = app.add_subcommand("workload", "a training step's collectives, measured here");
  wl->require_subcommand(1);
  CLI::App* run = wl->add_subcommand(
      "run",
      "measure one training step's collective mix scaled down to the launched ranks (mpirun -np "
      "N): groups shaped as the step's, message sizes and counts of the full step");
  run->add_option("config", a->config, "workload JSON (as `collbench model step --config`)");
  run->add_option("--example", a->example,
                  "built-in workload: llama3-405b (default), deepseek-v3, frontier-300mw");
  run->add_option("--fabric", a->fabric_path,
                  "fitted fabric (collbench model fit) to predict each collective beside the "
                  "measurement");
  run->add_option("-a,--algo", a->algos,
                  "algorithms: NAME (used by every collective that has it) or COLLECTIVE=NAME, "
                  "comma-separated; default: the backend's library collectives")
      ->delimiter(',');
  run->add_option("-d,--dtype", a->dtype, "element type of the collectives (default f32)");
  run->add_option("--backend", a->o.backend, "mpi or nccl")->capture_default_str();
  run->add_option("--gpu-map", a->o.gpu_map, "with --backend nccl: GPU of each node-local rank");
  run->add_option("--inter-node-algo", a->o.inter_node_algorithm,
                  "flat algorithm between nodes in hierarchical algorithms")
      ->capture_default_str();
  run->add_option("-n,--iters", a->o.iters, "timed iterations per collective (default 10)")
      ->check(CLI::Range(1, 100000));
  run->add_option("-w,--warmup", a->o.warmup, "warm-up iterations (default 2)")
      ->check(CLI::Range(0, 100000));
  run->add_option("-c,--check", a->o.check, "check repetitions after timing (default 1; 0: none)")
      ->check(CLI::Range(0, 1000));
  run->add_option("--max-bytes", a->max_bytes_text,
                  "largest buffer moved per call (default 64M); larger step sizes are measured "
                  "at this cap and half of it and extrapolated linearly");
  run->add_option("--json", a->o.json_path, "write the result file (schema v1) atomically");
  run->add_option("--timeout", a->o.timeout_s, "seconds without progress before the run is ended")
      ->check(CLI::Range(0.0, 1e9));
  run->add_flag("-q,--quiet", a->o.quiet, "no table");
  run->callback([a, &action, argc, argv_raw] {
    check_timeout(a->o.timeout_s, "--timeout");
    if (!a->o.json_path.empty()) check_replaceable(a->o.json_path, "--json");
    a->o.max_bytes = parse_size(a->max_bytes_text, "--max-bytes");
    if (a->o.max_bytes < 64)
      throw UsageError("--max-bytes " + a->max_bytes_text + ": must be at least 64");
    a->o.min_bytes = 0;
    validate_backend_options(a->o);
    action = [a, argc, argv_raw] { return run_workload(*a, argc, argv_raw); };
  });
}

}  // namespace collbench::bench
