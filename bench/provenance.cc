#include "bench/provenance.h"

#include <mpi.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>

#include "collectives/reduce.h"
#include "collectives/tick_clock.h"

extern char** environ;

namespace collbench::bench {

using nlohmann::json;

std::string version_string() {
  return std::string(COLLBENCH_VERSION) + " (git " + COLLBENCH_GIT_SHA + ")";
}

std::string iso_time_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        return v;
      }
    }
  }
  return "unknown";
}

std::string mpi_library_version() {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int len = 0;
  MPI_Get_library_version(buf, &len);
  std::string s(buf, static_cast<std::size_t>(len));
  const auto nl = s.find_first_of("\r\n");
  if (nl != std::string::npos) s.resize(nl);
  while (!s.empty() && (s.back() == ' ' || s.back() == ',' || s.back() == '\0')) s.pop_back();
  return s;
}

namespace {

// The first line of a file, trimmed; nullopt when it cannot be read.
std::optional<std::string> first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && (line.back() == ' ' || line.back() == '\n')) line.pop_back();
  return line;
}

// "always [madvise] never" -> "madvise"
std::string bracketed(const std::string& line) {
  const auto a = line.find('['), b = line.find(']');
  return a != std::string::npos && b != std::string::npos && b > a ? line.substr(a + 1, b - a - 1)
                                                                   : line;
}

}  // namespace

json memory_background(const std::string& root) {
  namespace fs = std::filesystem;
  json j = json::object();
  // DAMON through its sysfs interface: one directory per kdamond.
  const std::string kd = root + "/sys/kernel/mm/damon/admin/kdamonds";
  std::error_code ec;
  if (fs::is_directory(kd, ec)) {
    json monitors = json::array();
    for (const auto& e : fs::directory_iterator(kd, ec)) {
      if (!e.is_directory()) continue;
      const auto state = first_line(e.path().string() + "/state");
      if (!state) continue;
      json m = {{"kdamond", e.path().filename().string()}, {"state", *state}};
      json actions = json::array();
      const std::string contexts = e.path().string() + "/contexts";
      for (int c = 0; fs::is_directory(contexts + "/" + std::to_string(c), ec); ++c) {
        const std::string ctx = contexts + "/" + std::to_string(c);
        if (auto ops = first_line(ctx + "/operations")) m["operations"] = *ops;
        for (int s = 0; fs::is_directory(ctx + "/schemes/" + std::to_string(s), ec); ++s)
          if (auto a = first_line(ctx + "/schemes/" + std::to_string(s) + "/action"))
            actions.push_back(*a);
      }
      m["scheme_actions"] = actions;
      monitors.push_back(m);
    }
    j["damon_kdamonds"] = monitors;
  }
  for (const char* module : {"damon_reclaim", "damon_lru_sort"})
    if (auto on = first_line(root + "/sys/module/" + module + "/parameters/enabled"))
      j[module] = *on == "Y";
  if (auto nb = first_line(root + "/proc/sys/kernel/numa_balancing")) j["numa_balancing"] = *nb;
  if (auto ksm = first_line(root + "/sys/kernel/mm/ksm/run")) j["ksm_run"] = *ksm;
  if (auto thp = first_line(root + "/sys/kernel/mm/transparent_hugepage/enabled"))
    j["transparent_hugepage"] = bracketed(*thp);
  // The CPU's hypervisor flag: a virtual machine, whose host may do the same below it.
  std::ifstream cpuinfo(root + "/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("flags", 0) == 0) {
      j["virtual_machine"] = line.find(" hypervisor") != std::string::npos;
      break;
    }
  return j;
}

std::string memory_background_warning(const json& background) {
  std::string on;
  if (background.contains("damon_kdamonds"))
    for (const auto& m : background["damon_kdamonds"])
      if (m.value("state", "") == "on")
        on += (on.empty() ? "kdamond " : ", ") + m.value("kdamond", "");
  for (const char* module : {"damon_reclaim", "damon_lru_sort"})
    if (background.value(module, false)) on += (on.empty() ? "" : ", ") + std::string(module);
  if (on.empty()) return "";
  return "warning: DAMON is monitoring this node's memory (" + on +
         "): its access sampling made points of one sweep 2-10x apart on the machine collbench was "
         "developed on; stop it for measurements (docs/methodology.md, \"What the regime switch "
         "was\")";
}

