// The text and JSON forms of discovery's results: CPU lists ("0-3,8") both ways, and Hardware and
// Binding to and from the JSON kept in every result file.
#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "collectives/error.h"
#include "topology/discovery.h"

namespace collbench::topology {

std::string format_list(const std::vector<int>& values) {
  std::vector<int> v = values;
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  std::string s;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(v[i]);
    if (j > i) s += '-' + std::to_string(v[j]);
    i = j + 1;
  }
  return s;
}

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  auto bad = [&] { return UsageError("malformed CPU list '" + text + "' (expected e.g. 0-3,8)"); };
  if (!text.empty() && text.back() == ',') throw bad();
  while (std::getline(ss, item, ',')) {
    if (item.empty()) throw bad();
    const auto dash = item.find('-');
    try {
      std::size_t used = 0;
      if (dash == std::string::npos) {
        out.push_back(std::stoi(item, &used));
        if (used != item.size()) throw bad();
      } else {
        const int lo = std::stoi(item.substr(0, dash), &used);
        if (used != dash) throw bad();
        const std::string hi_s = item.substr(dash + 1);
        const int hi = std::stoi(hi_s, &used);
        if (used != hi_s.size() || hi < lo || lo < 0) throw bad();
        for (int i = lo; i <= hi; ++i) out.push_back(i);
      }
    } catch (const std::logic_error&) {
      throw bad();
    }
  }
  if (out.empty()) throw bad();
  if (*std::min_element(out.begin(), out.end()) < 0) throw bad();
  return out;
}

namespace {

nlohmann::json loc_json(const PciLocality& l) {
  return {{"bus_id", l.bus_id}, {"numa", l.numa}, {"package", l.package}, {"cpuset", l.cpuset}};
}
PciLocality loc_from(const nlohmann::json& j) {
  PciLocality l;
  l.bus_id = j.value("bus_id", "");
  l.numa = j.value("numa", -1);
  l.package = j.value("package", -1);
  l.cpuset = j.value("cpuset", "");
  return l;
}

}  // namespace

nlohmann::json to_json(const Hardware& hw) {
  nlohmann::json j;
  j["hostname"] = hw.hostname;
  j["source"] = hw.source;
  j["hwloc_version"] = hw.hwloc_version;
  j["architecture"] = hw.architecture;
  j["cpu_model"] = hw.cpu_model;
  j["memory_bytes"] = hw.memory_bytes;
  j["pus"] = hw.pus;
  j["signature"] = hw.signature();
  auto& pk = j["packages"] = nlohmann::json::array();
  for (const auto& p : hw.packages)
    pk.push_back(
        {{"index", p.index}, {"cpu_model", p.cpu_model}, {"cores", p.cores}, {"pus", p.pus}});
  auto& nu = j["numa_nodes"] = nlohmann::json::array();
  for (const auto& n : hw.numa_nodes)
    nu.push_back({{"index", n.index},
                  {"os_index", n.os_index},
                  {"package", n.package},
                  {"memory_bytes", n.memory_bytes},
                  {"cores", format_list(n.cores)},
                  {"cpuset", n.cpuset}});
  // Cores as compact arrays [package, numa, [pus]]: a 2-socket server has hundreds.
  auto& co = j["cores"] = nlohmann::json::array();
  for (const auto& c : hw.cores) co.push_back({c.package, c.numa, c.pus});
  auto& ca = j["caches"] = nlohmann::json::array();
  for (const auto& c : hw.caches)
    ca.push_back(
        {{"level", c.level}, {"kind", c.kind}, {"size_bytes", c.size_bytes}, {"count", c.count}});
  auto& gp = j["gpus"] = nlohmann::json::array();
  for (const auto& g : hw.gpus)
    gp.push_back({{"index", g.index},
                  {"source", g.source},
                  {"model", g.model},
                  {"uuid", g.uuid},
                  {"os_devices", g.os_devices},
                  {"vendor_id", g.vendor_id},
                  {"device_id", g.device_id},
                  {"locality", loc_json(g.locality)},
                  {"nearest_nic", g.nearest_nic},
                  {"nic_path", g.nic_path}});
  auto& ni = j["nics"] = nlohmann::json::array();
  for (const auto& n : hw.nics)
    ni.push_back({{"index", n.index},
                  {"name", n.name},
                  {"kind", n.kind},
                  {"os_devices", n.os_devices},
                  {"vendor_id", n.vendor_id},
                  {"device_id", n.device_id},
                  {"pci_class", n.pci_class},
                  {"locality", loc_json(n.locality)}});
  return j;
}

