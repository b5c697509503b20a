// Reduction kernels (collectives/reduce.h) per kernel level, dtype and op, in the in-place form
// the algorithms use (inout = inout op in), beside a plain memcpy of the same number of bytes.
// Throughput is the vector size over the CPU time (bytes_per_second): the kernel reads two
// vectors and writes one, memcpy reads one and writes one (plus the write-allocate read), so at
// sizes far beyond the caches both move about three vectors of memory traffic.
//
// Every reduce row carries vs_memcpy, its rate over memcpy's at the same size in the same run
// (the median's over the median when repeating), and a table of those ratios closes the run.
// --isa=LIST picks the kernel levels (portable, avx2, avx512, avx512bf16, or all; default: the
// one COLLBENCH_REDUCE_ISA or the CPU selects).
//
//   build/bench/micro/micro_reduce --isa=all --benchmark_filter='memcpy|bf16/sum'
//       --benchmark_repetitions=5 --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "collectives/dtype.h"
#include "collectives/error.h"
#include "collectives/reduce.h"
#include "collectives/spec.h"
#include "collectives/transport.h"

namespace collbench::collectives {
namespace {

const std::size_t kSizes[] = {4 << 10, 64 << 10, 256 << 10, 1 << 20, 16 << 20, 64 << 20};

void fill_ones(void* buf, std::size_t count, DType t) {
  for (std::size_t i = 0; i < count; ++i) store_from_double(buf, i, t, 1.0);
}

void bm_reduce(benchmark::State& state, ReduceIsa isa, DType t, ReduceOp op, bool inplace) {
  set_reduce_isa(isa);
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const std::size_t count = bytes / dtype_size(t);
  Buffer a = allocate_host(bytes), b = allocate_host(bytes), out = allocate_host(bytes);
  fill_ones(a.data(), count, t);
  fill_ones(b.data(), count, t);
  std::memset(out.data(), 0, bytes);
  for (auto _ : state) {
    if (inplace)
      reduce_inplace(a.data(), b.data(), count, t, op);
    else
      reduce_into(out.data(), a.data(), b.data(), count, t, op);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(count * dtype_size(t)));
}

void bm_memcpy(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  Buffer a = allocate_host(bytes), b = allocate_host(bytes);
  std::memset(a.data(), 1, bytes);
  std::memset(b.data(), 0, bytes);
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), bytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(bytes));
}

// "reduce/avx2/bf16/sum/65536" -> ("reduce/avx2/bf16/sum", "65536"); "memcpy/4096" likewise.
std::pair<std::string, std::string> split_size(const std::string& name) {
  const auto slash = name.rfind('/');
  if (slash == std::string::npos) return {name, ""};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

// Adds vs_memcpy to every reduce row and prints the ratios as a table at the end. memcpy is
// registered first, so its rows are known before any reduce row arrives.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> out = runs;
    for (Run& r : out) {
      const auto rate = r.counters.find("bytes_per_second");
      if (rate == r.counters.end() || r.error_occurred) continue;
      // Repeated runs compare medians; a single run compares with memcpy's single run.
      const bool agg = r.run_type == Run::RT_Aggregate;
      if (agg ? r.aggregate_name != "median" : r.repetitions > 1) continue;
      repeated_ = agg;
      const auto [family, size] = split_size(r.run_name.str());
      if (family == "memcpy") {
        memcpy_[size] = rate->second.value;
        continue;
      }
      const auto m = memcpy_.find(size);
      if (m == memcpy_.end() || !(m->second > 0)) continue;
      const double ratio = rate->second.value / m->second;
      r.counters["vs_memcpy"] = benchmark::Counter(ratio);
      ratios_[family][std::stoul(size)] = ratio;
    }
    ConsoleReporter::ReportRuns(out);
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    if (ratios_.empty()) return;
    std::map<std::size_t, bool> sizes;
    for (const auto& [family, row] : ratios_)
      for (const auto& [size, r] : row) sizes[size] = true;
    std::printf("\nRate over memcpy of the same size (%s):\n%-32s",
                repeated_ ? "medians" : "one run", "kernel");
    for (const auto& [size, unused] : sizes) std::printf(" %8s", human(size).c_str());
    std::printf("\n");
    for (const auto& [family, row] : ratios_) {
      std::printf("%-32s", family.c_str());
      for (const auto& [size, unused] : sizes) {
        const auto it = row.find(size);
        if (it == row.end())
          std::printf(" %8s", "-");
        else
          std::printf(" %7.0f%%", 100 * it->second);
      }
      std::printf("\n");
    }
  }

 private:
  static std::string human(std::size_t b) {
    if (b >= (1u << 20)) return std::to_string(b >> 20) + "M";
    if (b >= (1u << 10)) return std::to_string(b >> 10) + "K";
    return std::to_string(b);
  }

  bool repeated_ = false;
  std::map<std::string, double> memcpy_;
  std::map<std::string, std::map<std::size_t, double>> ratios_;
};

