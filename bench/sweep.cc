// `collbench allreduce|alltoall|reducescatter|allgather` and `tune`: the size sweep over every
// rank set, repeat, dtype, op and algorithm, each point measured by the Runner.
#include "bench/sweep.h"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "bench/backend_select.h"
#include "bench/launch.h"
#include "bench/provenance.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "bench/signals.h"
#include "bench/sizes.h"
#include "bench/stability.h"
#include "collectives/mpi/mpi_transport.h"
#include "collectives/reduce.h"
#include "collectives/selection.h"
#include "topology/layout.h"

namespace collbench::bench {
namespace {

using collectives::Algorithm;
using collectives::CollectiveArgs;
using collectives::DType;
using collectives::ReduceOp;
using nlohmann::json;

struct RankSet {
  std::vector<int> ranks;  // world ranks, ascending
  int nodes = 1;
  int ranks_per_node = 1;
};

// Whole nodes first: 2, 4, ... ranks inside node 0, then 1, 2, 4, ... whole nodes (and all).
std::vector<RankSet> rank_sets(const Options& o, const topology::HostMap& hosts) {
  std::vector<RankSet> sets;
  if (!o.ranks_sweep) {
    RankSet all;
    for (int r = 0; r < hosts.ranks(); ++r) all.ranks.push_back(r);
    all.nodes = hosts.nodes();
    all.ranks_per_node = hosts.uniform_ranks_per_node();
    sets.push_back(all);
    return sets;
  }
  int g = static_cast<int>(hosts.ranks_of_node.front().size());
  for (const auto& n : hosts.ranks_of_node) g = std::min(g, static_cast<int>(n.size()));
  if (o.ranks_per_node > 0) g = std::min(g, o.ranks_per_node);
  auto on_nodes = [&](int nodes, int per_node) {
    RankSet s;
    for (int n = 0; n < nodes; ++n)
      for (int l = 0; l < per_node; ++l) s.ranks.push_back(hosts.ranks_of_node[n][l]);
    std::sort(s.ranks.begin(), s.ranks.end());
    s.nodes = nodes;
    s.ranks_per_node = per_node;
    return s;
  };
  for (int c = 2; c < g; c *= 2) sets.push_back(on_nodes(1, c));
  const int n_nodes = hosts.nodes();
  for (int k = 1; k < n_nodes; k *= 2)
    if (k * g >= 2) sets.push_back(on_nodes(k, g));
  if (n_nodes * g >= 2) sets.push_back(on_nodes(n_nodes, g));
  if (sets.empty()) sets.push_back(on_nodes(1, 1));
  return sets;
}

// Everything that lives for one sweep.
struct Sweep {
  const Options& o;
  int world_rank = 0;
  Runner& runner;
  ResultSink* sink = nullptr;  // rank 0 only
  ConsoleTable& table;
  std::int64_t total_wrong = 0;
  int measured = 0;  // points measured (rank 0)
  const collectives::SelectionTable* selection = nullptr;
  std::set<std::string> noted;  // algorithm and placement whose timing note was printed
  collectives::Backend* backend = nullptr;
  std::string refused;  // a named dtype that no requested algorithm runs (refused_dtype)
};

void report_rows(Sweep& sw, const std::optional<Record>& out, const std::optional<Record>& in) {
  sw.table.row(out ? &*out : nullptr, in ? &*in : nullptr);
  for (const auto* r : {out ? &*out : nullptr, in ? &*in : nullptr}) {
    if (r && !r->first_wrong.is_null())
      sw.table.note("  wrong result: rank " + r->first_wrong["rank"].dump() +
                    ", first wrong element " + r->first_wrong["index"].dump() + " (expected " +
                    r->first_wrong["expected"].dump() + ", got " + r->first_wrong["actual"].dump() +
                    ")" + (r->in_place ? " in-place" : " out-of-place"));
  }
}

// Every size of one (dtype, op, algorithm entry) on one rank set.
void sweep_entry(Sweep& sw, Group& g, const std::vector<std::size_t>& sizes, int repeat,
                 const CollectiveArgs& max_args, const std::string& entry) {
  const Options& o = sw.o;
  const bool is_auto = entry == "auto";
  const bool tty = isatty(STDERR_FILENO) && sw.world_rank == 0;
  // One prepared algorithm at a time, so that scratch memory stays within the budget.
  Runner::Prepared prepared;
  std::string prepared_name;
  auto use = [&](const std::string& name) {
    if (name == prepared_name) return;
    prepared = Runner::Prepared{};
    prepared_name = name;
    prepared = sw.runner.prepare(g, name, max_args);
  };
  if (!is_auto) {
    use(entry);
    if (prepared.refusal) {
      if (sw.world_rank == 0)
        sw.table.note("skipped " + entry + " on " + std::to_string(g.size) +
                      " ranks: " + *prepared.refusal);
      return;
    }
  }
  std::size_t last_count = static_cast<std::size_t>(-1);
  for (std::size_t si = 0; si < sizes.size(); ++si) {
    CollectiveArgs args = max_args;
    args.count = collectives::count_for_bytes(o.collective, sizes[si], args.dtype, g.size);
    if (args.count == last_count) continue;  // same element count as the previous size
    last_count = args.count;
    const std::size_t bytes = args.count * collectives::dtype_size(args.dtype);
    std::string selected;
    if (is_auto) {
      selected = sw.selection->choose(o.collective, bytes, g.size);
      use(selected);
    }
    const std::string& name = is_auto ? selected : entry;
    std::optional<std::string> why = prepared.refusal;
    if (!why) why = prepared.algo->supports(sw.runner.context(g), args);
    if (why) {
      if (sw.world_rank == 0)
        sw.table.note("skipped " + name + " at " + format_size(bytes) + ": " + *why);
      continue;
    }
    if (tty)
      std::fprintf(stderr, "\r[%s %s %s %zu/%zu]   ", entry.c_str(),
                   std::string(collectives::dtype_name(args.dtype)).c_str(),
                   format_size(bytes).c_str(), si + 1, sizes.size());
    std::optional<Record> out, in;
    for (bool in_place : {false, true}) {
      if (in_place && o.placement == Placement::kOut) continue;
      if (!in_place && o.placement == Placement::kIn) continue;
      args.in_place = in_place;
      PointSpec p{entry, selected, args, bytes, repeat, nullptr};
      if (sw.sink) sw.sink->set_in_progress(describe_point(args, name, bytes, g.size));
      Record r = sw.runner.measure_point(g, *prepared.algo, p);
      if (g.stats_rank == 0 && sw.noted.insert(entry + (in_place ? " in" : " out")).second)
        if (const auto note = sw.backend->timing_note(*prepared.algo, args); !note.empty())
          sw.table.note("note: " + note);
      if (g.stats_rank == 0) {
        if (r.wrong > 0) sw.total_wrong += r.wrong;
        ++sw.measured;
        sw.sink->add(r);
        (in_place ? in : out) = std::move(r);
      }
    }
    if (g.stats_rank == 0) report_rows(sw, out, in);
  }
  if (tty) std::fprintf(stderr, "\r%60s\r", "");
}

// A dtype the user named (not `-d all`) that no requested algorithm runs, while one of them
// runs f32 with the same op and size (fp8 on MPI_Allreduce, or on an NCCL without fp8): bad
// input, not a run of skipped rows. Returns the one-line reason, empty when there is none.
// Every rank computes the same answer (supports() depends only on the arguments and the group).
std::string refused_dtype(const Sweep& sw, const Group& g, const std::vector<std::size_t>& sizes) {
  const Options& o = sw.o;
  if (o.dtypes_all || o.algo_auto) return {};
  const std::size_t max_bytes = sizes.empty() ? 0 : *std::max_element(sizes.begin(), sizes.end());
  for (DType dtype : o.dtypes) {
    for (ReduceOp op : o.ops) {
      CollectiveArgs args;
      args.collective = o.collective;
      args.dtype = dtype;
      args.op = op;
      args.count = collectives::count_for_bytes(o.collective, max_bytes, dtype, g.size);
      CollectiveArgs f32 = args;
      f32.dtype = DType::kF32;
      std::string why;
      bool f32_runs = false, runs = false;
      for (const auto& name : o.algorithms) {
        const auto refusal = sw.runner.refusal(g, name, args);
        if (!refusal) runs = true;
        if (sw.runner.refusal(g, name, f32)) continue;
        f32_runs = true;
        if (refusal && why.empty()) why = *refusal;
      }
      if (!runs && f32_runs) {
        std::string what = "dtype " + std::string(collectives::dtype_name(dtype));
        if (collectives::traits(o.collective).reduces)
          what += " with op " + std::string(collectives::op_name(op));
        return "no requested algorithm runs " + what + " on the " + sw.backend->name() +
               " backend: " + why;
      }
    }
  }
  return {};
}

// Measures every dtype/op/algorithm/size of the options on one rank set.
void sweep_set(Sweep& sw, Group& g, const std::vector<std::size_t>& sizes, int repeat) {
  const Options& o = sw.o;
  // Every rank of the group finds the same; run_benchmark agrees on it with the ranks outside.
  sw.refused = refused_dtype(sw, g, sizes);
  if (!sw.refused.empty()) return;
  std::vector<std::string> entries = o.algorithms;
  if (o.algo_auto) entries.emplace_back("auto");
  for (DType dtype : o.dtypes) {
    for (ReduceOp op : o.ops) {
      CollectiveArgs max_args;
      max_args.collective = o.collective;
      max_args.dtype = dtype;
      max_args.op = op;
      for (auto b : sizes)
        max_args.count =
            std::max(max_args.count, collectives::count_for_bytes(o.collective, b, dtype, g.size));
      for (const auto& entry : entries) sweep_entry(sw, g, sizes, repeat, max_args, entry);
    }
  }
}

// The same point in different --repeat passes: p50s further apart than the threshold mark every
// repeat of it (the point's value depends on when it was measured).
void mark_disagreeing_repeats(std::vector<Record>& records, double threshold) {
  std::map<std::string, std::vector<Record*>> points;
  for (Record& r : records) {
    json key = r.to_json();
    for (const char* volatile_field :
         {"repeat", "time_us", "algbw_gbps", "busbw_gbps", "algbw_p50_gbps", "busbw_p50_gbps",
          "slowest_rank", "slowest_rank_share", "samples_us", "wrong", "first_wrong", "stable",
          "instability", "stable_attempts", "stable_outcome", "nccl_estimate_us",
          "page_faults_per_call"})
      key.erase(volatile_field);
    points[key.dump()].push_back(&r);
  }
  for (auto& [key, reps] : points) {
    if (reps.size() < 2) continue;
    double lo = reps.front()->time_us.p50, hi = lo;
    for (const Record* r : reps) {
      lo = std::min(lo, r->time_us.p50);
      hi = std::max(hi, r->time_us.p50);
    }
    if (!(lo > 0) || hi / lo - 1 <= threshold) continue;
    for (Record* r : reps)
      if (!r->instability) r->instability = Instability{"repeats disagree", -1, lo, hi, -1};
  }
}

}  // namespace

int run_benchmark(const Options& o, const RecordsCallback& on_records) {
  MPI_Comm world = MPI_COMM_WORLD;
  int world_rank = 0, world_size = 1;
  MPI_Comm_rank(world, &world_rank);
  MPI_Comm_size(world, &world_size);

  // 1. Every rank must have been started with the same measurement arguments.
  if (const int rc = check_same_arguments(o, world); rc != 0) return rc;

  auto backend = make_backend(o);
  Faults faults;
  std::string setup_error;
  try {
    faults = Faults::from_env();
    faults.check(world_size, o.max_bytes);
  } catch (const Error& e) {
    setup_error = e.what();
  }
  topology::HostMap hosts = gather_hosts(world);
  collectives::SelectionTable selection;
  if (o.algo_auto && setup_error.empty()) {
    try {
      selection = collectives::SelectionTable::load_default(o.selection_file);
    } catch (const Error& e) {
      setup_error = e.what();
    }
  }

  // 2. Output files must be writable before anything is measured.
  if (world_rank == 0 && setup_error.empty()) {
    try {
      if (!o.json_path.empty()) check_writable(o.json_path, "--json");
      if (!o.csv_path.empty()) check_writable(o.csv_path, "--csv");
    } catch (const Error& e) {
      setup_error = e.what();
    }
  }

  // 3. Memory: two buffers of the largest size plus the rotation region, and up to two messages
  // of algorithm scratch, must fit in this rank's share of the node's available memory. Above half
  // of it the kernel reclaims and compacts pages while the sweep runs, and a point's result starts
  // to depend on what ran before it: say so up front.
  const int local_ranks =
      static_cast<int>(hosts.ranks_of_node[hosts.node_of_rank[world_rank]].size());
  std::string memory_warning;
  if (setup_error.empty()) {
    const std::size_t extra = o.rotate_buffers ? backend->rotation_bytes() : 0;
    const std::size_t need = 2 * (o.max_bytes + extra) + 2 * o.max_bytes;
    const std::size_t avail = backend->memory_available_per_rank(local_ranks);
    if (need > avail)
      setup_error = "--max-bytes " + format_size(o.max_bytes) + " needs about " +
                    format_size(need) + " of memory per rank (two buffers + scratch), but only " +
                    format_size(avail) + " is available per rank on " +
                    hosts.hostnames[world_rank] + " (" + std::to_string(local_ranks) +
                    " ranks there); lower --max-bytes";
    else if (need > avail / 2)
      memory_warning = "warning: the sweep needs about " + format_size(need) +
                       " per rank, more than half of the " + format_size(avail) +
                       " available per rank on " + hosts.hostnames[world_rank] +
                       ": page reclaim during the run can make results depend on the sweep "
                       "(docs/methodology.md, \"Points that are not one regime\")";
  }
  // The host reduction kernels: a COLLBENCH_REDUCE_ISA this CPU cannot run stops here.
  if (setup_error.empty()) {
    try {
      collectives::active_reduce_isa();
    } catch (const Error& e) {
      setup_error = e.what();
    }
  }
  if (any_setup_error(setup_error, world)) return 2;
  ConsoleTable table(world_rank == 0 && !o.quiet, o.rank_spread);

  // 4. Where every rank sits (hwloc), recorded in the result file.
  topology::DiscoveryOptions discovery;
  discovery.xml_path = o.topology_xml;
  json topo = topology::collect_topology_json(world, discovery);

  // 5. Results sink and header on rank 0; the watchdog everywhere.
  std::unique_ptr<ResultSink> sink;
  json prov = make_provenance(o, hosts, backend->name());
  // Named: a range-for over items() of a temporary would outlive the temporary.
  const json backend_meta = backend->metadata();
  for (const auto& [k, v] : backend_meta.items()) prov[k] = v;
  if (world_rank == 0) {
    sink = std::make_unique<ResultSink>(o, prov, options_json(o));
    sink->set_topology(topo);
  }
  // On a rank other than 0 (the deputy) when rank 0 stopped answering: the failure goes into the
  // result file rank 0 has been writing.
  const json options = options_json(o);
  Watchdog watchdog(
      world, o.timeout_s,
      [&sink](const std::string& why) {
        if (!sink) return;
        try {
          sink->finish(false, why);
        } catch (...) {
        }
      },
      [&](const std::string& why) {
        note_failure_in_result_file(o.json_path, why, prov, options);
      });
  // SIGINT/SIGTERM/SIGHUP: the rows measured so far stay, the file says why the run ended
  // (signals.h).
  std::unique_ptr<SignalWatch> signal_watch;
  if (sink)
    signal_watch = std::make_unique<SignalWatch>([&](const std::string& why) {
      // Stopped (SIGSTOP) until the launcher ended the job: the freeze is the failure.
      const std::string frozen = watchdog.freeze_note();
      sink->interrupt(frozen.empty() ? why
                                     : "timeout: Ranks that had not arrived: 0 (rank 0 " + frozen +
                                           "); then " + why);
      const std::string line = "collbench: " + why + "; " + std::to_string(sink->records().size()) +
                               " records kept" + (o.json_path.empty() ? "" : " in " + o.json_path) +
                               ", marked incomplete\n";
      [[maybe_unused]] const ssize_t n = write(STDERR_FILENO, line.data(), line.size());
    });
  else
    // The other ranks write nothing, but they wait before they exit: a launcher that sees a rank
    // end kills the rest at once (Open MPI's mpirun: SIGKILL), and rank 0 needs a few tens of
    // milliseconds to mark the file. Bounded: the launcher's own SIGKILL follows within 1 s.
    signal_watch = std::make_unique<SignalWatch>(
        [](const std::string&) { std::this_thread::sleep_for(std::chrono::milliseconds(700)); });
  std::string topo_line;
  for (int n = 0; n < hosts.nodes(); ++n)
    topo_line += (n ? ", " : "") + hosts.node_names[static_cast<std::size_t>(n)] + ":" +
                 std::to_string(hosts.ranks_of_node[static_cast<std::size_t>(n)].size());
  table.header(prov, o, topo_line);
  if (world_rank == 0 && topo.contains("warnings"))
    for (const auto& w : topo["warnings"]) table.note("warning: " + w.get<std::string>());
  if (world_rank == 0 && !memory_warning.empty()) table.note(memory_warning);
  if (world_rank == 0)
    if (const auto w = memory_background_warning(prov["memory_background"]); !w.empty())
      table.note(w);

  watchdog.set_abort_hook(
      [&backend](const std::string& why) { backend->abort_communication(why); });
  Runner runner(o, *backend, watchdog, faults, world_rank);
  Sweep sw{o, world_rank, runner, sink.get(), table, 0, 0, &selection, {}, backend.get(), {}};

  const auto sizes = size_sweep(o.min_bytes, o.max_bytes, o.step_factor, o.step_bytes);
  const auto sets = rank_sets(o, hosts);
  try {
    for (int repeat = 0; repeat < o.repeat; ++repeat) {
      for (const auto& set : sets) {
        const bool member = std::binary_search(set.ranks.begin(), set.ranks.end(), world_rank);
        MPI_Comm comm = MPI_COMM_NULL;
        // Armed while every rank takes part: a rank that stops before the split is reported like
        // one that stops in a collective.
        watchdog.begin_call_step("the split into a set of " + std::to_string(set.ranks.size()) +
                                 " ranks");
        CB_MPI_CHECK(MPI_Comm_split(world, member ? 0 : MPI_UNDEFINED, world_rank, &comm));
        watchdog.end_step();
        if (member) {
          std::vector<std::string> names;
          for (int r : set.ranks) names.push_back(hosts.hostnames[static_cast<std::size_t>(r)]);
          Group g;
          runner.open(g, comm, comm, o.max_bytes, topology::make_host_map(names).node_of_rank,
                      set.nodes, set.ranks_per_node);
          if (world_rank == 0)
            table.section(g.size, set.nodes, repeat, o.ranks_sweep || o.repeat > 1);
          sweep_set(sw, g, sizes, repeat);
          runner.close(g);
          MPI_Comm_free(&comm);
          // Members wait here only for each other (the others arrived long ago): one that never
          // comes (frozen, dead) is reported as in a collective.
          watchdog.begin_call_step("the barrier after the sizes on " + std::to_string(g.size) +
                                   " ranks");
        }
        quiet_barrier(world);
        watchdog.end_step();
        if (faults.find("stallset", world_rank)) stall_forever();
        // Every rank passed the barrier; one stopped since (SIGSTOP) is named, not waited for.
        watchdog.begin_call_step("the check for bad input after the sizes on " +
                                 std::to_string(set.ranks.size()) + " ranks");
        const bool refused = any_setup_error(sw.refused, world);
        watchdog.end_step();
        if (refused) {  // bad input found once a group could be asked
          // Bad input leaves no file, unless an earlier rank set already wrote records.
          if (sink && !sink->records().empty())
            sink->finish(false, sw.refused.empty() ? "bad input" : sw.refused);
          return 2;
        }
      }
    }
  } catch (const CommError& e) {
    // A communicator that could not be created, split or closed: reported like a timeout,
    // naming the ranks that had not arrived (the communicators are aborted already).
    watchdog.fire_now(e.what());
  } catch (const UsageError& e) {
    // Raised on every rank at once (a decision broadcast by rank 0): bad input found while
    // measuring. What was measured stays in the result file.
    if (world_rank == 0) std::fprintf(stderr, "collbench: error: %s\n", e.what());
    if (sink) sink->finish(false, e.what());
    return 2;
  } catch (const std::exception& e) {
    // A peer terminated by a signal makes MPI calls fail here first: let the signal decide.
    exit_if_signalled_within(1.0);
    std::fprintf(stderr, "collbench: error on rank %d: %s\n", world_rank, e.what());
    if (sink) {
      try {
        sink->finish(false, e.what());
      } catch (...) {
      }
    }
    std::fflush(stderr);
    MPI_Abort(world, 1);
    return 1;
  }

  // Every requested algorithm refused every point: nothing was measured, which is never what the
  // command line asked for (and no result file is written: it would hold no row).
  std::int64_t status[2] = {sw.total_wrong, sw.measured};
  watchdog.begin_call_step("the end of the run");
  CB_MPI_CHECK(MPI_Bcast(status, 2, MPI_INT64_T, 0, world));
  watchdog.end_step();
  if (faults.find("stallend", world_rank)) stall_forever();  // never rank 0 (Faults::check)
  if (status[1] == 0) {
    if (world_rank == 0)
      std::fprintf(stderr,
                   "collbench: error: nothing was measured: every requested algorithm refused "
                   "every size on %d ranks (see the 'skipped' lines above)\n",
                   world_size);
    return 2;
  }
  if (sink) {
    if (o.repeat > 1) {
      sink->update([&](std::vector<Record>& records) {
        mark_disagreeing_repeats(records, o.instability_threshold);
      });
      int disagree = 0;
      for (const auto& r : sink->records())
        disagree += r.instability && r.instability->reason == "repeats disagree";
      if (disagree)
        table.note(std::to_string(disagree) +
                   " record(s) of points whose repeats disagree by "
                   "more than --instability-threshold: flagged unstable in the result file");
    }
    sink->finish(true, "");
    table.summary(sink->records());
    if (on_records) on_records(sink->records());
  }
  return status[0] > 0 ? 1 : 0;
}

}  // namespace collbench::bench
