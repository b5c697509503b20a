// The NCCL communicator calls collbench makes, behind an interface free of NCCL and CUDA types:
// one implementation over NCCL (nccl_comm_ops.cc, only in builds with NCCL) and an in-process
// fake (tests/fake_nccl.h, threads as ranks) on which the life-cycle rules of comm_supervisor.h
// are tested on machines without a GPU.
//
// The semantics are those of NCCL's non-blocking communicators (ncclConfig_t::blocking = 0):
// a call may return kInProgress, after which the communicator's state (async_state) must be
// polled until it leaves kInProgress before the next call on it; kError from a call or a poll
// means the communicator is broken and must be aborted (finalizing it would wait for peers that
// are not coming). Handles are opaque: ncclComm_t and cudaStream_t for the real implementation.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <utility>

namespace collbench::collectives {

using CommHandle = void*;
using StreamHandle = void*;

// ncclUniqueId (NCCL_UNIQUE_ID_BYTES = 128): made by one rank, shared by the others.
struct CommId {
  std::array<char, 128> bytes{};
};

struct CommResult {
  enum class Code { kOk, kInProgress, kError };
  Code code = Code::kOk;
  std::string text;  // what failed, for kError

  static CommResult Ok() { return {}; }
  static CommResult InProgress() { return {Code::kInProgress, {}}; }
  static CommResult Error(std::string why) { return {Code::kError, std::move(why)}; }
  bool ok() const { return code == Code::kOk; }
  bool in_progress() const { return code == Code::kInProgress; }
  bool failed() const { return code == Code::kError; }
};

class CommOps {
 public:
  virtual ~CommOps() = default;
  // ncclGetUniqueId.
  virtual CommResult unique_id(CommId* id) = 0;
  // ncclCommInitRankConfig with a non-blocking configuration; *comm is valid on kOk and
  // kInProgress.
  virtual CommResult init_rank(CommHandle* comm, int nranks, const CommId& id, int rank) = 0;
  // ncclCommSplit, the new communicator non-blocking too. Collective over the parent: every rank
  // calls it; color < 0 joins no communicator (*sub = nullptr).
  virtual CommResult split(CommHandle parent, int color, int key, CommHandle* sub) = 0;
  virtual CommResult group_start() = 0;
  // Issues the group; kInProgress: still being issued in the background (poll every
  // communicator of the group).
  virtual CommResult group_end() = 0;
  // ncclSend / ncclRecv of `bytes` bytes (ncclUint8); the counts of a send and its matching
  // receive must be equal.
  virtual CommResult send(const void* buf, std::size_t bytes, int peer, CommHandle comm,
                          StreamHandle stream) = 0;
  virtual CommResult recv(void* buf, std::size_t bytes, int peer, CommHandle comm,
                          StreamHandle stream) = 0;
  // ncclCommGetAsyncError: kOk (idle and healthy), kInProgress (a call is still being carried
  // out in the background) or kError (broken).
  virtual CommResult async_state(CommHandle comm) = 0;
  // ncclCommFinalize: flushes the communicator; done when async_state says kOk.
  virtual CommResult finalize(CommHandle comm) = 0;
  // ncclCommDestroy, after a completed finalize.
  virtual CommResult destroy(CommHandle comm) = 0;
  // ncclCommAbort: frees the communicator whatever state it and its peers are in.
  virtual CommResult abort(CommHandle comm) = 0;
  virtual CommResult rank_and_size(CommHandle comm, int* rank, int* size) = 0;
};

}  // namespace collbench::collectives
