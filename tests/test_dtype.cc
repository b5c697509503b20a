// Conversions of the 16-bit float formats, checked exhaustively over all 65536 bit patterns and
// over every float rounding case that matters (the dropped bits at and around the halfway
// point), against a reference computed independently in double arithmetic, and against the
// compiler's own _Float16 conversion where GCC provides one.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <random>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "collectives/dtype.h"
#include "collectives/fp8.h"
#include "collectives/half_convert.h"
#include "collectives/reduce.h"

namespace collbench::collectives {
namespace {

// --- independent references -------------------------------------------------------------------

double ref_half_value(std::uint16_t h) {
  const int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 0)
    v = std::ldexp(m, -24);
  else if (e == 31)
    v = m ? NAN : INFINITY;
  else
    v = std::ldexp(1024 + m, e - 25);
  return sign ? -v : v;
}

// Round |x| (finite) to `mant_bits` explicit mantissa bits with exponent range [emin, emax] and
// ties to even; returns the bit pattern of the format (without sign), inf_bits on overflow.
std::uint32_t ref_round(double ax, int mant_bits, int emin, int emax, int bias,
                        std::uint32_t inf_bits) {
  if (ax == 0) return 0;
  int e2;
  std::frexp(ax, &e2);     // ax = f * 2^e2, f in [0.5, 1)
  int e = e2 - 1;          // ax in [2^e, 2^(e+1))
  if (e < emin) e = emin;  // subnormal range: fixed step
  const double step = std::ldexp(1.0, e - mant_bits);
  double q = std::nearbyint(ax / step);  // exact division, ties to even (default mode)
  const double one = std::ldexp(1.0, mant_bits);
  if (q >= 2 * one) {  // rounded up into the next binade
    q /= 2;
    ++e;
  }
  if (e > emax) return inf_bits;
  if (q < one) return static_cast<std::uint32_t>(q);  // subnormal (exponent field 0)
  return (static_cast<std::uint32_t>(e + bias) << mant_bits) | static_cast<std::uint32_t>(q - one);
}

// NaN: sign and the upper 10 payload bits kept, quiet bit set (what VCVTPS2PH does).
std::uint16_t ref_float_to_half(float x) {
  if (std::isnan(x)) {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
    return static_cast<std::uint16_t>(((u >> 16) & 0x8000) | 0x7e00 | ((u >> 13) & 0x3ff));
  }
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (std::isinf(x)) return sign | 0x7c00;
  return sign | static_cast<std::uint16_t>(ref_round(std::fabs(x), 10, -14, 15, 15, 0x7c00));
}

std::uint16_t ref_float_to_bf16(float x) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (std::isinf(x)) return sign | 0x7f80;
  return sign | static_cast<std::uint16_t>(ref_round(std::fabs(x), 7, -126, 127, 127, 0x7f80));
}

bool is_half_nan(std::uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }
bool is_bf16_nan(std::uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f); }

// Every float that matters for rounding to half: all sign/exponent/upper-mantissa patterns
// combined with the dropped low bits at 0, 1, just below, at and just above halfway, and all
// ones; plus random floats. `fn` gets each candidate.
template <typename Fn>
void for_rounding_cases(int dropped_bits, Fn fn) {
  const std::uint32_t half = 1u << (dropped_bits - 1), mask = (1u << dropped_bits) - 1;
  const std::uint32_t lows[] = {0, 1, half - 1, half, half + 1, mask};
  for (std::uint64_t top = 0; top < (1ull << (32 - dropped_bits)); ++top)
    for (std::uint32_t low : lows)
      fn(std::bit_cast<float>(static_cast<std::uint32_t>(top << dropped_bits) | low));
  std::mt19937 rng(12345);
  for (int i = 0; i < 2000000; ++i) fn(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
}

// --- half -------------------------------------------------------------------------------------

TEST(Half, ToFloatExhaustive) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<std::uint16_t>(h);
    const double ref = ref_half_value(b);
    const float got = half_to_float(b);
    if (std::isnan(ref)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << h;
      // The payload survives the widening (quiet bit and sign included).
      EXPECT_EQ(std::bit_cast<std::uint32_t>(got),
                (static_cast<std::uint32_t>(b & 0x8000) << 16) | 0x7f800000u | ((b & 0x3ffu) << 13))
          << std::hex << h;
    } else {
      ASSERT_EQ(static_cast<double>(got), ref) << std::hex << h;
      ASSERT_EQ(std::signbit(got), std::signbit(ref)) << std::hex << h;  // -0 stays -0
    }
    ASSERT_EQ(std::bit_cast<std::uint32_t>(half_convert::half_to_float(b)),
              std::bit_cast<std::uint32_t>(got));
  }
}

