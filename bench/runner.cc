#include "bench/runner.h"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/backend_select.h"
#include "bench/provenance.h"
#include "bench/record.h"
#include "bench/report.h"
#include "bench/signals.h"
#include "bench/sizes.h"
#include "bench/watchdog.h"
#include "collectives/backend.h"
#include "collectives/mpi/mpi_transport.h"
#include "collectives/registry.h"
#include "collectives/selection.h"
#include "topology/hostmap.h"
#include "topology/layout.h"

namespace collbench::bench {
namespace {

using collectives::Algorithm;
using collectives::AlgorithmContext;
using collectives::Collective;
using collectives::CollectiveArgs;
using collectives::DType;
using collectives::ReduceOp;
using nlohmann::json;

constexpr std::size_t kRotateExtra = 32u << 20;  // per buffer; see docs/methodology.md
constexpr std::size_t kRotateAlign = 256;

// Test-only fault hooks, read from COLLBENCH_FAULT ("kind:rank:arg[,kind:rank:arg...]"):
//   stall:R:BYTES    rank R stops before the warm-up of the first size >= BYTES (never resumes)
//   kill:R:BYTES     rank R kills itself (SIGKILL) at the first size >= BYTES
//   corrupt:R:INDEX  rank R overwrites element INDEX of its output before every check
struct Faults {
  struct Fault {
    std::string kind;
    int rank = -1;
    std::size_t arg = 0;
  };
  std::vector<Fault> list;

