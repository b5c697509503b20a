// Reduction kernels at every level this CPU runs (reduce.h ReduceIsa), for every dtype x op:
//   - against an independent reference (exact arithmetic in double, rounded once) on ordinary
//     data, at lengths around every vector width, misaligned starts, and each aliasing form;
//   - bit for bit against the portable level on raw bit patterns (NaN, infinities, denormals),
//     every length 0..67 and longer ones, with out, a and b misaligned independently;
//   - exhaustively for fp8 (all 65536 pairs of every op, against the reference) and for f16 and
//     bf16 (all 65536 values against a set of partners, both orders).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "collectives/dtype.h"
#include "collectives/error.h"
#include "collectives/reduce.h"
#include "collectives/spec.h"

namespace collbench::collectives {
namespace {

// Selects a kernel level for one scope, then restores the one in use before.
class IsaScope {
 public:
  explicit IsaScope(ReduceIsa isa) : saved_(active_reduce_isa()) { set_reduce_isa(isa); }
  ~IsaScope() { set_reduce_isa(saved_); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;

 private:
  ReduceIsa saved_;
};

bool is_16(DType t) { return t == DType::kF16 || t == DType::kBF16; }

// --- independent references -------------------------------------------------------------------

// Correctly rounded |x| (finite, nonzero) to `mant_bits` explicit bits with exponent range
// [emin, emax]: the code without sign, or `overflow` when it rounds past emax.
std::uint32_t round_code(double ax, int mant_bits, int emin, int emax, int bias,
                         std::uint32_t overflow) {
  int e2;
  std::frexp(ax, &e2);
  int e = std::max(e2 - 1, emin);
  double q = std::nearbyint(ax / std::ldexp(1.0, e - mant_bits));
  const double one = std::ldexp(1.0, mant_bits);
  if (q >= 2 * one) {
    q /= 2;
    ++e;
  }
  if (e > emax) return overflow;
  if (q < one) return static_cast<std::uint32_t>(q);
  return (static_cast<std::uint32_t>(e + bias) << mant_bits) | static_cast<std::uint32_t>(q - one);
}

std::uint16_t round_to16(double x, int mant_bits, int emin, int emax, int bias) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const auto inf = static_cast<std::uint16_t>((2 * bias + 1) << mant_bits);
  if (std::isinf(x)) return sign | inf;
  if (x == 0) return sign;
  return sign |
         static_cast<std::uint16_t>(round_code(std::fabs(x), mant_bits, emin, emax, bias, inf));
}

// Round to nearest even with saturation (largest finite for overflow and infinities), NaN 0x7f.
std::uint8_t round_fp8(double x, DType t) {
  if (std::isnan(x)) return 0x7f;
  const bool e4 = t == DType::kF8E4M3;
  const std::uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const std::uint32_t max = e4 ? 0x7e : 0x7b;
  if (std::isinf(x)) return sign | static_cast<std::uint8_t>(max);
  if (x == 0) return sign;
  std::uint32_t c = e4 ? round_code(std::fabs(x), 3, -6, 8, 7, 0xff)
                       : round_code(std::fabs(x), 2, -14, 15, 15, 0xff);
  if (c > max) c = max;  // includes e4m3's 0x7f (480) and e5m2's infinity codes
  return sign | static_cast<std::uint8_t>(c);
}

double half_value(std::uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0    ? std::ldexp(m, -24)
             : e == 31 ? (m ? NAN : INFINITY)
                       : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -v : v;
}

double bf16_value(std::uint16_t b) {
  std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

double fp8_value(std::uint8_t v, DType t) {
  const bool e4 = t == DType::kF8E4M3;
  const int mb = e4 ? 3 : 2, bias = e4 ? 7 : 15, mag = v & 0x7f;
  const int e = mag >> mb, m = mag & ((1 << mb) - 1);
  double r;
  if (e4 && mag == 0x7f)
    r = NAN;
  else if (!e4 && e == 31)
    r = m ? NAN : INFINITY;
  else
    r = e == 0 ? std::ldexp(m, 1 - bias - mb) : std::ldexp((1 << mb) + m, e - bias - mb);
  return (v & 0x80) ? -r : r;
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
      return b < a ? b : a;
    case ReduceOp::kMax:
      return a < b ? b : a;
  }
  return 0;
}

// The reference result of one element (finite inputs for f16/bf16/f32/f64; any fp8).
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
          ref_float(half_value(ld(a, std::uint16_t{})), half_value(ld(b, std::uint16_t{})), op);
      return st(round_to16(r, 10, -14, 15, 15));
    }
    case DType::kBF16: {
      const double r =
          ref_float(bf16_value(ld(a, std::uint16_t{})), bf16_value(ld(b, std::uint16_t{})), op);
      return st(round_to16(r, 7, -126, 127, 127));
    }
    case DType::kF8E4M3:
    case DType::kF8E5M2:
      // Exact in double; float's 24 bits >= 2 * 4 + 2 make its intermediate harmless.
      *out = round_fp8(ref_float(fp8_value(*a, t), fp8_value(*b, t), op), t);
      return;
  }
}

