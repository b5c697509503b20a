// All-reduce "hierarchical" (per rail) and "hierarchical_leader": keep most traffic inside a
// node, where links are fast, and send across nodes only what must cross.
//
// Notation: p ranks on N nodes, g = p/N ranks per node, n = vector bytes; α_i β_i inside a node,
// α_e β_e between nodes; "inner" is the flat all-reduce named by
// AlgorithmContext::inter_node_algorithm (ring by default), taken from the registry.
//
// hierarchical (per rail; needs the same g on every node):
//   1. ring reduce-scatter inside the node: local rank l ends with chunk (l+1) mod g of the
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

namespace collbench::collectives {
namespace {

namespace pt = patterns;

// Own tag: the node and rail sub-transports carry only this algorithm's messages and the inner
// algorithm's (which uses its own tag).
constexpr int kTagHierarchical = 0x170;

bool is_hierarchical(std::string_view name) { return name.rfind("hierarchical", 0) == 0; }

// The checks both variants share; `need_uniform` for the per-rail variant.
std::optional<std::string> check_hierarchical(std::string_view name, const AlgorithmContext& ctx,
                                              const CollectiveArgs& args, bool need_uniform) {
  if (auto why = algo::check_common(name, Collective::kAllReduce, ctx, args)) return why;
  std::string why;
  const auto map = algo::make_node_map(ctx.node_of_rank, ctx.transport->size(), &why);
  if (!map) return std::string(name) + ": " + why;
  if (need_uniform && map->per_node == 0)
    return std::string(name) + " needs the same number of ranks on every node (ranks per node: " +
           algo::ranks_per_node_list(*map) + "); use hierarchical_leader";
  const AlgorithmInfo* inner = find_algorithm(Collective::kAllReduce, ctx.inter_node_algorithm);
  if (!inner)
    return std::string(name) + ": unknown inter-node algorithm '" + ctx.inter_node_algorithm + "'";
  if (is_hierarchical(inner->name))
    return std::string(name) + ": the inter-node algorithm must be a flat one, not '" +
           ctx.inter_node_algorithm + "'";
  return std::nullopt;
}

// The inner flat all-reduce on a sub-transport whose ranks each sit on their own node.
std::unique_ptr<Algorithm> prepare_inner(std::string_view outer, const AlgorithmContext& ctx,
                                         Transport* sub, std::size_t count,
                                         const CollectiveArgs& max) {
  auto inner = find_algorithm(Collective::kAllReduce, ctx.inter_node_algorithm)->make();
  AlgorithmContext ic;
  ic.transport = sub;
  ic.segment_bytes = ctx.segment_bytes;
  ic.inter_node_algorithm = "ring";
  for (int i = 0; i < sub->size(); ++i) ic.node_of_rank.push_back(i);
  const CollectiveArgs args{Collective::kAllReduce, count, max.dtype, max.op, true};
  if (auto why = inner->supports(ic, args))
    throw Error(std::string(outer) + ": inter-node algorithm '" + ctx.inter_node_algorithm +
                "' cannot run between nodes: " + *why);
  inner->prepare(ic, args);
  return inner;
}

class HierarchicalAllreduce final : public Algorithm {
 public:
  std::string_view name() const override { return "hierarchical"; }
  Collective collective() const override { return Collective::kAllReduce; }

  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs& args) const override {
    return check_hierarchical(name(), ctx, args, true);
  }

  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max) override {
    if (auto why = supports(ctx, max)) throw Error(*why);
    Transport& t = *ctx.transport;
    const auto map = *algo::make_node_map(ctx.node_of_rank, t.size(), nullptr);
    const int r = t.rank();
    // Rails are ordered by node so that the inner algorithm's ring follows node order.
    node_ = t.split(map.node[r], r);
    rail_ = t.split(map.local[r], map.node[r]);
    es_ = dtype_size(max.dtype);
    max_bytes_ = max.bytes();
    const int g = node_->size();
    const std::size_t max_chunk = pt::max_chunk_size(max.count, g);
    scratch_ = g > 1 && max_chunk > 0 ? t.allocate(max_chunk * es_) : Buffer();
    inner_ = rail_->size() > 1 ? prepare_inner(name(), ctx, rail_.get(), max_chunk, max) : nullptr;
    prepared_ = true;
  }

  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) override {
    if (Status st = algo::check_prepared(name(), a, max_bytes_, es_, prepared_); !st.ok())
      return st;
    if (a.count == 0) return Status::Ok();
    Transport& t = *node_;
    const int g = t.size(), l = t.rank();
    const bool in_place = a.in_place || send == recv;
    const void* input = in_place ? recv : send;
    const std::size_t n = a.count, es = es_;
    if (g == 1 && !in_place) t.copy(recv, input, a.bytes());

    // 1. Reduce-scatter around the node's ring (as in ring_allreduce.cc, one segment per chunk).
    for (int s = 0; s < g - 1; ++s) {
      const int sc = pt::ring_rs_send_chunk(l, g, s), rc = pt::ring_rs_recv_chunk(l, g, s);
      const std::size_t r_off = pt::chunk_offset(n, g, rc), r_len = pt::chunk_size(n, g, rc);
      const void* src = s == 0 ? input : recv;
      void* dst = in_place ? scratch_.data() : algo::at(recv, r_off, es);
      t.irecv(dst, r_len * es, pt::ring_prev(l, g), kTagHierarchical);
      t.isend(algo::at(src, pt::chunk_offset(n, g, sc), es), pt::chunk_size(n, g, sc) * es,
              pt::ring_next(l, g), kTagHierarchical);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      const void* mine =
          in_place ? static_cast<const void*>(scratch_.data()) : algo::at(send, r_off, es);
      t.reduce(algo::at(recv, r_off, es), mine, r_len, a.dtype, a.op);
    }

    // 2. Every rail all-reduces the chunk its members own (the same index on every node).
    const int own = (l + 1) % g;
    if (inner_) {
      void* chunk = algo::at(recv, pt::chunk_offset(n, g, own), es);
      const CollectiveArgs ia{Collective::kAllReduce, pt::chunk_size(n, g, own), a.dtype, a.op,
                              true};
      if (Status st = inner_->run(chunk, chunk, ia, deadline); !st.ok()) return st;
    }

    // 3. All-gather around the node's ring, starting with the owned chunk.
    for (int s = 0; s < g - 1; ++s) {
      const int sc = pt::ring_ag_send_chunk(l, g, s), rc = pt::ring_ag_recv_chunk(l, g, s);
      t.irecv(algo::at(recv, pt::chunk_offset(n, g, rc), es), pt::chunk_size(n, g, rc) * es,
              pt::ring_prev(l, g), kTagHierarchical);
      t.isend(algo::at(recv, pt::chunk_offset(n, g, sc), es), pt::chunk_size(n, g, sc) * es,
              pt::ring_next(l, g), kTagHierarchical);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
    }
    return Status::Ok();
  }

 private:
  std::unique_ptr<Transport> node_, rail_;
  std::unique_ptr<Algorithm> inner_;
  std::size_t es_ = 1;
  std::size_t max_bytes_ = 0;
  Buffer scratch_;
  bool prepared_ = false;
};

