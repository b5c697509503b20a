// The two 8-bit float formats of OCP FP8 (the ones NCCL reduces, ncclFloat8e4m3/e5m2), and
// their conversions to and from float. Header-only and free of the standard library beyond
// <cstdint>, so that CUDA kernels (cuda_kernels.cu) use the very same bits as the host.
//
//   e4m3 (E4M3FN): sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities; S.1111.111 is
//                  NaN; largest finite 448 (0x7e); smallest subnormal 2^-9.
//   e5m2:          sign, 5 exponent bits (bias 15), 2 mantissa bits; IEEE-like infinities (0x7c)
//                  and NaNs; largest finite 57344 (0x7b); smallest subnormal 2^-16. Its bits are
//                  the upper byte of the binary16 with the same value.
//
// float -> fp8 rounds to nearest even and saturates: a finite value beyond the largest finite
// one, and an infinity, become the largest finite value of that sign; every NaN becomes 0x7f.
// These are the semantics of CUDA's __nv_fp8_e4m3/__nv_fp8_e5m2 constructors (__NV_SATFINITE),
// which NCCL's own fp8 reductions use (docs/algorithms.md, "fp8").
//
// Both directions are branch-free (selects only) so that the loops calling them vectorize.
// They assume round to nearest even and no flush-to-zero (the default environment).
#pragma once

#include <cstdint>
#if !defined(__CUDA_ARCH__)
#include <cstring>
#endif

#ifdef __CUDACC__
#define CB_FP8_HD __host__ __device__ inline
#else
#define CB_FP8_HD inline
#endif

namespace collbench::collectives::fp8 {

enum class Format { kE4M3, kE5M2 };

CB_FP8_HD std::uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

CB_FP8_HD float bits_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// Format constants. kMant: mantissa bits; kShift: how far a float's exponent and mantissa lie
// above the fp8 ones (23 - kMant); kMaxFinite: largest finite magnitude code.
template <Format F>
struct Traits;

template <>
struct Traits<Format::kE4M3> {
  static constexpr int kMant = 3;
  static constexpr int kBias = 7;
  static constexpr int kShift = 20;
  static constexpr std::uint32_t kMaxFinite = 0x7e;
  static constexpr double kMaxValue = 448.0;
};

template <>
struct Traits<Format::kE5M2> {
  static constexpr int kMant = 2;
  static constexpr int kBias = 15;
  static constexpr int kShift = 21;
  static constexpr std::uint32_t kMaxFinite = 0x7b;
  static constexpr double kMaxValue = 57344.0;
};

constexpr std::uint8_t kNaN = 0x7f;  // what every NaN converts to, in both formats

template <Format F>
CB_FP8_HD float to_float(std::uint8_t v) {
  using T = Traits<F>;
  const std::uint32_t sign = static_cast<std::uint32_t>(v & 0x80u) << 24;
  const std::uint32_t mag = v & 0x7fu;
  // The magnitude placed kShift bits up reads as a float 2^-(127 - bias) times the fp8 value,
  // for normal and subnormal codes alike (a subnormal lands on a subnormal float); scaling back
  // by a power of two is exact.
  constexpr float kScale = F == Format::kE4M3 ? 0x1p120f : 0x1p112f;
  const std::uint32_t scaled = float_bits(bits_float(mag << T::kShift) * kScale);
  std::uint32_t special;
  bool is_special;
  if constexpr (F == Format::kE4M3) {
    is_special = mag == 0x7fu;
    special = 0x7fc00000u;
  } else {
    is_special = mag >= 0x7cu;
    special = mag == 0x7cu ? 0x7f800000u : 0x7fc00000u;
  }
  return bits_float((is_special ? special : scaled) | sign);
}

template <Format F>
CB_FP8_HD std::uint8_t from_float(float f) {
  using T = Traits<F>;
  const std::uint32_t u = float_bits(f);
  const std::uint32_t sign = (u >> 24) & 0x80u;
  const std::uint32_t a = u & 0x7fffffffu;
  // Normal range: rebias the exponent (127 -> bias) and round the kShift dropped mantissa bits
  // to nearest even; a carry out of the mantissa correctly bumps the exponent.
  constexpr std::uint32_t kRebias = static_cast<std::uint32_t>(127 - T::kBias) << 23;
  constexpr std::uint32_t kHalf = (1u << (T::kShift - 1)) - 1;
  const std::uint32_t normal = (a - kRebias + kHalf + ((a >> T::kShift) & 1u)) >> T::kShift;
  // Below the smallest normal the step is fixed (2^(1 - bias - mant)): adding a float whose ulp
  // is that step makes the FPU round |f| to it; the low bits of the sum are then the code.
  constexpr float kSubMagic = F == Format::kE4M3 ? 0x1p14f : 0x1p7f;
  const std::uint32_t sub = float_bits(bits_float(a) + kSubMagic) - float_bits(kSubMagic);
  constexpr std::uint32_t kMinNormal = static_cast<std::uint32_t>(128 - T::kBias) << 23;
  std::uint32_t r = a < kMinNormal ? sub : normal;
  // Beyond the largest finite value (this includes the infinities): saturate.
  r = a >= 0x7f800000u || r > T::kMaxFinite ? T::kMaxFinite : r;
  return static_cast<std::uint8_t>(a > 0x7f800000u ? kNaN : (r | sign));
}

CB_FP8_HD float e4m3_to_float(std::uint8_t v) { return to_float<Format::kE4M3>(v); }
CB_FP8_HD float e5m2_to_float(std::uint8_t v) { return to_float<Format::kE5M2>(v); }
CB_FP8_HD std::uint8_t float_to_e4m3(float f) { return from_float<Format::kE4M3>(f); }
CB_FP8_HD std::uint8_t float_to_e5m2(float f) { return from_float<Format::kE5M2>(f); }

}  // namespace collbench::collectives::fp8