Hardware hardware_from_json(const nlohmann::json& j) {
  Hardware hw;
  hw.hostname = j.value("hostname", "");
  hw.source = j.value("source", "");
  hw.hwloc_version = j.value("hwloc_version", "");
  hw.architecture = j.value("architecture", "");
  hw.cpu_model = j.value("cpu_model", "");
  hw.memory_bytes = j.value("memory_bytes", std::int64_t{0});
  hw.pus = j.value("pus", 0);
  for (const auto& p : j.at("packages"))
    hw.packages.push_back({p.at("index"), p.at("cpu_model"), p.at("cores"), p.at("pus")});
  for (const auto& n : j.at("numa_nodes")) {
    NumaInfo ni;
    ni.index = n.at("index");
    ni.os_index = n.at("os_index");
    ni.package = n.at("package");
    ni.memory_bytes = n.at("memory_bytes");
    const std::string cores = n.at("cores");
    if (!cores.empty()) ni.cores = parse_list(cores);
    ni.cpuset = n.at("cpuset");
    hw.numa_nodes.push_back(ni);
  }
  int i = 0;
  for (const auto& c : j.at("cores")) {
    CoreInfo ci;
    ci.index = i++;
    ci.package = c.at(0);
    ci.numa = c.at(1);
    ci.pus = c.at(2).get<std::vector<int>>();
    hw.cores.push_back(ci);
  }
  for (const auto& c : j.at("caches"))
    hw.caches.push_back({c.at("level"), c.at("kind"), c.at("size_bytes"), c.at("count")});
  for (const auto& g : j.at("gpus")) {
    GpuInfo gi;
    gi.index = g.at("index");
    gi.source = g.at("source");
    gi.model = g.at("model");
    gi.uuid = g.at("uuid");
    gi.os_devices = g.at("os_devices").get<std::vector<std::string>>();
    gi.vendor_id = g.at("vendor_id");
    gi.device_id = g.at("device_id");
    gi.locality = loc_from(g.at("locality"));
    gi.nearest_nic = g.at("nearest_nic");
    gi.nic_path = g.at("nic_path");
    hw.gpus.push_back(gi);
  }
  for (const auto& n : j.at("nics")) {
    NicInfo ni;
    ni.index = n.at("index");
    ni.name = n.at("name");
    ni.kind = n.at("kind");
    ni.os_devices = n.at("os_devices").get<std::vector<std::string>>();
    ni.vendor_id = n.at("vendor_id");
    ni.device_id = n.at("device_id");
    ni.pci_class = n.at("pci_class");
    ni.locality = loc_from(n.at("locality"));
    hw.nics.push_back(ni);
  }
  return hw;
}

nlohmann::json to_json(const Binding& b) {
  return {{"cpuset", b.cpuset},         {"cores", format_list(b.cores)},
          {"numa_nodes", b.numa_nodes}, {"packages", b.packages},
          {"bound", b.bound},           {"known", b.known}};
}

Binding binding_from_json(const nlohmann::json& j) {
  Binding b;
  b.cpuset = j.value("cpuset", "");
  if (!b.cpuset.empty()) b.pus = parse_list(b.cpuset);
  const std::string cores = j.value("cores", "");
  if (!cores.empty()) b.cores = parse_list(cores);
  b.numa_nodes = j.at("numa_nodes").get<std::vector<int>>();
  b.packages = j.at("packages").get<std::vector<int>>();
  b.bound = j.at("bound");
  b.known = j.at("known");
  return b;
}

}  // namespace collbench::topology
