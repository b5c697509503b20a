// Device kernels of the NCCL backend (see cuda_kernels.h).
//
// Reduction: memory-bound, so the kernel moves 16-byte packs (uint4) when both pointers have the
// same alignment modulo 16 (always true for the buffers the algorithms pass, which sit at whole
// element offsets of 256-byte aligned allocations, except when the two offsets differ modulo
// 16 bytes): a few scalar elements before the first boundary and after the last whole pack, then
// a grid-stride loop that issues kUnroll independent pack loads per thread before using any of
// them, so that enough bytes are in flight to reach the copy bandwidth. Otherwise a plain
// grid-stride scalar loop. The grid is capped at a full-occupancy wave (8 blocks of 256 threads
// per SM); larger vectors loop.
//
// Fill and check evaluate check_pattern.h per element (64-bit integer arithmetic); the check
// counts mismatches per thread and adds them with one atomic per thread that found any.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <type_traits>

#include "collectives/check_pattern.h"
#include "collectives/fp8.h"
#include "collectives/nccl/cuda_kernels.h"

namespace collbench::collectives::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;
constexpr int kBlocksPerSm = 8;  // 8 x 256 = 2048 threads, one SM's maximum
constexpr int kMaxDevices = 64;

// Storage and arithmetic of one element type. Integers and f32/f64 compute in their own type;
// f16 and bf16 in float.
template <typename S>
struct Plain {
  using Storage = S;
  using Compute = S;
  static __device__ __forceinline__ Compute load(S v) { return v; }
  static __device__ __forceinline__ S store(Compute c) { return c; }
  static __device__ __forceinline__ double to_double(S v) { return static_cast<double>(v); }
  static __device__ __forceinline__ S from_double(double v) { return static_cast<S>(v); }
};

struct Half16 {
  using Storage = unsigned short;
  using Compute = float;
  static __device__ __forceinline__ float load(unsigned short v) {
    return __half2float(__ushort_as_half(v));
  }
  static __device__ __forceinline__ unsigned short store(float c) {
    return __half_as_ushort(__float2half_rn(c));
  }
  static __device__ __forceinline__ double to_double(unsigned short v) { return load(v); }
  static __device__ __forceinline__ unsigned short from_double(double v) {
    return store(static_cast<float>(v));
  }
};

struct BFloat16 {
  using Storage = unsigned short;
  using Compute = float;
  static __device__ __forceinline__ float load(unsigned short v) {
    return __uint_as_float(static_cast<unsigned>(v) << 16);
  }
  // Round to nearest even, NaN stays NaN: the same bits as float_to_bf16 on the host.
  static __device__ __forceinline__ unsigned short store(float c) {
    unsigned u = __float_as_uint(c);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return 0x7fc0;
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<unsigned short>(u >> 16);
  }
  static __device__ __forceinline__ double to_double(unsigned short v) { return load(v); }
  static __device__ __forceinline__ unsigned short from_double(double v) {
    return store(static_cast<float>(v));
  }
};

// fp8: the same branch-free conversions as the host (fp8.h: round to nearest even, saturate to
// the largest finite value, NaN -> 0x7f), so device and host results agree bit for bit. NCCL's
// own fp8 reductions compute through half precision; for two fp8 operands that gives the same
// result (docs/algorithms.md, "fp8").
template <fp8::Format F>
struct Fp8 {
  using Storage = unsigned char;
  using Compute = float;
  static __device__ __forceinline__ float load(unsigned char v) { return fp8::to_float<F>(v); }
  static __device__ __forceinline__ unsigned char store(float c) { return fp8::from_float<F>(c); }
  static __device__ __forceinline__ double to_double(unsigned char v) { return load(v); }
  static __device__ __forceinline__ unsigned char from_double(double v) {
    return store(static_cast<float>(v));
  }
};

// The host kernels' semantics (reduce_kernels.inc): integer sum/prod wrap through unsigned
// arithmetic; min/max pick by `<` in the same order.
template <typename C, ReduceOp Op>
__device__ __forceinline__ C apply(C a, C b) {
  if constexpr (Op == ReduceOp::kSum || Op == ReduceOp::kProd) {
    if constexpr (std::is_integral_v<C>) {
      using U = std::make_unsigned_t<decltype(a + b)>;
      const U x = static_cast<U>(a), y = static_cast<U>(b);
      return static_cast<C>(Op == ReduceOp::kSum ? static_cast<U>(x + y) : static_cast<U>(x * y));
    } else {
      return Op == ReduceOp::kSum ? a + b : a * b;
    }
  } else if constexpr (Op == ReduceOp::kMin) {
    return b < a ? b : a;
  } else {
    return a < b ? b : a;
  }
}