TEST(Half, RoundTripExhaustive) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<std::uint16_t>(h);
    const std::uint16_t back = float_to_half(half_to_float(b));
    if (is_half_nan(b)) {
      EXPECT_TRUE(is_half_nan(back)) << std::hex << h;
    } else {
      ASSERT_EQ(back, b) << std::hex << h;
    }
  }
}

TEST(Half, MidpointsTieToEven) {
  // Every pair of adjacent finite halves of one sign: the exact midpoint goes to the even one,
  // anything a float-ulp away goes to the nearer one.
  for (std::uint32_t h = 0; h < 0x7bff; ++h) {
    const double lo = ref_half_value(static_cast<std::uint16_t>(h));
    const double hi = ref_half_value(static_cast<std::uint16_t>(h + 1));
    const float mid = static_cast<float>((lo + hi) / 2);  // exact: needs 12 bits
    ASSERT_EQ(static_cast<double>(mid), (lo + hi) / 2);
    const std::uint16_t even =
        (h & 1) ? static_cast<std::uint16_t>(h + 1) : static_cast<std::uint16_t>(h);
    ASSERT_EQ(float_to_half(mid), even) << std::hex << h;
    ASSERT_EQ(float_to_half(-mid), even | 0x8000) << std::hex << h;
    ASSERT_EQ(float_to_half(std::nextafter(mid, 0.0f)), h) << std::hex << h;
    ASSERT_EQ(float_to_half(std::nextafter(mid, INFINITY)), h + 1) << std::hex << h;
  }
  // Above the largest half: 65504 + half an ulp (65520) rounds to infinity, just below does not.
  EXPECT_EQ(float_to_half(65519.996f), 0x7bff);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);
  EXPECT_EQ(float_to_half(1e30f), 0x7c00);
  EXPECT_EQ(float_to_half(-1e30f), 0xfc00);
  // Half the smallest subnormal ties to zero; anything above rounds up to it.
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(float_to_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(float_to_half(-std::ldexp(1.0f, -26)), 0x8000);
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::denorm_min()), 0x0000);
}

TEST(Half, FromFloatMatchesReference) {
  std::uint64_t checked = 0;
  for_rounding_cases(13, [&](float x) {
    const std::uint16_t got = float_to_half(x), ref = ref_float_to_half(x);
    ASSERT_EQ(got, ref) << std::hexfloat << x << " bits " << std::hex
                        << std::bit_cast<std::uint32_t>(x);
    ASSERT_EQ(half_convert::float_to_half(x), got);
    ++checked;
  });
  EXPECT_GT(checked, 3000000u);
}

#if defined(__FLT16_MAX__) && defined(__x86_64__)
// GCC's _Float16 conversion (libgcc or F16C) is a third, independent opinion.
TEST(Half, FromFloatMatchesCompiler) {
  for_rounding_cases(13, [&](float x) {
    if (std::isnan(x)) return;
    const _Float16 c = static_cast<_Float16>(x);
    ASSERT_EQ(float_to_half(x), std::bit_cast<std::uint16_t>(c)) << std::hexfloat << x;
  });
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<std::uint16_t>(h);
    if (is_half_nan(b)) continue;
    ASSERT_EQ(half_to_float(b), static_cast<float>(std::bit_cast<_Float16>(b))) << std::hex << h;
  }
}
#endif