  static Faults from_env() {
    Faults f;
    const char* env = std::getenv("COLLBENCH_FAULT");
    if (!env || !*env) return f;
    std::istringstream in(env);
    std::string item;
    while (std::getline(in, item, ',')) {
      Fault x;
      const auto a = item.find(':'), b = item.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos)
        throw UsageError("COLLBENCH_FAULT item '" + item + "' is not kind:rank:arg");
      x.kind = item.substr(0, a);
      const std::string rank = item.substr(a + 1, b - a - 1);
      if (rank.empty() || rank.size() > 9 || rank.find_first_not_of("0123456789") != rank.npos)
        throw UsageError("COLLBENCH_FAULT item '" + item + "': rank '" + rank +
                         "' is not a rank number");
      x.rank = std::stoi(rank);
      x.arg = parse_size(item.substr(b + 1), "COLLBENCH_FAULT argument");
      if (x.kind != "stall" && x.kind != "kill" && x.kind != "corrupt")
        throw UsageError("COLLBENCH_FAULT kind '" + x.kind + "' is not stall, kill or corrupt");
      f.list.push_back(x);
    }
    return f;
  }
  // A hook that can never act is a mistake in the test that set it.
  void check(int world_size, std::size_t max_bytes) const {
    for (const auto& x : list) {
      const std::string item = x.kind + ":" + std::to_string(x.rank) + ":" + std::to_string(x.arg);
      if (x.rank >= world_size)
        throw UsageError("COLLBENCH_FAULT " + item + ": rank " + std::to_string(x.rank) +
                         " does not exist (" + std::to_string(world_size) + " ranks)");
      if (x.kind != "corrupt" && x.arg > max_bytes)
        throw UsageError("COLLBENCH_FAULT " + item + ": no size of the sweep reaches " +
                         format_size(x.arg) + " (--max-bytes " + format_size(max_bytes) + ")");
      if (x.kind == "corrupt" && x.arg >= max_bytes)
        throw UsageError("COLLBENCH_FAULT " + item + ": element " + std::to_string(x.arg) +
                         " is beyond every buffer of the sweep (--max-bytes " +
                         format_size(max_bytes) + ")");
    }
  }
  const Fault* find(const std::string& kind, int rank) const {
    for (const auto& x : list)
      if (x.kind == kind && x.rank == rank) return &x;
    return nullptr;
  }
};

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Waits for every rank without spinning on a core (ranks that sit out a --ranks-sweep step
// must not steal CPU from the ranks being measured).
void quiet_barrier(MPI_Comm comm) {
  MPI_Request req;
  CB_MPI_CHECK(MPI_Ibarrier(comm, &req));
  int done = 0;
  while (true) {
    CB_MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

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

std::string describe(const CollectiveArgs& a, const std::string& algo, std::size_t bytes,
                     int ranks) {
  std::ostringstream s;
  s << collectives::collective_name(a.collective) << ' ' << algo << ' ' << format_size(bytes) << ' '
    << collectives::dtype_name(a.dtype);
  if (collectives::traits(a.collective).reduces) s << ' ' << collectives::op_name(a.op);
  s << (a.in_place ? " in-place" : " out-of-place") << " on " << ranks << " ranks";
  return s.str();
}

// Everything that lives for one run.
struct Run {
  const Options& o;
  MPI_Comm world;
  int world_rank = 0, world_size = 1;
  topology::HostMap hosts;
  collectives::Backend& backend;
  Watchdog& watchdog;
  ResultSink* sink = nullptr;  // rank 0 only
  ConsoleTable& table;
  Faults faults;
  std::int64_t total_wrong = 0;
  const collectives::SelectionTable* selection = nullptr;
};

// Layout of MPI_DOUBLE_INT.
struct TimeRank {
  double t;
  int r;
};

// State of one rank set: the transport, buffers and per-iteration scratch, all allocated once.
struct SetState {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
  std::unique_ptr<collectives::Transport> transport;
  collectives::Buffer send, recv;
  std::size_t alloc_bytes = 0;
  std::vector<std::size_t> offsets;
  std::vector<double> local;                  // this rank's seconds per iteration
  std::vector<TimeRank> pairs_in, pairs_out;  // for MPI_MAXLOC
  std::vector<int> node_of_rank;
  RankSet set;
};

void compute_offsets(std::vector<std::size_t>& offsets, std::size_t bytes, std::size_t alloc,
                     bool rotate) {
  const std::size_t stride =
      std::max<std::size_t>(kRotateAlign, (bytes + kRotateAlign - 1) / kRotateAlign * kRotateAlign);
  std::size_t off = 0;
  for (auto& x : offsets) {
    if (!rotate || off + bytes > alloc) off = 0;
    x = off;
    off += stride;
  }
}

// Times one placement of one size and checks it. Collective over the set.
Record measure(Run& run, SetState& st, Algorithm& algo, const std::string& algo_name,
               const std::string& selected, const CollectiveArgs& args, std::size_t bytes,
               int repeat) {
  const Options& o = run.o;
  Progress& progress = run.watchdog.progress();
  const std::string what = describe(args, selected.empty() ? algo_name : selected, bytes, st.size);
  run.watchdog.begin_step(what);
  if (run.sink) run.sink->set_in_progress(what);

  // Fault hooks act here, before this rank arrives at the size.
  if (const auto* f = run.faults.find("kill", run.world_rank); f && bytes >= f->arg)
    std::raise(SIGKILL);
  if (const auto* f = run.faults.find("stall", run.world_rank); f && bytes >= f->arg) {
    // Still in the step's set-up (kIdle): a rank that never reaches the barrier is behind.
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }

  std::byte* send = st.send.bytes();
  std::byte* recv = st.recv.bytes();
  // Timed data: the check pattern, so values stay small and finite for a while.
  run.backend.fill_input(*st.transport, args.in_place ? recv : send, args, st.rank, st.size, 0);

  collectives::TimedLoop loop;
  loop.algorithm = &algo;
  loop.args = args;
  loop.send = send;
  loop.recv = recv;
  loop.timeout_s = o.timeout_s;
  loop.progress = &progress;

  progress.set(Phase::kBarrier, 0);
  CB_MPI_CHECK(MPI_Barrier(st.comm));

  auto fail_if = [&](const Status& s) {
    if (!s.ok()) run.watchdog.fire_now(what + ": " + s.message);
  };

  compute_offsets(st.offsets, bytes, st.alloc_bytes, o.rotate_buffers);
  if (o.warmup > 0) {
    progress.set(Phase::kWarmup, 0);
    loop.offsets =
        std::span<const std::size_t>(st.offsets.data(), static_cast<std::size_t>(o.warmup));
    fail_if(run.backend.time_iterations(
        loop, std::span<double>(st.local.data(), static_cast<std::size_t>(o.warmup))));
  }
  progress.set(Phase::kTimed, 0);
  loop.offsets = std::span<const std::size_t>(st.offsets.data(), static_cast<std::size_t>(o.iters));
  std::span<double> samples(st.local.data(), static_cast<std::size_t>(o.iters));
  fail_if(run.backend.time_iterations(loop, samples));

  // Per iteration: the max over ranks, and which rank it was.
  progress.set(Phase::kReduceStats, 0);
  for (int i = 0; i < o.iters; ++i)
    st.pairs_in[static_cast<std::size_t>(i)] = {samples[static_cast<std::size_t>(i)], st.rank};
  CB_MPI_CHECK(MPI_Reduce(st.pairs_in.data(), st.pairs_out.data(), o.iters, MPI_DOUBLE_INT,
                          MPI_MAXLOC, 0, st.comm));
  const auto& pout = st.pairs_out;

  // The check: fresh data per repetition, output prefilled with a sentinel, every element.
  Record rec;
  progress.set(Phase::kCheck, 0);
  std::uint64_t wrong = 0;
  collectives::CheckResult first;
  for (int rep = 0; rep < o.check; ++rep) {
    const std::uint64_t seed = static_cast<std::uint64_t>(rep) + 1;
    // The sentinel first: in place it covers what the input does not (all-gather's blocks).
    run.backend.fill_sentinel(*st.transport, recv, args);
    run.backend.fill_input(*st.transport, args.in_place ? recv : send, args, st.rank, st.size,
                           seed);
    progress.enter(rep);
    const auto deadline = Deadline::In(o.timeout_s);
    fail_if(algo.run(args.in_place ? recv : send, recv, args, deadline));
    fail_if(st.transport->synchronize(deadline));
    progress.leave();
    if (const auto* f = run.faults.find("corrupt", run.world_rank))
      run.backend.corrupt(*st.transport, recv, args, st.rank, st.size, f->arg);
    const auto res = run.backend.check_output(*st.transport, recv, args, st.rank, st.size, seed);
    if (res.wrong && first.wrong == 0) first = res;
    wrong += res.wrong;
  }
  std::uint64_t wrong_total = 0;
  CB_MPI_CHECK(MPI_Reduce(&wrong, &wrong_total, 1, MPI_UINT64_T, MPI_SUM, 0, st.comm));
  double mine[4] = {first.wrong ? 1.0 : 0.0, static_cast<double>(first.first_wrong),
                    first.first_expected, first.first_actual};
  std::vector<double> firsts(st.rank == 0 ? 4 * static_cast<std::size_t>(st.size) : 4);
  CB_MPI_CHECK(MPI_Gather(mine, 4, MPI_DOUBLE, firsts.data(), 4, MPI_DOUBLE, 0, st.comm));
  run.watchdog.end_step();

  rec.nccl_estimate_us = run.backend.estimate_us(algo, args);
  if (st.rank != 0) return rec;
  rec.collective = args.collective;
  rec.algorithm = algo_name;
  rec.selected_algorithm = selected;
  rec.backend = run.backend.name();
  rec.dtype = args.dtype;
  rec.op = args.op;
  rec.in_place = args.in_place;
  rec.bytes = bytes;
  rec.count = args.count;
  rec.ranks = st.size;
  rec.nodes = st.set.nodes;
  rec.ranks_per_node = st.set.ranks_per_node;
  rec.repeat = repeat;
  rec.iters = o.iters;
  rec.warmup = o.warmup;
  rec.samples_us.resize(static_cast<std::size_t>(o.iters));
  std::vector<int> slow_count(static_cast<std::size_t>(st.size), 0);
  for (int i = 0; i < o.iters; ++i) {
    rec.samples_us[i] = pout[i].t * 1e6;
    ++slow_count[static_cast<std::size_t>(pout[i].r)];
  }
  const auto slowest = std::max_element(slow_count.begin(), slow_count.end());
  rec.slowest_rank = static_cast<int>(slowest - slow_count.begin());
  rec.slowest_rank_share = static_cast<double>(*slowest) / o.iters;
  rec.time_us = compute_stats(rec.samples_us);
  rec.busbw_factor = collectives::busbw_factor(args.collective, st.size);
  auto gbps = [&](double us) {
    return us > 0 ? static_cast<double>(bytes) / (us * 1e-6) / 1e9 : 0.0;
  };
  rec.algbw_gbps = gbps(rec.time_us.mean);
  rec.busbw_gbps = rec.algbw_gbps * rec.busbw_factor;
  rec.algbw_p50_gbps = gbps(rec.time_us.p50);
  rec.busbw_p50_gbps = rec.algbw_p50_gbps * rec.busbw_factor;
  rec.check_reps = o.check;
  rec.wrong = o.check > 0 ? static_cast<std::int64_t>(wrong_total) : -1;
  for (int r = 0; r < st.size; ++r) {
    const double* f = &firsts[4 * static_cast<std::size_t>(r)];
    if (f[0] != 0) {
      rec.first_wrong = {{"rank", st.set.ranks[static_cast<std::size_t>(r)]},
                         {"index", static_cast<std::int64_t>(f[1])},
                         {"expected", f[2]},
                         {"actual", f[3]}};
      break;
    }
  }
  return rec;
}

// Measures every dtype/op/algorithm/size of the options on one rank set.
void measure_set(Run& run, SetState& st, const std::vector<std::size_t>& sizes, int repeat) {
  const Options& o = run.o;
  AlgorithmContext ctx;
  ctx.transport = st.transport.get();
  ctx.node_of_rank = st.node_of_rank;
  ctx.segment_bytes = o.segment_bytes;
  ctx.inter_node_algorithm = o.inter_node_algorithm;
  const bool tty = isatty(STDERR_FILENO) && run.world_rank == 0;

  std::vector<std::string> entries = o.algorithms;
  if (o.algo_auto) entries.emplace_back("auto");
  for (DType dtype : o.dtypes) {
    for (ReduceOp op : o.ops) {
      for (const auto& entry : entries) {
        const bool is_auto = entry == "auto";
        CollectiveArgs max_args;
        max_args.collective = o.collective;
        max_args.dtype = dtype;
        max_args.op = op;
        max_args.count = 0;
        for (auto b : sizes)
          max_args.count = std::max(max_args.count,
                                    collectives::count_for_bytes(o.collective, b, dtype, st.size));
        // One prepared algorithm at a time, so that scratch memory stays within one message.
        std::unique_ptr<Algorithm> algo;
        std::string prepared_name;
        std::optional<std::string> refusal;
        auto use = [&](const std::string& name) {
          if (name == prepared_name) return;
          algo.reset();
          prepared_name = name;
          const auto* info = collectives::find_algorithm(o.collective, name);
          if (!info || !info->measurable()) {
            refusal = "unknown algorithm '" + name + "'";
            return;
          }
          if (info->native()) {
            algo = run.backend.make_native(info->id);
            if (!algo) {
              refusal = name + " is " + std::string(info->backend) +
                        "'s collective: it needs --backend " + std::string(info->backend);
              return;
            }
          } else {
            algo = collectives::make_own_algorithm(info->id);
          }
          refusal = algo->supports(ctx, max_args);
          if (!refusal) algo->prepare(ctx, max_args);
        };
        if (!is_auto) {
          use(entry);
          if (refusal) {
            if (run.world_rank == 0)
              run.table.note("skipped " + entry + " on " + std::to_string(st.size) +
                             " ranks: " + *refusal);
            continue;
          }
        }
        std::size_t last_count = static_cast<std::size_t>(-1);
        for (std::size_t si = 0; si < sizes.size(); ++si) {
          CollectiveArgs args = max_args;
          args.count = collectives::count_for_bytes(o.collective, sizes[si], dtype, st.size);
          if (args.count == last_count) continue;  // same element count as the previous size
          last_count = args.count;
          const std::size_t bytes = args.count * collectives::dtype_size(dtype);
          std::string selected;
          if (is_auto) {
            selected = run.selection->choose(o.collective, bytes, st.size);
            use(selected);
          }
          const std::string& name = is_auto ? selected : entry;
          std::optional<std::string> why = refusal;
          if (!why) why = algo->supports(ctx, args);
          if (why) {
            if (run.world_rank == 0)
              run.table.note("skipped " + name + " at " + format_size(bytes) + ": " + *why);
            continue;
          }
          if (tty)
            std::fprintf(stderr, "\r[%s %s %s %zu/%zu]   ", entry.c_str(),
                         std::string(collectives::dtype_name(dtype)).c_str(),
                         format_size(bytes).c_str(), si + 1, sizes.size());
          std::optional<Record> out, in;
          for (bool in_place : {false, true}) {
            if (in_place && o.placement == Placement::kOut) continue;
            if (!in_place && o.placement == Placement::kIn) continue;
            args.in_place = in_place;
            Record r = measure(run, st, *algo, entry, selected, args, bytes, repeat);
            if (st.rank == 0) {
              if (r.wrong > 0) run.total_wrong += r.wrong;
              run.sink->add(r);
              (in_place ? in : out) = std::move(r);
            }
          }
          if (st.rank == 0) {
            run.table.row(out ? &*out : nullptr, in ? &*in : nullptr);
            for (const auto* r : {out ? &*out : nullptr, in ? &*in : nullptr}) {
              if (r && !r->first_wrong.is_null())
                run.table.note("  wrong result: rank " + r->first_wrong["rank"].dump() +
                               ", first wrong element " + r->first_wrong["index"].dump() +
                               " (expected " + r->first_wrong["expected"].dump() + ", got " +
                               r->first_wrong["actual"].dump() + ")" +
                               (r->in_place ? " in-place" : " out-of-place"));
            }
          }
        }
      }
    }
  }
  if (tty) std::fprintf(stderr, "\r%60s\r", "");
}

}  // namespace

topology::HostMap gather_hosts(MPI_Comm comm) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  constexpr int kLen = 256;
  std::string mine = local_hostname();
  mine.resize(kLen, '\0');
  std::vector<char> all(static_cast<std::size_t>(kLen) * static_cast<std::size_t>(size));
  CB_MPI_CHECK(MPI_Allgather(mine.data(), kLen, MPI_CHAR, all.data(), kLen, MPI_CHAR, comm));
  std::vector<std::string> names;
  for (int r = 0; r < size; ++r)
    names.emplace_back(all.data() + static_cast<std::size_t>(r) * kLen);
  return topology::make_host_map(names);
}

int run_benchmark(const Options& o, const RecordsCallback& on_records) {
  MPI_Comm world = MPI_COMM_WORLD;
  int world_rank = 0, world_size = 1;
  MPI_Comm_rank(world, &world_rank);
  MPI_Comm_size(world, &world_size);

  // 1. Every rank must have been started with the same measurement arguments.
  const std::uint64_t h = fnv1a(o.canonical());
  std::uint64_t hmin = 0, hmax = 0;
  CB_MPI_CHECK(MPI_Allreduce(&h, &hmin, 1, MPI_UINT64_T, MPI_MIN, world));
  CB_MPI_CHECK(MPI_Allreduce(&h, &hmax, 1, MPI_UINT64_T, MPI_MAX, world));
  if (hmin != hmax) {
    std::vector<std::uint64_t> all(static_cast<std::size_t>(world_size));
    CB_MPI_CHECK(MPI_Gather(&h, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, 0, world));
    // Ranks that differ from rank 0, as ranges; the first of them sends its options so that the
    // message can say which settings differ.
    std::string differ;
    int first = world_size, count = 0;
    if (world_rank == 0) {
      for (int r = 1; r < world_size; ++r) {
        if (all[static_cast<std::size_t>(r)] == h) continue;
        ++count;
        first = std::min(first, r);
        if (r > 1 && all[static_cast<std::size_t>(r - 1)] != h) {
          if (r + 1 < world_size && all[static_cast<std::size_t>(r + 1)] != h) continue;
          differ += "-" + std::to_string(r);
        } else {
          differ += (differ.empty() ? "" : ",") + std::to_string(r);
        }
      }
    }
    CB_MPI_CHECK(MPI_Bcast(&first, 1, MPI_INT, 0, world));
    std::string theirs = world_rank == first ? options_json(o).dump() : std::string();
    int len = static_cast<int>(theirs.size());
    if (world_rank == first) {
      CB_MPI_CHECK(MPI_Send(&len, 1, MPI_INT, 0, 0, world));
      CB_MPI_CHECK(MPI_Send(theirs.data(), len, MPI_CHAR, 0, 0, world));
    } else if (world_rank == 0) {
      CB_MPI_CHECK(MPI_Recv(&len, 1, MPI_INT, first, 0, world, MPI_STATUS_IGNORE));
      theirs.resize(static_cast<std::size_t>(len));
      CB_MPI_CHECK(MPI_Recv(theirs.data(), len, MPI_CHAR, first, 0, world, MPI_STATUS_IGNORE));
      const json mine = options_json(o), other = json::parse(theirs, nullptr, false);
      std::string what;
      for (const auto& [key, value] : mine.items())
        if (other.is_object() && other.contains(key) && other[key] != value)
          what += (what.empty() ? "" : ", ") + key + " " + value.dump() + " on rank 0 but " +
                  other[key].dump() + " on rank " + std::to_string(first);
      std::fprintf(stderr,
                   "collbench: error: %s %s %s started with different measurement arguments than "
                   "rank 0%s%s%s; every rank must get the same command line (check the launcher's "
                   "command line and environment)\n",
                   count == 1 ? "rank" : "ranks", differ.c_str(), count == 1 ? "was" : "were",
                   what.empty() ? "" : " (", what.c_str(), what.empty() ? "" : ")");
    }
    return 2;
  }

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

  // 3. Memory: two buffers of the largest size plus the rotation region, and up to one message
  // of algorithm scratch, must fit in this rank's share of the node's available memory.
  const std::size_t extra = o.rotate_buffers ? kRotateExtra : 0;
  const std::size_t alloc = o.max_bytes + extra;
  const std::size_t need = 2 * alloc + o.max_bytes;
  const int local_ranks =
      static_cast<int>(hosts.ranks_of_node[hosts.node_of_rank[world_rank]].size());
  if (setup_error.empty()) {
    const std::size_t avail = backend->memory_available_per_rank(local_ranks);
    if (need > avail) {
      setup_error = "--max-bytes " + format_size(o.max_bytes) + " needs about " +
                    format_size(need) + " of memory per rank (two buffers + scratch), but only " +
                    format_size(avail) + " is available per rank on " +
                    hosts.hostnames[world_rank] + " (" + std::to_string(local_ranks) +
                    " ranks there); lower --max-bytes";
    }
  }
  ConsoleTable table(world_rank == 0 && !o.quiet);
  {
    // Agree on setup errors before anything else is started.
    int bad = setup_error.empty() ? 0 : 1, any = 0;
    CB_MPI_CHECK(MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, world));
    if (any) {
      int first = bad ? world_rank : world_size, first_all = 0;
      CB_MPI_CHECK(MPI_Allreduce(&first, &first_all, 1, MPI_INT, MPI_MIN, world));
      int len = static_cast<int>(setup_error.size());
      CB_MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, first_all, world));
      setup_error.resize(static_cast<std::size_t>(len));
      CB_MPI_CHECK(MPI_Bcast(setup_error.data(), len, MPI_CHAR, first_all, world));
      if (world_rank == 0) std::fprintf(stderr, "collbench: error: %s\n", setup_error.c_str());
      return 2;
    }
  }

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
        note_failure_in_result_file(o.json_path, why, prov, options_json(o));
      });
  // SIGINT/SIGTERM: the rows measured so far stay, the file says why the run ended (signals.h).
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
  std::string topo_line;
  for (int n = 0; n < hosts.nodes(); ++n)
    topo_line += (n ? ", " : "") + hosts.node_names[static_cast<std::size_t>(n)] + ":" +
                 std::to_string(hosts.ranks_of_node[static_cast<std::size_t>(n)].size());
  table.header(prov, o, topo_line);
  if (world_rank == 0 && topo.contains("warnings"))
    for (const auto& w : topo["warnings"]) table.note("warning: " + w.get<std::string>());

  Run run{o,        world,      world_rank, world_size, hosts, *backend,
          watchdog, sink.get(), table,      faults,     0,     &selection};

  const auto sizes = size_sweep(o.min_bytes, o.max_bytes, o.step_factor, o.step_bytes);
  const auto sets = rank_sets(o, hosts);
  try {
    for (int repeat = 0; repeat < o.repeat; ++repeat) {
      for (const auto& set : sets) {
        const bool member = std::binary_search(set.ranks.begin(), set.ranks.end(), world_rank);
        SetState st;
        st.set = set;
        // Armed while every rank takes part: a rank that stops before the split is reported like
        // one that stops in a collective. (One that stops during the set-up after it is, by the
        // others waiting at the first size's barrier.)
        watchdog.begin_step("the split into a set of " + std::to_string(set.ranks.size()) +
                            " ranks");
        CB_MPI_CHECK(MPI_Comm_split(world, member ? 0 : MPI_UNDEFINED, world_rank, &st.comm));
        watchdog.end_step();
        if (member) {
          MPI_Comm_set_errhandler(st.comm, MPI_ERRORS_RETURN);
          MPI_Comm_rank(st.comm, &st.rank);
          MPI_Comm_size(st.comm, &st.size);
          st.transport = backend->make_transport(st.comm);
          st.alloc_bytes = alloc;
          st.send = st.transport->allocate(alloc);
          st.recv = st.transport->allocate(alloc);
          const std::size_t n = static_cast<std::size_t>(std::max(o.iters, o.warmup));
          st.offsets.assign(n, 0);
          st.local.assign(n, 0.0);
          st.pairs_in.assign(n, TimeRank{0, 0});
          st.pairs_out.assign(n, TimeRank{0, 0});
          std::vector<std::string> names;
          for (int r : set.ranks) names.push_back(hosts.hostnames[static_cast<std::size_t>(r)]);
          st.node_of_rank = topology::make_host_map(names).node_of_rank;
          if (world_rank == 0)
            table.section(st.size, set.nodes, repeat, o.ranks_sweep || o.repeat > 1);
          measure_set(run, st, sizes, repeat);
          st.transport.reset();
          MPI_Comm_free(&st.comm);
          // Members wait here only for each other (the others arrived long ago): one that never
          // comes (frozen, dead) is reported as in a collective.
          watchdog.begin_step("the barrier after the sizes on " + std::to_string(st.size) +
                              " ranks");
        }
        quiet_barrier(world);
        watchdog.end_step();
      }
    }
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

  // Nothing measured at all (every requested algorithm refused at every size and rank count):
  // the request could not be met, which is bad input, not a result.
  std::int64_t outcome[2] = {run.total_wrong,
                             sink ? static_cast<std::int64_t>(sink->records().size()) : 0};
  watchdog.begin_step("the end of the run");
  CB_MPI_CHECK(MPI_Bcast(outcome, 2, MPI_INT64_T, 0, world));
  watchdog.end_step();
  if (outcome[1] == 0) {
    if (sink) {  // no row was written, so neither is a file
      std::fprintf(stderr,
                   "collbench: error: nothing measured: every requested algorithm was refused "
                   "at every size on %d ranks (the reasons are the 'skipped' notes above)\n",
                   world_size);
    }
    return 2;
  }
  if (sink) {
    sink->finish(true, "");
    table.summary(sink->records());
    if (on_records) on_records(sink->records());
  }
  return outcome[0] > 0 ? 1 : 0;
}

}  // namespace collbench::bench
