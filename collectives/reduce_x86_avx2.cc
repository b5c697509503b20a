// Reduction kernels for x86-64 with AVX2, FMA and F16C (x86-64-v3): the portable loops of
// reduce_kernels.inc compiled for this level, plus hand-written loops for f16 and bf16 (bf16 as
// even and odd elements in separate float vectors, like the AVX-512 loop).
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

// f16, eight at a time with F16C.
inline __m256 widen8(__m128i h) { return _mm256_cvtph_ps(h); }

// Lanes where the binary16 value is NaN, as a float-lane mask. From the bits: clang 14 turns a
// float compare of widened halves into one scalar compare per element.
inline __m256 nan8(__m128i h) {
  const __m128i mag = _mm_and_si128(h, _mm_set1_epi16(0x7fff));
  const __m128i nan = _mm_cmpgt_epi16(mag, _mm_set1_epi16(0x7c00));
  return _mm256_castsi256_ps(_mm256_cvtepi16_epi32(nan));
}

// Eight f16 results, rounded to nearest even by VCVTPS2PH. ha: a's bits.
template <ReduceOp Op>
inline __m128i round8(__m128i ha, __m256 a, __m256 b) {
  __m256 v = apply8<Op>(a, b);
  // a's NaN where a is NaN (see the file comment), off the common path.
  if constexpr (Op == ReduceOp::kSum || Op == ReduceOp::kProd) {
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    if (!_mm256_testz_ps(nan, nan)) v = _mm256_blendv_ps(v, a, nan8(ha));
  }
  return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// bf16 as floats without crossing 128-bit lanes: the even elements of a 32-bit lane shifted up,
// the odd ones masked in place (as the AVX-512 loop does).
inline __m256 bf16_even(__m256i v) { return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)); }
inline __m256 bf16_odd(__m256i v) {
  return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
}

// float -> bf16 bits in the upper half of each lane, rounded to nearest even in integer
// arithmetic (float_to_bf16); NaN lanes are fixed by the caller.
inline __m256i round_bf16(__m256 v) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  return _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb);
}

// 16 bf16 results of a (op) b: even and odd elements in separate float vectors, recombined with
// one in-lane blend (the 8-wide widening and packing of round8 cross lanes and cost twice the
// instructions). NaN lanes, rare, take the slow branch: a's NaN first (see the file comment),
// then only the quiet bit set, so rounding cannot carry a NaN into infinity.
template <ReduceOp Op>
inline __m256i bf16_block16(__m256i va, __m256i vb) {
  const __m256 ae = bf16_even(va), ao = bf16_odd(va);
  __m256 se = apply8<Op>(ae, bf16_even(vb)), so = apply8<Op>(ao, bf16_odd(vb));
  const __m256 ne = _mm256_cmp_ps(se, se, _CMP_UNORD_Q), no = _mm256_cmp_ps(so, so, _CMP_UNORD_Q);
  const __m256 any = _mm256_or_ps(ne, no);
  __m256i re, ro;
  if (_mm256_testz_ps(any, any)) {
    re = round_bf16(se);
    ro = round_bf16(so);
  } else {
    if constexpr (Op == ReduceOp::kSum || Op == ReduceOp::kProd) {
      se = _mm256_blendv_ps(se, ae, _mm256_cmp_ps(ae, ae, _CMP_UNORD_Q));
      so = _mm256_blendv_ps(so, ao, _mm256_cmp_ps(ao, ao, _CMP_UNORD_Q));
    }
    const __m256i quiet = _mm256_set1_epi32(0x400000);
    re = _mm256_blendv_epi8(round_bf16(se), _mm256_or_si256(_mm256_castps_si256(se), quiet),
                            _mm256_castps_si256(ne));
    ro = _mm256_blendv_epi8(round_bf16(so), _mm256_or_si256(_mm256_castps_si256(so), quiet),
                            _mm256_castps_si256(no));
  }
  return _mm256_blend_epi16(_mm256_srli_epi32(re, 16), ro, 0xaa);
}

// Whole groups of 16 elements; returns how many were done (the caller finishes the tail).
template <bool kBf16, ReduceOp Op>
std::size_t fast16(std::uint16_t* out, const std::uint16_t* a, const std::uint16_t* b,
                   std::size_t n) {
  std::size_t i = 0;
  if constexpr (kBf16) {
    for (; i + 16 <= n; i += 16) {
      const __m256i r =
          bf16_block16<Op>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)),
                           _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), r);
    }
    return i;
  }
  for (; i + 16 <= n; i += 16) {
    const __m128i a0 = load8(a + i), a1 = load8(a + i + 8);
    const __m128i r0 = round8<Op>(a0, widen8(a0), widen8(load8(b + i)));
    const __m128i r1 = round8<Op>(a1, widen8(a1), widen8(load8(b + i + 8)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), r0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i + 8), r1);
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
