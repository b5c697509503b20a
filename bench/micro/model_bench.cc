// The full projection of the cost model: every modelled algorithm x 30 sizes (8 B .. 4 GiB) x
// GPU counts 8 .. 262,144 (powers of two) x the 5 built-in hardware profiles. The target
// is under 2 seconds on one core; the closed forms make it a few milliseconds.
#include <benchmark/benchmark.h>

#include <vector>

#include "topology/model/cost_model.h"
#include "topology/model/profiles.h"
#include "topology/model/site.h"

namespace {

using namespace collbench::model;

struct Projection {
  std::vector<ModelNet> nets;
  std::vector<double> sizes;
  std::vector<std::int64_t> gpus;
  std::vector<double> out;
};

Projection make_projection() {
  Projection p;
  for (const auto& prof : builtin_profiles()) p.nets.push_back(make_net(site_fabric(prof, 262144)));
  for (int s = 3; s < 33; ++s) p.sizes.push_back(static_cast<double>(std::int64_t{1} << s));
  for (std::int64_t g = 8; g <= 262144; g *= 2) p.gpus.push_back(g);
  p.out.resize(p.nets.size() * model_algorithms().size() * p.sizes.size() * p.gpus.size());
  return p;
}

void BM_FullProjection(benchmark::State& state) {
  Projection p = make_projection();
  for (auto _ : state) {
    std::size_t i = 0;
    for (const ModelNet& net : p.nets)
      for (const auto& a : model_algorithms())
        for (double s : p.sizes)
          for (std::int64_t g : p.gpus) p.out[i++] = predict_time(net, a.algo, s, g);
    benchmark::DoNotOptimize(p.out.data());
    benchmark::ClobberMemory();
  }
  state.counters["points"] = static_cast<double>(p.out.size());
  state.counters["points_per_s"] = benchmark::Counter(
      static_cast<double>(p.out.size()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FullProjection)->Unit(benchmark::kMillisecond);

// One point of the costliest algorithm at the largest count (nested hierarchical views).
void BM_OnePointHierarchical3(benchmark::State& state) {
  const ModelNet net = make_net(site_fabric(find_profile("h100"), 262144));
  for (auto _ : state)
    benchmark::DoNotOptimize(
        predict_time(net, ModelAlgo::kHierarchical3Allreduce, 1 << 30, 262144));
}
BENCHMARK(BM_OnePointHierarchical3);

}  // namespace

BENCHMARK_MAIN();
