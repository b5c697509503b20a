// All-to-all "hierarchical": node-aware two-phase exchange, so that between two nodes every
// rail carries one message of g blocks instead of g² separate block messages between all pairs
// of their ranks.
//
// Notation: p ranks on N nodes, g = p/N per node (the same on every node), b = block bytes
// (n = p b per rank); rank (A, l) is local rank l of node A; rail l = the ranks with local rank
// l on every node.
// Steps:
//   1a. inside node A, local rank l sends to each local rank m the N-1 blocks it has for
//      (B, m), B != A; m files them as stage[B][l]. Afterwards stage[B] of rank (A, m) holds,
//      in local-rank order, every block node A has for rank (B, m);
//   2. along rail m, rank (A, m) sends stage[B] (g blocks, one message) to (B, m) for every
//      B != A. When every node's ranks are consecutive (block placement) the g blocks land in
//      one piece of the receive buffer; otherwise each block travels as its own message to its
//      place, which costs α but not β;
//   1b. while 2 is in flight, the blocks for the node's own ranks go straight to them.
//   Each phase posts all its messages at once, peers staggered by rank.
// Bytes sent per rank: (g-1)/g n inside the node, (N-1)/N n between nodes: the same volume as
//   a flat exchange, in N-1 inter-node messages of g b instead of p-g messages of b.
// Cost: (g-1) N α_i + (g-1)/g n β_i + (N-1) α_e + (N-1)/N n β_e, plus n of local copies.
// Scratch: one message (n) for the stage.
#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/hierarchical_util.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

constexpr int kTagHierarchicalAllToAll = algo::kTagHierarchical + 1;

class HierarchicalAlltoall final : public algo::OwnAlgorithm {
 public:
  HierarchicalAlltoall() : OwnAlgorithm(AlgorithmId::kHierarchicalAlltoall) {}

 protected:
  std::optional<std::string> refuse(const AlgorithmContext& ctx,
                                    const CollectiveArgs&) const override {
    std::string why;
    const auto map = algo::make_node_map(ctx.node_of_rank, ctx.transport->size(), &why);
    if (!map) return "hierarchical: " + why;
    if (map->per_node == 0)
      return "hierarchical all-to-all needs the same number of ranks on every node (ranks per "
             "node: " +
             algo::ranks_per_node_list(*map) + ")";
    return std::nullopt;
  }

  void setup(const AlgorithmContext& ctx, const CollectiveArgs&) override {
    Transport& t = tr();
    map_ = *algo::make_node_map(ctx.node_of_rank, t.size(), nullptr);
    const int r = t.rank();
    node_ = t.split(map_.node[r], r);              // rank in node_ = local rank
    rail_ = t.split(map_.local[r], map_.node[r]);  // rank in rail_ = node index
    stage_ = t.size() > 1 && max_bytes() > 0 ? t.allocate(max_bytes()) : Buffer();
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& nt = *node_;
    Transport& rt = *rail_;
    const int g = nt.size(), l = nt.rank(), nodes = rt.size(), me = rt.rank();
    const std::size_t bb = a.count / static_cast<std::size_t>(g * nodes) * es();
    const bool in_place = a.in_place || send == recv;
    const std::byte* in = static_cast<const std::byte*>(in_place ? recv : send);
    std::byte* out = static_cast<std::byte*>(recv);
    std::byte* stage = stage_.bytes();
    if (g * nodes == 1) {
      if (!in_place) nt.copy(out, in, bb);
      return Status::Ok();
    }
    const auto& ron = map_.ranks_of_node;
    auto block = [&](int rank) { return static_cast<std::size_t>(rank) * bb; };
    auto slot = [&](int node, int local) {
      return static_cast<std::size_t>(node * g + local) * bb;
    };

    // 1a. Aggregate inside the node what leaves it: stage[B][m] <- the block local rank m has
    //     for (B, l), for every other node B.
    for (int k = 1; k < g; ++k) {
      const int to = pt::linear_send_peer(l, g, k), from = pt::linear_recv_peer(l, g, k);
      for (int b = 0; b < nodes; ++b) {
        if (b == me) continue;
        nt.irecv(stage + slot(b, from), bb, from, kTagHierarchicalAllToAll);
        nt.isend(in + block(ron[b][to]), bb, to, kTagHierarchicalAllToAll);
      }
    }
    for (int b = 0; b < nodes; ++b)
      if (b != me) nt.copy(stage + slot(b, l), in + block(ron[b][l]), bb);
    if (Status st = nt.wait_all(deadline); !st.ok()) return st;

    // 2. Exchange along the rail: stage[B] goes to (B, l); what comes from node B is every block
    //    node B's ranks have for this rank, in their local-rank order. Not waited for yet.
    for (int k = 1; k < nodes; ++k) {
      const int to = pt::linear_send_peer(me, nodes, k), from = pt::linear_recv_peer(me, nodes, k);
      if (map_.contiguous) {
        rt.irecv(out + block(ron[from][0]), g * bb, from, kTagHierarchicalAllToAll);
        rt.isend(stage + slot(to, 0), g * bb, to, kTagHierarchicalAllToAll);
      } else {
        for (int m = 0; m < g; ++m) {
          rt.irecv(out + block(ron[from][m]), bb, from, kTagHierarchicalAllToAll);
          rt.isend(stage + slot(to, m), bb, to, kTagHierarchicalAllToAll);
        }
      }
    }

    // 1b. Meanwhile the blocks that stay in the node: straight to their place out of place; in
    //     place through stage[me], since a block's source and destination are the same bytes.
    for (int k = 1; k < g; ++k) {
      const int to = pt::linear_send_peer(l, g, k), from = pt::linear_recv_peer(l, g, k);
      std::byte* dst = in_place ? stage + slot(me, from) : out + block(ron[me][from]);
      nt.irecv(dst, bb, from, kTagHierarchicalAllToAll);
      nt.isend(in + block(ron[me][to]), bb, to, kTagHierarchicalAllToAll);
    }
    if (!in_place) nt.copy(out + block(ron[me][l]), in + block(ron[me][l]), bb);
    if (Status st = nt.wait_all(deadline); !st.ok()) return st;
    if (in_place)
      for (int m = 0; m < g; ++m)
        if (m != l) nt.copy(out + block(ron[me][m]), stage + slot(me, m), bb);
    return rt.wait_all(deadline);
  }

 private:
  algo::NodeMap map_;
  std::unique_ptr<Transport> node_, rail_;
  Buffer stage_;
};

}  // namespace

std::unique_ptr<Algorithm> make_hierarchical_alltoall() {
  return std::make_unique<HierarchicalAlltoall>();
}

}  // namespace collbench::collectives