class HierarchicalLeaderAllreduce final : public Algorithm {
 public:
  std::string_view name() const override { return "hierarchical_leader"; }
  Collective collective() const override { return Collective::kAllReduce; }

  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs& args) const override {
    return check_hierarchical(name(), ctx, args, false);
  }

  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max) override {
    if (auto why = supports(ctx, max)) throw Error(*why);
    Transport& t = *ctx.transport;
    const auto map = *algo::make_node_map(ctx.node_of_rank, t.size(), nullptr);
    const int r = t.rank();
    node_ = t.split(map.node[r], r);
    // Non-leaders form a group too (unused): a negative color is not portable across transports.
    auto group = t.split(map.local[r] == 0 ? 0 : 1, map.node[r]);
    if (map.local[r] == 0)
      leaders_ = std::move(group);
    else
      others_ = std::move(group);
    es_ = dtype_size(max.dtype);
    max_bytes_ = max.bytes();
    const int g = node_->size(), l = node_->rank();
    parent_ = pt::binomial_parent(l, g, 0);
    children_ = pt::binomial_children(l, g, 0);
    scratch_ = !children_.empty() && max_bytes_ > 0 ? t.allocate(max_bytes_) : Buffer();
    inner_ = leaders_ && leaders_->size() > 1
                 ? prepare_inner(name(), ctx, leaders_.get(), max.count, max)
                 : nullptr;
    prepared_ = true;
  }

  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) override {
    if (Status st = algo::check_prepared(name(), a, max_bytes_, es_, prepared_); !st.ok())
      return st;
    if (a.count == 0) return Status::Ok();
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
  std::size_t es_ = 1;
  std::size_t max_bytes_ = 0;
  Buffer scratch_;
  bool prepared_ = false;
};

}  // namespace

std::unique_ptr<Algorithm> make_hierarchical_allreduce() {
  return std::make_unique<HierarchicalAllreduce>();
}
std::unique_ptr<Algorithm> make_hierarchical_leader_allreduce() {
  return std::make_unique<HierarchicalLeaderAllreduce>();
}

}  // namespace collbench::collectives
