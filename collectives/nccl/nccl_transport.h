// The Transport over NCCL point-to-point (ncclSend/ncclRecv) on device buffers.
//
// Stream-ordered semantics: isend/irecv only record the operation; wait_all issues everything
// recorded since the last wait_all as one ncclGroupStart/ncclGroupEnd on the rank's stream and
// returns once it is issued. copy (a device copy) and reduce (a kernel) go on the same stream, so
// they see the received data without the host waiting. synchronize() is the only call that waits
// for the GPU: it polls the stream and every communicator of the rank set until the deadline.
// NCCL has no tags: messages between two ranks match in the order they are posted, whatever their
// tag (every algorithm here posts in the same order on both sides). NCCL needs a receive's size
// to equal the matching send's: with size checks on (debug builds, tests, or
// COLLBENCH_CHECK_P2P_SIZES=1) every group is preceded by an exchange of the sizes, and a
// mismatch fails the wait naming both ranks. Zero-byte messages are skipped on both sides.
//
// Free of CUDA and NCCL types: NCCL calls go through the rank set's CommSupervisor (which owns
// every communicator: the parent and the splits), GPU work through DeviceOps, so the same code
// runs over the in-process fake in tests. One transport per GPU; call it from the thread whose
// current device is the GPU's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collectives/nccl/comm_supervisor.h"
#include "collectives/nccl/device_ops.h"
#include "collectives/transport.h"

namespace collbench::collectives {

// Whether sizes are exchanged before every group by default: in debug builds, or when
// COLLBENCH_CHECK_P2P_SIZES=1.
bool default_check_p2p_sizes();

class NcclTransport final : public Transport {
 public:
  // `comm` is owned by `sup`. The rank set's own communicator (`root`) is finalized by close()
  // on the success path and aborted otherwise; a split is finalized when its transport is
  // destroyed, unless something failed (then everything is aborted already).
  NcclTransport(std::shared_ptr<CommSupervisor> sup, CommHandle comm,
                std::shared_ptr<DeviceOps> device, bool root,
                bool check_sizes = default_check_p2p_sizes());
  ~NcclTransport() override;
  NcclTransport(const NcclTransport&) = delete;
  NcclTransport& operator=(const NcclTransport&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string_view name() const override { return "nccl"; }
  MemorySpace memory() const override { return MemorySpace::kDevice; }

  void isend(const void* buf, std::size_t bytes, int peer, int tag) override;
  void irecv(void* buf, std::size_t bytes, int peer, int tag) override;
  // Issues the recorded operations as one NCCL group (does not wait for the GPU).
  Status wait_all(Deadline deadline) override;
  void copy(void* dst, const void* src, std::size_t bytes) override;
  void reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) override;
  // Polls the stream and every communicator's asynchronous state until the GPU is done or the
  // deadline (then every communicator is aborted).
  Status synchronize(Deadline deadline) override;
  // Device memory, zero-filled; throws Error (with the size and the GPU) when it does not fit.
  Buffer allocate(std::size_t bytes) override;
  // ncclCommSplit; negative color: nullptr for this rank. Throws CommError when the split fails
  // or the peers do not arrive in time. The sub-transport shares this one's stream and
  // supervisor (and must not outlive it).
  std::unique_ptr<Transport> split(int color, int key) override;

  // The success path of the rank set's transport: finalizes every communicator (splits first).
  Status close(Deadline deadline);

  CommHandle comm() const { return comm_; }
  StreamHandle stream() const { return device_->stream(); }
  DeviceOps& device() { return *device_; }
  CommSupervisor& supervisor() { return *sup_; }
  // An error of the transport's own enqueue calls (copy/reduce cannot return one); it is also
  // returned by the next wait_all or synchronize. Empty when none.
  const std::string& deferred_error() const { return deferred_error_; }
  // Records `what` as the deferred error unless one is already recorded (for callers that
  // enqueue on stream() themselves, like the native NCCL algorithms).
  void note_error(const std::string& what);

 private:
  Status deferred_status() const;
  Status exchange_sizes(Deadline deadline);

  std::shared_ptr<CommSupervisor> sup_;
  CommHandle comm_ = nullptr;
  std::shared_ptr<DeviceOps> device_;
  bool root_ = false;
  bool closed_ = false;
  bool check_sizes_ = false;
  int uncaught_at_start_ = 0;
  int rank_ = 0, size_ = 1;
  std::vector<P2POp> pending_;
  std::string deferred_error_;
  // The size exchange: what this rank sends (host), what it receives (host), both on the device.
  std::vector<std::uint64_t> sizes_out_, sizes_in_;
  Buffer sizes_device_;
};

}  // namespace collbench::collectives
