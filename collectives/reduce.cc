// Host reduction kernels. Each (dtype, op) pair is one plain loop that GCC vectorizes at -O3
// (checked with -fopt-info-vec-optimized, see docs/algorithms.md). Signed integer sum and product
// wrap like MPI's (computed in the unsigned type, so no undefined overflow). f16 and bf16 are
// widened to float, combined, and rounded once per element inside the same loop; the
// conversions are branch-free (half_convert.h) so that they vectorize too.
//
// On x86-64 the kernels are compiled twice, for the baseline ISA and for x86-64-v3 (AVX2, FMA,
// F16C), and the variant is chosen once from the CPU's features.
#include "collectives/reduce.h"

#include <cstdint>
#include <type_traits>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <utility>

#include "collectives/half_convert.h"

namespace collbench::collectives {
namespace {

namespace base {
#include "collectives/reduce_kernels.inc"
}  // namespace base

using ReduceFn = void (*)(void*, const void*, const void*, std::size_t, DType, ReduceOp);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt")
namespace v3 {

template <ReduceOp Op>
inline __m256 apply8(__m256 a, __m256 b) {
  if constexpr (Op == ReduceOp::kSum) return _mm256_add_ps(a, b);
  if constexpr (Op == ReduceOp::kProd) return _mm256_mul_ps(a, b);
  // Same operand order as the scalar apply(): min = b < a ? b : a, max = a < b ? b : a.
  if constexpr (Op == ReduceOp::kMin) return _mm256_min_ps(b, a);
  if constexpr (Op == ReduceOp::kMax) return _mm256_max_ps(b, a);
}

template <bool kBf16>
inline __m256 load8(const std::uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (kBf16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  else
    return _mm256_cvtph_ps(h);
}

template <bool kBf16>
inline void store8(std::uint16_t* p, __m256 v) {
  __m128i h;
  if constexpr (kBf16) {
    // Round to nearest even on the upper 16 bits; NaN only gets its quiet bit set (as the scalar
    // float_to_bf16 does), so rounding cannot carry it into infinity.
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb);
    const __m256i quiet = _mm256_or_si256(u, _mm256_set1_epi32(0x400000));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    const __m256i r = _mm256_srli_epi32(_mm256_blendv_epi8(rounded, quiet, nan), 16);
    h = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  } else {
    h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), h);
}

// Whole groups of 16 elements; returns how many were done (the caller finishes the tail).
template <bool kBf16, ReduceOp Op>
std::size_t wide16(std::uint16_t* out, const std::uint16_t* a, const std::uint16_t* b,
                   std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 r0 = apply8<Op>(load8<kBf16>(a + i), load8<kBf16>(b + i));
    const __m256 r1 = apply8<Op>(load8<kBf16>(a + i + 8), load8<kBf16>(b + i + 8));
    store8<kBf16>(out + i, r0);
    store8<kBf16>(out + i + 8, r1);
  }
  return i;
}

#define CB_REDUCE_X86_V3 1
#include "collectives/reduce_kernels.inc"
#undef CB_REDUCE_X86_V3
}  // namespace v3
#pragma GCC pop_options

ReduceFn pick() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c"))
    return v3::reduce;
  return base::reduce;
}
#else
ReduceFn pick() { return base::reduce; }
#endif

}  // namespace

void reduce_into(void* out, const void* a, const void* b, std::size_t count, DType t, ReduceOp op) {
  if (count == 0) return;
  if (out == b && out != a) std::swap(a, b);  // every op is commutative
  static const ReduceFn fn = pick();
  fn(out, a, b, count, t, op);
}

void reduce_inplace(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) {
  reduce_into(inout, inout, in, count, t, op);
}

}  // namespace collbench::collectives
