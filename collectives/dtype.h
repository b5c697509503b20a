// Element types and reduction operators, and the conversions for the 16- and 8-bit floats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace collbench::collectives {

// kF8E4M3 / kF8E5M2: OCP FP8 (collectives/fp8.h), the formats of ncclFloat8e4m3/e5m2.
enum class DType { kI8, kU8, kI32, kU32, kI64, kU64, kF16, kBF16, kF32, kF64, kF8E4M3, kF8E5M2 };
enum class ReduceOp { kSum, kProd, kMin, kMax };

std::span<const DType> all_dtypes();
std::span<const ReduceOp> all_ops();
std::size_t dtype_size(DType t);
std::string_view dtype_name(DType t);
std::string_view op_name(ReduceOp op);
bool dtype_is_float(DType t);
// Largest integer n such that every integer in [0, n] is exact in the type (u8: 255, bf16: 256,
// f8e4m3: 16, f8e5m2: 8).
double dtype_exact_limit(DType t);
// The 8-bit floats, which MPI has no type for.
bool dtype_is_fp8(DType t);
std::optional<DType> parse_dtype(std::string_view s);  // accepts f32/float/float32, bf16, ...
std::optional<ReduceOp> parse_op(std::string_view s);
// "f32, f64, ..." for error messages and help.
std::string dtype_list();
std::string op_list();

// IEEE binary16 and bfloat16 storage. Arithmetic happens in float, rounding once at the end.
struct Half {
  std::uint16_t bits;
};
struct BFloat16 {
  std::uint16_t bits;
};

inline float bf16_to_float(std::uint16_t b) {
  std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline std::uint16_t float_to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return 0x7fc0;  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<std::uint16_t>(u >> 16);
}

float half_to_float(std::uint16_t h);
std::uint16_t float_to_half(float f);

// OCP FP8, round to nearest even with saturation (fp8.h).
float fp8_to_float(std::uint8_t v, DType t);
std::uint8_t float_to_fp8(float f, DType t);

}  // namespace collbench::collectives
