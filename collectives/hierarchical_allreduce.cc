// All-reduce "hierarchical" (per rail) and "hierarchical_leader": keep most traffic inside a
// node, where links are fast, and send across nodes only what must cross.
//
// Notation: p ranks on N nodes, g = p/N ranks per node, n = vector bytes; α_i β_i inside a node,
// α_e β_e between nodes; "inner" is the flat all-reduce named by
// AlgorithmContext::inter_node_algorithm (ring by default), taken from the registry.
//
// hierarchical (per rail; needs the same g on every node):
//   1. ring reduce-scatter inside the node (ring_steps.h): local rank l ends with chunk l of the
//      node's sum (g-1 steps, chunks of n/g);
//   2. the ranks with the same local rank on every node (one "rail") all-reduce that chunk with
//      the inner algorithm: g rails run at once, each on n/g bytes;
//   3. ring all-gather inside the node.
//   Bytes sent per rank: 2 (g-1)/g n inside the node; inner's bytes for n/g between nodes
//   (ring: 2 (N-1)/N n/g). Per node link: 2 (N-1)/N n, against 2 (p-1)/p n · (ranks whose ring
//   neighbour is on another node) for a flat ring.
//   Cost (inner = ring): 2(g-1) α_i + 2 (g-1)/g n β_i + 2(N-1) α_e + 2 (N-1)/(N g) n β_e
//   + ((g-1)/g + (N-1)/(N g)) n γ.
//   Scratch: one chunk (n/g) for the in-place reduce-scatter, plus what inner takes for n/g.
//
// hierarchical_leader (any placement, for comparison):
//   1. binomial-tree reduce to the node's lowest rank (the leader): ceil(lg g) steps of n;
//   2. the leaders all-reduce n with the inner algorithm over the N nodes;
//   3. binomial-tree broadcast from the leader.
//   Bytes sent: at most ceil(lg g) n per rank inside the node; inner's bytes for n on one rank
//   per node, so the node link carries the whole vector through one rank.
//   Cost (inner = ring): 2 ceil(lg g) (α_i + n β_i) + ceil(lg g) n γ + 2(N-1) α_e
//   + 2 (N-1)/N n β_e + (N-1)/N n γ.
//   Scratch: one message (n) to receive children's partials into.
#include <algorithm>

#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/hierarchical_util.h"
#include "collectives/patterns.h"
#include "collectives/registry.h"
#include "collectives/ring_steps.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;
using algo::kTagHierarchical;

class HierarchicalAllreduce final : public algo::OwnAlgorithm {
 public:
  HierarchicalAllreduce() : OwnAlgorithm(AlgorithmId::kHierarchicalAllreduce) {}

 protected:
  std::optional<std::string> refuse(const AlgorithmContext& ctx,
                                    const CollectiveArgs&) const override {
    return algo::check_hierarchical(name(), ctx, true);
  }

  void setup(const AlgorithmContext& ctx, const CollectiveArgs& max) override {
    Transport& t = tr();
    const auto map = *algo::make_node_map(ctx.node_of_rank, t.size(), nullptr);
    const int r = t.rank();
    // Rails are ordered by node so that the inner algorithm's ring follows node order.
    node_ = t.split(map.node[r], r);
    rail_ = t.split(map.local[r], map.node[r]);
    const int g = node_->size();
    const std::size_t max_chunk = pt::max_chunk_size(max.count, g);
    slot_bytes_ = algo::ring_slot_elems(max.count, g, 0) * es();
    scratch_ = g > 1 && max_chunk > 0 ? t.allocate(slot_bytes_) : Buffer();
    inner_ = rail_->size() > 1 ? algo::prepare_inner(name(), ctx, Collective::kAllReduce,
                                                     rail_.get(), max_chunk, max)
                               : nullptr;
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = *node_;
    const int g = t.size(), l = t.rank();
    const bool in_place = a.in_place || send == recv;
    const void* input = in_place ? recv : send;
    const std::size_t n = a.count;
    if (g == 1 && !in_place) t.copy(recv, input, a.bytes());

    // 1. Reduce-scatter around the node's ring: local rank l ends with chunk l.
    if (g > 1) {
      algo::RingReduceScatter rs;
      rs.n = n;
      rs.dtype = a.dtype;
      rs.op = a.op;
      rs.input = input;
      rs.work = static_cast<std::byte*>(recv);
      rs.input_is_work = in_place;
      rs.slots = scratch_.bytes();
      rs.slot_bytes = slot_bytes_;
      rs.tag = kTagHierarchical;
      if (Status st = algo::ring_reduce_scatter(t, rs, deadline); !st.ok()) return st;
    }

    // 2. Every rail all-reduces the chunk its members own (the same index on every node).
    if (inner_) {
      void* chunk = algo::at(recv, pt::chunk_offset(n, g, l), es());
      const CollectiveArgs ia{Collective::kAllReduce, pt::chunk_size(n, g, l), a.dtype, a.op, true};
      if (Status st = inner_->run(chunk, chunk, ia, deadline); !st.ok()) return st;
    }

    // 3. All-gather around the node's ring, starting with the owned chunk.
    return algo::ring_allgather(t, static_cast<std::byte*>(recv), nullptr, n, es(),
                                kTagHierarchical, deadline);
  }

