#include "bench/runner.h"

#include <mpi.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <span>
#include <sstream>
#include <thread>

#include "bench/provenance.h"
#include "bench/sizes.h"
#include "bench/stability.h"
#include "collectives/mpi/mpi_transport.h"
#include "collectives/registry.h"

namespace collbench::bench {
namespace {

using collectives::Algorithm;
using collectives::CollectiveArgs;
using nlohmann::json;

constexpr std::size_t kRotateAlign = 256;

// Byte offset of every call (warm-up, then timed) into the buffers. Consecutive calls touch
// different memory, and the walk continues from where the previous point stopped (`cursor`), so
// every call finds its data last touched about one pass over the rotation region ago: the same
// state for the first timed call as for the last, whatever was measured before. (Restarting at
// offset 0 for every point made the first timed calls reuse what the warm-up had just warmed and
// the rest not: a level switch inside every point, at the first call past the warm-up.)
void compute_offsets(std::vector<std::size_t>& offsets, std::size_t bytes, std::size_t alloc,
                     bool rotate, std::size_t& cursor) {
  const std::size_t stride =
      std::max<std::size_t>(kRotateAlign, (bytes + kRotateAlign - 1) / kRotateAlign * kRotateAlign);
  if (!rotate) {
    std::fill(offsets.begin(), offsets.end(), 0);
    return;
  }
  std::size_t off = cursor;
  for (auto& x : offsets) {
    if (off + bytes > alloc) off = 0;
    x = off;
    off += stride;
  }
  cursor = off;
}

std::string fmt_seconds(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g s", s);
  return b;
}

// The "slow:R:N" fault: from the N-th timed call of every point on, rank R's call takes four
// times as long (a regime switch the stability test must flag). Only built when the fault is set.
class SlowAfter final : public Algorithm {
 public:
  SlowAfter(Algorithm& inner, std::size_t after) : inner_(inner), after_(after) {}
  std::string_view name() const override { return inner_.name(); }
  collectives::Collective collective() const override { return inner_.collective(); }
  std::optional<std::string> supports(const collectives::AlgorithmContext& c,
                                      const CollectiveArgs& a) const override {
    return inner_.supports(c, a);
  }
  void prepare(const collectives::AlgorithmContext& c, const CollectiveArgs& a) override {
    inner_.prepare(c, a);
  }
  Status run(const void* s, void* r, const CollectiveArgs& a, Deadline d) override {
    const auto t0 = std::chrono::steady_clock::now();
    Status st = inner_.run(s, r, a, d);
    if (calls_++ >= after_) {
      const auto took = std::chrono::steady_clock::now() - t0;
      const auto until =
          std::chrono::steady_clock::now() +
          std::max<std::chrono::steady_clock::duration>(3 * took, std::chrono::microseconds(50));
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    return st;
  }

 private:
  Algorithm& inner_;
  std::size_t after_;
  std::size_t calls_ = 0;
};

}  // namespace

std::string describe_point(const CollectiveArgs& a, const std::string& algo, std::size_t bytes,
                           int ranks) {
  std::ostringstream s;
  s << collectives::collective_name(a.collective) << ' ' << algo << ' ' << format_size(bytes) << ' '
    << collectives::dtype_name(a.dtype);
  if (collectives::traits(a.collective).reduces) s << ' ' << collectives::op_name(a.op);
  s << (a.in_place ? " in-place" : " out-of-place") << " on " << ranks << " ranks";
  return s.str();
}

Runner::Runner(const Options& o, collectives::Backend& backend, Watchdog& watchdog,
               const Faults& faults, int world_rank)
    : o_(o), backend_(backend), watchdog_(watchdog), faults_(faults), world_rank_(world_rank) {}

std::size_t Runner::buffer_bytes(std::size_t max_bytes) const {
  return max_bytes + (o_.rotate_buffers ? backend_.rotation_bytes() : 0);
}

// Collective set-up (creating, splitting, closing communicators) runs as a watchdog step of its
// own: a rank that never arrives is named as in a timed step. Not ended while an exception
// unwinds: the watchdog then reports this rank where it was, inside the set-up.
class SetupStep {
 public:
  SetupStep(Watchdog& w, const std::string& what) : w_(w) {
    w_.begin_setup(what);
    w_.progress().enter(0);  // arrived: the peers see this rank inside
  }
  ~SetupStep() {
    if (std::uncaught_exceptions() == uncaught_) w_.end_setup();
  }
  SetupStep(const SetupStep&) = delete;
  SetupStep& operator=(const SetupStep&) = delete;

