#include "topology/layout.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "collectives/error.h"
#include "collectives/host.h"

namespace collbench::topology {
namespace {

constexpr std::size_t kMaxLinesPerKind = 8;

// Collects warnings of one kind, keeping the first few and counting the rest, so that a
// 1000-node run prints a screenful, not thousands of lines.
class WarningList {
 public:
  explicit WarningList(std::vector<std::string>* out) : out_(out) {}
  void add(std::string kind, std::string text) {
    auto& n = counts_[kind];
    if (n++ < kMaxLinesPerKind) out_->push_back(std::move(text));
  }
  void finish() {
    for (const auto& [kind, n] : counts_)
      if (n > kMaxLinesPerKind)
        out_->push_back("... and " + std::to_string(n - kMaxLinesPerKind) +
                        " more warnings like '" + kind + "'");
  }

 private:
  std::vector<std::string>* out_;
  std::map<std::string, std::size_t> counts_;
};

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string ranks_phrase(const std::vector<int>& ranks) {
  return (ranks.size() == 1 ? "rank " : "ranks ") + format_list(ranks);
}

std::string numa_list(const std::vector<int>& v) {
  return (v.size() == 1 ? "NUMA node " : "NUMA nodes ") + format_list(v);
}

void add_warnings(Layout& L) {
  WarningList w(&L.warnings);
  for (const NodePlacement& node : L.nodes) {
    const Hardware* hw = node.hardware ? &*node.hardware : nullptr;

    std::vector<int> unbound;
    for (int r : node.ranks) {
      const Binding& b = L.ranks[r].binding;
      if (b.known && !b.bound) unbound.push_back(r);
    }
    if (!unbound.empty()) {
      const int pus = hw ? hw->pus : static_cast<int>(L.ranks[unbound[0]].binding.pus.size());
      w.add("not bound",
            ranks_phrase(unbound) + " on node " + quoted(node.host) +
                (unbound.size() == 1 ? " is" : " are") + " not bound to CPUs: " +
                (unbound.size() == 1 ? "it" : "each") + " may run on all " + std::to_string(pus) +
                " PUs, so the OS can move " + (unbound.size() == 1 ? "it" : "them") +
                " between cores and NUMA nodes during the run. Bind ranks with `mpirun "
                "--bind-to core` or `srun --cpu-bind=cores`.");
    }

    if (hw && !hw->cores.empty() && node.ranks.size() > hw->cores.size()) {
      w.add("more ranks than cores",
            "node " + quoted(node.host) + " runs " + std::to_string(node.ranks.size()) +
                " ranks on " + std::to_string(hw->cores.size()) +
                " cores: ranks share cores, so timings include waiting for a core. Use fewer "
                "ranks per node (with mpirun, oversubscribed runs need --mca "
                "mpi_yield_when_idle 1).");
    }

    // Bound ranks whose PU sets overlap compete for the same cores.
    std::map<int, int> owner;  // PU -> first bound rank using it
    std::set<std::pair<int, int>> clashes;
    for (int r : node.ranks) {
      const Binding& b = L.ranks[r].binding;
      if (!b.bound) continue;
      for (int pu : b.pus) {
        auto [it, fresh] = owner.emplace(pu, r);
        if (!fresh && it->second != r) clashes.emplace(it->second, r);
      }
    }
    for (const auto& [a, b] : clashes)
      w.add("overlapping binding",
            "ranks " + std::to_string(a) + " and " + std::to_string(b) + " on node " +
                quoted(node.host) + " are bound to overlapping PUs (" + L.ranks[a].binding.cpuset +
                " and " + L.ranks[b].binding.cpuset +
                "): they compete for the same cores. Bind each rank to its own cores.");

    if (!hw) continue;
    for (int r : node.ranks) {
      const RankPlacement& p = L.ranks[r];
      if (!p.binding.bound) continue;
      auto far = [&](int device_numa) {
        if (device_numa < 0) return false;
        const auto& nn = p.binding.numa_nodes;
        return !nn.empty() && std::find(nn.begin(), nn.end(), device_numa) == nn.end();
      };
      auto advice = [&](int numa) {
        std::string cores;
        if (numa >= 0 && numa < static_cast<int>(hw->numa_nodes.size()))
          cores = format_list(hw->numa_nodes[numa].cores);
        return " Bind it to the cores of NUMA node " + std::to_string(numa) +
               (cores.empty() ? std::string() : " (cores " + cores + ")") + ".";
      };
      if (p.gpu >= 0) {
        const GpuInfo& g = hw->gpus[p.gpu];
        if (far(g.locality.numa))
          w.add("far from its GPU", "rank " + std::to_string(r) + " on node " + quoted(node.host) +
                                        " is bound to " + numa_list(p.binding.numa_nodes) +
                                        " but its GPU " + std::to_string(g.index) + " (" +
                                        g.locality.bus_id + ") hangs off NUMA node " +
                                        std::to_string(g.locality.numa) +
                                        ": its host buffers and copies cross the socket link." +
                                        advice(g.locality.numa));
      }
      if (p.nic >= 0) {
        const NicInfo& n = hw->nics[p.nic];
        if (far(n.locality.numa))
          w.add("far from its NIC",
                "rank " + std::to_string(r) + " on node " + quoted(node.host) + " is bound to " +
                    numa_list(p.binding.numa_nodes) + " but its NIC " + n.name + " (" +
                    n.locality.bus_id + ") hangs off NUMA node " + std::to_string(n.locality.numa) +
                    ": its network traffic crosses the socket link." + advice(n.locality.numa));
      }
    }
  }

  // Nodes that differ in hardware: name the majority and each different group.
  std::map<std::string, std::vector<std::string>> by_signature;
  for (const NodePlacement& node : L.nodes)
    if (node.hardware) by_signature[node.hardware->signature()].push_back(node.host);
  if (by_signature.size() > 1) {
    std::vector<std::pair<std::string, std::vector<std::string>>> groups(by_signature.begin(),
                                                                         by_signature.end());
    std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
      return a.second.size() > b.second.size();
    });
    std::ostringstream s;
    s << "nodes differ in hardware, so their results are not comparable:";
    for (const auto& [sig, hosts] : groups) {
      s << " " << hosts.size() << (hosts.size() == 1 ? " node (" : " nodes (");
      for (std::size_t i = 0; i < hosts.size() && i < 4; ++i) s << (i ? ", " : "") << hosts[i];
      if (hosts.size() > 4) s << ", ...";
      s << ") with " << sig << ";";
    }
    std::string text = s.str();
    text.back() = '.';
    L.warnings.push_back(text);
  }

