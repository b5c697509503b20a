// Which node every rank sits on, from the hostname each rank reports. Pure: no MPI, no hwloc.
#pragma once

#include <string>
#include <vector>

namespace collbench::topology {

struct HostMap {
  std::vector<std::string> hostnames;  // by rank
  std::vector<int> node_of_rank;       // node index by rank; nodes numbered by first rank
  std::vector<int> local_rank;         // index of the rank among the ranks of its node
  std::vector<std::vector<int>> ranks_of_node;
  std::vector<std::string> node_names;

  int nodes() const { return static_cast<int>(ranks_of_node.size()); }
  int ranks() const { return static_cast<int>(node_of_rank.size()); }
  // Ranks per node if every node holds the same number, otherwise 0.
  int uniform_ranks_per_node() const;
};

HostMap make_host_map(const std::vector<std::string>& hostnames);

}  // namespace collbench::topology