template <typename E, ReduceOp Op>
__device__ __forceinline__ typename E::Storage apply_elem(typename E::Storage a,
                                                          typename E::Storage b) {
  return E::store(apply<typename E::Compute, Op>(E::load(a), E::load(b)));
}

template <typename E>
union Pack {
  static constexpr int kElems = 16 / sizeof(typename E::Storage);
  uint4 v;
  typename E::Storage e[kElems];
};

template <typename E, ReduceOp Op>
__global__ void __launch_bounds__(kThreads)
    reduce_packed_kernel(typename E::Storage* __restrict__ io,
                         const typename E::Storage* __restrict__ in, std::size_t n,
                         std::size_t head, std::size_t packs) {
  constexpr int kV = Pack<E>::kElems;
  const std::size_t tid = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  // The scalar elements: [0, head) and [tail_start, n), at most 2 (kV - 1) of them.
  const std::size_t tail_start = head + packs * kV;
  if (tid < head + (n - tail_start)) {
    const std::size_t i = tid < head ? tid : tail_start + (tid - head);
    io[i] = apply_elem<E, Op>(io[i], in[i]);
  }
  uint4* vio = reinterpret_cast<uint4*>(io + head);
  const uint4* vin = reinterpret_cast<const uint4*>(in + head);
  for (std::size_t base = tid; base < packs; base += stride * kUnroll) {
    Pack<E> a[kUnroll], b[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::size_t k = base + u * stride;
      if (k < packs) {
        a[u].v = vio[k];
        b[u].v = vin[k];
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::size_t k = base + u * stride;
      if (k < packs) {
#pragma unroll
        for (int x = 0; x < kV; ++x) a[u].e[x] = apply_elem<E, Op>(a[u].e[x], b[u].e[x]);
        vio[k] = a[u].v;
      }
    }
  }
}

template <typename E, ReduceOp Op>
__global__ void __launch_bounds__(kThreads)
    reduce_scalar_kernel(typename E::Storage* __restrict__ io,
                         const typename E::Storage* __restrict__ in, std::size_t n) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride)
    io[i] = apply_elem<E, Op>(io[i], in[i]);
}

// One full-occupancy wave of blocks for the current device (cached per device).
unsigned max_blocks() {
  static std::atomic<int> cache[kMaxDevices];
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kMaxDevices) return 1024;
  int v = cache[dev].load(std::memory_order_relaxed);
  if (v == 0) {
    int sms = 0;
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || sms < 1)
      sms = 128;
    v = sms * kBlocksPerSm;
    cache[dev].store(v, std::memory_order_relaxed);
  }
  return static_cast<unsigned>(v);
}

unsigned blocks_for(std::size_t threads_needed) {
  const std::size_t b = (threads_needed + kThreads - 1) / kThreads;
  const std::size_t cap = max_blocks();
  return static_cast<unsigned>(b < 1 ? 1 : (b > cap ? cap : b));
}

template <typename E, ReduceOp Op>
cudaError_t launch_reduce(void* io, const void* in, std::size_t n, cudaStream_t s) {
  using S = typename E::Storage;
  constexpr std::size_t kV = Pack<E>::kElems;
  auto* d = static_cast<S*>(io);
  const auto* x = static_cast<const S*>(in);
  const auto a = reinterpret_cast<std::uintptr_t>(io), b = reinterpret_cast<std::uintptr_t>(in);
  if (a % 16 == b % 16) {
    std::size_t head = ((16 - a % 16) % 16) / sizeof(S);
    if (head > n) head = n;
    const std::size_t packs = (n - head) / kV;
    const std::size_t scalars = n - packs * kV;
    const std::size_t threads = packs / kUnroll > scalars ? packs / kUnroll : scalars;
    reduce_packed_kernel<E, Op><<<blocks_for(threads), kThreads, 0, s>>>(d, x, n, head, packs);
  } else {
    reduce_scalar_kernel<E, Op><<<blocks_for(n), kThreads, 0, s>>>(d, x, n);
  }
  return cudaGetLastError();
}