  if (L.hosts.nodes() > 1 && L.hosts.uniform_ranks_per_node() == 0) {
    std::ostringstream s;
    s << "nodes run different numbers of ranks (";
    for (int n = 0; n < L.hosts.nodes() && n < 8; ++n)
      s << (n ? ", " : "") << L.hosts.node_names[n] << ": " << L.hosts.ranks_of_node[n].size();
    if (L.hosts.nodes() > 8) s << ", ...";
    s << "): per-node bandwidth differs between nodes and per-rail hierarchical algorithms "
         "cannot run.";
    L.warnings.push_back(s.str());
  }
  w.finish();
}

}  // namespace

int assign_gpu(const Hardware& hw, int local_rank, const std::optional<std::string>& cvd,
               std::string* rule) {
  if (rule) rule->clear();
  if (hw.gpus.empty()) return -1;
  if (!cvd) {
    if (rule) *rule = "local rank";
    return local_rank % static_cast<int>(hw.gpus.size());
  }
  if (rule) *rule = "CUDA_VISIBLE_DEVICES";
  std::vector<std::string> tokens;
  std::stringstream ss(*cvd);
  for (std::string t; std::getline(ss, t, ',');)
    if (!t.empty()) tokens.push_back(t);
  if (tokens.empty()) return -1;  // set but empty: no GPU visible
  const std::string& t = tokens[local_rank % tokens.size()];
  if (t.rfind("GPU-", 0) == 0) {
    for (const GpuInfo& g : hw.gpus)
      if (!g.uuid.empty() && g.uuid.rfind(t, 0) == 0) return g.index;
    return -1;  // a UUID hwloc did not report (no NVML): unknown
  }
  char* end = nullptr;
  const long i = std::strtol(t.c_str(), &end, 10);
  if (*end != '\0' || i < 0 || i >= static_cast<long>(hw.gpus.size())) return -1;
  return static_cast<int>(i);
}

int assign_nic(const Hardware& hw, int gpu, int numa, int local_rank) {
  if (gpu >= 0 && gpu < static_cast<int>(hw.gpus.size()) && hw.gpus[gpu].nearest_nic >= 0)
    return hw.gpus[gpu].nearest_nic;
  const std::vector<int> rails = hw.rail_nics();
  if (rails.empty()) return -1;
  std::vector<int> local;
  for (int r : rails)
    if (numa >= 0 && hw.nics[r].locality.numa == numa) local.push_back(r);
  const std::vector<int>& pick = local.empty() ? rails : local;
  return pick[local_rank % pick.size()];
}

