// The layout logic without MPI: reports by rank (hostname, binding) and hardware by node in,
// nodes, leaders, groups, GPU/NIC choice, warnings, JSON and the printed map out.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "bench/topo_command.h"
#include "topology/discovery.h"
#include "topology/layout.h"

namespace collbench::topology {
namespace {

const Hardware& server() {
  static const Hardware hw = [] {
    DiscoveryOptions o;
    o.xml_path = std::string(COLLBENCH_TEST_DATA) + "/gpu-server-2s-8gpu-8nic.xml";
    return discover(o).hardware;
  }();
  return hw;
}

RankReport report(const std::string& host, const Hardware& hw, const std::string& pus) {
  RankReport r;
  r.hostname = host;
  r.binding = binding_from_pus(hw, parse_list(pus));
  r.discovery_seconds = 0.01;
  return r;
}

int count_containing(const std::vector<std::string>& warnings, const std::string& needle) {
  return static_cast<int>(
      std::count_if(warnings.begin(), warnings.end(),
                    [&](const std::string& w) { return w.find(needle) != std::string::npos; }));
}

std::string all(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& w : v) s += w + "\n";
  return s;
}

// 2 nodes x 8 ranks; local rank i bound to one core, near its GPU when `well_placed`.
std::vector<RankReport> eight_per_node(bool well_placed) {
  std::vector<RankReport> r;
  for (const char* host : {"gpu-a", "gpu-b"})
    for (int i = 0; i < 8; ++i) {
      // Well placed: cores 0,2,4,6 (NUMA 0) then 8,10,12,14 (NUMA 1). Badly: cores 0-7 (NUMA 0).
      const int core = well_placed ? 2 * i : i;
      r.push_back(report(host, server(), std::to_string(core) + "," + std::to_string(core + 16)));
    }
  return r;
}

TEST(TopologyLayout, NodesLeadersAndLocalRanks) {
  const Hardware& hw = server();
  const Layout L = build_layout({report("a", hw, "0"), report("a", hw, "1"), report("b", hw, "0"),
                                 report("b", hw, "1"), report("c", hw, "0"), report("c", hw, "1")},
                                {hw, hw, hw});
  EXPECT_EQ(L.nodes_count(), 3);
  EXPECT_EQ(L.ranks_count(), 6);
  EXPECT_EQ(L.leaders, (std::vector<int>{0, 2, 4}));
  for (int r = 0; r < 6; ++r) {
    EXPECT_EQ(L.ranks[r].node, r / 2);
    EXPECT_EQ(L.ranks[r].local_rank, r % 2);
  }
  EXPECT_EQ(L.nodes[1].host, "b");
  EXPECT_EQ(L.nodes[1].ranks, (std::vector<int>{2, 3}));
  EXPECT_EQ(L.group_colors(GroupKind::kNode), (std::vector<int>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(L.group_colors(GroupKind::kRail), (std::vector<int>{0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(L.group_colors(GroupKind::kLeaders), (std::vector<int>{0, -1, 0, -1, 0, -1}));
}

TEST(TopologyLayout, InterleavedHostsKeepFirstRankAsLeader) {
  const Hardware& hw = server();
  const Layout L = build_layout(
      {report("x", hw, "0"), report("y", hw, "0"), report("x", hw, "1"), report("y", hw, "1")}, {});
  EXPECT_EQ(L.leaders, (std::vector<int>{0, 1}));
  EXPECT_EQ(L.ranks[2].node, 0);
  EXPECT_EQ(L.ranks[2].local_rank, 1);
  EXPECT_EQ(L.ranks[3].local_rank, 1);
  EXPECT_FALSE(L.nodes[0].hardware.has_value());
}

TEST(TopologyLayout, NumaAndSocketGroups) {
  const Layout L = build_layout(eight_per_node(true), {server(), server()});
  for (int r = 0; r < 16; ++r) {
    EXPECT_EQ(L.ranks[r].numa, (r % 8) / 4) << r;
    EXPECT_EQ(L.ranks[r].package, (r % 8) / 4) << r;
  }
  const auto numa = L.group_colors(GroupKind::kNuma);
  // Four groups: (node, NUMA) = (0,0) (0,1) (1,0) (1,1), numbered in rank order.
  for (int r = 0; r < 16; ++r) EXPECT_EQ(numa[r], r / 4) << r;
  EXPECT_EQ(L.group_colors(GroupKind::kSocket), numa);
}

TEST(TopologyLayout, GpuAndNicByLocalRank) {
  const Layout L = build_layout(eight_per_node(true), {server(), server()});
  for (int r = 0; r < 16; ++r) {
    const auto& p = L.ranks[r];
    EXPECT_EQ(p.gpu, r % 8);
    EXPECT_EQ(p.gpu_rule, "local rank");
    EXPECT_EQ(server().nics[p.nic].name, "mlx5_" + std::to_string(r % 8));
  }
  EXPECT_TRUE(L.warnings.empty()) << all(L.warnings);
}

TEST(TopologyLayout, WarnsWhenRanksSitFarFromGpuAndNic) {
  const Layout L = build_layout(eight_per_node(false), {server(), server()});
  // Local ranks 4-7 are bound to NUMA 0 while GPUs 4-7 and mlx5_4..7 hang off NUMA 1.
  EXPECT_EQ(count_containing(L.warnings, "its GPU"), 8) << all(L.warnings);
  EXPECT_EQ(count_containing(L.warnings, "its NIC"), 8) << all(L.warnings);
  EXPECT_EQ(count_containing(L.warnings,
                             "rank 4 on node 'gpu-a' is bound to NUMA node 0 but its GPU 4 "
                             "(0000:9a:00.0) hangs off NUMA node 1"),
            1)
      << all(L.warnings);
  EXPECT_EQ(count_containing(L.warnings, "its NIC mlx5_7 (0000:dc:00.0) hangs off NUMA node 1"), 2);
  EXPECT_EQ(count_containing(L.warnings, "cores 8-15"), 16);  // the advice names the right cores
  EXPECT_EQ(count_containing(L.warnings, "rank 3 "), 0);
  EXPECT_EQ(count_containing(L.warnings, "not bound"), 0);
}

TEST(TopologyLayout, WarnsAboutUnboundRanks) {
  const Hardware& hw = server();
  const Layout L = build_layout(
      {report("a", hw, "0-31"), report("a", hw, "0-31"), report("a", hw, "2,18")}, {hw});
  ASSERT_EQ(count_containing(L.warnings, "not bound"), 1) << all(L.warnings);
  EXPECT_EQ(count_containing(L.warnings, "ranks 0-1 on node 'a' are not bound to CPUs"), 1)
      << all(L.warnings);
  EXPECT_EQ(count_containing(L.warnings, "all 32 PUs"), 1);
  EXPECT_EQ(count_containing(L.warnings, "--bind-to core"), 1);
  // Unbound ranks have no NUMA node, hence no "far from" warning either.
  EXPECT_EQ(L.ranks[0].numa, -1);
  EXPECT_EQ(count_containing(L.warnings, "hangs off"), 0);
}

TEST(TopologyLayout, WarnsAboutMoreRanksThanCores) {
  DiscoveryOptions o;
  o.synthetic = "pack:1 numa:1 core:2 pu:1";
  const Hardware small = discover(o).hardware;
  std::vector<RankReport> r;
  for (int i = 0; i < 3; ++i) r.push_back(report("laptop", small, std::to_string(i % 2)));
  const Layout L = build_layout(r, {small});
  EXPECT_EQ(count_containing(L.warnings, "node 'laptop' runs 3 ranks on 2 cores"), 1)
      << all(L.warnings);
  // Ranks 0 and 2 are both pinned to PU 0.
  EXPECT_EQ(
      count_containing(L.warnings, "ranks 0 and 2 on node 'laptop' are bound to overlapping PUs"),
      1)
      << all(L.warnings);
  EXPECT_EQ(count_containing(L.warnings, "overlapping"), 1);
}

TEST(TopologyLayout, WarnsWhenNodesDifferInHardware) {
  Hardware fewer = server();
  fewer.gpus.resize(6);
  const Hardware& hw = server();
  const Layout L = build_layout({report("a", hw, "0"), report("b", hw, "0"), report("c", hw, "0")},
                                {hw, fewer, hw});
  ASSERT_EQ(count_containing(L.warnings, "nodes differ in hardware"), 1) << all(L.warnings);
  // The majority first, then the odd one out, each with what it has.
  const std::string& w = L.warnings[0];
  EXPECT_NE(w.find("2 nodes (a, c) with"), std::string::npos) << w;
  EXPECT_NE(w.find("1 node (b) with"), std::string::npos) << w;
  EXPECT_NE(w.find("6 x NVIDIA H100"), std::string::npos) << w;

  const Layout same = build_layout({report("a", hw, "0"), report("b", hw, "0")}, {hw, hw});
  EXPECT_EQ(count_containing(same.warnings, "differ"), 0) << all(same.warnings);
}

TEST(TopologyLayout, WarnsAboutUnevenRanksPerNode) {
  const Hardware& hw = server();
  const Layout L =
      build_layout({report("a", hw, "0"), report("a", hw, "1"), report("b", hw, "0")}, {hw, hw});
  EXPECT_EQ(count_containing(L.warnings, "nodes run different numbers of ranks (a: 2, b: 1)"), 1)
      << all(L.warnings);
}

TEST(TopologyLayout, ManyNodesWarningsAreCapped) {
  const Hardware& hw = server();
  std::vector<RankReport> r;
  for (int n = 0; n < 20; ++n) r.push_back(report("n" + std::to_string(n), hw, "0-31"));
  const Layout L = build_layout(r, std::vector<std::optional<Hardware>>(20, hw));
  EXPECT_EQ(count_containing(L.warnings, "not bound to CPUs"), 8);
  EXPECT_EQ(count_containing(L.warnings, "and 12 more warnings like 'not bound'"), 1)
      << all(L.warnings);
}

TEST(TopologyLayout, AssignGpu) {
  const Hardware& hw = server();
  std::string rule;
  EXPECT_EQ(assign_gpu(hw, 9, std::nullopt, &rule), 1);
  EXPECT_EQ(rule, "local rank");
  EXPECT_EQ(assign_gpu(hw, 0, std::string("3"), &rule), 3);
  EXPECT_EQ(rule, "CUDA_VISIBLE_DEVICES");
  EXPECT_EQ(assign_gpu(hw, 1, std::string("6,2"), &rule), 2);
  EXPECT_EQ(assign_gpu(hw, 0, std::string(""), &rule), -1);
  EXPECT_EQ(assign_gpu(hw, 0, std::string("GPU-00000000-0000-0000-0000-000000000005"), &rule), 5);
  EXPECT_EQ(assign_gpu(hw, 0, std::string("GPU-ffffffff"), &rule), -1);
  EXPECT_EQ(assign_gpu(hw, 0, std::string("12"), &rule), -1);
  Hardware none = hw;
  none.gpus.clear();
  EXPECT_EQ(assign_gpu(none, 0, std::nullopt, &rule), -1);
}

TEST(TopologyLayout, AssignNicWithoutGpu) {
  Hardware hw = server();
  hw.gpus.clear();
  // No GPU: a rail NIC on the rank's NUMA node, spread by local rank.
  EXPECT_EQ(hw.nics[assign_nic(hw, -1, 1, 0)].name, "mlx5_4");
  EXPECT_EQ(hw.nics[assign_nic(hw, -1, 1, 5)].name, "mlx5_5");
  EXPECT_EQ(hw.nics[assign_nic(hw, -1, 0, 2)].name, "mlx5_2");
  // Unknown NUMA node: any rail NIC, never the management port.
  EXPECT_NE(hw.nics[assign_nic(hw, -1, -1, 0)].name, "eno1");
  hw.nics.clear();
  EXPECT_EQ(assign_nic(hw, -1, 0, 0), -1);
}

TEST(TopologyLayout, JsonDescribesIdenticalNodesOnce) {
  const Layout L = build_layout(eight_per_node(true), {server(), server()});
  const nlohmann::json j = to_json(L);
  EXPECT_EQ(j["nodes"], 2);
  EXPECT_EQ(j["ranks"], 16);
  EXPECT_EQ(j["ranks_per_node"], nlohmann::json({8, 8}));
  EXPECT_EQ(j["leaders"], nlohmann::json({0, 8}));
  ASSERT_EQ(j["hardware"].size(), 1u);
  EXPECT_EQ(j["hardware"][0]["gpus"].size(), 8u);
  EXPECT_EQ(j["node_map"][1]["host"], "gpu-b");
  EXPECT_EQ(j["node_map"][1]["ranks"], "8-15");
  EXPECT_EQ(j["node_map"][1]["hardware"], 0);
  ASSERT_EQ(j["rank_map"].size(), 16u);
  const auto& r13 = j["rank_map"][13];
  EXPECT_EQ(r13["host"], "gpu-b");
  EXPECT_EQ(r13["node"], 1);
  EXPECT_EQ(r13["local_rank"], 5);
  EXPECT_EQ(r13["cpuset"], "10,26");
  EXPECT_EQ(r13["numa"], 1);
  EXPECT_EQ(r13["gpu"]["bus_id"], "0000:ab:00.0");
  EXPECT_EQ(r13["nic"]["name"], "mlx5_5");
  EXPECT_TRUE(j["warnings"].empty());

  Hardware other = server();
  other.gpus.resize(4);
  const nlohmann::json k = to_json(build_layout(eight_per_node(true), {server(), other}));
  EXPECT_EQ(k["hardware"].size(), 2u);
  EXPECT_EQ(k["node_map"][1]["hardware"], 1);
}

TEST(TopologyRender, MapShowsNodesDevicesRanksAndWarnings) {
  const Layout L = build_layout(eight_per_node(false), {server(), server()});
  const std::string text = bench::render_topology(L);
  EXPECT_NE(text.find("16 ranks on 2 nodes (8 per node)"), std::string::npos) << text;
  EXPECT_NE(text.find("node 1 'gpu-b': ranks 8-15, leader 8"), std::string::npos) << text;
  EXPECT_NE(text.find("package 1: Intel(R) Xeon(R) Platinum 8480+"), std::string::npos) << text;
  EXPECT_NE(text.find("NUMA 1: 512 GiB, cores 8-15"), std::string::npos) << text;
  EXPECT_NE(
      text.find(
          "GPU 4  0000:9a:00.0  NVIDIA H100 80GB HBM3 (nvml)  nearest NIC mlx5_4 (PIX)  <- rank 4"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("NIC 5  mlx5_4  0000:9b:00.0  rdma (ibp155s0)"), std::string::npos) << text;
  // Badly placed: cores 0-7 of each node each hold one rank, NUMA 1's cores none.
  EXPECT_NE(text.find("core 5 (PUs 5,21): rank 13"), std::string::npos) << text;
  EXPECT_NE(text.find("cores 8-15 (PUs 8-15,24-31): -"), std::string::npos) << text;
  EXPECT_NE(text.find("16 warnings:"), std::string::npos) << text;
}

TEST(TopologyRender, UnboundRanksListedSeparately) {
  DiscoveryOptions o;
  o.synthetic = "pack:1 numa:1 core:2 pu:1";
  const Hardware hw = discover(o).hardware;
  const Layout L = build_layout({report("vm", hw, "0-1"), report("vm", hw, "0-1")}, {hw});
  const std::string text = bench::render_topology(L);
  EXPECT_NE(text.find("rank 1: not bound (PUs 0-1)"), std::string::npos) << text;
  EXPECT_NE(text.find("cores 0-1 (PUs 0-1): -"), std::string::npos) << text;
  EXPECT_NE(text.find("no NVIDIA GPUs found"), std::string::npos) << text;
  EXPECT_NE(text.find("1 warning:"), std::string::npos) << text;
}

}  // namespace
}  // namespace collbench::topology
