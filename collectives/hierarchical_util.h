// The node structure hierarchical algorithms need, from AlgorithmContext::node_of_rank: which
// ranks share a node, each rank's index inside its node, and whether every node holds the same
// number of ranks; and the checks and the inner (between nodes) algorithm every hierarchical
// algorithm shares (hierarchical_util.cc).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectives/algorithm.h"

namespace collbench::collectives::algo {

struct NodeMap {
  std::vector<int> node;   // node of every rank, renumbered 0..nodes-1 by first appearance
  std::vector<int> local;  // index of every rank among the ranks of its node (rank order)
  std::vector<std::vector<int>> ranks_of_node;
  int per_node = 0;  // ranks on every node when all nodes hold the same number, else 0
  // Every node's ranks are consecutive ranks (block placement, as mpirun --map-by node gives
  // by default): then the data from one node lands in one contiguous piece.
  bool contiguous = true;

  int nodes() const { return static_cast<int>(ranks_of_node.size()); }
};

// nullopt with a reason when node_of_rank does not describe `size` ranks. Empty node_of_rank
// means "unknown": all ranks on one node.
inline std::optional<NodeMap> make_node_map(const std::vector<int>& node_of_rank, int size,
                                            std::string* why) {
  if (!node_of_rank.empty() && static_cast<int>(node_of_rank.size()) != size) {
    if (why)
      *why = "node_of_rank has " + std::to_string(node_of_rank.size()) + " entries for " +
             std::to_string(size) + " ranks";
    return std::nullopt;
  }
  NodeMap m;
  std::map<int, int> renumber;
  for (int r = 0; r < size; ++r) {
    const int key = node_of_rank.empty() ? 0 : node_of_rank[r];
    auto [it, fresh] = renumber.emplace(key, static_cast<int>(m.ranks_of_node.size()));
    if (fresh) m.ranks_of_node.emplace_back();
    auto& ranks = m.ranks_of_node[it->second];
    m.node.push_back(it->second);
    m.local.push_back(static_cast<int>(ranks.size()));
    ranks.push_back(r);
  }
  if (size == 0) return m;
  m.per_node = static_cast<int>(m.ranks_of_node.front().size());
  for (const auto& ranks : m.ranks_of_node) {
    if (static_cast<int>(ranks.size()) != m.per_node) m.per_node = 0;
    for (std::size_t i = 1; i < ranks.size(); ++i)
      if (ranks[i] != ranks[i - 1] + 1) m.contiguous = false;
  }
  return m;
}

// "2, 2, 1" for messages about uneven nodes.
inline std::string ranks_per_node_list(const NodeMap& m) {
  std::string s;
  for (const auto& r : m.ranks_of_node) s += (s.empty() ? "" : ", ") + std::to_string(r.size());
  return s;
}

// The node layout of ctx describes its transport, and (need_uniform) every node holds the same
// number of ranks; the inter-node algorithm is a flat own algorithm of `collective`.
std::optional<std::string> check_hierarchical(std::string_view name, const AlgorithmContext& ctx,
                                              bool need_uniform,
                                              Collective collective = Collective::kAllReduce);

// The inner flat algorithm (AlgorithmContext::inter_node_algorithm) of `collective`, prepared
// for `count` elements on `sub`, whose ranks each sit on their own node. Throws Error with the
// reason when it cannot run there.
std::unique_ptr<Algorithm> prepare_inner(std::string_view outer, const AlgorithmContext& ctx,
                                         Collective collective, Transport* sub, std::size_t count,
                                         const CollectiveArgs& max);

}  // namespace collbench::collectives::algo