std::vector<int> Layout::group_colors(GroupKind kind) const {
  std::vector<int> colors(ranks.size(), -1);
  std::map<std::pair<int, int>, int> dense;
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    const RankPlacement& p = ranks[r];
    switch (kind) {
      case GroupKind::kNode:
        colors[r] = p.node;
        break;
      case GroupKind::kRail:
        colors[r] = p.local_rank;
        break;
      case GroupKind::kLeaders:
        colors[r] = p.local_rank == 0 ? 0 : -1;
        break;
      case GroupKind::kNuma:
      case GroupKind::kSocket: {
        const int sub = kind == GroupKind::kNuma ? p.numa : p.package;
        auto [it, fresh] =
            dense.emplace(std::make_pair(p.node, sub), static_cast<int>(dense.size()));
        colors[r] = it->second;
        break;
      }
    }
  }
  return colors;
}

Layout build_layout(const std::vector<RankReport>& reports,
                    const std::vector<std::optional<Hardware>>& hardware) {
  Layout L;
  std::vector<std::string> hostnames;
  hostnames.reserve(reports.size());
  for (const RankReport& r : reports) hostnames.push_back(r.hostname);
  L.hosts = make_host_map(hostnames);
  for (int n = 0; n < L.hosts.nodes(); ++n) {
    NodePlacement node;
    node.node = n;
    node.host = L.hosts.node_names[n];
    node.ranks = L.hosts.ranks_of_node[n];
    node.leader = node.ranks.front();
    if (n < static_cast<int>(hardware.size())) node.hardware = hardware[n];
    L.leaders.push_back(node.leader);
    L.nodes.push_back(std::move(node));
  }
  double total = 0;
  for (std::size_t r = 0; r < reports.size(); ++r) {
    RankPlacement p;
    p.rank = static_cast<int>(r);
    p.node = L.hosts.node_of_rank[r];
    p.local_rank = L.hosts.local_rank[r];
    p.host = reports[r].hostname;
    p.binding = reports[r].binding;
    p.numa = p.binding.numa();
    p.package = p.binding.package();
    if (const auto& hw = L.nodes[p.node].hardware) {
      p.gpu = assign_gpu(*hw, p.local_rank, reports[r].cuda_visible_devices, &p.gpu_rule);
      p.nic = assign_nic(*hw, p.gpu, p.numa, p.local_rank);
    }
    L.discovery_max_s = std::max(L.discovery_max_s, reports[r].discovery_seconds);
    L.discovery_cpu_max_s = std::max(L.discovery_cpu_max_s, reports[r].discovery_cpu_seconds);
    total += reports[r].discovery_seconds;
    L.ranks.push_back(std::move(p));
  }
  if (!reports.empty()) L.discovery_mean_s = total / static_cast<double>(reports.size());
  add_warnings(L);
  return L;
}

nlohmann::json to_json(const Layout& L) {
  nlohmann::json j;
  j["ranks"] = L.ranks_count();
  j["nodes"] = L.nodes_count();
  j["ranks_per_node"] = nlohmann::json::array();
  for (const auto& n : L.nodes) j["ranks_per_node"].push_back(n.ranks.size());
  j["leaders"] = L.leaders;
  j["discovery_ms"] = {{"max", L.discovery_max_s * 1e3},
                       {"mean", L.discovery_mean_s * 1e3},
                       {"cpu_max", L.discovery_cpu_max_s * 1e3}};

  // Identical machines are described once: a 1000-node run has one hardware entry, not 1000.
  auto& kinds = j["hardware"] = nlohmann::json::array();
  std::map<std::string, int> kind_of;
  auto& nodes = j["node_map"] = nlohmann::json::array();
  for (const NodePlacement& n : L.nodes) {
    nlohmann::json node = {{"node", n.node},
                           {"host", n.host},
                           {"ranks", format_list(n.ranks)},
                           {"leader", n.leader},
                           {"hardware", nullptr}};
    if (n.hardware) {
      nlohmann::json hw = to_json(*n.hardware);
      hw.erase("hostname");
      const std::string key = hw.dump();
      auto [it, fresh] = kind_of.emplace(key, static_cast<int>(kinds.size()));
      if (fresh) kinds.push_back(std::move(hw));
      node["hardware"] = it->second;
    }
    nodes.push_back(std::move(node));
  }

  auto& map = j["rank_map"] = nlohmann::json::array();
  for (const RankPlacement& p : L.ranks) {
    const auto& hw = L.nodes[p.node].hardware;
    nlohmann::json gpu = nullptr, nic = nullptr;
    if (hw && p.gpu >= 0) {
      const GpuInfo& g = hw->gpus[p.gpu];
      gpu = {{"index", g.index},
             {"bus_id", g.locality.bus_id},
             {"numa", g.locality.numa},
             {"rule", p.gpu_rule}};
    }
    if (hw && p.nic >= 0) {
      const NicInfo& n = hw->nics[p.nic];
      nic = {{"index", n.index},
             {"name", n.name},
             {"bus_id", n.locality.bus_id},
             {"numa", n.locality.numa}};
    }
    map.push_back({{"rank", p.rank},
                   {"host", p.host},
                   {"node", p.node},
                   {"local_rank", p.local_rank},
                   {"cpuset", p.binding.cpuset},
                   {"cores", format_list(p.binding.cores)},
                   {"bound", p.binding.bound},
                   {"numa", p.numa < 0 ? nlohmann::json(nullptr) : nlohmann::json(p.numa)},
                   {"numa_nodes", p.binding.numa_nodes},
                   {"package", p.package < 0 ? nlohmann::json(nullptr) : nlohmann::json(p.package)},
                   {"gpu", gpu},
                   {"nic", nic}});
  }
  j["warnings"] = L.warnings;
  return j;
}