json make_provenance(const Options& o, const topology::HostMap& hosts, const std::string& backend) {
  json p;
  p["collbench_version"] = COLLBENCH_VERSION;
  p["git_sha"] = COLLBENCH_GIT_SHA;
  p["command_line"] = o.command_line;
  p["start_time"] = iso_time_now();
  p["end_time"] = nullptr;
  p["backend"] = backend;
  p["mpi_library"] = mpi_library_version();
  p["nccl_version"] = nullptr;
  p["compiler"] = COLLBENCH_COMPILER;
  p["cpu_model"] = cpu_model();
  // Which host reduction kernels ran (collectives/reduce.h): results from different levels
  // measure different code, so comparisons across them should know.
  p["reduce_isa"] = std::string(collectives::reduce_isa_name());
  // The timed loops' clock: the invariant time-stamp counter or steady_clock (tick_clock.h).
  p["timer"] = collectives::TickClock::source();
  utsname u{};
  if (uname(&u) == 0) p["os"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  p["hostnames"] = hosts.hostnames;
  p["ranks"] = hosts.ranks();
  p["nodes"] = hosts.nodes();
  json rpn = json::array();
  for (const auto& r : hosts.ranks_of_node) rpn.push_back(r.size());
  p["ranks_per_node"] = rpn;
  p["hardware_label"] = o.label.empty() ? json(nullptr) : json(o.label);
  json env = json::object();
  for (char** e = environ; e && *e; ++e) {
    const std::string kv(*e);
    for (const char* prefix : {"OMPI_MCA_", "UCX_", "NCCL_", "CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID",
                               "SLURM_NNODES", "COLLBENCH_"}) {
      if (kv.rfind(prefix, 0) == 0) {
        const auto eq = kv.find('=');
        env[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
        break;
      }
    }
  }
  p["environment"] = env;
  p["memory_background"] = memory_background();
  return p;
}

json options_json(const Options& o) {
  json j;
  j["collective"] = collectives::collective_name(o.collective);
  j["min_bytes"] = o.min_bytes;
  j["max_bytes"] = o.max_bytes;
  j["step_factor"] = o.step_factor;
  j["step_bytes"] = o.step_bytes;
  j["warmup"] = o.warmup;
  j["iters"] = o.iters;
  j["check"] = o.check;
  j["rotate_buffers"] = o.rotate_buffers;
  j["buffer_passes"] = o.buffer_passes;
  j["timeout_s"] = o.timeout_s;
  j["segment_bytes"] = o.segment_bytes;
  j["inter_node_algorithm"] = o.inter_node_algorithm;
  j["repeat"] = o.repeat;
  j["instability_threshold"] = o.instability_threshold;
  j["timing"] = std::string(collectives::timing_name(o.timing));
  if (o.stable_budget_s > 0) j["stable_budget_s"] = o.stable_budget_s;
  j["ranks_sweep"] = o.ranks_sweep;
  j["ranks_per_node"] = o.ranks_per_node;
  j["mpi_max_count"] = o.mpi_max_count;
  json algos = o.algorithms;
  if (o.algo_auto) algos.push_back("auto");
  j["algorithms"] = algos;
  json d = json::array();
  for (auto t : o.dtypes) d.push_back(collectives::dtype_name(t));
  j["dtypes"] = d;
  json ops = json::array();
  for (auto op : o.ops) ops.push_back(collectives::op_name(op));
  j["ops"] = ops;
  j["placement"] = o.placement == Placement::kOut  ? "out"
                   : o.placement == Placement::kIn ? "in"
                                                   : "both";
  j["backend"] = o.backend;
  if (!o.gpu_map.empty()) j["gpu_map"] = o.gpu_map;
  j["cuda_graph"] = o.cuda_graph;
  if (!o.selection_file.empty()) j["selection_file"] = o.selection_file;
  return j;
}

}  // namespace collbench::bench