// Calls f(Codec{}) with the codec of t.
template <typename F>
cudaError_t with_codec(DType t, F&& f) {
  switch (t) {
    case DType::kI8:
      return f(Plain<signed char>{});
    case DType::kU8:
      return f(Plain<unsigned char>{});
    case DType::kI32:
      return f(Plain<int>{});
    case DType::kU32:
      return f(Plain<unsigned>{});
    case DType::kI64:
      return f(Plain<long long>{});
    case DType::kU64:
      return f(Plain<unsigned long long>{});
    case DType::kF16:
      return f(Half16{});
    case DType::kBF16:
      return f(BFloat16{});
    case DType::kF32:
      return f(Plain<float>{});
    case DType::kF64:
      return f(Plain<double>{});
    case DType::kF8E4M3:
      return f(Fp8<fp8::Format::kE4M3>{});
    case DType::kF8E5M2:
      return f(Fp8<fp8::Format::kE5M2>{});
  }
  return cudaErrorInvalidValue;
}

// What fill and check need to evaluate the pattern of one span of a buffer.
enum class PatternKind { kReduce, kBlocks, kGather };
struct PatternParams {
  PatternKind kind;
  pattern::AllReducePlan plan;  // all-reduce and reduce-scatter
  std::uint64_t rank, ranks, seed;
  std::uint64_t block, modulus;  // collectives with blocks
  std::uint64_t first;           // reduce-scatter output: index of its first element
};

PatternParams make_params(const CollectiveArgs& a, int rank, int ranks, std::uint64_t seed,
                          bool output) {
  PatternParams p{};
  const double limit = dtype_exact_limit(a.dtype);
  switch (a.collective) {
    case Collective::kAllReduce:
    case Collective::kReduceScatter:
      p.kind = PatternKind::kReduce;
      break;
    case Collective::kAllToAll:
      p.kind = PatternKind::kBlocks;
      break;
    case Collective::kAllGather:
      p.kind = PatternKind::kGather;
      break;
  }
  p.plan = pattern::make_allreduce_plan(static_cast<int>(a.op), static_cast<std::uint64_t>(ranks),
                                        limit);
  p.rank = static_cast<std::uint64_t>(rank);
  p.ranks = static_cast<std::uint64_t>(ranks > 0 ? ranks : 1);
  p.seed = seed;
  p.block = block_count(a.collective, a.count, ranks);
  if (p.block == 0) p.block = 1;
  p.modulus = pattern::alltoall_modulus(limit);
  p.first = output && a.collective == Collective::kReduceScatter ? p.rank * p.block : 0;
  return p;
}

// Value of element i of this rank's input span.
__device__ __forceinline__ double input_value(const PatternParams& p, std::uint64_t i) {
  switch (p.kind) {
    case PatternKind::kReduce:
      return pattern::allreduce_input(p.plan, i, p.rank, p.seed);
    case PatternKind::kBlocks:
      return pattern::alltoall_value(p.rank, i / p.block, p.ranks, i % p.block, p.seed, p.modulus);
    case PatternKind::kGather:
      return pattern::allgather_value(p.rank, p.ranks, i, p.seed, p.modulus);
  }
  return 0;
}

// Expected value of element i of this rank's output span.
__device__ __forceinline__ double expected_value(const PatternParams& p, std::uint64_t i) {
  switch (p.kind) {
    case PatternKind::kReduce:
      return pattern::allreduce_expected(p.plan, p.first + i, p.seed);
    case PatternKind::kBlocks:
      return pattern::alltoall_value(i / p.block, p.rank, p.ranks, i % p.block, p.seed, p.modulus);
    case PatternKind::kGather:
      return pattern::allgather_value(i / p.block, p.ranks, i % p.block, p.seed, p.modulus);
  }
  return 0;
}

template <typename E>
__global__ void fill_kernel(typename E::Storage* buf, std::size_t n, PatternParams p) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride)
    buf[i] = E::from_double(input_value(p, i));
}

template <typename E>
__global__ void nan_kernel(typename E::Storage* buf, std::size_t n) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride)
    buf[i] = E::from_double(__longlong_as_double(0x7ff8000000000000ll));
}

__global__ void check_init_kernel(DeviceCheck* r) {
  r->wrong = 0;
  r->first_wrong = ~0ull;
  r->first_expected = 0;
  r->first_actual = 0;
}

template <typename E>
__global__ void check_kernel(const typename E::Storage* buf, std::size_t n, PatternParams p,
                             DeviceCheck* r) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  unsigned long long wrong = 0, first = ~0ull;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    // NaN never compares equal, so an untouched sentinel counts as wrong (as on the host).
    if (!(E::to_double(buf[i]) == expected_value(p, i))) {
      if (wrong == 0) first = i;  // a thread's indices only grow: its first is its smallest
      ++wrong;
    }
  }
  if (wrong) {
    atomicAdd(&r->wrong, wrong);
    atomicMin(&r->first_wrong, first);
  }
}

