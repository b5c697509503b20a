// The harness's own cost per timed iteration, around a collective that does nothing: what the
// timed loop adds to every sample (clock reads, progress marks, the virtual call, offsets).
#include <benchmark/benchmark.h>

#include <vector>

#include "collectives/backend.h"

namespace {

using namespace collbench;

class NoOp final : public collectives::Algorithm {
 public:
  std::string_view name() const override { return "noop"; }
  collectives::Collective collective() const override {
    return collectives::Collective::kAllReduce;
  }
  std::optional<std::string> supports(const collectives::AlgorithmContext&,
                                      const collectives::CollectiveArgs&) const override {
    return std::nullopt;
  }
  void prepare(const collectives::AlgorithmContext&, const collectives::CollectiveArgs&) override {}
  Status run(const void* s, void* r, const collectives::CollectiveArgs&, Deadline) override {
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(r);
    return Status::Ok();
  }
};

// Per iteration of the harness loop (state.range(0) iterations per batch) in each --timing mode
// (state.range(1): per-call, barrier with an empty barrier -- the harness's part of it -- and
// loop).
void BM_TimedLoopPerIteration(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto mode = static_cast<collectives::TimingMode>(state.range(1));
  state.SetLabel(std::string(collectives::timing_name(mode)));
  NoOp algo;
  collectives::Progress progress;
  std::vector<std::byte> buf(1 << 16);
  std::vector<std::size_t> offsets(n, 0);
  std::vector<double> samples(n);
  collectives::TimedLoop loop;
  loop.algorithm = &algo;
  loop.args.count = 1;
  loop.send = buf.data();
  loop.recv = buf.data();
  loop.offsets = offsets;
  loop.timeout_s = 300;
  loop.progress = &progress;
  loop.mode = mode;
  int barriers = 0;
  if (mode == collectives::TimingMode::kBarrier) loop.barrier = [&barriers] { ++barriers; };
  for (auto _ : state) {
    auto st = collectives::time_iterations_host(loop, samples);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
  state.counters["ns_per_iteration"] =
      benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TimedLoopPerIteration)
    ->ArgsProduct({{1000, 100000},
                   {static_cast<int>(collectives::TimingMode::kPerCall),
                    static_cast<int>(collectives::TimingMode::kBarrier),
                    static_cast<int>(collectives::TimingMode::kLoop)}});

// The two clock reads alone, for comparison: the floor of any host-timed loop.
void BM_ClockPair(benchmark::State& state) {
  for (auto _ : state) {
    auto a = std::chrono::steady_clock::now();
    auto b = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_ClockPair);

}  // namespace

BENCHMARK_MAIN();
