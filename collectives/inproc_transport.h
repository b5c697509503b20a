// A Transport where every rank is a thread of one process: the fast way to test every algorithm
// at any rank count without mpirun. Messages are matched per (source, destination, tag) in the
// order they were posted, like MPI; the data is copied once, by whichever side arrives second,
// directly from the send buffer into the receive buffer (no intermediate copy, no allocation
// once the request pool has grown to its steady size).
//
// The world can pretend that ranks sit on several nodes (node_of_rank), so that hierarchical
// algorithms can be tested here; split() works like MPI_Comm_split.
//
// Strictness beyond MPI, to catch algorithm bugs: a send and its matching receive must have the
// same size (a mismatch fails both waits), and abort() makes every pending and future wait fail
// at once so that one failing rank does not leave the others waiting for their deadlines.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collectives/transport.h"

namespace collbench::collectives {

namespace inproc_detail {
struct WorldState;
struct Group;
struct Op;
}  // namespace inproc_detail

class InProcTransport final : public Transport {
 public:
  ~InProcTransport() override;
  InProcTransport(const InProcTransport&) = delete;
  InProcTransport& operator=(const InProcTransport&) = delete;

  int rank() const override { return rank_; }
  int size() const override;
  std::string_view name() const override { return "inproc"; }

  void isend(const void* buf, std::size_t bytes, int peer, int tag) override;
  void irecv(void* buf, std::size_t bytes, int peer, int tag) override;
  Status wait_all(Deadline deadline) override;
  void copy(void* dst, const void* src, std::size_t bytes) override;
  void reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) override;
  Buffer allocate(std::size_t bytes) override;
  // Ranks passing a negative color get nullptr (MPI_UNDEFINED). Throws Error on abort or after
  // 60 s without every rank arriving.
  std::unique_ptr<Transport> split(int color, int key) override;

  // Node index of every rank of this transport (from the world's node_of_rank).
  const std::vector<int>& node_of_rank() const;
  // Rank of this transport's rank in the world.
  int world_rank() const;
  // Bytes requested through allocate() so far (tests bound an algorithm's scratch with it).
  std::size_t allocated_bytes() const { return allocated_bytes_; }
  // Operations posted and not yet completed by wait_all.
  std::size_t pending() const;

 private:
  friend class InProcWorld;
  InProcTransport(std::shared_ptr<inproc_detail::Group> group, int rank);
  inproc_detail::Op* new_op();
  void post(inproc_detail::Op* op);

  std::shared_ptr<inproc_detail::Group> group_;
  int rank_;
  int world_rank_;
  // Ops of the current wait_all epoch live in fixed chunks so that their addresses stay valid
  // while other threads hold them in mailboxes; chunks are kept, so steady state allocates none.
  std::vector<std::unique_ptr<inproc_detail::Op[]>> chunks_;
  std::size_t used_ = 0;
  std::size_t allocated_bytes_ = 0;
  int split_calls_ = 0;
};

class InProcWorld {
 public:
  // node_of_rank empty: all ranks on node 0. Otherwise one entry per rank, values 0..nodes-1.
  explicit InProcWorld(int ranks, std::vector<int> node_of_rank = {});
  // ranks_per_node consecutive ranks per node (the usual block placement).
  static std::unique_ptr<InProcWorld> with_nodes(int nodes, int ranks_per_node);
  ~InProcWorld();
  InProcWorld(const InProcWorld&) = delete;
  InProcWorld& operator=(const InProcWorld&) = delete;

  int size() const { return static_cast<int>(transports_.size()); }
  int nodes() const;
  const std::vector<int>& node_of_rank() const { return node_of_rank_; }
  InProcTransport& transport(int rank) { return *transports_.at(static_cast<std::size_t>(rank)); }

  // Every pending and future wait (and split) fails with `why`. Idempotent; the first reason
  // wins. Used when one rank fails so the others stop promptly.
  void abort(const std::string& why);
  bool aborted() const;
  std::string abort_reason() const;

  // Runs fn(transport) on one thread per rank and joins them. An exception on any thread aborts
  // the world; the first one is rethrown here after all threads have ended.
  void run(const std::function<void(InProcTransport&)>& fn);

 private:
  std::shared_ptr<inproc_detail::WorldState> state_;
  std::vector<int> node_of_rank_;
  std::vector<std::unique_ptr<InProcTransport>> transports_;
};

}  // namespace collbench::collectives