#if defined(__x86_64__)
// The reduction kernels convert with VCVTPS2PH; the scalar conversion must give its bits for
// every float, NaNs (all payloads, both signs, signalling and quiet) included.
__attribute__((target("f16c"))) std::uint16_t f16c_convert(float x) {
  return static_cast<std::uint16_t>(
      _mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(x), _MM_FROUND_TO_NEAREST_INT), 0));
}

TEST(Half, FromFloatMatchesF16cIncludingNaN) {
  const auto levels = available_reduce_isas();  // the avx2 level implies F16C
  if (std::find(levels.begin(), levels.end(), ReduceIsa::kAvx2) == levels.end())
    GTEST_SKIP() << "no F16C";
  for_rounding_cases(13, [&](float x) {
    ASSERT_EQ(float_to_half(x), f16c_convert(x)) << std::hex << std::bit_cast<std::uint32_t>(x);
    ASSERT_EQ(half_convert::float_to_half(x), f16c_convert(x))
        << std::hex << std::bit_cast<std::uint32_t>(x);
  });
}
#endif

// --- bfloat16 ---------------------------------------------------------------------------------

TEST(BFloat16, RoundTripExhaustive) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<std::uint16_t>(h);
    const float f = bf16_to_float(b);
    ASSERT_EQ(std::bit_cast<std::uint32_t>(f), h << 16);
    ASSERT_EQ(std::bit_cast<std::uint32_t>(half_convert::bf16_to_float(b)), h << 16);
    if (is_bf16_nan(b)) {
      EXPECT_TRUE(is_bf16_nan(float_to_bf16(f))) << std::hex << h;
      EXPECT_TRUE(is_bf16_nan(half_convert::float_to_bf16(f))) << std::hex << h;
      // The sign of a NaN survives.
      EXPECT_EQ(half_convert::float_to_bf16(f) & 0x8000, b & 0x8000) << std::hex << h;
    } else {
      ASSERT_EQ(float_to_bf16(f), b) << std::hex << h;
      ASSERT_EQ(half_convert::float_to_bf16(f), b) << std::hex << h;
    }
  }
}

TEST(BFloat16, FromFloatMatchesReference) {
  for_rounding_cases(16, [&](float x) {
    if (std::isnan(x)) {
      ASSERT_TRUE(is_bf16_nan(float_to_bf16(x)));
      ASSERT_TRUE(is_bf16_nan(half_convert::float_to_bf16(x)));
      return;
    }
    const std::uint16_t ref = ref_float_to_bf16(x);
    ASSERT_EQ(float_to_bf16(x), ref) << std::hexfloat << x;
    ASSERT_EQ(half_convert::float_to_bf16(x), ref) << std::hexfloat << x;
  });
}

// --- fp8 ------------------------------------------------------------------------------------

struct Fp8Case {
  DType t;
  int mant, bias, max_code;
  double max_value;
};
const Fp8Case kFp8[] = {{DType::kF8E4M3, 3, 7, 0x7e, 448.0},
                        {DType::kF8E5M2, 2, 15, 0x7b, 57344.0}};

// Value of a code, decoded independently; NaN for NaN codes, +-inf for e5m2's infinities.
double ref_fp8_value(std::uint8_t v, const Fp8Case& c) {
  const int mag = v & 0x7f, e = mag >> c.mant, m = mag & ((1 << c.mant) - 1);
  const int emax_field = (1 << (7 - c.mant)) - 1;
  double r;
  if (c.t == DType::kF8E4M3 && mag == 0x7f)
    r = NAN;
  else if (c.t == DType::kF8E5M2 && e == emax_field)
    r = m ? NAN : INFINITY;
  else
    r = e == 0 ? std::ldexp(m, 1 - c.bias - c.mant)
               : std::ldexp((1 << c.mant) + m, e - c.bias - c.mant);
  return (v & 0x80) ? -r : r;
}