// Takes --isa=LIST out of argv (before the benchmark library parses the rest).
std::vector<ReduceIsa> take_isa_flag(int* argc, char** argv) {
  std::vector<ReduceIsa> isas;
  int w = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--isa=", 0) != 0) {
      argv[w++] = argv[i];
      continue;
    }
    std::string list = a.substr(6);
    std::size_t pos = 0;
    while (pos <= list.size()) {
      const std::size_t comma = list.find(',', pos);
      const std::string name = list.substr(pos, comma == std::string::npos ? comma : comma - pos);
      pos = comma == std::string::npos ? list.size() + 1 : comma + 1;
      if (name == "all") {
        const auto all = available_reduce_isas();
        isas.insert(isas.end(), all.begin(), all.end());
      } else if (auto isa = parse_reduce_isa(name)) {
        isas.push_back(*isa);
      } else {
        throw Error("--isa: unknown kernel level '" + name +
                    "' (portable, avx2, avx512, avx512bf16, all)");
      }
    }
  }
  *argc = w;
  if (isas.empty()) isas.push_back(active_reduce_isa());
  return isas;
}

void register_all(const std::vector<ReduceIsa>& isas) {
  auto sizes = [](benchmark::internal::Benchmark* b) {
    for (std::size_t s : kSizes) b->Arg(static_cast<std::int64_t>(s));
  };
  benchmark::RegisterBenchmark("memcpy", bm_memcpy)->Apply(sizes);
  for (ReduceIsa isa : isas) {
    set_reduce_isa(isa);  // refuses a level this CPU lacks before anything runs
    const std::string level(reduce_isa_name(isa));
    for (DType t : all_dtypes())
      for (ReduceOp op : all_ops()) {
        const std::string name =
            "reduce/" + level + "/" + std::string(dtype_name(t)) + "/" + std::string(op_name(op));
        benchmark::RegisterBenchmark(name.c_str(), bm_reduce, isa, t, op, true)->Apply(sizes);
      }
    benchmark::RegisterBenchmark(("reduce_into/" + level + "/f32/sum").c_str(), bm_reduce, isa,
                                 DType::kF32, ReduceOp::kSum, false)
        ->Apply(sizes);
  }
}

}  // namespace
}  // namespace collbench::collectives

int main(int argc, char** argv) {
  using namespace collbench::collectives;
  std::vector<ReduceIsa> isas;
  try {
    isas = take_isa_flag(&argc, argv);
    register_all(isas);
  } catch (const collbench::Error& e) {
    std::fprintf(stderr, "micro_reduce: %s\n", e.what());
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("kernel levels measured:");
  for (ReduceIsa isa : isas) std::printf(" %s", std::string(reduce_isa_name(isa)).c_str());
  std::printf(" (this CPU runs:");
  for (ReduceIsa isa : available_reduce_isas())
    std::printf(" %s", std::string(reduce_isa_name(isa)).c_str());
  std::printf(")\n");
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
