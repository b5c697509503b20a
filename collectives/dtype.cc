#include "collectives/dtype.h"

#include <array>
#include <cctype>
#include <cmath>

#include "collectives/fp8.h"

namespace collbench::collectives {
namespace {

struct DTypeInfo {
  DType type;
  std::string_view name;
  std::size_t size;
  bool is_float;
  double exact_limit;
  std::array<std::string_view, 3> aliases;
};

constexpr std::array<DTypeInfo, 12> kDTypes{{
    {DType::kI8, "i8", 1, false, 127.0, {"int8", "char", ""}},
    {DType::kU8, "u8", 1, false, 255.0, {"uint8", "", ""}},
    {DType::kI32, "i32", 4, false, 2147483647.0, {"int32", "int", ""}},
    {DType::kU32, "u32", 4, false, 4294967295.0, {"uint32", "", ""}},
    {DType::kI64, "i64", 8, false, 9.2e18, {"int64", "", ""}},
    {DType::kU64, "u64", 8, false, 1.8e19, {"uint64", "", ""}},
    {DType::kF16, "f16", 2, true, 2048.0, {"half", "float16", "fp16"}},
    {DType::kBF16, "bf16", 2, true, 256.0, {"bfloat16", "", ""}},
    {DType::kF32, "f32", 4, true, 16777216.0, {"float", "float32", "fp32"}},
    {DType::kF64, "f64", 8, true, 9007199254740992.0, {"double", "float64", "fp64"}},
    // 4 and 3 significant bits: every integer up to 2^4 resp. 2^3 is exact.
    {DType::kF8E4M3, "f8e4m3", 1, true, 16.0, {"e4m3", "fp8_e4m3", "float8_e4m3fn"}},
    {DType::kF8E5M2, "f8e5m2", 1, true, 8.0, {"e5m2", "fp8_e5m2", "float8_e5m2"}},
}};

constexpr std::array<DType, 12> kAllDTypes{
    DType::kI8,  DType::kU8,   DType::kI32, DType::kU32, DType::kI64,    DType::kU64,
    DType::kF16, DType::kBF16, DType::kF32, DType::kF64, DType::kF8E4M3, DType::kF8E5M2};
constexpr std::array<ReduceOp, 4> kAllOps{ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMin,
                                          ReduceOp::kMax};

const DTypeInfo& info(DType t) { return kDTypes[static_cast<std::size_t>(t)]; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::span<const DType> all_dtypes() { return kAllDTypes; }
std::span<const ReduceOp> all_ops() { return kAllOps; }
std::size_t dtype_size(DType t) { return info(t).size; }
std::string_view dtype_name(DType t) { return info(t).name; }
bool dtype_is_float(DType t) { return info(t).is_float; }
double dtype_exact_limit(DType t) { return info(t).exact_limit; }
bool dtype_is_fp8(DType t) { return t == DType::kF8E4M3 || t == DType::kF8E5M2; }

std::string_view op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kProd:
      return "prod";
    case ReduceOp::kMin:
      return "min";
    case ReduceOp::kMax:
      return "max";
  }
  return "?";
}

std::optional<DType> parse_dtype(std::string_view s) {
  const std::string l = lower(s);
  for (const auto& d : kDTypes) {
    if (l == d.name) return d.type;
    for (auto a : d.aliases)
      if (!a.empty() && l == a) return d.type;
  }
  return std::nullopt;
}

std::optional<ReduceOp> parse_op(std::string_view s) {
  const std::string l = lower(s);
  for (auto op : kAllOps)
    if (l == op_name(op)) return op;
  return std::nullopt;
}

std::string dtype_list() {
  std::string s;
  for (const auto& d : kDTypes) {
    if (!s.empty()) s += ", ";
    s += d.name;
  }
  return s;
}

std::string op_list() { return "sum, prod, min, max"; }

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      u = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

std::uint16_t float_to_half(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t abs = u & 0x7fffffffu;
  // NaN keeps its sign and upper payload bits and becomes quiet (as VCVTPS2PH does); inf.
  if (abs >= 0x7f800000u)
    return static_cast<std::uint16_t>(
        sign | (abs > 0x7f800000u ? 0x7e00u | ((abs >> 13) & 0x3ffu) : 0x7c00u));
  if (abs >= 0x477ff000u) return sign | 0x7c00;  // rounds to >= 65520: overflow to inf
  if (abs < 0x38800000u) {                       // below the smallest normal half: subnormal
    if (abs < 0x33000000u) return sign;          // rounds to zero
    const std::uint32_t e = abs >> 23;
    const std::uint32_t m = (abs & 0x7fffffu) | 0x800000u;
    const int shift = 126 - static_cast<int>(e);  // 14 - (e - 127) + 13 - 1 ...
    const std::uint32_t shifted = m >> (shift - 0);
    const std::uint32_t rem = m & ((1u << shift) - 1);
    const std::uint32_t half = 1u << (shift - 1);
    std::uint32_t r = shifted;
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return sign | static_cast<std::uint16_t>(r);
  }
  std::uint32_t r = abs - 0x38000000u;  // rebias exponent 127 -> 15
  r += 0xfffu + ((r >> 13) & 1u);       // round to nearest even
  return sign | static_cast<std::uint16_t>(r >> 13);
}

float fp8_to_float(std::uint8_t v, DType t) {
  return t == DType::kF8E4M3 ? fp8::e4m3_to_float(v) : fp8::e5m2_to_float(v);
}

std::uint8_t float_to_fp8(float f, DType t) {
  return t == DType::kF8E4M3 ? fp8::float_to_e4m3(f) : fp8::float_to_e5m2(f);
}

}  // namespace collbench::collectives