template <typename E>
__global__ void check_finish_kernel(const typename E::Storage* buf, PatternParams p,
                                    DeviceCheck* r) {
  if (r->wrong == 0) return;
  const std::uint64_t i = r->first_wrong;
  r->first_expected = expected_value(p, i);
  r->first_actual = E::to_double(buf[i]);
}

template <typename E>
__global__ void add_kernel(typename E::Storage* buf, std::size_t i, double delta) {
  buf[i] = E::from_double(E::to_double(buf[i]) + delta);
}

template <ReduceOp Op>
cudaError_t reduce_op(void* io, const void* in, std::size_t n, DType t, cudaStream_t s) {
  return with_codec(t,
                    [&](auto codec) { return launch_reduce<decltype(codec), Op>(io, in, n, s); });
}

}  // namespace

cudaError_t reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op,
                   cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  (void)cudaGetLastError();  // so that the launch check below reports this launch only
  switch (op) {
    case ReduceOp::kSum:
      return reduce_op<ReduceOp::kSum>(inout, in, count, t, stream);
    case ReduceOp::kProd:
      return reduce_op<ReduceOp::kProd>(inout, in, count, t, stream);
    case ReduceOp::kMin:
      return reduce_op<ReduceOp::kMin>(inout, in, count, t, stream);
    case ReduceOp::kMax:
      return reduce_op<ReduceOp::kMax>(inout, in, count, t, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t fill_input(void* buf, const CollectiveArgs& a, int rank, int ranks, std::uint64_t seed,
                       cudaStream_t stream) {
  const Span in = input_span(a.collective, a.count, rank, ranks, a.in_place);
  if (in.count == 0) return cudaSuccess;
  (void)cudaGetLastError();
  const PatternParams p = make_params(a, rank, ranks, seed, false);
  return with_codec(a.dtype, [&](auto codec) {
    using E = decltype(codec);
    auto* b = static_cast<typename E::Storage*>(buf) + in.offset;
    fill_kernel<E><<<blocks_for(in.count), kThreads, 0, stream>>>(b, in.count, p);
    return cudaGetLastError();
  });
}

cudaError_t fill_sentinel(void* buf, const CollectiveArgs& a, int rank, int ranks,
                          cudaStream_t stream) {
  const Span out = output_span(a.collective, a.count, rank, ranks, a.in_place);
  if (out.count == 0) return cudaSuccess;
  const std::size_t es = dtype_size(a.dtype);
  if (!dtype_is_float(a.dtype))
    return cudaMemsetAsync(static_cast<std::byte*>(buf) + out.offset * es, 0xA5, out.count * es,
                           stream);
  (void)cudaGetLastError();
  return with_codec(a.dtype, [&](auto codec) {
    using E = decltype(codec);
    auto* b = static_cast<typename E::Storage*>(buf) + out.offset;
    nan_kernel<E><<<blocks_for(out.count), kThreads, 0, stream>>>(b, out.count);
    return cudaGetLastError();
  });
}

cudaError_t check_output(const void* buf, const CollectiveArgs& a, int rank, int ranks,
                         std::uint64_t seed, DeviceCheck* result, cudaStream_t stream) {
  (void)cudaGetLastError();
  check_init_kernel<<<1, 1, 0, stream>>>(result);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  const Span out = output_span(a.collective, a.count, rank, ranks, a.in_place);
  if (out.count == 0) return cudaSuccess;
  const PatternParams p = make_params(a, rank, ranks, seed, true);
  return with_codec(a.dtype, [&](auto codec) {
    using E = decltype(codec);
    const auto* b = static_cast<const typename E::Storage*>(buf) + out.offset;
    check_kernel<E><<<blocks_for(out.count), kThreads, 0, stream>>>(b, out.count, p, result);
    check_finish_kernel<E><<<1, 1, 0, stream>>>(b, p, result);
    return cudaGetLastError();
  });
}

cudaError_t add_to_element(void* buf, std::size_t index, DType t, double delta,
                           cudaStream_t stream) {
  (void)cudaGetLastError();
  return with_codec(t, [&](auto codec) {
    using E = decltype(codec);
    add_kernel<E><<<1, 1, 0, stream>>>(static_cast<typename E::Storage*>(buf), index, delta);
    return cudaGetLastError();
  });
}

}  // namespace collbench::collectives::cuda
