#include "bench/topo_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "bench/mpi_session.h"
#include "bench/report.h"
#include "topology/discovery.h"

namespace collbench::bench {
namespace {

using topology::Hardware;
using topology::Layout;
using topology::NodePlacement;

constexpr int kDetailedNodes = 4;   // nodes drawn in full; the rest get one line each
constexpr int kSummaryNodes = 64;   // nodes listed at all
constexpr int kRankTableMax = 128;  // larger runs: see --json for the full rank map

struct TopoOptions {
  std::string json_path;
  std::string xml_path;
};

std::string fmt_ms(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", seconds * 1e3);
  return buf;
}

std::string gpu_line(const Hardware& hw, const topology::GpuInfo& g,
                     const std::vector<int>& users) {
  std::ostringstream s;
  s << "GPU " << g.index << "  " << g.locality.bus_id << "  " << g.model << " (" << g.source << ")";
  if (g.nearest_nic >= 0)
    s << "  nearest NIC " << hw.nics[g.nearest_nic].name << " (" << g.nic_path << ")";
  if (!users.empty())
    s << "  <- " << (users.size() == 1 ? "rank " : "ranks ") << topology::format_list(users);
  return s.str();
}

std::string nic_line(const topology::NicInfo& n, const std::vector<int>& users) {
  std::ostringstream s;
  s << "NIC " << n.index << "  " << n.name << "  " << n.locality.bus_id << "  " << n.kind;
  std::string others;
  for (const auto& d : n.os_devices)
    if (d != n.name) others += (others.empty() ? "" : ", ") + d;
  if (!others.empty()) s << " (" << others << ")";
  if (!users.empty())
    s << "  <- " << (users.size() == 1 ? "rank " : "ranks ") << topology::format_list(users);
  return s.str();
}

void render_node(std::ostringstream& out, const Layout& L, const NodePlacement& node) {
  out << "node " << node.node << " '" << node.host << "': ranks "
      << topology::format_list(node.ranks) << ", leader " << node.leader;
  if (!node.hardware) {
    out << " (hardware not reported)\n";
    return;
  }
  const Hardware& hw = *node.hardware;
  out << "  [" << hw.signature() << "]\n";

  // Which ranks use each core, GPU and NIC.
  std::map<int, std::vector<int>> core_ranks, gpu_ranks, nic_ranks;
  std::vector<int> loose;  // bound to more than one NUMA node, or not bound
  for (int r : node.ranks) {
    const auto& p = L.ranks[r];
    if (p.gpu >= 0) gpu_ranks[p.gpu].push_back(r);
    if (p.nic >= 0) nic_ranks[p.nic].push_back(r);
    if (!p.binding.bound || p.numa < 0) {
      loose.push_back(r);
      continue;
    }
    for (int c : p.binding.cores) core_ranks[c].push_back(r);
  }

  std::set<int> placed_gpus, placed_nics;
  for (std::size_t pk = 0; pk < hw.packages.size(); ++pk) {
    const auto& pkg = hw.packages[pk];
    out << "  package " << pkg.index << ": " << (pkg.cpu_model.empty() ? "CPU" : pkg.cpu_model)
        << ", " << pkg.cores << " cores, " << pkg.pus << " PUs\n";
    for (const auto& numa : hw.numa_nodes) {
      if (numa.package != pkg.index && !(numa.package < 0 && pk == 0)) continue;
      out << "    NUMA " << numa.index << ": " << collectives::human_bytes(numa.memory_bytes);
      if (!numa.cores.empty())
        out << ", cores " << topology::format_list(numa.cores) << " (PUs " << numa.cpuset << ")";
      out << "\n";
      for (const auto& g : hw.gpus)
        if (g.locality.numa == numa.index && placed_gpus.insert(g.index).second)
          out << "      " << gpu_line(hw, g, gpu_ranks[g.index]) << "\n";
      for (const auto& n : hw.nics)
        if (n.locality.numa == numa.index && placed_nics.insert(n.index).second)
          out << "      " << nic_line(n, nic_ranks[n.index]) << "\n";
      // Runs of consecutive cores with the same ranks collapse into one line.
      const auto& cores = numa.cores;
      for (std::size_t i = 0; i < cores.size();) {
        const auto& who = core_ranks[cores[i]];
        std::size_t j = i;
        while (j + 1 < cores.size() && cores[j + 1] == cores[j] + 1 &&
               core_ranks[cores[j + 1]] == who)
          ++j;
        std::vector<int> run(cores.begin() + i, cores.begin() + j + 1);
        std::vector<int> pus;
        for (int c : run) pus.insert(pus.end(), hw.cores[c].pus.begin(), hw.cores[c].pus.end());
        out << "      " << (run.size() == 1 ? "core " : "cores ") << topology::format_list(run)
            << " (PU" << (pus.size() == 1 ? " " : "s ") << topology::format_list(pus) << "): "
            << (who.empty() ? "-"
                            : (who.size() == 1 ? "rank " : "ranks ") + topology::format_list(who))
            << "\n";
        i = j + 1;
      }
    }
  }
  for (const auto& g : hw.gpus)
    if (!placed_gpus.count(g.index))
      out << "  (no single NUMA node) " << gpu_line(hw, g, gpu_ranks[g.index]) << "\n";
  for (const auto& n : hw.nics)
    if (!placed_nics.count(n.index))
      out << "  (no single NUMA node) " << nic_line(n, nic_ranks[n.index]) << "\n";
  if (hw.gpus.empty()) out << "  no NVIDIA GPUs found\n";
  for (int r : loose) {
    const auto& b = L.ranks[r].binding;
    out << "  rank " << r << ": "
        << (b.bound ? "bound across NUMA nodes " + topology::format_list(b.numa_nodes)
                    : std::string("not bound"))
        << " (PUs " << (b.cpuset.empty() ? "?" : b.cpuset) << ")\n";
  }
}

}  // namespace

std::string render_topology(const Layout& L) {
  std::ostringstream out;
  const std::string source =
      !L.nodes.empty() && L.nodes[0].hardware ? L.nodes[0].hardware->source : "?";
  const std::string version =
      !L.nodes.empty() && L.nodes[0].hardware ? L.nodes[0].hardware->hwloc_version : "?";
  const int g = L.hosts.uniform_ranks_per_node();
  out << L.ranks_count() << (L.ranks_count() == 1 ? " rank" : " ranks") << " on " << L.nodes_count()
      << (L.nodes_count() == 1 ? " node" : " nodes");
  if (g > 0) out << " (" << g << " per node)";
  out << "; hwloc " << version << ", " << source << "\n";
  out << "discovery per rank (hwloc load included): " << fmt_ms(L.discovery_max_s) << " max, "
      << fmt_ms(L.discovery_mean_s) << " mean wall; " << fmt_ms(L.discovery_cpu_max_s)
      << " max CPU\n\n";

  for (int n = 0; n < L.nodes_count() && n < kSummaryNodes; ++n) {
    const NodePlacement& node = L.nodes[n];
    if (n < kDetailedNodes) {
      render_node(out, L, node);
      out << "\n";
      continue;
    }
    out << "node " << node.node << " '" << node.host << "': ranks "
        << topology::format_list(node.ranks) << ", leader " << node.leader;
    if (node.hardware && L.nodes[0].hardware)
      out << (node.hardware->signature() == L.nodes[0].hardware->signature()
                  ? ", same hardware as node 0"
                  : ", " + node.hardware->signature());
    out << "\n";
  }
  if (L.nodes_count() > kSummaryNodes)
    out << "... " << L.nodes_count() - kSummaryNodes << " more nodes (see --json)\n";
  if (L.nodes_count() > kDetailedNodes) out << "\n";

  if (L.ranks_count() <= kRankTableMax) {
    out << "rank  node  local  host                  PUs             NUMA  GPU  NIC\n";
    for (const auto& p : L.ranks) {
      const auto& hw = L.nodes[p.node].hardware;
      char line[256];
      std::snprintf(line, sizeof line, "%4d  %4d  %5d  %-20.20s  %-14.14s  %4s  %3s  %s\n", p.rank,
                    p.node, p.local_rank, p.host.c_str(),
                    (p.binding.bound ? p.binding.cpuset : "unbound").c_str(),
                    p.numa < 0 ? "-" : std::to_string(p.numa).c_str(),
                    p.gpu < 0 ? "-" : std::to_string(p.gpu).c_str(),
                    hw && p.nic >= 0 ? hw->nics[p.nic].name.c_str() : "-");
      out << line;
    }
    out << "\n";
  }

  if (L.warnings.empty()) {
    out << "no warnings\n";
  } else {
    out << L.warnings.size() << (L.warnings.size() == 1 ? " warning:\n" : " warnings:\n");
    for (const auto& w : L.warnings) out << "  - " << w << "\n";
  }
  return out.str();
}

namespace {

int run_topo(const TopoOptions& o) {
  MpiSession mpi;
  topology::DiscoveryOptions d;
  d.xml_path = o.xml_path;
  const Layout L = topology::gather_layout(MPI_COMM_WORLD, d);
  if (mpi.rank() == 0) {
    std::fputs(render_topology(L).c_str(), stdout);
    std::fflush(stdout);
    if (!o.json_path.empty()) {
      const nlohmann::json j = {{"schema", "collbench.topology"},
                                {"schema_version", 1},
                                {"topology", topology::to_json(L)}};
      write_file_atomic(o.json_path, j.dump(1) + "\n");
    }
  }
  return 0;
}

}  // namespace

void add_topo_command(CLI::App& app, std::function<int()>& action) {
  auto* cmd = app.add_subcommand(
      "topo",
      "Show where the ranks of this launch sit: node -> package -> NUMA -> cores -> ranks, GPUs "
      "and NICs with their NUMA node, and placement warnings (run under mpirun/srun)");
  auto opts = std::make_shared<TopoOptions>();
  cmd->add_option("--json", opts->json_path,
                  "Also write the topology (as in result files) to FILE");
  cmd->add_option("--xml", opts->xml_path,
                  "Describe the hardware from an hwloc XML file (lstopo --of xml) instead of this "
                  "machine; bindings still come from the processes");
  cmd->callback([opts, &action] {
    // Before MPI starts: a bad file is said once, not by every rank.
    if (!opts->xml_path.empty()) topology::check_topology_xml(opts->xml_path);
    if (!opts->json_path.empty()) check_writable(opts->json_path, "--json");
    action = [opts] { return run_topo(*opts); };
  });
}

}  // namespace collbench::bench