// --- data -----------------------------------------------------------------------------------

// Random element bits for each dtype; floats finite and, for bf16, in a range where the double
// reference is exact.
std::vector<std::uint8_t> ordinary_elems(DType t, std::size_t n, std::mt19937_64& rng) {
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
      default:                        // integers and fp8 (every fp8 pattern has a reference)
        if (i % 7 == 0) bits &= 0x3;  // small values too, so min/max/prod see ordinary cases
        break;
    }
    std::memcpy(&v[i * es], &bits, es);
  }
  return v;
}

// Raw bit patterns with the special values over-represented: NaNs with various payloads and
// signs, infinities, zeros of both signs, denormals, the largest finite values. For f32/f64 at
// most one operand of a pair is NaN (`other` is the partner vector, or null): which NaN a
// compiled a + b returns when both are depends on the operand order the compiler chose.
std::vector<std::uint8_t> raw_elems(DType t, std::size_t n, std::mt19937_64& rng,
                                    const std::vector<std::uint8_t>* other) {
  const std::size_t es = dtype_size(t);
  std::vector<std::uint8_t> v(n * es);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t bits = rng();
    const unsigned pick = static_cast<unsigned>(rng() % 8);
    if (is_16(t) && pick < 3) {
      const bool bf = t == DType::kBF16;
      const std::uint64_t exp_all = bf ? 0x7f80 : 0x7c00, mant = bf ? 0x7f : 0x3ff;
      if (pick == 0) bits = (bits & (0x8000 | mant)) | exp_all;  // inf / NaN
      if (pick == 1) bits &= 0x8000 | mant;                      // zero / denormal
      if (pick == 2) bits = (bits & 0x8000) | (exp_all - (bf ? 0x80 : 0x400)) | (bits & mant);
    } else if ((t == DType::kF32 || t == DType::kF64) && pick < 3) {
      const std::uint64_t sign = t == DType::kF32 ? 1ull << 31 : 1ull << 63;
      const std::uint64_t exp_all = t == DType::kF32 ? 0x7f800000ull : 0x7ff0000000000000ull;
      const std::uint64_t mant = t == DType::kF32 ? 0x7fffffull : 0xfffffffffffffull;
      if (pick == 0) bits = (bits & (sign | mant)) | exp_all;
      if (pick == 1) bits &= sign | mant;
      if (pick == 2) bits = (bits & sign) | (bits & mant) | (exp_all - (mant + 1));
    }
    if (other && (t == DType::kF32 || t == DType::kF64)) {
      double a;
      double b;
      if (t == DType::kF32) {
        float x, y;
        std::memcpy(&x, &bits, 4);
        std::memcpy(&y, other->data() + i * es, 4);
        a = x;
        b = y;
      } else {
        std::memcpy(&a, &bits, 8);
        std::memcpy(&b, other->data() + i * es, 8);
      }
      if (std::isnan(a) && std::isnan(b)) bits = 0;
    }
    std::memcpy(&v[i * es], &bits, es);
  }
  return v;
}

