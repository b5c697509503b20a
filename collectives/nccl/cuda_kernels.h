// Device kernels of the NCCL backend, callable from host C++ (the kernels are in cuda_kernels.cu):
// the reduction used by the NCCL transport, and the fill / sentinel / check / corrupt kernels
// the NCCL backend uses so that checking never copies a buffer to the host.
//
// Every function enqueues work on `stream` and returns the launch error (cudaSuccess when the
// work was queued); none of them synchronizes. Buffers are device memory. The value formulas
// are those of check_pattern.h, evaluated on the device, so device and host checks agree
// element for element (the same doubles are compared).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "collectives/algorithm.h"
#include "collectives/dtype.h"

namespace collbench::collectives::cuda {

// inout[i] = inout[i] (op) in[i], i < count; inout and in must not overlap. f16, bf16 and fp8
// are widened to float and rounded once (round to nearest even; fp8 saturates, fp8.h), like the
// host kernels; integer sum and product wrap.
cudaError_t reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op,
                   cudaStream_t stream);

// This rank's input for check round `seed` (spec.h fill_input, on the device): buf is the send
// buffer out of place, the one buffer in place.
cudaError_t fill_input(void* buf, const CollectiveArgs& a, int rank, int ranks, std::uint64_t seed,
                       cudaStream_t stream);

// NaN for floats, 0xA5 bytes for integers over the output span (spec.h fill_sentinel).
cudaError_t fill_sentinel(void* buf, const CollectiveArgs& a, int rank, int ranks,
                          cudaStream_t stream);

// Result of one device check, written by check_output into device memory.
struct DeviceCheck {
  unsigned long long wrong;        // elements that differ from the expected value
  unsigned long long first_wrong;  // smallest wrong index; ~0ull when none
  double first_expected;
  double first_actual;
};

// Compares every element of the receive buffer's output span with its expected value (spec.h
// check_output, on the device; first_wrong indexes the span) and writes the counts into *result
// (device memory, overwritten). Only *result needs to be copied back to the host.
cudaError_t check_output(const void* buf, const CollectiveArgs& a, int rank, int ranks,
                         std::uint64_t seed, DeviceCheck* result, cudaStream_t stream);

// buf[index] += delta, index in elements (the corrupt fault hook, for tests of the check).
cudaError_t add_to_element(void* buf, std::size_t index, DType t, double delta,
                           cudaStream_t stream);

}  // namespace collbench::collectives::cuda
