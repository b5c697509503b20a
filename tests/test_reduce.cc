// Reduction kernels against a scalar reference, for every dtype x op, at lengths around every
// vector width, misaligned starts, and each aliasing form the interface allows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "collectives/dtype.h"
#include "collectives/reduce.h"
#include "collectives/spec.h"

namespace collbench::collectives {
namespace {

// Correctly rounded double -> 16-bit float (mant_bits explicit bits, min normal exponent emin,
// max exponent emax), independent of the code under test.
std::uint16_t round_to16(double x, int mant_bits, int emin, int emax, int bias) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const std::uint16_t inf = static_cast<std::uint16_t>(((2 * bias + 1) << mant_bits));
  if (std::isinf(x)) return sign | inf;
  double ax = std::fabs(x);
  if (ax == 0) return sign;
  int e2;
  std::frexp(ax, &e2);
  int e = std::max(e2 - 1, emin);
  double q = std::nearbyint(ax / std::ldexp(1.0, e - mant_bits));
  const double one = std::ldexp(1.0, mant_bits);
  if (q >= 2 * one) {
    q /= 2;
    ++e;
  }
  if (e > emax) return sign | inf;
  if (q < one) return sign | static_cast<std::uint16_t>(q);
  return sign | static_cast<std::uint16_t>(((e + bias) << mant_bits) | static_cast<int>(q - one));
}

double half_value(std::uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? std::ldexp(m, -24) : e == 31 ? INFINITY : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -v : v;
}

double bf16_value(std::uint16_t b) {
  std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

template <typename T>
T ref_int(T a, T b, ReduceOp op) {
  using U = std::make_unsigned_t<T>;
  const std::uint64_t x = static_cast<U>(a), y = static_cast<U>(b);
  switch (op) {
    case ReduceOp::kSum:
      return static_cast<T>(static_cast<U>(x + y));
    case ReduceOp::kProd:
      return static_cast<T>(static_cast<U>(x * y));
    case ReduceOp::kMin:
      return std::min(a, b);
    case ReduceOp::kMax:
      return std::max(a, b);
  }
  return 0;
}

template <typename F>
F ref_float(F a, F b, ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return a + b;
    case ReduceOp::kProd:
      return a * b;
    case ReduceOp::kMin:
      return std::min(a, b);
    case ReduceOp::kMax:
      return std::max(a, b);
  }
  return 0;
}

double ref_exact(double a, double b, ReduceOp op) { return ref_float(a, b, op); }

// Random element bits for each dtype; floats finite and, for bf16, in a range where the double
// reference is exact.
std::vector<std::uint8_t> random_elems(DType t, std::size_t n, std::mt19937_64& rng) {
  const std::size_t es = dtype_size(t);
  std::vector<std::uint8_t> v(n * es);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t bits = rng();
    switch (t) {
      case DType::kF16:
        while (((bits >> 10) & 31) == 31) bits = rng();  // no inf / NaN
        break;
      case DType::kBF16: {
        const std::uint64_t exp = 127 - 20 + (bits >> 20) % 41;  // 2^-20 .. 2^20
        bits = (bits & 0x807f) | (exp << 7);
        break;
      }
      case DType::kF32: {
        float f =
            std::ldexp(static_cast<float>(static_cast<std::int64_t>(bits % 2000001) - 1000000),
                       static_cast<int>((bits >> 32) % 40) - 20);
        std::memcpy(&bits, &f, 4);
        break;
      }
      case DType::kF64: {
        double d =
            std::ldexp(static_cast<double>(static_cast<std::int64_t>(bits % 2000001) - 1000000),
                       static_cast<int>((bits >> 32) % 80) - 40);
        std::memcpy(&bits, &d, 8);
        break;
      }
      default:
        if (i % 7 == 0) bits &= 0x3;  // small values too, so min/max/prod see ordinary cases
        break;
    }
    std::memcpy(&v[i * es], &bits, es);
  }
  return v;
}

