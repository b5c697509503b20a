// An in-process stand-in for NCCL and for a CUDA stream, so that the NCCL backend's logic
// (collectives/nccl: CommSupervisor, NcclTransport, device_loop) runs on machines without a GPU.
// Ranks are threads of one process.
//
// Communicators follow NCCL's non-blocking semantics: creation, splits, group issue and finalize
// return kInProgress, and async_state says when they are done. A communicator exists once all its
// ranks have arrived; a finalize completes once all its ranks have finalized; an aborted rank
// stops taking part (its peers' transfers with it never complete).
//
// A "device" is host memory and a stream of work items that run in order; the rank's own thread
// moves its stream forward whenever it asks how far it is (query, event_state). A send and its
// receive match in posting order per pair of ranks; the receiver copies once both are posted,
// and the sender's item completes when the receiver has copied. Unlike NCCL, a receive whose size
// differs from the send's is reported (as an asynchronous error on both communicators) instead of
// corrupting memory or hanging. Stream capture records the items instead of running them; a launch
// runs them again.
//
// Faults: creation that never completes, an asynchronous error on one rank's n-th communicator,
// a rank that dies in its n-th group, and corrupted receives in graph launches.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "collectives/nccl/comm_ops.h"
#include "collectives/nccl/device_ops.h"

namespace collbench::fake {

// Thrown from group_end on the rank the test has chosen to die there: its thread unwinds as a
// killed process would vanish, leaving what it posted half done.
struct RankDied : std::runtime_error {
  RankDied() : std::runtime_error("the rank died (fault injection)") {}
};

struct FakeEvent {
  int world_rank = -1;
  std::string op;   // "init", "split", "finalize", "destroy", "abort"
  int comm = -1;    // serial number of the communicator, in creation order over all ranks
  int parent = -1;  // for splits: the communicator it was split from
};

class FakeNccl {
 public:
  FakeNccl();
  ~FakeNccl();
  FakeNccl(const FakeNccl&) = delete;
  FakeNccl& operator=(const FakeNccl&) = delete;

  // The NCCL calls of one rank's thread (group state is per thread, as in NCCL).
  std::unique_ptr<collectives::CommOps> comm_ops(int world_rank);
  // The rank's device: one stream, host memory. `cache_bytes` is what cache_bytes() reports.
  std::shared_ptr<collectives::DeviceOps> device(int world_rank,
                                                 std::size_t cache_bytes = std::size_t{4} << 20);

  // Faults.
  void hang_creation();  // no communicator created from now on ever completes
  // The `nth` communicator that `world_rank` creates (0 = its first, inits and splits counted
  // together) reports `why` as its asynchronous error once `after_groups` groups were issued on it.
  void fail_async(int world_rank, int nth, int after_groups, const std::string& why);
  // group_end of the rank's `nth` group (0 = the first, over all its communicators) throws
  // RankDied.
  void die_in_group(int world_rank, int nth);
  // Every message `world_rank` receives through a graph launch has its first byte changed.
  void corrupt_graph_receives(int world_rank);

  std::vector<FakeEvent> events() const;
  // Communicators created and neither destroyed nor aborted.
  int open_comms() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace collbench::fake
