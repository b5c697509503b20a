// Reduction kernels on host memory. Written as plain loops over restrict pointers so that GCC
// vectorizes them at -O2/-O3; f16 and bf16 are widened to float and rounded once per element.
#pragma once

#include <cstddef>

#include "collectives/dtype.h"

namespace collbench::collectives {

// inout[i] = inout[i] (op) in[i] for i < count. inout and in must not overlap.
void reduce_inplace(void* inout, const void* in, std::size_t count, DType t, ReduceOp op);

// out[i] = a[i] (op) b[i]. out may alias a or b exactly, but must not partially overlap either.
void reduce_into(void* out, const void* a, const void* b, std::size_t count, DType t,
                 ReduceOp op);

}  // namespace collbench::collectives