namespace {

using collectives::local_hostname;

void check_mpi(int rc, const char* call) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    throw Error(std::string(call) + " failed during topology gathering: " + std::string(msg, len));
  }
}

// Node identity travels as a 64-bit hash of the hostname (FNV-1a): at 200,000 ranks an
// allgather of full names would move 50 MB to every rank; full names go to rank 0 only.
std::uint64_t host_hash(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// numa + 1, package + 1 (16 bits each), bound, known: what every rank needs for the groups.
std::uint64_t pack_binding(const Binding& b) {
  return static_cast<std::uint64_t>(b.numa() + 1) |
         static_cast<std::uint64_t>(b.package() + 1) << 16 | std::uint64_t{b.bound} << 32 |
         std::uint64_t{b.known} << 33;
}
void unpack_binding(std::uint64_t v, Binding& b) {
  const int numa = static_cast<int>(v & 0xffff) - 1,
            package = static_cast<int>((v >> 16) & 0xffff) - 1;
  if (numa >= 0) b.numa_nodes = {numa};
  if (package >= 0) b.packages = {package};
  b.bound = (v >> 32) & 1;
  b.known = (v >> 33) & 1;
}

// Variable-length strings from every rank to rank 0 (empty vector elsewhere).
std::vector<std::string> gather_strings(MPI_Comm comm, const std::string& mine) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(rank == 0 ? size : 0), displs(rank == 0 ? size : 0);
  check_mpi(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, comm), "MPI_Gather");
  std::vector<char> all;
  if (rank == 0) {
    long long total = 0;
    for (int r = 0; r < size; ++r) {
      displs[r] = static_cast<int>(total);
      total += lens[r];
    }
    if (total > 2147483647LL) throw Error("topology reports exceed 2 GiB at rank 0");
    all.resize(static_cast<std::size_t>(total));
  }
  check_mpi(MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(),
                        MPI_CHAR, 0, comm),
            "MPI_Gatherv");
  std::vector<std::string> out;
  for (int r = 0; r < static_cast<int>(lens.size()); ++r)
    out.emplace_back(all.data() + displs[r], static_cast<std::size_t>(lens[r]));
  return out;
}

nlohmann::json hardware_without_host(const Hardware& hw) {
  nlohmann::json j = to_json(hw);
  j.erase("hostname");
  return j;
}

}  // namespace

