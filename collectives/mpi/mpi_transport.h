// Transport over MPI point-to-point, and the MPI datatype/op mapping used by the native
// MPI collectives. Messages above max_count bytes are split into several MPI calls, so sizes are
// 64-bit even though MPI counts are int.
#pragma once

#include <mpi.h>

#include <climits>
#include <cstddef>
#include <vector>

#include "collectives/transport.h"

namespace collbench::collectives {

class MpiTransport final : public Transport {
 public:
  static constexpr std::size_t kDefaultMaxCount = INT_MAX;

  // Does not take ownership of `comm` unless owns_comm (sub-transports from split own theirs).
  explicit MpiTransport(MPI_Comm comm, std::size_t max_count = kDefaultMaxCount,
                        bool owns_comm = false);
  ~MpiTransport() override;
  MpiTransport(const MpiTransport&) = delete;
  MpiTransport& operator=(const MpiTransport&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string_view name() const override { return "mpi"; }

  void isend(const void* buf, std::size_t bytes, int peer, int tag) override;
  void irecv(void* buf, std::size_t bytes, int peer, int tag) override;
  Status wait_all(Deadline deadline) override;
  void copy(void* dst, const void* src, std::size_t bytes) override;
  void reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) override;
  std::unique_ptr<Transport> split(int color, int key) override;

  MPI_Comm comm() const { return comm_; }
  // Largest count passed to one MPI call (elements of the MPI datatype in use).
  std::size_t max_count() const { return max_count_; }

 private:
  MPI_Comm comm_;
  bool owns_comm_;
  int rank_ = 0;
  int size_ = 1;
  std::size_t max_count_;
  std::vector<MPI_Request> requests_;
};

// MPI datatype for element type t: predefined where MPI has one; a committed 2-byte type for
// f16/bf16 (reductions on it use mpi_op()); MPI_DATATYPE_NULL for fp8 (MPI has none).
MPI_Datatype mpi_datatype(DType t);
// An MPI datatype of the same size as t without reduction meaning (for all-to-all).
MPI_Datatype mpi_copy_datatype(DType t);
// The MPI reduction op for (t, op): predefined, or a user op for f16/bf16 that reduces in float.
MPI_Op mpi_op(DType t, ReduceOp op);

// "[rank R on HOST] MPI_Xxx failed at file:line: <MPI error string>"
[[noreturn]] void throw_mpi_error(int code, const char* call, const char* file, int line);

#define CB_MPI_CHECK(call)                                                              \
  do {                                                                                  \
    int cb_mpi_rc_ = (call);                                                            \
    if (cb_mpi_rc_ != MPI_SUCCESS)                                                      \
      ::collbench::collectives::throw_mpi_error(cb_mpi_rc_, #call, __FILE__, __LINE__); \
  } while (0)

}  // namespace collbench::collectives
