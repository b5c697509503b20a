// Conversions of the 16-bit float formats, checked exhaustively over all 65536 bit patterns and
// over every float rounding case that matters (the dropped bits at and around the halfway
// point), against a reference computed independently in double arithmetic, and against the
// compiler's own _Float16 conversion where GCC provides one.
#include <gtest/gtest.h>

#include <bit>
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <random>

#include "collectives/dtype.h"
#include "collectives/half_convert.h"

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

std::uint16_t ref_float_to_half(float x) {
  if (std::isnan(x)) return 0x7e00;
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
    if (std::isnan(x)) {
      ASSERT_TRUE(is_half_nan(got)) << x;
    } else {
      ASSERT_EQ(got, ref) << std::hexfloat << x << " bits " << std::hex
                          << std::bit_cast<std::uint32_t>(x);
    }
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

// --- names and parsing ------------------------------------------------------------------------

TEST(DType, NamesParseBack) {
  for (DType t : all_dtypes()) {
    auto parsed = parse_dtype(dtype_name(t));
    ASSERT_TRUE(parsed.has_value()) << dtype_name(t);
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_EQ(parse_dtype("FLOAT"), DType::kF32);
  EXPECT_EQ(parse_dtype("bfloat16"), DType::kBF16);
  EXPECT_FALSE(parse_dtype("f128").has_value());
  EXPECT_FALSE(parse_dtype("").has_value());
  for (ReduceOp op : all_ops()) EXPECT_EQ(parse_op(op_name(op)), op);
  EXPECT_FALSE(parse_op("avg").has_value());
}

TEST(DType, ExactLimitsAreExact) {
  // Every integer up to the limit is representable, the next one is not (for the floats).
  for (DType t : {DType::kF16, DType::kBF16, DType::kF32}) {
    const double lim = dtype_exact_limit(t);
    auto rt = [&](double v) {
      if (t == DType::kF16)
        return static_cast<double>(half_to_float(float_to_half(static_cast<float>(v))));
      if (t == DType::kBF16)
        return static_cast<double>(bf16_to_float(float_to_bf16(static_cast<float>(v))));
      return static_cast<double>(static_cast<float>(v));
    };
    EXPECT_EQ(rt(lim), lim) << dtype_name(t);
    EXPECT_EQ(rt(lim - 1), lim - 1) << dtype_name(t);
    EXPECT_NE(rt(lim + 1), lim + 1) << dtype_name(t);
  }
}

}  // namespace
}  // namespace collbench::collectives