Layout gather_layout(MPI_Comm comm, const DiscoveryOptions& options) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);

  // Nodes first: a node's leader (its lowest rank) is the only rank there that needs the slow
  // part of discovery (PCI devices: GPUs and NICs).
  const std::string host = local_hostname();
  std::vector<std::uint64_t> hashes(size);
  const std::uint64_t my_hash = host_hash(host);
  check_mpi(MPI_Allgather(&my_hash, 1, MPI_UINT64_T, hashes.data(), 1, MPI_UINT64_T, comm),
            "MPI_Allgather");
  std::vector<std::string> node_keys(size);
  for (int r = 0; r < size; ++r) node_keys[r] = std::to_string(hashes[r]);
  const HostMap by_hash = make_host_map(node_keys);
  const bool leader = by_hash.local_rank[rank] == 0;

  Discovery d;
  std::string error;
  try {
    DiscoveryOptions mine = options;
    mine.io = options.io && leader;
    d = discover(mine);
  } catch (const std::exception& e) {
    error = e.what();
  }
  // Every rank learns whether any failed, so that all throw together rather than hang.
  int first_failed = error.empty() ? size : rank;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, &first_failed, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
  if (first_failed < size) {
    char msg[1024] = {};
    if (rank == first_failed) error.copy(msg, sizeof msg - 1);
    check_mpi(MPI_Bcast(msg, sizeof msg, MPI_CHAR, first_failed, comm), "MPI_Bcast");
    throw Error("topology discovery failed on rank " + std::to_string(first_failed) + ": " + msg);
  }

  std::vector<std::uint64_t> packed(size);
  const std::uint64_t my_packed = pack_binding(d.binding);
  check_mpi(MPI_Allgather(&my_packed, 1, MPI_UINT64_T, packed.data(), 1, MPI_UINT64_T, comm),
            "MPI_Allgather");

  // Leaders whose machine matches rank 0's send one flag instead of the whole description.
  std::string reference;
  if (rank == 0) reference = hardware_without_host(d.hardware).dump();
  unsigned long long ref_len = reference.size();
  check_mpi(MPI_Bcast(&ref_len, 1, MPI_UNSIGNED_LONG_LONG, 0, comm), "MPI_Bcast");
  reference.resize(ref_len);
  check_mpi(MPI_Bcast(reference.data(), static_cast<int>(ref_len), MPI_CHAR, 0, comm), "MPI_Bcast");

  nlohmann::json report = {{"host", host},
                           {"binding", to_json(d.binding)},
                           {"seconds", d.seconds},
                           {"cpu_seconds", d.cpu_seconds}};
  if (const char* cvd = std::getenv("CUDA_VISIBLE_DEVICES")) report["cvd"] = cvd;
  if (leader) {
    nlohmann::json hw = hardware_without_host(d.hardware);
    if (rank != 0 && hw.dump() == reference)
      report["hardware_as_rank0"] = true;
    else
      report["hardware"] = std::move(hw);
    report["hardware_host"] = d.hardware.hostname;
  }
  const std::vector<std::string> texts = gather_strings(comm, report.dump());

  std::vector<RankReport> reports(size);
  std::vector<std::optional<Hardware>> hardware;
  if (rank == 0) {
    std::vector<nlohmann::json> parsed;
    for (const std::string& t : texts) parsed.push_back(nlohmann::json::parse(t));
    std::vector<std::string> hostnames;
    for (const auto& j : parsed) hostnames.push_back(j.at("host").get<std::string>());
    const HostMap hm = make_host_map(hostnames);
    hardware.resize(hm.nodes());
    const nlohmann::json ref_json = nlohmann::json::parse(reference);
    for (int r = 0; r < size; ++r) {
      const auto& j = parsed[r];
      RankReport& rep = reports[r];
      rep.hostname = hostnames[r];
      rep.binding = binding_from_json(j.at("binding"));
      rep.discovery_seconds = j.at("seconds");
      rep.discovery_cpu_seconds = j.value("cpu_seconds", 0.0);
      if (j.contains("cvd")) rep.cuda_visible_devices = j["cvd"].get<std::string>();
      if (j.contains("hardware") || j.contains("hardware_as_rank0")) {
        nlohmann::json hw = j.contains("hardware") ? j["hardware"] : ref_json;
        hw["hostname"] = j.value("hardware_host", "");
        hardware[hm.node_of_rank[r]] = hardware_from_json(hw);
      }
    }
  } else {
    for (int r = 0; r < size; ++r) {
      reports[r].hostname = node_keys[r];  // names stay on rank 0; the node structure is equal
      unpack_binding(packed[r], reports[r].binding);
    }
  }
  Layout L = build_layout(reports, hardware);
  if (rank != 0) {
    L.warnings.clear();
    L.complete = false;
  }
  return L;
}

MPI_Comm split_comm(MPI_Comm comm, const Layout& layout, GroupKind kind) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const int color = layout.group_colors(kind).at(rank);
  MPI_Comm out = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split(comm, color < 0 ? MPI_UNDEFINED : color, rank, &out), "MPI_Comm_split");
  return out;
}

nlohmann::json collect_topology_json(MPI_Comm comm, const DiscoveryOptions& options) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  try {
    Layout L = gather_layout(comm, options);
    return rank == 0 ? to_json(L) : nlohmann::json();
  } catch (const Error& e) {
    return rank == 0 ? nlohmann::json{{"error", e.what()}} : nlohmann::json();
  }
}

}  // namespace collbench::topology
