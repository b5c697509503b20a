// Reduction kernels for x86-64 with AVX2, FMA and F16C (x86-64-v3): the portable loops of
// reduce_kernels.inc compiled for this level, plus hand-written loops for f16 and bf16.
//
// f16 converts with F16C (VCVTPH2PS / VCVTPS2PH, round to nearest even), whose NaN handling is
// what half_convert::float_to_half does (sign and upper payload kept, quiet bit set). bf16 rounds
// in integer arithmetic on the float bits, like half_convert::float_to_bf16. A NaN result of a
// sum or product takes a's NaN when a is one (apply_narrow): the compiler may swap the operands
// of an addition, so lanes that came out NaN are redone with an explicit select, off the
// common path.
// Empty on other architectures (reduce.cc offers only the portable level there).
#if defined(__x86_64__)

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "collectives/fp8.h"
#include "collectives/half_convert.h"
#include "collectives/reduce_impl.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt")
#endif

namespace collbench::collectives::detail {
namespace {
namespace avx2 {

template <ReduceOp Op>
inline __m256 apply8(__m256 a, __m256 b) {
  if constexpr (Op == ReduceOp::kSum) return _mm256_add_ps(a, b);
  if constexpr (Op == ReduceOp::kProd) return _mm256_mul_ps(a, b);
  // Same operand order as the scalar apply(): min = b < a ? b : a, max = a < b ? b : a.
  if constexpr (Op == ReduceOp::kMin) return _mm256_min_ps(b, a);
  if constexpr (Op == ReduceOp::kMax) return _mm256_max_ps(b, a);
}

inline __m128i load8(const std::uint16_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

template <bool kBf16>
inline __m256 widen8(__m128i h) {
  if constexpr (kBf16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  else
    return _mm256_cvtph_ps(h);
}

// Lanes where the 16-bit value is NaN, as a float-lane mask. From the bits: clang 14 turns a
// float compare of widened halves into one scalar compare per element.
template <bool kBf16>
inline __m256 nan8(__m128i h) {
  const __m128i mag = _mm_and_si128(h, _mm_set1_epi16(0x7fff));
  const __m128i nan = _mm_cmpgt_epi16(mag, _mm_set1_epi16(kBf16 ? 0x7f80 : 0x7c00));
  return _mm256_castsi256_ps(_mm256_cvtepi16_epi32(nan));
}

// Eight results, rounded to nearest even; the upper 16 bits of each lane for bf16. ha: a's bits.
template <bool kBf16, ReduceOp Op>
inline __m256i round8(__m128i ha, __m256 a, __m256 b) {
  __m256 v = apply8<Op>(a, b);
  const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  const bool any_nan = !_mm256_testz_ps(nan, nan);
  // a's NaN where a is NaN (see the file comment), off the common path.
  if constexpr (Op == ReduceOp::kSum || Op == ReduceOp::kProd)
    if (any_nan) v = _mm256_blendv_ps(v, a, nan8<kBf16>(ha));
  if constexpr (kBf16) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb);
    // NaN only gets its quiet bit set (as float_to_bf16 does), so rounding cannot carry it
    // into infinity.
    if (any_nan)
      r = _mm256_blendv_epi8(r, _mm256_or_si256(u, _mm256_set1_epi32(0x400000)),
                             _mm256_castps_si256(nan));
    return _mm256_srli_epi32(r, 16);
  } else {
    return _mm256_castsi128_si256(
        _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
}

template <bool kBf16>
inline __m128i pack8(__m256i r) {
  if constexpr (kBf16)
    return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  else
    return _mm256_castsi256_si128(r);
}

// Whole groups of 16 elements; returns how many were done (the caller finishes the tail).
template <bool kBf16, ReduceOp Op>
std::size_t fast16(std::uint16_t* out, const std::uint16_t* a, const std::uint16_t* b,
                   std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i a0 = load8(a + i), a1 = load8(a + i + 8);
    const __m256i r0 = round8<kBf16, Op>(a0, widen8<kBf16>(a0), widen8<kBf16>(load8(b + i)));
    const __m256i r1 = round8<kBf16, Op>(a1, widen8<kBf16>(a1), widen8<kBf16>(load8(b + i + 8)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), pack8<kBf16>(r0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i + 8), pack8<kBf16>(r1));
  }
  return i;
}

#define CB_REDUCE_FAST16 1
#include "collectives/reduce_kernels.inc"
#undef CB_REDUCE_FAST16

}  // namespace avx2
}  // namespace

void reduce_avx2(void* out, const void* a, const void* b, std::size_t n, DType t, ReduceOp op) {
  avx2::reduce(out, a, b, n, t, op);
}

}  // namespace collbench::collectives::detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif  // __x86_64__
