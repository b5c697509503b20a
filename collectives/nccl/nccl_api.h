// What the NCCL backend's CUDA and NCCL code shares: error texts and the checked-call macros,
// the mapping of collbench dtypes and ops to NCCL's, NCCL's version string, and the CommOps over
// NCCL (non-blocking communicators). Only in builds with NCCL.
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <memory>
#include <optional>
#include <string>

#include "collectives/dtype.h"
#include "collectives/nccl/comm_ops.h"

namespace collbench::collectives {

// "CUDA driver version is insufficient for CUDA runtime version (cudaErrorInsufficientDriver,
// error 35)"
std::string cuda_error_text(cudaError_t e);
// "unhandled cuda error (run with NCCL_DEBUG=INFO for details) (NCCL: <last error>)"
std::string nccl_error_text(ncclResult_t r);
// "2.28.9" from ncclGetVersion's code (22809; the old scheme 2804 = 2.8.4 too).
std::string nccl_version_string(int code);
// "[rank R on HOST] " (the MPI world rank, when MPI runs), for messages that leave the rank.
std::string where();

// "[rank R on HOST] call failed at file:line: <text>"
[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_nccl_error(ncclResult_t r, const char* call, const char* file, int line);

#define CB_CUDA_CHECK(call)                                                               \
  do {                                                                                    \
    cudaError_t cb_cuda_rc_ = (call);                                                     \
    if (cb_cuda_rc_ != cudaSuccess)                                                       \
      ::collbench::collectives::throw_cuda_error(cb_cuda_rc_, #call, __FILE__, __LINE__); \
  } while (0)

#define CB_NCCL_CHECK(call)                                                               \
  do {                                                                                    \
    ncclResult_t cb_nccl_rc_ = (call);                                                    \
    if (cb_nccl_rc_ != ncclSuccess)                                                       \
      ::collbench::collectives::throw_nccl_error(cb_nccl_rc_, #call, __FILE__, __LINE__); \
  } while (0)

// NCCL's type for every collbench dtype (all ten have one); nullopt is kept for dtypes a future
// NCCL-less type list may add.
std::optional<ncclDataType_t> nccl_datatype(DType t);
ncclRedOp_t nccl_redop(ReduceOp op);

// ncclSuccess: kOk; ncclInProgress: kInProgress; anything else: kError with NCCL's text.
CommResult nccl_result(ncclResult_t r);

// The CommOps over NCCL. Communicators are created non-blocking (ncclConfig_t::blocking = 0), so
// that no call waits inside NCCL and CommSupervisor's polls can give up at a deadline;
// NCCL_COMM_BLOCKING=1 in the environment overrides that (calls then block inside NCCL and
// only the watchdog ends a hang).
std::unique_ptr<CommOps> make_nccl_comm_ops();

}  // namespace collbench::collectives
