#include "topology/hostmap.h"

#include <map>

namespace collbench::topology {

HostMap make_host_map(const std::vector<std::string>& hostnames) {
  HostMap m;
  m.hostnames = hostnames;
  std::map<std::string, int> index;
  for (std::size_t r = 0; r < hostnames.size(); ++r) {
    auto [it, inserted] = index.emplace(hostnames[r], static_cast<int>(m.ranks_of_node.size()));
    if (inserted) {
      m.ranks_of_node.emplace_back();
      m.node_names.push_back(hostnames[r]);
    }
    auto& ranks = m.ranks_of_node[it->second];
    m.node_of_rank.push_back(it->second);
    m.local_rank.push_back(static_cast<int>(ranks.size()));
    ranks.push_back(static_cast<int>(r));
  }
  return m;
}

int HostMap::uniform_ranks_per_node() const {
  if (ranks_of_node.empty()) return 0;
  const std::size_t g = ranks_of_node.front().size();
  for (const auto& r : ranks_of_node)
    if (r.size() != g) return 0;
  return static_cast<int>(g);
}

}  // namespace collbench::topology