// Round to nearest even, saturating to the largest finite value; NaN -> 0x7f.
std::uint8_t ref_float_to_fp8(float x, const Fp8Case& c) {
  if (std::isnan(x)) return 0x7f;
  const std::uint8_t sign = std::signbit(x) ? 0x80 : 0;
  if (std::isinf(x)) return sign | static_cast<std::uint8_t>(c.max_code);
  const int emax = c.t == DType::kF8E4M3 ? 8 : 15;
  const std::uint32_t r = ref_round(std::fabs(x), c.mant, 1 - c.bias, emax, c.bias, 0xff);
  return sign | static_cast<std::uint8_t>(r > static_cast<std::uint32_t>(c.max_code)
                                              ? static_cast<std::uint32_t>(c.max_code)
                                              : r);
}

TEST(Fp8, ToFloatExhaustive) {
  for (const auto& c : kFp8) {
    for (std::uint32_t v = 0; v < 256; ++v) {
      const auto b = static_cast<std::uint8_t>(v);
      const double ref = ref_fp8_value(b, c);
      const float got = fp8_to_float(b, c.t);
      if (std::isnan(ref)) {
        ASSERT_TRUE(std::isnan(got)) << dtype_name(c.t) << " " << std::hex << v;
      } else {
        ASSERT_EQ(static_cast<double>(got), ref) << dtype_name(c.t) << " " << std::hex << v;
        ASSERT_EQ(std::signbit(got), std::signbit(ref)) << dtype_name(c.t) << " " << v;
      }
      // Every non-NaN code survives the round trip (e5m2's infinities saturate).
      const std::uint8_t back = float_to_fp8(got, c.t);
      if (std::isnan(ref))
        ASSERT_EQ(back, 0x7f);
      else if (std::isinf(ref))
        ASSERT_EQ(back, (v & 0x80) | static_cast<std::uint32_t>(c.max_code));
      else
        ASSERT_EQ(back, b) << dtype_name(c.t) << " " << std::hex << v;
    }
  }
}

TEST(Fp8, FromFloatMatchesReference) {
  for (const auto& c : kFp8) {
    std::uint64_t checked = 0;
    for_rounding_cases(23 - c.mant, [&](float x) {
      ASSERT_EQ(float_to_fp8(x, c.t), ref_float_to_fp8(x, c))
          << dtype_name(c.t) << " " << std::hexfloat << x << " bits " << std::hex
          << std::bit_cast<std::uint32_t>(x);
      ++checked;
    });
    EXPECT_GT(checked, 2000000u);
  }
}