 private:
  Watchdog& w_;
  int uncaught_ = std::uncaught_exceptions();
};

// Minor and major page faults of this process so far (every thread).
long process_page_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt + u.ru_majflt;
}

// Open MPI's single-copy path (CMA) has the receiving rank's kernel copy from the sender's pages.
// On this VM (a PVM guest: the host keeps shadow page tables) the first such copy of a page costs
// about 5.5 us per 4 KiB page and the next 0.65 us, and a page reaches its steady speed only after
// a few such copies (docs/methodology.md, "What the regime switch was"). Buffer rotation makes a
// point's calls reach pages no earlier call may have reached, so before every point `passes`
// untimed passes (--buffer-passes, default 3) send exactly the windows its calls will use, of both
// buffers, to the next rank of its node through the transport: no timed call is among the first
// to reach its pages, whatever ran before. One pass left the first dtype of a job 1.5x slow at
// 64-256 KiB (ring, 2 ranks); two or three made every position of a job the same.
// The pass runs between the ranks of one node only (a ring over them, in rank order): the cost is
// the shared-memory single-copy path's, and a pass over the network would only take the link's
// time (minutes on the rate-limited links of an emulated cluster). Not with --mpi-max-count below
// the pass's message size: that testing setting splits every message into pieces of a few bytes,
// and the pass would take minutes.
Status prime_windows(collectives::Transport& t, const std::vector<int>& node_of_rank,
                     const collectives::Buffer& a, const collectives::Buffer& b,
                     const std::vector<std::pair<std::size_t, std::size_t>>& windows,
                     double timeout_s, std::size_t mpi_max_count, int passes, Progress& progress) {
  constexpr std::size_t kChunk = std::size_t{4} << 20;
  const int p = t.size(), me = t.rank();
  if (p < 2 || t.memory() != collectives::MemorySpace::kHost || mpi_max_count < kChunk)
    return Status::Ok();
  auto node = [&](int r) {
    return static_cast<std::size_t>(r) < node_of_rank.size()
               ? node_of_rank[static_cast<std::size_t>(r)]
               : 0;
  };
  // The nearest rank of this node after (dir 1) or before (dir -1) this one, cyclically.
  auto neighbour = [&](int dir) {
    for (int i = 1; i < p; ++i)
      if (const int r = (me + dir * i + p) % p; node(r) == node(me)) return r;
    return me;
  };
  const int next = neighbour(1), prev = neighbour(-1);
  if (next == me) return Status::Ok();  // alone on its node
  constexpr int kTag = 0x7e00;
  std::int64_t exchange = 0;
  for (int pass = 0; pass < passes; ++pass) {
    for (auto [from, into] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      for (auto [begin, end] : windows) {
        for (std::size_t off = begin; off < end; off += kChunk) {
          const std::size_t len = std::min(kChunk, end - off);
          progress.enter(exchange++);  // arrived at this exchange (and the watchdog sees progress)
          t.irecv(into->bytes() + off, len, prev, kTag);
          t.isend(from->bytes() + off, len, next, kTag);
          if (Status st = t.wait_all(Deadline::In(timeout_s)); !st.ok()) return st;
        }
      }
    }
  }
  progress.leave();
  return Status::Ok();
}

// The byte ranges [begin, end) that calls at `offsets` of `bytes` each touch, merged, in order.
std::vector<std::pair<std::size_t, std::size_t>> touched_windows(
    std::span<const std::size_t> offsets, std::size_t bytes) {
  std::vector<std::size_t> sorted(offsets.begin(), offsets.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::pair<std::size_t, std::size_t>> out;
  if (bytes == 0) return out;
  for (std::size_t off : sorted) {
    if (!out.empty() && off <= out.back().second)
      out.back().second = std::max(out.back().second, off + bytes);
    else
      out.emplace_back(off, off + bytes);
  }
  return out;
}

void Runner::open(Group& g, MPI_Comm comm, MPI_Comm stats, std::size_t max_bytes,
                  std::vector<int> node_of_rank, int nodes, int ranks_per_node) const {
  g.comm = comm;
  g.stats = stats;
  g.world_rank = world_rank_;
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm, &g.rank);
  MPI_Comm_size(comm, &g.size);
  MPI_Comm_rank(stats, &g.stats_rank);
  MPI_Comm_size(stats, &g.stats_size);
  {
    if (faults_.find("stallinit", world_rank_)) {
      watchdog_.begin_setup(backend_.name() + " transport on " + std::to_string(g.size) +
                            " ranks (creating the communicator)");
      stall_forever();  // before arriving: the watchdog names this rank
    }
    SetupStep step(watchdog_, backend_.name() + " transport on " + std::to_string(g.size) +
                                  " ranks (creating the communicator)");
    g.transport = backend_.make_transport(comm);
  }
  // Allocation is local (no peer to wait for) and faulting in the rotation region can take
  // seconds on a loaded machine: outside the armed step.
  g.alloc_bytes = buffer_bytes(max_bytes);
  g.send = g.transport->allocate(g.alloc_bytes);
  g.recv = g.transport->allocate(g.alloc_bytes);
  const std::size_t n = static_cast<std::size_t>(std::max(o_.iters, o_.warmup));
  g.offsets.assign(static_cast<std::size_t>(o_.iters + o_.warmup), 0);
  g.local.assign(n, 0.0);
  g.pairs_in.assign(n, Group::TimeRank{0, 0});
  g.pairs_out.assign(n, Group::TimeRank{0, 0});
  g.node_of_rank = std::move(node_of_rank);
  g.nodes = nodes;
  g.ranks_per_node = ranks_per_node;
}

void Runner::close(Group& g) const {
  SetupStep step(watchdog_, backend_.name() + " transport on " + std::to_string(g.size) +
                                " ranks (closing the communicators)");
  g.send.reset();
  g.recv.reset();
  if (g.transport)
    if (Status closed = backend_.close_transport(*g.transport, o_.timeout_s); !closed.ok())
      watchdog_.fire_now(closed.message);
  g.transport.reset();
}

collectives::AlgorithmContext Runner::context(const Group& g) const {
  collectives::AlgorithmContext ctx;
  ctx.transport = g.transport.get();
  ctx.node_of_rank = g.node_of_rank;
  ctx.segment_bytes = o_.segment_bytes;
  ctx.inter_node_algorithm = o_.inter_node_algorithm;
  return ctx;
}

Runner::Prepared Runner::prepare(const Group& g, const std::string& name,
                                 const CollectiveArgs& max_args) const {
  // Preparing may split the transport (collective): armed, so a rank that does not arrive is
  // named.
  const std::string what = "prepare " + name + " on " + std::to_string(g.size) + " ranks";
  if (faults_.find("stallsplit", world_rank_)) {
    watchdog_.begin_setup(what);
    stall_forever();
  }
  SetupStep step(watchdog_, what);
  Prepared out = make(name, max_args.collective);
  if (out.refusal) return out;
  const auto ctx = context(g);
  out.refusal = out.algo->supports(ctx, max_args);
  if (!out.refusal) out.algo->prepare(ctx, max_args);
  return out;
}

Runner::Prepared Runner::make(const std::string& name, collectives::Collective c) const {
  Prepared out;
  const auto* info = collectives::find_algorithm(c, name);
  if (!info || !info->measurable()) {
    out.refusal = "unknown algorithm '" + name + "'";
    return out;
  }
  if (info->native()) {
    out.algo = backend_.make_native(info->id);
    if (!out.algo)
      out.refusal = name + " is the " + std::string(info->backend) +
                    " library's collective: it needs --backend " + std::string(info->backend);
  } else {
    out.algo = collectives::make_own_algorithm(info->id);
  }
  return out;
}

std::optional<std::string> Runner::refusal(const Group& g, const std::string& name,
                                           const CollectiveArgs& args) const {
  Prepared p = make(name, args.collective);
  if (p.refusal) return p.refusal;
  return p.algo->supports(context(g), args);
}

Record Runner::measure(Group& g, Algorithm& algo, const PointSpec& p) {
  Progress& progress = watchdog_.progress();
  const CollectiveArgs& args = p.args;
  const std::string what =
      describe_point(args, p.selected.empty() ? p.algorithm : p.selected, p.bytes, g.size);
  watchdog_.begin_step(what);

  // Fault hooks act here, before this rank arrives at the size.
  if (const auto* f = faults_.find("kill", world_rank_); f && p.bytes >= f->arg)
    std::raise(SIGKILL);
  if (const auto* f = faults_.find("stall", world_rank_); f && p.bytes >= f->arg) {
    // Still in the step's set-up (kIdle): a rank that never reaches the barrier is behind.
    stall_forever();
  }

  collectives::Transport& tr = *g.transport;
  std::byte* send = g.send.bytes();
  std::byte* recv = g.recv.bytes();
  // Timed data: the check pattern, so values stay small and finite for a while.
  backend_.fill_input(tr, args.in_place ? recv : send, args, g.rank, g.size, 0);

  std::optional<SlowAfter> slow;
  if (const auto* f = faults_.find("slow", world_rank_))
    slow.emplace(algo, static_cast<std::size_t>(o_.warmup) + f->arg);
  collectives::TimedLoop loop;
  loop.algorithm = slow ? static_cast<Algorithm*>(&*slow) : &algo;
  loop.args = args;
  loop.send = send;
  loop.recv = recv;
  loop.timeout_s = o_.timeout_s;
  loop.progress = &progress;
  loop.mode = o_.timing;
  if (o_.timing == collectives::TimingMode::kBarrier)
    loop.barrier = [&] {
      // A stream-ordered transport finishes the call first, so the barrier follows it.
      if (!tr.synchronize(Deadline::In(o_.timeout_s)).ok())
        watchdog_.fire_now(what + ": the call did not complete before the barrier");
      CB_MPI_CHECK(MPI_Barrier(g.comm));
    };

  auto fail_if = [&](const Status& s) {
    if (!s.ok()) watchdog_.fire_now(what + ": " + s.message);
  };

  compute_offsets(g.offsets, p.bytes, g.alloc_bytes, o_.rotate_buffers, g.cursor);
  // Untimed: the pages this point's calls will use, warmed for the kernel's copy (prime_windows).
  // Still before the step's barrier (kIdle): a peer that finished its pass and waits at the
  // barrier is ahead of a rank still in the pass.
  fail_if(prime_windows(tr, g.node_of_rank, g.send, g.recv, touched_windows(g.offsets, p.bytes),
                        o_.timeout_s, o_.mpi_max_count, o_.buffer_passes, progress));

  progress.set(Phase::kBarrier, 0);
  CB_MPI_CHECK(MPI_Barrier(g.stats));
  const auto warmup = static_cast<std::size_t>(o_.warmup);
  if (warmup > 0) {
    progress.set(Phase::kWarmup, 0);
    loop.offsets = std::span<const std::size_t>(g.offsets.data(), warmup);
    fail_if(backend_.time_iterations(loop, std::span<double>(g.local.data(), warmup)));
  }
  progress.set(Phase::kTimed, 0);
  loop.offsets =
      std::span<const std::size_t>(g.offsets.data() + warmup, static_cast<std::size_t>(o_.iters));
  std::span<double> samples(g.local.data(), static_cast<std::size_t>(o_.iters));
  const long faults_before = process_page_faults();
  fail_if(backend_.time_iterations(loop, samples));
  const double faults =
      static_cast<double>(process_page_faults() - faults_before) / std::max(o_.iters, 1);
  double faults_max = 0;

  // Per iteration: the max over ranks and which rank it was; per rank: the mean of its calls.
  // Arrived at the statistics' collectives: a rank that waits in them while a peer already left
  // for the next step (a non-root rank leaves a reduction early) is not behind.
  progress.set(Phase::kReduceStats, 0);
  progress.enter(0);
  for (int i = 0; i < o_.iters; ++i)
    g.pairs_in[static_cast<std::size_t>(i)] = {samples[static_cast<std::size_t>(i)], world_rank_};
  CB_MPI_CHECK(MPI_Reduce(g.pairs_in.data(), g.pairs_out.data(), o_.iters, MPI_DOUBLE_INT,
                          MPI_MAXLOC, 0, g.stats));
  double my_mean = 0;
  for (double x : samples) my_mean += x;
  my_mean /= std::max(o_.iters, 1);
  std::vector<double> rank_means(g.stats_rank == 0 ? static_cast<std::size_t>(g.stats_size) : 1);
  CB_MPI_CHECK(MPI_Gather(&my_mean, 1, MPI_DOUBLE, rank_means.data(), 1, MPI_DOUBLE, 0, g.stats));
  CB_MPI_CHECK(MPI_Reduce(&faults, &faults_max, 1, MPI_DOUBLE, MPI_MAX, 0, g.stats));
  // Barrier timing reports OSU's average: per iteration the mean over ranks.
  std::vector<double> iteration_sum;
  if (o_.timing == collectives::TimingMode::kBarrier) {
    iteration_sum.assign(samples.size(), 0.0);
    CB_MPI_CHECK(MPI_Reduce(samples.data(), iteration_sum.data(), o_.iters, MPI_DOUBLE, MPI_SUM, 0,
                            g.stats));
  }

  // The check: fresh data per repetition, output prefilled with a sentinel, every element.
  progress.leave();
  progress.set(Phase::kCheck, 0);
  std::uint64_t wrong = 0;
  collectives::CheckResult first;
  for (int rep = 0; rep < o_.check; ++rep) {
    const std::uint64_t seed = static_cast<std::uint64_t>(rep) + 1;
    // The sentinel first: in place it covers what the input does not (all-gather's blocks).
    backend_.fill_sentinel(tr, recv, args);
    backend_.fill_input(tr, args.in_place ? recv : send, args, g.rank, g.size, seed);
    progress.enter(rep);
    // Through the timed loop's launch path (a CUDA graph with --cuda-graph).
    fail_if(backend_.run_once(tr, algo, args, args.in_place ? recv : send, recv, o_.timeout_s));
    progress.leave();
    if (const auto* f = faults_.find("corrupt", world_rank_))
      backend_.corrupt(tr, recv, args, g.rank, g.size, f->arg);
    const auto res = backend_.check_output(tr, recv, args, g.rank, g.size, seed);
    if (res.wrong && first.wrong == 0) first = res;
    wrong += res.wrong;
  }
  std::uint64_t wrong_total = 0;
  progress.set(Phase::kCheckCount, 0);
  progress.enter(0);
  CB_MPI_CHECK(MPI_Reduce(&wrong, &wrong_total, 1, MPI_UINT64_T, MPI_SUM, 0, g.stats));
  double mine[5] = {first.wrong ? 1.0 : 0.0, static_cast<double>(first.first_wrong),
                    first.first_expected, first.first_actual, static_cast<double>(world_rank_)};
  std::vector<double> firsts(g.stats_rank == 0 ? 5 * static_cast<std::size_t>(g.stats_size) : 5);
  CB_MPI_CHECK(MPI_Gather(mine, 5, MPI_DOUBLE, firsts.data(), 5, MPI_DOUBLE, 0, g.stats));
  watchdog_.end_step();

  Record rec;
  rec.nccl_estimate_us = backend_.estimate_us(algo, args);
  if (g.stats_rank != 0) return rec;
  rec.collective = args.collective;
  rec.algorithm = p.algorithm;
  rec.selected_algorithm = p.selected;
  rec.backend = backend_.name();
  rec.dtype = args.dtype;
  rec.op = args.op;
  rec.in_place = args.in_place;
  rec.bytes = p.bytes;
  rec.count = args.count;
  rec.ranks = g.size;
  rec.nodes = g.nodes;
  rec.page_faults_per_call = faults_max;
  rec.ranks_per_node = g.ranks_per_node;
  rec.repeat = p.repeat;
  rec.iters = o_.iters;
  rec.warmup = o_.warmup;
  rec.step = p.step;
  rec.timing = std::string(collectives::timing_name(o_.timing));
  std::vector<int> slow_ranks;
  for (int i = 0; i < o_.iters; ++i)
    slow_ranks.push_back(g.pairs_out[static_cast<std::size_t>(i)].r);
  switch (o_.timing) {
    case collectives::TimingMode::kPerCall:
      rec.samples_are = "per-iteration max over ranks";
      for (int i = 0; i < o_.iters; ++i)
        rec.samples_us.push_back(g.pairs_out[static_cast<std::size_t>(i)].t * 1e6);
      break;
    case collectives::TimingMode::kBarrier:
      rec.samples_are = "per-iteration mean over ranks";
      for (double x : iteration_sum) rec.samples_us.push_back(x / g.stats_size * 1e6);
      break;
    case collectives::TimingMode::kLoop:
      rec.samples_are = "per-rank loop average";
      for (double x : rank_means) rec.samples_us.push_back(x * 1e6);
      break;
  }
  for (double x : rank_means) rec.rank_mean_us.push_back(x * 1e6);
  rec.rank_min_us = *std::min_element(rec.rank_mean_us.begin(), rec.rank_mean_us.end());
  rec.rank_max_us = *std::max_element(rec.rank_mean_us.begin(), rec.rank_mean_us.end());
  for (double x : rec.rank_mean_us) rec.rank_avg_us += x / static_cast<double>(g.stats_size);
  // The rank slowest in the most iterations (world ranks).
  std::sort(slow_ranks.begin(), slow_ranks.end());
  int best = -1, best_n = 0;
  for (std::size_t i = 0; i < slow_ranks.size();) {
    std::size_t j = i;
    while (j < slow_ranks.size() && slow_ranks[j] == slow_ranks[i]) ++j;
    if (static_cast<int>(j - i) > best_n) {
      best_n = static_cast<int>(j - i);
      best = slow_ranks[i];
    }
    i = j;
  }
  rec.slowest_rank = std::max(best, 0);
  rec.slowest_rank_share = o_.iters > 0 ? static_cast<double>(best_n) / o_.iters : 0.0;
  rec.time_us = compute_stats(rec.samples_us);
  StabilityOptions so;
  so.threshold = o_.instability_threshold;
  // One loop average per rank has no order in time: nothing to test.
  if (o_.timing != collectives::TimingMode::kLoop)
    rec.instability = find_instability(rec.samples_us, so);
  rec.busbw_factor = collectives::busbw_factor(args.collective, g.size);
  auto gbps = [&](double us) {
    return us > 0 ? static_cast<double>(p.bytes) / (us * 1e-6) / 1e9 : 0.0;
  };
  rec.algbw_gbps = gbps(rec.time_us.mean);
  rec.busbw_gbps = rec.algbw_gbps * rec.busbw_factor;
  rec.algbw_p50_gbps = gbps(rec.time_us.p50);
  rec.busbw_p50_gbps = rec.algbw_p50_gbps * rec.busbw_factor;
  rec.check_reps = o_.check;
  rec.wrong = o_.check > 0 ? static_cast<std::int64_t>(wrong_total) : -1;
  for (int r = 0; r < g.stats_size; ++r) {
    const double* f = &firsts[5 * static_cast<std::size_t>(r)];
    if (f[0] != 0) {
      rec.first_wrong = {{"rank", static_cast<int>(f[4])},
                         {"index", static_cast<std::int64_t>(f[1])},
                         {"expected", f[2]},
                         {"actual", f[3]}};
      break;
    }
  }
  return rec;
}

Record Runner::measure_point(Group& g, Algorithm& algo, const PointSpec& p) {
  if (!(o_.stable_budget_s > 0)) return measure(g, algo, p);
  const auto start = std::chrono::steady_clock::now();
  for (int attempt = 1;; ++attempt) {
    Record rec = measure(g, algo, p);
    // [0]: stop, [1]: stable, [2]: one attempt is longer than the budget.
    int decision[3] = {0, 0, 0};
    if (g.stats_rank == 0) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const bool stable = !rec.instability;
      // Another attempt is started only when one more of the same length still fits.
      const bool out_of_time = elapsed * (attempt + 1) / attempt > o_.stable_budget_s;
      decision[0] = stable || out_of_time;
      decision[1] = stable;
      decision[2] = attempt == 1 && rec.time_us.p50 * 1e-6 > o_.stable_budget_s;
    }
    // Armed: a rank stopped between two attempts is named, not waited for.
    watchdog_.begin_call_step("the decision after attempt " + std::to_string(attempt) + " of " +
                              describe_point(p.args, p.algorithm, p.bytes, g.size));
    CB_MPI_CHECK(MPI_Bcast(decision, 3, MPI_INT, 0, g.stats));
    watchdog_.end_step();
    if (decision[2])
      throw UsageError("--stable " + fmt_seconds(o_.stable_budget_s) + ": one iteration of " +
                       describe_point(p.args, p.algorithm, p.bytes, g.size) + " takes " +
                       fmt_seconds(rec.time_us.p50 * 1e-6) +
                       ", longer than the whole budget of a point; give a larger budget");
    if (decision[0]) {
      rec.attempts = attempt;
      rec.stable_outcome = decision[1] ? "stable" : "budget exhausted";
      return rec;
    }
  }
}

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

}  // namespace collbench::bench
