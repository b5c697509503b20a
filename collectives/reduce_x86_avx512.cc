// Reduction kernels for x86-64 with AVX-512: the portable loops of reduce_kernels.inc compiled
// for AVX-512, plus hand-written loops for f16 and bf16, and at the higher level for fp8
// (reduce_x86_fp8.inc). Two levels, each in its own target region so that the compiler cannot
// use an instruction of the higher one in the lower one's code:
//
//   avx512      F/BW/VL/DQ. bf16 rounds in integer arithmetic, like float_to_bf16.
//   avx512bf16  + AVX512_BF16 + AVX512_VBMI. bf16 rounds with VCVTNE2PS2BF16, which flushes
//               denormal inputs to zero; blocks where a result is zero, denormal, infinite or
//               NaN (one test on the rounded words) are redone the integer way, so the bits are
//               those of float_to_bf16 always.
//
// f16 converts with VCVTPH2PS / VCVTPS2PH (round to nearest even), whose NaN handling is what
// half_convert::float_to_half does. A NaN result of a sum or product takes a's NaN when a is
// one (apply_narrow in reduce_kernels.inc; the compiler may swap an addition's operands), fixed
// up off the common path.
//
// Loops work on 32 elements (one 64-byte vector of each input); the portable loop finishes the
// tail.
// Empty on other architectures (reduce.cc offers only the portable level there).
#if defined(__x86_64__)

// GCC 12 reports its own _mm512_undefined_* placeholders as maybe-uninitialized (GCC bug
// 105593) wherever an intrinsic that uses one is inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "collectives/fp8.h"
#include "collectives/half_convert.h"
#include "collectives/reduce_impl.h"

#if defined(__clang__)
#pragma clang attribute push(                                                                \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi,bmi2,lzcnt," \
                          "popcnt"))),                                                       \
    apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt")
#endif

namespace collbench::collectives::detail {
namespace {
namespace avx512 {

template <ReduceOp Op>
inline __m512 apply16(__m512 a, __m512 b) {
  if constexpr (Op == ReduceOp::kSum) return _mm512_add_ps(a, b);
  if constexpr (Op == ReduceOp::kProd) return _mm512_mul_ps(a, b);
  // Same operand order as the scalar apply(): min = b < a ? b : a, max = a < b ? b : a.
  if constexpr (Op == ReduceOp::kMin) return _mm512_min_ps(b, a);
  if constexpr (Op == ReduceOp::kMax) return _mm512_max_ps(b, a);
}

constexpr bool nan_can_pair(ReduceOp op) { return op == ReduceOp::kSum || op == ReduceOp::kProd; }

// a's NaN where a is NaN (see the file comment).
template <ReduceOp Op>
inline __m512 nan_first(__m512 r, __m512 a) {
  if constexpr (nan_can_pair(Op))
    return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), a);
  else
    return r;
}

// bf16 as floats: the even elements of a 32-bit lane shifted up, the odd ones masked in place.
inline __m512 bf16_even(__m512i v) { return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)); }
inline __m512 bf16_odd(__m512i v) {
  return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
}

// float -> bf16 bits in the upper half of each lane, rounded to nearest even in integer
// arithmetic; NaN only gets its quiet bit set (float_to_bf16).
inline __m512i round_bf16(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x400000));
}

// 32 bf16 results of a (op) b, integer rounding.
template <ReduceOp Op>
inline __m512i bf16_block_int(__m512i va, __m512i vb) {
  const __m512 ae = bf16_even(va), ao = bf16_odd(va);
  const __m512 se = nan_first<Op>(apply16<Op>(ae, bf16_even(vb)), ae);
  const __m512 so = nan_first<Op>(apply16<Op>(ao, bf16_odd(vb)), ao);
  return _mm512_mask_blend_epi16(0xaaaaaaaau, _mm512_srli_epi32(round_bf16(se), 16),
                                 round_bf16(so));
}

template <ReduceOp Op>
std::size_t bf16_int(std::uint16_t* out, const std::uint16_t* a, const std::uint16_t* b,
                     std::size_t n) {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i r = bf16_block_int<Op>(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
    _mm512_storeu_si512(out + i, r);
  }
  return i;
}

// a's NaN lanes, from the binary16 bits (clang 14 turns a float compare of the widened values
// into one scalar compare per element).
inline __mmask16 half_nan(__m256i h) {
  return _mm256_cmpgt_epu16_mask(_mm256_and_si256(h, _mm256_set1_epi16(0x7fff)),
                                 _mm256_set1_epi16(0x7c00));
}

