// The Transport over NCCL point-to-point (ncclSend/ncclRecv) on device buffers, and what the
// NCCL backend and the native NCCL algorithms share: checked-call macros for CUDA and NCCL, and
// the mapping of collbench dtypes and ops to NCCL's.
//
// Stream-ordered semantics: isend/irecv only record the operation; wait_all issues everything
// recorded since the last wait_all as one ncclGroupStart/ncclGroupEnd on the transport's stream
// and returns once it is enqueued. copy (cudaMemcpyAsync) and reduce (a CUDA kernel) go on the
// same stream, so they see the received data without the host waiting. synchronize() is the
// only call that waits for the GPU: it polls the stream and the communicator's asynchronous
// error until the deadline. NCCL has no tags: messages between two ranks match in the order
// they are posted, whatever their tag (every algorithm here posts in the same order on both
// sides). Zero-byte messages are skipped on both sides.
//
// Threading: one transport per GPU; call it from a thread whose current device is device().
#pragma once

#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectives/transport.h"

namespace collbench::collectives {

// "CUDA driver version is insufficient for CUDA runtime version (cudaErrorInsufficientDriver,
// error 35)"
std::string cuda_error_text(cudaError_t e);
// "unhandled cuda error (run with NCCL_DEBUG=INFO for details) (NCCL: <last error>)"
std::string nccl_error_text(ncclResult_t r);
// "2.28.9" from ncclGetVersion's code (22809; the old scheme 2804 = 2.8.4 too).
std::string nccl_version_string(int code);

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

// NCCL's type for a collbench dtype; nullopt for fp8 when the NCCL built against predates
// ncclFloat8e4m3/ncclFloat8e5m2 (2.24).
std::optional<ncclDataType_t> nccl_datatype(DType t);
ncclRedOp_t nccl_redop(ReduceOp op);

class NcclTransport final : public Transport {
 public:
  // Takes ownership of `comm` (a blocking communicator on `device`). Work goes on `stream` when
  // given (not owned: split() hands its own stream to the sub-transports, so that everything a
  // rank does stays in one order), else on a stream created here.
  NcclTransport(ncclComm_t comm, int device, cudaStream_t stream = nullptr);
  ~NcclTransport() override;
  NcclTransport(const NcclTransport&) = delete;
  NcclTransport& operator=(const NcclTransport&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string_view name() const override { return "nccl"; }
  MemorySpace memory() const override { return MemorySpace::kDevice; }

  void isend(const void* buf, std::size_t bytes, int peer, int tag) override;
  void irecv(void* buf, std::size_t bytes, int peer, int tag) override;
  // Enqueues the recorded operations as one NCCL group (does not wait for the GPU).
  Status wait_all(Deadline deadline) override;
  void copy(void* dst, const void* src, std::size_t bytes) override;
  void reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) override;
  // Polls the stream (and NCCL's asynchronous error) until the GPU is done or the deadline.
  Status synchronize(Deadline deadline) override;
  // cudaMalloc on device(); throws Error (with the size and the GPU) when it fails.
  Buffer allocate(std::size_t bytes) override;
  // ncclCommSplit; negative color: nullptr for this rank. The sub-transport shares this one's
  // stream (and must not outlive it).
  std::unique_ptr<Transport> split(int color, int key) override;

  ncclComm_t comm() const { return comm_; }
  cudaStream_t stream() const { return stream_; }
  int device() const { return device_; }
  // An error of the transport's own enqueue calls (copy/reduce cannot return one); it is also
  // returned by the next wait_all or synchronize. Empty when none.
  const std::string& deferred_error() const { return deferred_error_; }
  // Records `what` as the deferred error unless one is already recorded (for callers that
  // enqueue on stream() themselves, like the native NCCL algorithms).
  void note_error(const std::string& what);

 private:
  struct Op {
    bool send;
    void* buf;
    std::size_t bytes;
    int peer;
  };
  Status deferred_status() const;

  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  bool owns_stream_ = false;
  int device_ = 0;
  int rank_ = 0, size_ = 1;
  bool failed_ = false;  // an NCCL call failed: abort the communicator instead of finalizing
  std::vector<Op> pending_;
  std::string deferred_error_;
};

// A transport over the ranks of `comm` on GPU `device` (made current): rank 0 creates the NCCL
// unique id, MPI_Bcast shares it, every rank joins the communicator. Collective over comm.
std::unique_ptr<NcclTransport> make_nccl_transport(MPI_Comm comm, int device);

}  // namespace collbench::collectives
