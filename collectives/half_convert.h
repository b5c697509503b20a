// Branch-free conversions between float and the 16-bit float formats, written with selects
// instead of branches so that GCC vectorizes the loops that call them (reduce.cc). dtype.cc's
// half_to_float / float_to_half are these functions; tests/test_dtype.cc checks them exhaustively.
// They assume the default floating-point environment (round to nearest even, no flush-to-zero).
#pragma once

#include <bit>
#include <cstdint>

namespace collbench::collectives::half_convert {

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t em = h & 0x7fffu;
  // Placing exponent and mantissa 13 bits up gives a float 2^-112 times the half's value, for
  // normal and subnormal halves alike (a subnormal half lands on a subnormal float). Scaling by
  // 2^112 is exact.
  const std::uint32_t scaled =
      std::bit_cast<std::uint32_t>(std::bit_cast<float>(em << 13) * 0x1p112f);
  // Infinity and NaN: all-ones exponent, mantissa (NaN payload) kept.
  const std::uint32_t special = 0x7f800000u | (em << 13);
  return std::bit_cast<float>((em >= 0x7c00u ? special : scaled) | sign);
}

inline std::uint16_t float_to_half(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  const std::uint32_t a = u & 0x7fffffffu;
  // Normal range: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to
  // nearest even; a carry out of the mantissa correctly bumps the exponent (up to infinity).
  const std::uint32_t normal = (a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13;
  // Below 2^-14 the result is subnormal: adding 0.5f makes the FPU round |f| to a multiple of
  // 2^-24 (the half subnormal step); the low bits of the sum are then the half's bits.
  const std::uint32_t sub =
      std::bit_cast<std::uint32_t>(std::bit_cast<float>(a) + 0.5f) - 0x3f000000u;
  // >= 65520 rounds past the largest half (65504) to infinity. NaN keeps its upper payload bits
  // and becomes quiet, which is what F16C's and AVX-512's VCVTPS2PH do: the vector kernels use
  // that instruction, and the scalar tail must give the same bits.
  const std::uint32_t big = a > 0x7f800000u ? 0x7e00u | ((a >> 13) & 0x3ffu) : 0x7c00u;
  const std::uint32_t r = a < 0x38800000u ? sub : (a >= 0x47800000u ? big : normal);
  return static_cast<std::uint16_t>(r | sign);
}

inline float bf16_to_float(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

inline std::uint16_t float_to_bf16(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;  // nearest even
  // NaN keeps its sign and becomes quiet (rounding could otherwise carry it into infinity).
  const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
  return static_cast<std::uint16_t>(nan ? ((u >> 16) | 0x0040u) : rounded);
}

}  // namespace collbench::collectives::half_convert
