// The Algorithm interface: one implementation per file, registered in registry.cc.
//
// Life cycle, as the Runner drives it:
//   supports(ctx, args) for the largest size -> refuse with a reason, never crash
//   prepare(ctx, args_max)  once per sweep: all allocation and setup, outside the timed loop
//   run(send, recv, args)   many times, for any args with count <= args_max.count
// Buffers (collective.h describes them once, CollectiveTraits and send_count/recv_count):
//   all-reduce      send and recv hold count elements; every rank ends with the reduction.
//   all-to-all      count = p blocks; block j of send goes to rank j, block i of recv from i.
//   reduce-scatter  send holds count = p blocks, recv one block: the reduction of block r.
//   all-gather      send holds one block, recv count = p blocks: block i from rank i.
// In place send == recv is one buffer of count elements; reduce-scatter leaves its result in
// block r of it, all-gather reads its contribution from block r (NCCL's layout).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/collective.h"
#include "collectives/dtype.h"
#include "collectives/error.h"
#include "collectives/transport.h"

namespace collbench::collectives {

struct CollectiveArgs {
  Collective collective = Collective::kAllReduce;
  std::size_t count = 0;  // elements of the point (nccl-tests' size convention, collective.h)
  DType dtype = DType::kF32;
  ReduceOp op = ReduceOp::kSum;  // collectives that reduce
  bool in_place = false;

  std::size_t bytes() const { return count * dtype_size(dtype); }
};

// What an algorithm may need beyond the transport. Filled by the harness.
struct AlgorithmContext {
  Transport* transport = nullptr;
  // Node index (0..nodes-1) of every rank of *transport, for hierarchical algorithms. Empty
  // means "unknown": hierarchical algorithms then treat all ranks as one node.
  std::vector<int> node_of_rank;
  // Ring pipelining: the segment size in bytes (0 = one segment per chunk).
  std::size_t segment_bytes = 0;
  // Hierarchical all-reduce: the flat algorithm used between nodes.
  std::string inter_node_algorithm = "ring";
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual std::string_view name() const = 0;
  virtual Collective collective() const = 0;

  // Why this algorithm cannot run this configuration, or nullopt if it can.
  virtual std::optional<std::string> supports(const AlgorithmContext& ctx,
                                              const CollectiveArgs& args) const = 0;
  // Allocates scratch for every count up to max_args.count. May communicate (e.g. split).
  virtual void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max_args) = 0;
  // One collective. No allocation, no logging, no I/O. Returns kTimeout past the deadline.
  virtual Status run(const void* send, void* recv, const CollectiveArgs& args,
                     Deadline deadline) = 0;
};

}  // namespace collbench::collectives