TEST(Fp8, BoundariesOfCudaSatfinite) {
  // e4m3: 464 is the tie between 448 and the NaN code (to 448, even); above it saturates.
  EXPECT_EQ(fp8::float_to_e4m3(464.0f), 0x7e);
  EXPECT_EQ(fp8::float_to_e4m3(std::nextafter(464.0f, 1e9f)), 0x7e);
  EXPECT_EQ(fp8::float_to_e4m3(1e30f), 0x7e);
  EXPECT_EQ(fp8::float_to_e4m3(-INFINITY), 0xfe);
  EXPECT_EQ(fp8::float_to_e4m3(NAN), 0x7f);
  EXPECT_EQ(fp8::float_to_e4m3(-NAN), 0x7f);
  EXPECT_EQ(fp8::float_to_e4m3(std::ldexp(1.0f, -10)), 0x00);  // half the smallest subnormal
  EXPECT_EQ(fp8::float_to_e4m3(std::nextafter(std::ldexp(1.0f, -10), 1.0f)), 0x01);
  EXPECT_EQ(fp8::float_to_e4m3(-0.0f), 0x80);
  // e5m2: 61440 ties 57344 (odd mantissa) with 65536: rounds up, past the range: saturates.
  EXPECT_EQ(fp8::float_to_e5m2(std::nextafter(61440.0f, 0.0f)), 0x7b);
  EXPECT_EQ(fp8::float_to_e5m2(61440.0f), 0x7b);
  EXPECT_EQ(fp8::float_to_e5m2(INFINITY), 0x7b);
  EXPECT_EQ(fp8::float_to_e5m2(-INFINITY), 0xfb);
  EXPECT_EQ(fp8::float_to_e5m2(NAN), 0x7f);
  EXPECT_EQ(fp8::float_to_e5m2(std::ldexp(1.0f, -17)), 0x00);
  EXPECT_EQ(fp8::float_to_e5m2(std::ldexp(3.0f, -17)), 0x02);  // 1.5 steps: tie to even (2)
  // The largest finite values and the smallest normals.
  EXPECT_EQ(fp8::e4m3_to_float(0x7e), 448.0f);
  EXPECT_EQ(fp8::e5m2_to_float(0x7b), 57344.0f);
  EXPECT_EQ(fp8::e4m3_to_float(0x08), std::ldexp(1.0f, -6));
  EXPECT_EQ(fp8::e5m2_to_float(0x04), std::ldexp(1.0f, -14));
  EXPECT_TRUE(std::isinf(fp8::e5m2_to_float(0xfc)) && fp8::e5m2_to_float(0xfc) < 0);
}

// --- names and parsing ------------------------------------------------------------------------

TEST(DType, NamesParseBack) {
  for (DType t : all_dtypes()) {
    auto parsed = parse_dtype(dtype_name(t));
    ASSERT_TRUE(parsed.has_value()) << dtype_name(t);
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_EQ(parse_dtype("FLOAT"), DType::kF32);
  EXPECT_EQ(parse_dtype("bfloat16"), DType::kBF16);
  EXPECT_EQ(parse_dtype("e4m3"), DType::kF8E4M3);
  EXPECT_EQ(parse_dtype("FP8_E5M2"), DType::kF8E5M2);
  EXPECT_TRUE(dtype_is_fp8(DType::kF8E4M3) && dtype_is_fp8(DType::kF8E5M2));
  EXPECT_FALSE(dtype_is_fp8(DType::kU8));
  EXPECT_FALSE(parse_dtype("f128").has_value());
  EXPECT_FALSE(parse_dtype("").has_value());
  for (ReduceOp op : all_ops()) EXPECT_EQ(parse_op(op_name(op)), op);
  EXPECT_FALSE(parse_op("avg").has_value());
}

TEST(DType, ExactLimitsAreExact) {
  // Every integer up to the limit is representable, the next one is not (for the floats).
  for (DType t : {DType::kF16, DType::kBF16, DType::kF32, DType::kF8E4M3, DType::kF8E5M2}) {
    const double lim = dtype_exact_limit(t);
    auto rt = [&](double v) {
      if (t == DType::kF16)
        return static_cast<double>(half_to_float(float_to_half(static_cast<float>(v))));
      if (t == DType::kBF16)
        return static_cast<double>(bf16_to_float(float_to_bf16(static_cast<float>(v))));
      if (dtype_is_fp8(t))
        return static_cast<double>(fp8_to_float(float_to_fp8(static_cast<float>(v), t), t));
      return static_cast<double>(static_cast<float>(v));
    };
    for (double v = 0; v <= std::min(lim, 4096.0); ++v) EXPECT_EQ(rt(v), v) << dtype_name(t);
    EXPECT_EQ(rt(lim), lim) << dtype_name(t);
    EXPECT_EQ(rt(lim - 1), lim - 1) << dtype_name(t);
    EXPECT_NE(rt(lim + 1), lim + 1) << dtype_name(t);
  }
}

}  // namespace
}  // namespace collbench::collectives
