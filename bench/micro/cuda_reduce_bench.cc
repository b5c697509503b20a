// The device reduction kernel of the NCCL transport (collectives/nccl/cuda_kernels.h) beside a
// device-to-device cudaMemcpyAsync, timed with CUDA events (manual time). Built only with NCCL.
//
// Counters: vec_GBps = vector bytes / time (decimal GB/s); mem_GBps = memory traffic / time,
// counting 3 vectors for the reduction (reads inout and in, writes inout) and 2 for the copy
// (reads src, writes dst). The kernel is memory-bound, so its mem_GBps should reach at least 80%
// of the copy's at sizes far beyond the L2 cache (scripts/gpu-check.sh checks this).
//
//   build-nccl/bench/micro/micro_cuda_reduce --benchmark_filter='f32|copy'
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "collectives/dtype.h"
#include "collectives/nccl/cuda_kernels.h"
#include "collectives/nccl/nccl_api.h"
#include "collectives/nccl/nccl_backend.h"

namespace collbench::collectives {
namespace {

constexpr std::int64_t kMinBytes = 1 << 20, kMaxBytes = std::int64_t{1} << 30;

// Two device buffers of the largest size, one stream and an event pair, made once.
struct Device {
  void* a = nullptr;
  void* b = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  Device() {
    CB_CUDA_CHECK(cudaMalloc(&a, kMaxBytes + 256));
    CB_CUDA_CHECK(cudaMalloc(&b, kMaxBytes + 256));
    CB_CUDA_CHECK(cudaMemset(a, 0, kMaxBytes + 256));
    CB_CUDA_CHECK(cudaMemset(b, 0, kMaxBytes + 256));
    CB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CB_CUDA_CHECK(cudaEventCreate(&start));
    CB_CUDA_CHECK(cudaEventCreate(&stop));
  }
};

Device& device() {
  static Device d;
  return d;
}

template <typename Enqueue>
void time_on_device(benchmark::State& state, Enqueue&& enqueue) {
  Device& d = device();
  for (auto _ : state) {
    CB_CUDA_CHECK(cudaEventRecord(d.start, d.stream));
    CB_CUDA_CHECK(enqueue(d));
    CB_CUDA_CHECK(cudaEventRecord(d.stop, d.stream));
    CB_CUDA_CHECK(cudaEventSynchronize(d.stop));
    float ms = 0;
    CB_CUDA_CHECK(cudaEventElapsedTime(&ms, d.start, d.stop));
    state.SetIterationTime(static_cast<double>(ms) * 1e-3);
  }
}

void set_counters(benchmark::State& state, std::int64_t bytes, int vectors_moved) {
  const double n = static_cast<double>(state.iterations()) * static_cast<double>(bytes);
  state.counters["vec_GBps"] = benchmark::Counter(n / 1e9, benchmark::Counter::kIsRate);
  state.counters["mem_GBps"] =
      benchmark::Counter(n * vectors_moved / 1e9, benchmark::Counter::kIsRate);
}

void bm_copy(benchmark::State& state) {
  const std::int64_t bytes = state.range(0);
  time_on_device(state, [&](Device& d) {
    return cudaMemcpyAsync(d.a, d.b, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice,
                           d.stream);
  });
  set_counters(state, bytes, 2);
}

// offset_bytes > 0 shifts `in` so that the two pointers differ modulo 16 (the scalar path).
void bm_reduce(benchmark::State& state, DType t, ReduceOp op, std::size_t offset_bytes) {
  const std::int64_t bytes = state.range(0);
  const std::size_t count = static_cast<std::size_t>(bytes) / dtype_size(t);
  time_on_device(state, [&](Device& d) {
    return cuda::reduce(d.a, static_cast<char*>(d.b) + offset_bytes, count, t, op, d.stream);
  });
  set_counters(state, bytes, 3);
}

void register_all() {
  auto sizes = [](benchmark::internal::Benchmark* b) {
    b->RangeMultiplier(16)
        ->Range(kMinBytes, kMaxBytes)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  };
  sizes(benchmark::RegisterBenchmark("copy", bm_copy));
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16, DType::kI8, DType::kF64}) {
    const std::string name = "reduce/" + std::string(dtype_name(t)) + "/sum";
    sizes(benchmark::RegisterBenchmark(name.c_str(), bm_reduce, t, ReduceOp::kSum, 0));
  }
  sizes(benchmark::RegisterBenchmark("reduce/f32/max", bm_reduce, DType::kF32, ReduceOp::kMax, 0));
  sizes(benchmark::RegisterBenchmark("reduce_misaligned/f32/sum", bm_reduce, DType::kF32,
                                     ReduceOp::kSum, 4));
}

}  // namespace
}  // namespace collbench::collectives

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (auto why = collbench::collectives::gpu_visibility_problem()) {
    std::fprintf(stderr, "micro_cuda_reduce: no GPU visible: %s\n", why->c_str());
    return 2;
  }
  collbench::collectives::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