template <ReduceOp Op>
std::size_t f16(std::uint16_t* out, const std::uint16_t* a, const std::uint16_t* b, std::size_t n) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i ha0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i ha1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i + 16));
    const __m512 a0 = _mm512_cvtph_ps(ha0), a1 = _mm512_cvtph_ps(ha1);
    const __m512 b0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)));
    const __m512 b1 =
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i + 16)));
    __m512 r0 = apply16<Op>(a0, b0), r1 = apply16<Op>(a1, b1);
    if constexpr (nan_can_pair(Op)) {  // a's NaN first (see the file comment)
      r0 = _mm512_mask_mov_ps(r0, half_nan(ha0), a0);
      r1 = _mm512_mask_mov_ps(r1, half_nan(ha1), a1);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm512_cvtps_ph(r0, kRound));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 16), _mm512_cvtps_ph(r1, kRound));
  }
  return i;
}

template <bool kBf16, ReduceOp Op>
std::size_t fast16(std::uint16_t* out, const std::uint16_t* a, const std::uint16_t* b,
                   std::size_t n) {
  if constexpr (kBf16)
    return bf16_int<Op>(out, a, b, n);
  else
    return f16<Op>(out, a, b, n);
}

#define CB_REDUCE_FAST16 1
#include "collectives/reduce_kernels.inc"
#undef CB_REDUCE_FAST16

}  // namespace avx512
}  // namespace

void reduce_avx512(void* out, const void* a, const void* b, std::size_t n, DType t, ReduceOp op) {
  avx512::reduce(out, a, b, n, t, op);
}

}  // namespace collbench::collectives::detail

#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(                                                                  \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx512vbmi,avx2,fma," \
                          "f16c,bmi,bmi2,lzcnt,popcnt"))),                                     \
    apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target( \
    "avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx512vbmi,avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt")
#endif

namespace collbench::collectives::detail {
namespace {
namespace avx512bf16 {

using avx512::apply16;
using avx512::bf16_block_int;
using avx512::bf16_even;
using avx512::bf16_odd;

// VCVTNE2PS2BF16 as integer words: the first 16 from lo, the last 16 from hi. (The bf16 vector
// type differs between compiler versions; a vector cast works with all of them.)
inline __m512i cvtne2(__m512 hi, __m512 lo) {
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

// Word i of the interleave: element i of the 32 comes from the even results (low half of
// VCVTNE2PS2BF16's output) when i is even, from the odd ones (high half) otherwise.
inline __m512i interleave_index() {
  return _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                          6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
}

template <ReduceOp Op>
std::size_t bf16_hw(std::uint16_t* out, const std::uint16_t* a, const std::uint16_t* b,
                    std::size_t n) {
  const __m512i idx = interleave_index();
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i va = _mm512_loadu_si512(a + i), vb = _mm512_loadu_si512(b + i);
    const __m512 se = apply16<Op>(bf16_even(va), bf16_even(vb));
    const __m512 so = apply16<Op>(bf16_odd(va), bf16_odd(vb));
    __m512i r = _mm512_permutexvar_epi16(idx, cvtne2(so, se));
    // Exponent 0 or 255 in a result (zero, denormal, infinity, NaN): the exponent field plus one
    // has its upper seven bits zero. Rare in data that is not mostly zeros; exact either way.
    const __m512i e = _mm512_add_epi16(r, _mm512_set1_epi16(0x80));
    if (_mm512_testn_epi16_mask(e, _mm512_set1_epi16(0x7f00))) r = bf16_block_int<Op>(va, vb);
    _mm512_storeu_si512(out + i, r);
  }
  return i;
}

template <bool kBf16, ReduceOp Op>
std::size_t fast16(std::uint16_t* out, const std::uint16_t* a, const std::uint16_t* b,
                   std::size_t n) {
  if constexpr (kBf16)
    return bf16_hw<Op>(out, a, b, n);
  else
    return avx512::f16<Op>(out, a, b, n);
}

template <fp8::Format F, ReduceOp Op>
std::size_t fast8(std::uint8_t* out, const std::uint8_t* a, const std::uint8_t* b, std::size_t n);

#define CB_REDUCE_FAST16 1
#define CB_REDUCE_FAST8 1
#include "collectives/reduce_kernels.inc"
#undef CB_REDUCE_FAST8
#undef CB_REDUCE_FAST16

#include "collectives/reduce_x86_fp8.inc"

template <fp8::Format F, ReduceOp Op>
std::size_t fast8(std::uint8_t* out, const std::uint8_t* a, const std::uint8_t* b, std::size_t n) {
  return fp8x::loop<F, Op>(out, a, b, n);
}

}  // namespace avx512bf16
}  // namespace

void reduce_avx512bf16(void* out, const void* a, const void* b, std::size_t n, DType t,
                       ReduceOp op) {
  avx512bf16::reduce(out, a, b, n, t, op);
}

}  // namespace collbench::collectives::detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // __x86_64__
