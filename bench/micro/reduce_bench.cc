// Reduction kernels (collectives/reduce.h) per dtype and op, in the in-place form the algorithms
// use (inout = inout op in), beside a plain memcpy of the same number of bytes. Throughput is the
// vector size over the time (the bytes_per_second column): the kernel reads two vectors and
// writes one, memcpy reads one and writes one (plus the write-allocate read), so at sizes far
// beyond the caches both move about three vectors of memory traffic.
//
//   build-algo/bench/micro/micro_reduce --benchmark_filter='f32/sum|memcpy'
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "collectives/dtype.h"
#include "collectives/reduce.h"
#include "collectives/spec.h"
#include "collectives/transport.h"

namespace collbench::collectives {
namespace {

const std::size_t kSizes[] = {4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20};

void fill_ones(void* buf, std::size_t count, DType t) {
  for (std::size_t i = 0; i < count; ++i) store_from_double(buf, i, t, 1.0);
}

void bm_reduce(benchmark::State& state, DType t, ReduceOp op, bool inplace) {
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

void register_all() {
  auto sizes = [](benchmark::internal::Benchmark* b) {
    for (std::size_t s : kSizes) b->Arg(static_cast<std::int64_t>(s));
  };
  benchmark::RegisterBenchmark("memcpy", bm_memcpy)->Apply(sizes);
  for (DType t : all_dtypes())
    for (ReduceOp op : all_ops()) {
      const std::string name =
          "reduce/" + std::string(dtype_name(t)) + "/" + std::string(op_name(op));
      benchmark::RegisterBenchmark(name.c_str(), bm_reduce, t, op, true)->Apply(sizes);
    }
  benchmark::RegisterBenchmark("reduce_into/f32/sum", bm_reduce, DType::kF32, ReduceOp::kSum, false)
      ->Apply(sizes);
}

}  // namespace
}  // namespace collbench::collectives

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  collbench::collectives::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