std::string isa_param_name(const ::testing::TestParamInfo<ReduceIsa>& info) {
  return std::string(reduce_isa_name(info.param));
}

std::string where(DType t, ReduceOp op) {
  return std::string(dtype_name(t)) + " " + std::string(op_name(op));
}

class ReduceIsaTest : public ::testing::TestWithParam<ReduceIsa> {};

// --- against the reference ------------------------------------------------------------------

TEST_P(ReduceIsaTest, MatchesReference) {
  IsaScope scope(GetParam());
  for (DType t : all_dtypes()) {
    for (ReduceOp op : all_ops()) {
      const std::size_t es = dtype_size(t);
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) * 131 + static_cast<std::uint64_t>(op));
      const std::size_t lengths[] = {0,  1,  2,  3,  7,  8,   9,   15,  16,  17,   31,
                                     32, 33, 63, 64, 65, 127, 128, 129, 255, 1000, 4099};
      for (std::size_t n : lengths) {
        for (std::size_t shift : {0, 1}) {  // misaligned start
          auto a = ordinary_elems(t, n + shift, rng), b = ordinary_elems(t, n + shift, rng);
          std::vector<std::uint8_t> expect(n * es);
          for (std::size_t i = 0; i < n; ++i)
            ref_elem(t, op, a.data() + (i + shift) * es, b.data() + (i + shift) * es,
                     expect.data() + i * es);
          auto cmp = [&](const std::uint8_t* got, const char* form) {
            for (std::size_t i = 0; i < n; ++i)
              ASSERT_EQ(std::memcmp(got + i * es, expect.data() + i * es, es), 0)
                  << where(t, op) << " " << form << " n=" << n << " shift " << shift << " element "
                  << i << ": got " << element_as_double(got, i, t) << " expected "
                  << element_as_double(expect.data(), i, t) << " (a "
                  << element_as_double(a.data() + shift * es, i, t) << ", b "
                  << element_as_double(b.data() + shift * es, i, t) << ")";
          };
          std::vector<std::uint8_t> out(n * es + 1, 0xEE);
          reduce_into(out.data(), a.data() + shift * es, b.data() + shift * es, n, t, op);
          cmp(out.data(), "into");
          EXPECT_EQ(out[n * es], 0xEE) << "wrote past the end";
          auto b2 = b;  // out aliases b
          reduce_into(b2.data() + shift * es, a.data() + shift * es, b2.data() + shift * es, n, t,
                      op);
          cmp(b2.data() + shift * es, "out==b");
          auto a2 = a;
          reduce_inplace(a2.data() + shift * es, b.data() + shift * es, n, t, op);
          cmp(a2.data() + shift * es, "inplace");
        }
      }
    }
  }
}

// Every fp8 pair, every op, both forms. The codes are ordered with NaN and infinity last, so
// that vector loops which hand a block with one of them to scalar code still see every pair of
// ordinary values.
TEST_P(ReduceIsaTest, Fp8EveryPairMatchesReference) {
  IsaScope scope(GetParam());
  for (DType t : {DType::kF8E4M3, DType::kF8E5M2}) {
    std::vector<std::uint8_t> order;
    for (int special : {0, 1})
      for (int v = 0; v < 256; ++v)
        if (std::isfinite(fp8_value(static_cast<std::uint8_t>(v), t)) != (special == 1))
          order.push_back(static_cast<std::uint8_t>(v));
    std::vector<std::uint8_t> a(65536), b(65536);
    for (std::size_t i = 0; i < 65536; ++i) {
      a[i] = order[i & 0xff];
      b[i] = order[i >> 8];
    }
    for (ReduceOp op : all_ops()) {
      std::vector<std::uint8_t> out(65536), io = a;
      reduce_into(out.data(), a.data(), b.data(), 65536, t, op);
      reduce_inplace(io.data(), b.data(), 65536, t, op);
      for (std::size_t i = 0; i < 65536; ++i) {
        std::uint8_t want;
        ref_elem(t, op, &a[i], &b[i], &want);
        ASSERT_EQ(out[i], want) << where(t, op) << " a=0x" << std::hex << int(a[i]) << " b=0x"
                                << int(b[i]) << " got 0x" << int(out[i]);
        ASSERT_EQ(io[i], want) << where(t, op) << " in place, a=0x" << std::hex << int(a[i])
                               << " b=0x" << int(b[i]);
      }
    }
  }
}