 private:
  std::unique_ptr<Transport> node_, rail_;
  std::unique_ptr<Algorithm> inner_;
  std::size_t slot_bytes_ = 0;
  Buffer scratch_;
};

class HierarchicalLeaderAllreduce final : public algo::OwnAlgorithm {
 public:
  HierarchicalLeaderAllreduce() : OwnAlgorithm(AlgorithmId::kHierarchicalLeaderAllreduce) {}

 protected:
  std::optional<std::string> refuse(const AlgorithmContext& ctx,
                                    const CollectiveArgs&) const override {
    return algo::check_hierarchical(name(), ctx, false);
  }

  void setup(const AlgorithmContext& ctx, const CollectiveArgs& max) override {
    Transport& t = tr();
    const auto map = *algo::make_node_map(ctx.node_of_rank, t.size(), nullptr);
    const int r = t.rank();
    node_ = t.split(map.node[r], r);
    // Non-leaders form a group too (unused): a negative color is not portable across transports.
    auto group = t.split(map.local[r] == 0 ? 0 : 1, map.node[r]);
    if (map.local[r] == 0)
      leaders_ = std::move(group);
    else
      others_ = std::move(group);
    const int g = node_->size(), l = node_->rank();
    parent_ = pt::binomial_parent(l, g, 0);
    children_ = pt::binomial_children(l, g, 0);
    scratch_ = !children_.empty() && max_bytes() > 0 ? t.allocate(max_bytes()) : Buffer();
    inner_ = leaders_ && leaders_->size() > 1
                 ? algo::prepare_inner(name(), ctx, Collective::kAllReduce, leaders_.get(),
                                       max.count, max)
                 : nullptr;
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = *node_;
    const bool in_place = a.in_place || send == recv;
    const std::size_t bytes = a.bytes();
    if (!in_place) t.copy(recv, send, bytes);

    // 1. Binomial reduce to the leader; smaller subtrees first, as they finish first.
    for (int c : children_) {
      t.irecv(scratch_.data(), bytes, c, kTagHierarchical);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      t.reduce(recv, scratch_.data(), a.count, a.dtype, a.op);
    }
    if (parent_ >= 0) {
      t.isend(recv, bytes, parent_, kTagHierarchical);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
    }

    // 2. Leaders all-reduce between nodes.
    if (inner_) {
      const CollectiveArgs ia{Collective::kAllReduce, a.count, a.dtype, a.op, true};
      if (Status st = inner_->run(recv, recv, ia, deadline); !st.ok()) return st;
    }

    // 3. Binomial broadcast from the leader; larger subtrees first, as they take longest.
    if (parent_ >= 0) {
      t.irecv(recv, bytes, parent_, kTagHierarchical);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
    }
    for (auto it = children_.rbegin(); it != children_.rend(); ++it)
      t.isend(recv, bytes, *it, kTagHierarchical);
    return t.wait_all(deadline);
  }

 private:
  std::unique_ptr<Transport> node_, leaders_, others_;
  std::unique_ptr<Algorithm> inner_;
  std::vector<int> children_;
  int parent_ = -1;
  Buffer scratch_;
};

}  // namespace

std::unique_ptr<Algorithm> make_hierarchical_allreduce() {
  return std::make_unique<HierarchicalAllreduce>();
}
std::unique_ptr<Algorithm> make_hierarchical_leader_allreduce() {
  return std::make_unique<HierarchicalLeaderAllreduce>();
}

}  // namespace collbench::collectives
