// The kernel levels behind reduce.h: one entry point per instruction-set level, each in its own
// file (reduce.cc: portable; reduce_x86_avx2.cc, reduce_x86_avx512.cc), chosen by reduce.cc.
#pragma once

#include <cstddef>

#include "collectives/dtype.h"

namespace collbench::collectives::detail {

// out[i] = a[i] (op) b[i], count > 0; out == a, out == b, or out disjoint from both.
using ReduceFn = void (*)(void* out, const void* a, const void* b, std::size_t count, DType t,
                          ReduceOp op);

void reduce_portable(void* out, const void* a, const void* b, std::size_t count, DType t,
                     ReduceOp op);
#if defined(__x86_64__)
void reduce_avx2(void* out, const void* a, const void* b, std::size_t count, DType t, ReduceOp op);
void reduce_avx512(void* out, const void* a, const void* b, std::size_t count, DType t,
                   ReduceOp op);
void reduce_avx512bf16(void* out, const void* a, const void* b, std::size_t count, DType t,
                       ReduceOp op);
#endif

}  // namespace collbench::collectives::detail