// --- against the portable level -------------------------------------------------------------

// Runs one reduction at `isa` and at the portable level and compares every byte, for the three
// forms (out of place at independent misalignments, in place, out == b).
void expect_same_as_portable(ReduceIsa isa, DType t, ReduceOp op,
                             const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b,
                             std::size_t n, std::size_t sa, std::size_t sb, std::size_t so,
                             const std::string& what) {
  const std::size_t es = dtype_size(t);
  auto run = [&](ReduceIsa level, int form) {
    IsaScope scope(level);
    std::vector<std::uint8_t> out((n + so) * es + 1, 0xEE), a2 = a, b2 = b;
    if (form == 0) {
      reduce_into(out.data() + so * es, a.data() + sa * es, b.data() + sb * es, n, t, op);
      EXPECT_EQ(out.back(), 0xEE) << "wrote past the end";
      return std::vector<std::uint8_t>(out.begin() + static_cast<std::ptrdiff_t>(so * es),
                                       out.end() - 1);
    }
    if (form == 1) {
      reduce_inplace(a2.data() + sa * es, b.data() + sb * es, n, t, op);
      return std::vector<std::uint8_t>(a2.begin() + static_cast<std::ptrdiff_t>(sa * es),
                                       a2.begin() + static_cast<std::ptrdiff_t>((sa + n) * es));
    }
    reduce_into(b2.data() + sb * es, a.data() + sa * es, b2.data() + sb * es, n, t, op);
    return std::vector<std::uint8_t>(b2.begin() + static_cast<std::ptrdiff_t>(sb * es),
                                     b2.begin() + static_cast<std::ptrdiff_t>((sb + n) * es));
  };
  for (int form : {0, 1, 2}) {
    const auto want = run(ReduceIsa::kPortable, form);
    const auto got = run(isa, form);
    for (std::size_t i = 0; i < n; ++i) {
      if (std::memcmp(&got[i * es], &want[i * es], es) == 0) continue;
      std::uint64_t ga = 0, gb = 0, gw = 0, gg = 0;
      std::memcpy(&ga, &a[(sa + i) * es], es);
      std::memcpy(&gb, &b[(sb + i) * es], es);
      std::memcpy(&gw, &want[i * es], es);
      std::memcpy(&gg, &got[i * es], es);
      ADD_FAILURE() << reduce_isa_name(isa) << " " << where(t, op) << " " << what << " form "
                    << form << " element " << i << " of " << n << ": a=0x" << std::hex << ga
                    << " b=0x" << gb << " portable 0x" << gw << " got 0x" << gg;
      return;
    }
  }
}

