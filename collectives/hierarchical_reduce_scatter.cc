// Reduce-scatter and all-gather "hierarchical": the node's ranks first combine what stays inside
// the node, so that between nodes each rank moves only 1/g of the data (g ranks per node).
//
// Notation: p ranks on N nodes, g = p/N per node (the same on every node), b = block bytes
// (n = p b); rank (k, l) is local rank l of node k; rail l = the ranks with local rank l.
// reduce-scatter:
//   1. pack: block of rank (k, l) goes to position l N + k of a staging copy, so that the blocks
//      of rail l are one piece (a local copy of n);
//   2. ring reduce-scatter inside the node on g pieces of N blocks (ring_steps.h): local rank l
//      ends with the node's sum of piece l;
//   3. reduce-scatter along rail l (the inter-node algorithm, ring by default) of that piece:
//      rank (k, l) ends with block k of it, its own block, summed over every node.
//   Bytes sent per rank: (g-1)/g n inside the node, (N-1)/N n/g between nodes.
//   Cost (inner = ring): (g-1) α_i + (g-1)/g n β_i + (N-1) α_e + (N-1)/(N g) n β_e
//   + ((g-1)/g + (N-1)/(N g)) n γ + n δ (the pack).
// all-gather: the mirror image: all-gather along the rail into piece l of a staging copy, ring
//   all-gather of the g pieces inside the node, unpack to rank order. Same bytes, no γ.
// Scratch: n bytes of staging, the ring's arrival slot, and what the inner algorithm takes.
#include <algorithm>

#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/hierarchical_util.h"
#include "collectives/patterns.h"
#include "collectives/ring_steps.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;
using algo::kTagHierarchical;
constexpr int kTag = kTagHierarchical + 2;

// What both directions share: the node and rail transports, the rank of every (node, local)
// position, the staging copy and the inner algorithm along the rail.
class HierarchicalBlocks : public algo::OwnAlgorithm {
 public:
  using OwnAlgorithm::OwnAlgorithm;

 protected:
  std::optional<std::string> refuse(const AlgorithmContext& ctx,
                                    const CollectiveArgs&) const override {
    return algo::check_hierarchical(name(), ctx, true, collective());
  }

  void setup(const AlgorithmContext& ctx, const CollectiveArgs& max) override {
    Transport& t = tr();
    map_ = *algo::make_node_map(ctx.node_of_rank, t.size(), nullptr);
    const int r = t.rank();
    node_ = t.split(map_.node[r], r);
    rail_ = t.split(map_.local[r], map_.node[r]);  // rail rank = node index
    const int g = node_->size(), nodes = map_.nodes();
    stage_ = t.size() > 1 ? t.allocate(max_bytes()) : Buffer();
    slot_bytes_ = algo::ring_slot_elems(max.count, g, 0) * es();
    slots_ = g > 1 ? t.allocate(slot_bytes_) : Buffer();
    inner_ = nodes > 1 ? algo::prepare_inner(name(), ctx, collective(), rail_.get(),
                                             max.count / static_cast<std::size_t>(g), max)
                       : nullptr;
  }

  // Staging position of the block of rank (node k, local l): l N + k.
  std::size_t staged(int rank) const {
    return static_cast<std::size_t>(map_.local[rank]) * static_cast<std::size_t>(map_.nodes()) +
           static_cast<std::size_t>(map_.node[rank]);
  }

  algo::NodeMap map_;
  std::unique_ptr<Transport> node_, rail_;
  std::unique_ptr<Algorithm> inner_;
  std::size_t slot_bytes_ = 0;
  Buffer stage_, slots_;
};

class HierarchicalReduceScatter final : public HierarchicalBlocks {
 public:
  HierarchicalReduceScatter() : HierarchicalBlocks(AlgorithmId::kHierarchicalReduceScatter) {}

 protected:
  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    const int p = tr().size(), r = tr().rank(), g = node_->size(), l = node_->rank();
    const bool in_place = a.in_place || send == recv;
    const std::size_t b = a.count / static_cast<std::size_t>(p), bb = b * es();
    const void* input = in_place ? recv : send;
    std::byte* out = in_place ? algo::at(recv, static_cast<std::size_t>(r) * b, es())
                              : static_cast<std::byte*>(recv);
    if (p == 1) {
      if (!in_place) tr().copy(recv, send, bb);
      return Status::Ok();
    }
    std::byte* stage = stage_.bytes();
    for (int q = 0; q < p; ++q)
      tr().copy(stage + staged(q) * bb, algo::at(input, static_cast<std::size_t>(q) * b, es()), bb);
    if (g > 1) {
      algo::RingReduceScatter rs;
      rs.n = a.count;
      rs.dtype = a.dtype;
      rs.op = a.op;
      rs.input = stage;
      rs.work = stage;
      rs.input_is_work = true;
      rs.slots = slots_.bytes();
      rs.slot_bytes = slot_bytes_;
      rs.tag = kTag;
      if (Status st = algo::ring_reduce_scatter(*node_, rs, deadline); !st.ok()) return st;
    }
    const std::size_t piece = a.count / static_cast<std::size_t>(g);
    std::byte* mine = algo::at(stage, static_cast<std::size_t>(l) * piece, es());
    if (!inner_) {
      tr().copy(out, mine, bb);
      return Status::Ok();
    }
    const CollectiveArgs ia{Collective::kReduceScatter, piece, a.dtype, a.op, false};
    return inner_->run(mine, out, ia, deadline);
  }
};

class HierarchicalAllgather final : public HierarchicalBlocks {
 public:
  HierarchicalAllgather() : HierarchicalBlocks(AlgorithmId::kHierarchicalAllgather) {}

 protected:
  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    const int p = tr().size(), r = tr().rank(), g = node_->size(), l = node_->rank();
    const bool in_place = a.in_place || send == recv;
    const std::size_t b = a.count / static_cast<std::size_t>(p), bb = b * es();
    const void* own = in_place ? algo::at(recv, static_cast<std::size_t>(r) * b, es()) : send;
    if (p == 1) {
      if (!in_place) tr().copy(recv, send, bb);
      return Status::Ok();
    }
    std::byte* stage = stage_.bytes();
    const std::size_t piece = a.count / static_cast<std::size_t>(g);
    std::byte* mine = algo::at(stage, static_cast<std::size_t>(l) * piece, es());
    if (inner_) {
      const CollectiveArgs ia{Collective::kAllGather, piece, a.dtype, a.op, false};
      if (Status st = inner_->run(own, mine, ia, deadline); !st.ok()) return st;
    } else {
      tr().copy(mine, own, bb);
    }
    if (g > 1)
      if (Status st = algo::ring_allgather(*node_, stage, nullptr, a.count, es(), kTag, deadline);
          !st.ok())
        return st;
    for (int q = 0; q < p; ++q)
      tr().copy(algo::at(recv, static_cast<std::size_t>(q) * b, es()), stage + staged(q) * bb, bb);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_hierarchical_reduce_scatter() {
  return std::make_unique<HierarchicalReduceScatter>();
}
std::unique_ptr<Algorithm> make_hierarchical_allgather() {
  return std::make_unique<HierarchicalAllgather>();
}

}  // namespace collbench::collectives