// The reference result of one element.
void ref_elem(DType t, ReduceOp op, const std::uint8_t* a, const std::uint8_t* b,
              std::uint8_t* out) {
  auto ld = [](const std::uint8_t* p, auto tag) {
    decltype(tag) v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  auto st = [&](auto v) { std::memcpy(out, &v, sizeof v); };
  switch (t) {
    case DType::kI8:
      return st(ref_int(ld(a, std::int8_t{}), ld(b, std::int8_t{}), op));
    case DType::kU8:
      return st(ref_int(ld(a, std::uint8_t{}), ld(b, std::uint8_t{}), op));
    case DType::kI32:
      return st(ref_int(ld(a, std::int32_t{}), ld(b, std::int32_t{}), op));
    case DType::kU32:
      return st(ref_int(ld(a, std::uint32_t{}), ld(b, std::uint32_t{}), op));
    case DType::kI64:
      return st(ref_int(ld(a, std::int64_t{}), ld(b, std::int64_t{}), op));
    case DType::kU64:
      return st(ref_int(ld(a, std::uint64_t{}), ld(b, std::uint64_t{}), op));
    case DType::kF32:
      return st(ref_float(ld(a, float{}), ld(b, float{}), op));
    case DType::kF64:
      return st(ref_float(ld(a, double{}), ld(b, double{}), op));
    case DType::kF16: {
      // Sum and product of two halves are exact in double; rounding once is the right answer
      // (float has 24 >= 2*11+2 bits, so the kernel's float intermediate cannot double-round).
      const double r =
          ref_exact(half_value(ld(a, std::uint16_t{})), half_value(ld(b, std::uint16_t{})), op);
      return st(round_to16(r, 10, -14, 15, 15));
    }
    case DType::kBF16: {
      const double r =
          ref_exact(bf16_value(ld(a, std::uint16_t{})), bf16_value(ld(b, std::uint16_t{})), op);
      return st(round_to16(r, 7, -126, 127, 127));
    }
  }
}

class ReduceTest : public ::testing::TestWithParam<std::tuple<DType, ReduceOp>> {};

TEST_P(ReduceTest, MatchesScalarReference) {
  // Not a structured binding: clang 14 (the sanitizer build) cannot capture one in a lambda.
  const DType t = std::get<0>(GetParam());
  const ReduceOp op = std::get<1>(GetParam());
  const std::size_t es = dtype_size(t);
  std::mt19937_64 rng(static_cast<std::uint64_t>(t) * 131 + static_cast<std::uint64_t>(op));
  const std::size_t lengths[] = {0,  1,  2,  3,  7,  8,  9,   15,  16,   17,
                                 31, 32, 33, 63, 64, 65, 127, 255, 1000, 4099};
  for (std::size_t n : lengths) {
    for (std::size_t shift : {0, 1}) {  // misaligned start
      auto a = random_elems(t, n + shift, rng), b = random_elems(t, n + shift, rng);
      std::vector<std::uint8_t> expect(n * es);
      for (std::size_t i = 0; i < n; ++i)
        ref_elem(t, op, a.data() + (i + shift) * es, b.data() + (i + shift) * es,
                 expect.data() + i * es);
      auto cmp = [&](const std::uint8_t* got, const char* form) {
        for (std::size_t i = 0; i < n; ++i)
          ASSERT_EQ(std::memcmp(got + i * es, expect.data() + i * es, es), 0)
              << dtype_name(t) << " " << op_name(op) << " " << form << " n=" << n << " shift "
              << shift << " element " << i << ": got " << element_as_double(got, i, t)
              << " expected " << element_as_double(expect.data(), i, t) << " (a "
              << element_as_double(a.data() + shift * es, i, t) << ", b "
              << element_as_double(b.data() + shift * es, i, t) << ")";
      };
      // out of place
      std::vector<std::uint8_t> out(n * es + 1, 0xEE);
      reduce_into(out.data(), a.data() + shift * es, b.data() + shift * es, n, t, op);
      cmp(out.data(), "into");
      EXPECT_EQ(out[n * es], 0xEE) << "wrote past the end";
      // out aliases b
      auto b2 = b;
      reduce_into(b2.data() + shift * es, a.data() + shift * es, b2.data() + shift * es, n, t, op);
      cmp(b2.data() + shift * es, "out==b");
      // in place
      auto a2 = a;
      reduce_inplace(a2.data() + shift * es, b.data() + shift * es, n, t, op);
      cmp(a2.data() + shift * es, "inplace");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypesAndOps, ReduceTest,
    ::testing::Combine(::testing::ValuesIn(all_dtypes().begin(), all_dtypes().end()),
                       ::testing::ValuesIn(all_ops().begin(), all_ops().end())),
    [](const auto& info) {
      return std::string(dtype_name(std::get<0>(info.param))) + "_" +
             std::string(op_name(std::get<1>(info.param)));
    });

// f16 arithmetic happens in float and the exact result is rounded to nearest even once.
TEST(Reduce, HalfRoundsToNearestEven) {
  const std::uint16_t a = float_to_half(2048.0f), b = float_to_half(3.0f);
  std::uint16_t out;
  reduce_into(&out, &a, &b, 1, DType::kF16, ReduceOp::kSum);
  // 2051 is not a half; nearest even of 2050/2052 is 2052.
  EXPECT_EQ(half_to_float(out), 2052.0f);
  const std::uint16_t c = float_to_half(1.0f), d = float_to_half(0.000488281f);  // 2^-11
  reduce_into(&out, &c, &d, 1, DType::kF16, ReduceOp::kSum);
  EXPECT_EQ(half_to_float(out), 1.0f);  // exact tie 1 + 2^-11 -> even (1.0)
}

TEST(Reduce, SignedOverflowWraps) {
  std::int32_t x = std::numeric_limits<std::int32_t>::max(), y = 1;
  reduce_inplace(&x, &y, 1, DType::kI32, ReduceOp::kSum);
  EXPECT_EQ(x, std::numeric_limits<std::int32_t>::min());
  std::int64_t p = std::int64_t{1} << 62, q = 4;
  reduce_inplace(&p, &q, 1, DType::kI64, ReduceOp::kProd);
  EXPECT_EQ(p, 0);
}

}  // namespace
}  // namespace collbench::collectives
