// DeviceOps over CUDA: one stream per rank on its GPU, CUDA events and graphs, cudaMalloc'ed
// memory and the kernels of cuda_kernels.h. Only in builds with NCCL.
#pragma once

#include <memory>

#include "collectives/nccl/device_ops.h"

namespace collbench::collectives {

// Makes `device` current and creates the rank's stream on it (non-blocking with respect to the
// legacy default stream, which nothing here uses). Throws Error when CUDA cannot.
std::shared_ptr<DeviceOps> make_cuda_device_ops(int device);

}  // namespace collbench::collectives
