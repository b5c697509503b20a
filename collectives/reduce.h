// Reduction kernels on host memory. f16, bf16 and the fp8 types are widened to float, combined,
// and rounded to nearest even once per element; every kernel level gives the same bits.
//
// The kernels exist at several instruction-set levels (ReduceIsa); one is chosen once per
// process from the CPU's features, the best it has, unless the environment variable
// COLLBENCH_REDUCE_ISA names one (portable, avx2, avx512, avx512bf16). The choice is recorded
// in every result file (reduce_isa_name()).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/dtype.h"

namespace collbench::collectives {

// inout[i] = inout[i] (op) in[i] for i < count. inout and in must not overlap.
void reduce_inplace(void* inout, const void* in, std::size_t count, DType t, ReduceOp op);

// out[i] = a[i] (op) b[i]. out may alias a or b exactly, but must not partially overlap either.
void reduce_into(void* out, const void* a, const void* b, std::size_t count, DType t, ReduceOp op);

// Kernel levels, lowest first.
//   kPortable:   plain loops the compiler vectorizes for the baseline ISA (SSE2 on x86-64, NEON
//                on aarch64)
//   kAvx2:       x86-64 AVX2 + FMA + F16C
//   kAvx512:     AVX-512 F/BW/VL/DQ (bf16 rounded in integer arithmetic)
//   kAvx512Bf16: kAvx512 + AVX512_BF16 (VCVTNE2PS2BF16, VDPBF16PS) + AVX512_VBMI (VPERMI2B)
enum class ReduceIsa { kPortable, kAvx2, kAvx512, kAvx512Bf16 };

std::string_view reduce_isa_name(ReduceIsa isa);  // "portable", "avx2", "avx512", "avx512bf16"
std::optional<ReduceIsa> parse_reduce_isa(std::string_view s);

// The levels this CPU can run, lowest first (always includes kPortable).
std::vector<ReduceIsa> available_reduce_isas();

// The level in use: on the first call, COLLBENCH_REDUCE_ISA if set, else the best available.
// Throws collbench::Error when the variable names an unknown level or one this CPU lacks.
ReduceIsa active_reduce_isa();
std::string_view reduce_isa_name();  // of active_reduce_isa()

// Switches the level (tests, micro_reduce). Throws collbench::Error if the CPU lacks it. Not
// safe while another thread reduces.
void set_reduce_isa(ReduceIsa isa);

}  // namespace collbench::collectives