TEST_P(ReduceIsaTest, SameBitsAsPortableOnRawPatterns) {
  const ReduceIsa isa = GetParam();
  if (isa == ReduceIsa::kPortable) GTEST_SKIP() << "the reference itself";
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n <= 67; ++n) lengths.push_back(n);
  for (std::size_t n : {127, 128, 129, 255, 256, 257, 1000, 4099}) lengths.push_back(n);
  for (DType t : all_dtypes()) {
    for (ReduceOp op : all_ops()) {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) * 977 + static_cast<std::uint64_t>(op));
      for (std::size_t n : lengths) {
        const std::size_t sa = rng() % 4, sb = rng() % 4, so = rng() % 4;
        const auto b = raw_elems(t, n + 4, rng, nullptr);
        const auto a = raw_elems(t, n + 4, rng, &b);
        // The in-place and out==b forms pair a[sa + i] with b[sb + i]; keep f32/f64 NaN pairs
        // out of those too.
        auto a2 = a;
        if (t == DType::kF32 || t == DType::kF64) {
          const std::size_t es = dtype_size(t);
          for (std::size_t i = 0; i < n; ++i) {
            std::uint64_t x = 0, y = 0;
            std::memcpy(&x, &a2[(sa + i) * es], es);
            std::memcpy(&y, &b[(sb + i) * es], es);
            const bool nx = t == DType::kF32 ? std::isnan(std::bit_cast<float>(std::uint32_t(x)))
                                             : std::isnan(std::bit_cast<double>(x));
            const bool ny = t == DType::kF32 ? std::isnan(std::bit_cast<float>(std::uint32_t(y)))
                                             : std::isnan(std::bit_cast<double>(y));
            if (nx && ny) std::memset(&a2[(sa + i) * es], 0, es);
          }
        }
        expect_same_as_portable(isa, t, op, a2, b, n, sa, sb, so, "n=" + std::to_string(n));
        if (HasFailure()) return;
      }
    }
  }
}

