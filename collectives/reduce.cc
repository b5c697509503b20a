// Host reduction kernels. Each (dtype, op) pair is one plain loop that GCC vectorizes at -O3
// (checked with -fopt-info-vec-optimized, see docs/algorithms.md). Signed integer sum and product
// wrap like MPI's (computed in the unsigned type, so no undefined overflow). f16 and bf16 are
// widened to float, combined, and rounded once per element inside the same loop; the
// conversions are branch-free (half_convert.h) so that they vectorize too.
//
// On x86-64 the kernels are compiled twice, for the baseline ISA and for x86-64-v3 (AVX2, FMA,
// F16C), and the variant is chosen once from the CPU's features.
#include "collectives/reduce.h"

#include <cstdint>
#include <type_traits>
#include <utility>

#include "collectives/half_convert.h"

namespace collbench::collectives {
namespace {

namespace base {
#include "collectives/reduce_kernels.inc"
}  // namespace base

using ReduceFn = void (*)(void*, const void*, const void*, std::size_t, DType, ReduceOp);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt")
namespace v3 {
#include "collectives/reduce_kernels.inc"
}  // namespace v3
#pragma GCC pop_options

ReduceFn pick() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c"))
    return v3::reduce;
  return base::reduce;
}
#else
ReduceFn pick() { return base::reduce; }
#endif

}  // namespace

void reduce_into(void* out, const void* a, const void* b, std::size_t count, DType t,
                 ReduceOp op) {
  if (count == 0) return;
  if (out == b && out != a) std::swap(a, b);  // every op is commutative
  static const ReduceFn fn = pick();
  fn(out, a, b, count, t, op);
}

void reduce_inplace(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) {
  reduce_into(inout, inout, in, count, t, op);
}

}  // namespace collbench::collectives