// Every f16 / bf16 value against partners that exercise each special case, in both orders.
TEST_P(ReduceIsaTest, HalfEveryValueAgainstPartnersSameAsPortable) {
  const ReduceIsa isa = GetParam();
  if (isa == ReduceIsa::kPortable) GTEST_SKIP() << "the reference itself";
  for (DType t : {DType::kF16, DType::kBF16}) {
    const bool bf = t == DType::kBF16;
    const std::uint16_t partners[] = {
        0x0000,
        0x8000,  // zeros
        0x0001,
        0x8001,
        bf ? std::uint16_t{0x0040} : std::uint16_t{0x0200},  // denormals
        bf ? std::uint16_t{0x3f80} : std::uint16_t{0x3c00},  // 1
        bf ? std::uint16_t{0xbfc0} : std::uint16_t{0xbe00},  // -1.5
        bf ? std::uint16_t{0x0080} : std::uint16_t{0x0400},  // smallest normal
        bf ? std::uint16_t{0x8081} : std::uint16_t{0x8401},  // -(it + 1 ulp)
        bf ? std::uint16_t{0x7f7f} : std::uint16_t{0x7bff},  // largest finite
        bf ? std::uint16_t{0x7f80} : std::uint16_t{0x7c00},  // inf
        bf ? std::uint16_t{0xff80} : std::uint16_t{0xfc00},  // -inf
        bf ? std::uint16_t{0x7fc0} : std::uint16_t{0x7e00},  // quiet NaN
        bf ? std::uint16_t{0xff81} : std::uint16_t{0xfc01},  // -signalling NaN
        bf ? std::uint16_t{0x7fa5} : std::uint16_t{0x7d55},  // NaN, payload
        bf ? std::uint16_t{0x4b80} : std::uint16_t{0x6800},  // 2^24 resp. 2048: rounding ties
    };
    std::vector<std::uint8_t> all(65536 * 2);
    for (std::size_t i = 0; i < 65536; ++i) {
      const auto v = static_cast<std::uint16_t>(i);
      std::memcpy(&all[i * 2], &v, 2);
    }
    for (std::uint16_t p : partners) {
      std::vector<std::uint8_t> other(65536 * 2);
      for (std::size_t i = 0; i < 65536; ++i) std::memcpy(&other[i * 2], &p, 2);
      for (ReduceOp op : all_ops()) {
        expect_same_as_portable(isa, t, op, all, other, 65536, 0, 0, 0, "partner b");
        expect_same_as_portable(isa, t, op, other, all, 65536, 0, 0, 0, "partner a");
        if (HasFailure()) return;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryAvailableLevel, ReduceIsaTest,
                         ::testing::ValuesIn(available_reduce_isas()), isa_param_name);

// --- semantics that do not depend on the level ------------------------------------------------

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

// A NaN result of a sum or product is a's NaN (quiet, payload truncated) when a is one, at every
// level and with a NaN on both sides.
TEST(Reduce, NanResultTakesTheFirstOperandsNan) {
  for (ReduceIsa isa : available_reduce_isas()) {
    IsaScope scope(isa);
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd}) {
      std::vector<std::uint16_t> a(67, 0x7e55), b(67, 0xfe2a);  // f16: +NaN, -NaN
      std::vector<std::uint16_t> out(67);
      reduce_into(out.data(), a.data(), b.data(), 67, DType::kF16, op);
      for (auto v : out) ASSERT_EQ(v, 0x7e55) << reduce_isa_name(isa);
      std::vector<std::uint16_t> x(67, 0x7f95), y(67, 0xffc3);  // bf16: +sNaN, -NaN
      reduce_into(out.data(), x.data(), y.data(), 67, DType::kBF16, op);
      for (auto v : out) ASSERT_EQ(v, 0x7fd5) << reduce_isa_name(isa);
      std::vector<std::uint8_t> p(67, 0x7f), q(67, 0x38);  // e4m3 NaN + 1
      std::vector<std::uint8_t> o8(67);
      reduce_into(o8.data(), p.data(), q.data(), 67, DType::kF8E4M3, op);
      for (auto v : o8) ASSERT_EQ(v, 0x7f) << reduce_isa_name(isa);
    }
  }
}

TEST(Reduce, Fp8SaturatesAndKeepsInfinitiesFinite) {
  // e4m3: 448 + 448 saturates to 448; e5m2: inf + 1 is the largest finite (CUDA's satfinite).
  const std::uint8_t a = 0x7e, e = 0x7c, one5 = 0x3c;
  std::uint8_t out;
  reduce_into(&out, &a, &a, 1, DType::kF8E4M3, ReduceOp::kSum);
  EXPECT_EQ(out, 0x7e);
  reduce_into(&out, &e, &one5, 1, DType::kF8E5M2, ReduceOp::kSum);
  EXPECT_EQ(out, 0x7b);
  const std::uint8_t ne = 0xfc;
  reduce_into(&out, &e, &ne, 1, DType::kF8E5M2, ReduceOp::kSum);  // inf - inf
  EXPECT_EQ(out, 0x7f);
}

TEST(Reduce, SignedOverflowWraps) {
  std::int32_t x = std::numeric_limits<std::int32_t>::max(), y = 1;
  reduce_inplace(&x, &y, 1, DType::kI32, ReduceOp::kSum);
  EXPECT_EQ(x, std::numeric_limits<std::int32_t>::min());
  std::int64_t p = std::int64_t{1} << 62, q = 4;
  reduce_inplace(&p, &q, 1, DType::kI64, ReduceOp::kProd);
  EXPECT_EQ(p, 0);
}

TEST(ReduceIsa, NamesParseBackAndTheBestIsTheDefault) {
  for (ReduceIsa isa :
       {ReduceIsa::kPortable, ReduceIsa::kAvx2, ReduceIsa::kAvx512, ReduceIsa::kAvx512Bf16})
    EXPECT_EQ(parse_reduce_isa(reduce_isa_name(isa)), isa);
  EXPECT_FALSE(parse_reduce_isa("sse9").has_value());
  const auto avail = available_reduce_isas();
  ASSERT_FALSE(avail.empty());
  EXPECT_EQ(avail.front(), ReduceIsa::kPortable);
  if (!std::getenv("COLLBENCH_REDUCE_ISA")) {
    EXPECT_EQ(active_reduce_isa(), avail.back());
  }
#if !defined(__x86_64__)
  EXPECT_EQ(avail.size(), 1u);
#endif
}

TEST(ReduceIsa, RefusesALevelTheCpuLacks) {
  const auto avail = available_reduce_isas();
  for (ReduceIsa isa : {ReduceIsa::kAvx2, ReduceIsa::kAvx512, ReduceIsa::kAvx512Bf16}) {
    if (std::find(avail.begin(), avail.end(), isa) != avail.end()) continue;
    EXPECT_THROW(set_reduce_isa(isa), Error) << reduce_isa_name(isa);
  }
}

}  // namespace
}  // namespace collbench::collectives
