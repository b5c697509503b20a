#include "topology/discovery.h"

#include <hwloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "collectives/error.h"
#include "collectives/host.h"
#include "collectives/input_file.h"

namespace collbench::topology {
namespace {

constexpr std::size_t kMaxXmlBytes = std::size_t{256} << 20;

// Owns an hwloc topology so that every exit path destroys it.
class Topo {
 public:
  Topo() {
    if (hwloc_topology_init(&t_) != 0) throw Error("hwloc_topology_init failed");
  }
  ~Topo() { hwloc_topology_destroy(t_); }
  Topo(const Topo&) = delete;
  Topo& operator=(const Topo&) = delete;
  hwloc_topology_t get() const { return t_; }

 private:
  hwloc_topology_t t_ = nullptr;
};

class Bitmap {
 public:
  Bitmap() : b_(hwloc_bitmap_alloc()) {}
  ~Bitmap() { hwloc_bitmap_free(b_); }
  Bitmap(const Bitmap&) = delete;
  Bitmap& operator=(const Bitmap&) = delete;
  hwloc_bitmap_t get() const { return b_; }

 private:
  hwloc_bitmap_t b_;
};

std::vector<int> bitmap_values(hwloc_const_bitmap_t b) {
  std::vector<int> v;
  if (!b) return v;
  int i;
  hwloc_bitmap_foreach_begin(i, b) { v.push_back(i); }
  hwloc_bitmap_foreach_end();
  return v;
}

const char* info(hwloc_obj_t o, const char* name) {
  const char* v = o ? hwloc_obj_get_info_by_name(o, name) : nullptr;
  return v ? v : "";
}

std::string bus_id(hwloc_obj_t pci) {
  char buf[32];
  const auto& a = pci->attr->pcidev;
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%01x", static_cast<unsigned>(a.domain),
                static_cast<unsigned>(a.bus), static_cast<unsigned>(a.dev),
                static_cast<unsigned>(a.func));
  return buf;
}

std::string version_string(unsigned v) {
  return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." +
         std::to_string(v & 0xff);
}

void load(const Topo& topo, const DiscoveryOptions& o, std::string* source) {
  hwloc_topology_t t = topo.get();
  const int sources = !o.xml_path.empty() + !o.xml_buffer.empty() + !o.synthetic.empty();
  if (sources > 1)
    throw UsageError("give at most one of an XML file, an XML buffer, a synthetic topology");
  if (!o.xml_path.empty()) {
    // Missing, a folder, unreadable: said here, before hwloc gives a vaguer error.
    const std::string text =
        read_input_file(o.xml_path, "hwloc XML topology (lstopo --of xml)", kMaxXmlBytes);
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
      throw UsageError(o.xml_path + ": is empty; expected an hwloc XML topology");
    if (hwloc_topology_set_xml(t, o.xml_path.c_str()) != 0)
      throw UsageError(o.xml_path + ": not an hwloc XML topology (lstopo --of xml writes one)");
    *source = o.xml_path;
  } else if (!o.xml_buffer.empty()) {
    if (hwloc_topology_set_xmlbuffer(t, o.xml_buffer.c_str(),
                                     static_cast<int>(o.xml_buffer.size() + 1)) != 0)
      throw UsageError("hwloc cannot parse the XML topology buffer");
    *source = "xml-buffer";
  } else if (!o.synthetic.empty()) {
    if (hwloc_topology_set_synthetic(t, o.synthetic.c_str()) != 0)
      throw UsageError("hwloc cannot parse the synthetic topology '" + o.synthetic + "'");
    *source = "synthetic:" + o.synthetic;
  } else {
    *source = "live";
    // These plugins initialise whole driver stacks (OpenCL ICDs, X displays, the CUDA driver),
    // costing from tens of ms to seconds per process; GPUs are still found as PCI devices and,
    // where hwloc has it, through NVML.
    // x86 runs cpuid on every PU in turn, migrating the process to each: slow on big machines
    // and it disturbs the binding; Linux's sysfs already gives cores, caches and the CPU model.
    const char* slow[] = {"opencl", "gl", "levelzero", "rsmi", "x86"};
    for (const char* c : slow)
      hwloc_topology_set_components(t, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, c);
    if (!o.cuda_plugin)
      hwloc_topology_set_components(t, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "cuda");
  }
  hwloc_topology_set_flags(t, HWLOC_TOPOLOGY_FLAG_NO_DISTANCES | HWLOC_TOPOLOGY_FLAG_NO_MEMATTRS |
                                  HWLOC_TOPOLOGY_FLAG_NO_CPUKINDS);
  // GPUs, NICs and the bridges above them; not every PCI function.
  hwloc_topology_set_io_types_filter(
      t, o.io ? HWLOC_TYPE_FILTER_KEEP_IMPORTANT : HWLOC_TYPE_FILTER_KEEP_NONE);
  hwloc_topology_set_icache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_ALL);
  if (hwloc_topology_load(t) != 0)
    throw Error("hwloc could not load the topology from " + *source +
                " (run `lstopo` to see hwloc's own error)");
}

// The first ancestor with a cpuset, and where it sits.
PciLocality locality_of(hwloc_topology_t t, hwloc_obj_t pci, const Hardware& hw) {
  PciLocality loc;
  loc.bus_id = bus_id(pci);
  hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(t, pci);
  if (!anc || !anc->cpuset) return loc;
  char* s = nullptr;
  hwloc_bitmap_list_asprintf(&s, anc->cpuset);
  if (s) {
    loc.cpuset = s;
    free(s);
  }
  if (anc->nodeset && hwloc_bitmap_weight(anc->nodeset) == 1) {
    hwloc_obj_t n = hwloc_get_numanode_obj_by_os_index(t, hwloc_bitmap_first(anc->nodeset));
    if (n) loc.numa = static_cast<int>(n->logical_index);
  } else if (hw.numa_nodes.size() == 1) {
    loc.numa = 0;
  }
  hwloc_obj_t pkg = anc->type == HWLOC_OBJ_PACKAGE
                        ? anc
                        : hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, anc);
  if (pkg) {
    loc.package = static_cast<int>(pkg->logical_index);
  } else {
    // The ancestor may sit above packages (the machine); it is local to a package only when
    // its cpuset fits inside one.
    const int npkg = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
    for (int i = 0; i < npkg; ++i) {
      hwloc_obj_t p = hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, i);
      if (hwloc_bitmap_isincluded(anc->cpuset, p->cpuset)) loc.package = i;
    }
    if (loc.package < 0 && hw.packages.size() == 1) loc.package = 0;
  }
  return loc;
}

std::vector<hwloc_obj_t> os_devices(hwloc_obj_t pci) {
  std::vector<hwloc_obj_t> v;
  for (hwloc_obj_t c = pci->io_first_child; c; c = c->next_sibling)
    if (c->type == HWLOC_OBJ_OS_DEVICE) v.push_back(c);
  return v;
}

bool is_gpu(hwloc_obj_t pci, const std::vector<hwloc_obj_t>& osdevs) {
  for (hwloc_obj_t o : osdevs) {
    const auto type = o->attr->osdev.type;
    if (type == HWLOC_OBJ_OSDEV_GPU || type == HWLOC_OBJ_OSDEV_COPROC) {
      const std::string sub = o->subtype ? o->subtype : "";
      if (sub == "CUDA" || sub == "NVML") return true;
    }
  }
  const auto& a = pci->attr->pcidev;
  return a.vendor_id == 0x10de && (a.class_id == 0x0302 || a.class_id == 0x0300);
}

// NCCL's names for the path between two PCI devices, best first.
enum class PathClass { kPix = 0, kPxb, kPhb, kNode, kSys };
const char* path_name(PathClass c) {
  switch (c) {
    case PathClass::kPix:
      return "PIX";
    case PathClass::kPxb:
      return "PXB";
    case PathClass::kPhb:
      return "PHB";
    case PathClass::kNode:
      return "NODE";
    case PathClass::kSys:
      return "SYS";
  }
  return "SYS";
}

PathClass path_between(hwloc_obj_t a, hwloc_obj_t b) {
  std::vector<hwloc_obj_t> up_a;
  for (hwloc_obj_t o = a; o; o = o->parent) up_a.push_back(o);
  hwloc_obj_t common = nullptr;
  int bridges = 0;  // bridges below the common ancestor on b's side
  for (hwloc_obj_t o = b->parent; o; o = o->parent) {
    if (std::find(up_a.begin(), up_a.end(), o) != up_a.end()) {
      common = o;
      break;
    }
    if (o->type == HWLOC_OBJ_BRIDGE) ++bridges;
  }
  if (!common) return PathClass::kSys;
  for (hwloc_obj_t o = a->parent; o != common; o = o->parent)
    if (o->type == HWLOC_OBJ_BRIDGE) ++bridges;
  if (common->type == HWLOC_OBJ_BRIDGE) {
    if (common->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST) return PathClass::kPhb;
    return bridges == 0 ? PathClass::kPix : PathClass::kPxb;
  }
  if (common->nodeset && hwloc_bitmap_weight(common->nodeset) <= 1) return PathClass::kNode;
  return PathClass::kSys;
}

std::string describe_pci_model(hwloc_obj_t pci) {
  const char* name = info(pci, "PCIDevice");
  if (*name) return name;
  char buf[48];
  std::snprintf(buf, sizeof buf, "NVIDIA [%04x:%04x]",
                static_cast<unsigned>(pci->attr->pcidev.vendor_id),
                static_cast<unsigned>(pci->attr->pcidev.device_id));
  return buf;
}

void extract(hwloc_topology_t t, Hardware& hw) {
  hwloc_obj_t root = hwloc_get_root_obj(t);
  // The library's own version is in the root's info (for XML: the version that wrote it); the
  // API version is only a fallback (2.9 keeps API 2.8).
  hw.hwloc_version = info(root, "hwlocVersion");
  if (hw.hwloc_version.empty()) hw.hwloc_version = "API " + version_string(hwloc_get_api_version());
  hw.architecture = info(root, "Architecture");
  hw.pus = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
  hw.memory_bytes = static_cast<std::int64_t>(root->total_memory);

  const int npkg = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
  for (int i = 0; i < npkg; ++i) {
    hwloc_obj_t p = hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, i);
    PackageInfo pi;
    pi.index = i;
    pi.cpu_model = info(p, "CPUModel");
    pi.cores = hwloc_get_nbobjs_inside_cpuset_by_type(t, p->cpuset, HWLOC_OBJ_CORE);
    pi.pus = hwloc_get_nbobjs_inside_cpuset_by_type(t, p->cpuset, HWLOC_OBJ_PU);
    hw.packages.push_back(pi);
  }
  hw.cpu_model = !hw.packages.empty() && !hw.packages[0].cpu_model.empty()
                     ? hw.packages[0].cpu_model
                     : info(root, "CPUModel");
  auto package_of = [&](hwloc_const_cpuset_t set) {
    for (int i = 0; i < npkg; ++i)
      if (hwloc_bitmap_isincluded(set, hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, i)->cpuset))
        return i;
    return npkg == 0 ? 0 : -1;  // no package objects: the machine is one package
  };
  if (npkg == 0) {
    PackageInfo pi;
    pi.cpu_model = hw.cpu_model;
    pi.pus = hw.pus;
    hw.packages.push_back(pi);
  }

  const int nnuma = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < nnuma; ++i) {
    hwloc_obj_t n = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, i);
    NumaInfo ni;
    ni.index = i;
    ni.os_index = static_cast<int>(n->os_index);
    ni.memory_bytes = static_cast<std::int64_t>(n->attr->numanode.local_memory);
    ni.package = hwloc_bitmap_iszero(n->cpuset) ? -1 : package_of(n->cpuset);
    char* s = nullptr;
    hwloc_bitmap_list_asprintf(&s, n->cpuset);
    if (s) {
      ni.cpuset = s;
      free(s);
    }
    hw.numa_nodes.push_back(ni);
  }

  // Cores; a topology without Core objects (some synthetic or exotic ones) uses its PUs.
  const hwloc_obj_type_t core_type =
      hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
  const int ncore = hwloc_get_nbobjs_by_type(t, core_type);
  for (int i = 0; i < ncore; ++i) {
    hwloc_obj_t c = hwloc_get_obj_by_type(t, core_type, i);
    CoreInfo ci;
    ci.index = i;
    ci.package = package_of(c->cpuset);
    ci.pus = bitmap_values(c->cpuset);
    for (int k = 0; k < nnuma; ++k) {
      hwloc_obj_t n = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, k);
      if (!hwloc_bitmap_iszero(n->cpuset) && hwloc_bitmap_isincluded(c->cpuset, n->cpuset)) {
        ci.numa = k;
        hw.numa_nodes[k].cores.push_back(i);
        break;
      }
    }
    hw.cores.push_back(ci);
  }
  if (npkg == 0) hw.packages[0].cores = ncore;

  // Caches: one entry per (level, kind), with the size of the first instance.
  std::map<std::pair<int, int>, CacheInfo> caches;
  for (int d = 0; d < hwloc_topology_get_depth(t); ++d) {
    hwloc_obj_t o = hwloc_get_obj_by_depth(t, d, 0);
    if (!o || !hwloc_obj_type_is_cache(o->type)) continue;
    const auto& ca = o->attr->cache;
    CacheInfo& c = caches[{static_cast<int>(ca.depth), static_cast<int>(ca.type)}];
    c.level = static_cast<int>(ca.depth);
    c.kind = ca.type == HWLOC_OBJ_CACHE_DATA          ? "data"
             : ca.type == HWLOC_OBJ_CACHE_INSTRUCTION ? "instruction"
                                                      : "unified";
    c.size_bytes = static_cast<std::int64_t>(ca.size);
    c.count += static_cast<int>(hwloc_get_nbobjs_by_depth(t, d));
  }
  for (auto& [k, c] : caches) hw.caches.push_back(c);

  // GPUs and NICs, in PCI bus order (the order nvidia-smi and NCCL's PCI ordering use).
  std::vector<hwloc_obj_t> gpu_objs, nic_objs;
  for (hwloc_obj_t p = hwloc_get_next_pcidev(t, nullptr); p; p = hwloc_get_next_pcidev(t, p)) {
    const auto devs = os_devices(p);
    if (is_gpu(p, devs)) {
      gpu_objs.push_back(p);
      continue;
    }
    for (hwloc_obj_t o : devs) {
      const auto type = o->attr->osdev.type;
      if (type == HWLOC_OBJ_OSDEV_NETWORK || type == HWLOC_OBJ_OSDEV_OPENFABRICS) {
        nic_objs.push_back(p);
        break;
      }
    }
  }
  auto by_bus = [](hwloc_obj_t a, hwloc_obj_t b) { return bus_id(a) < bus_id(b); };
  std::sort(gpu_objs.begin(), gpu_objs.end(), by_bus);
  std::sort(nic_objs.begin(), nic_objs.end(), by_bus);

  for (hwloc_obj_t p : nic_objs) {
    NicInfo n;
    n.index = static_cast<int>(hw.nics.size());
    n.vendor_id = p->attr->pcidev.vendor_id;
    n.device_id = p->attr->pcidev.device_id;
    n.pci_class = p->attr->pcidev.class_id;
    n.locality = locality_of(t, p, hw);
    std::string netdev, rdma;
    for (hwloc_obj_t o : os_devices(p)) {
      const auto type = o->attr->osdev.type;
      if (type == HWLOC_OBJ_OSDEV_OPENFABRICS && rdma.empty()) rdma = o->name ? o->name : "";
      if (type == HWLOC_OBJ_OSDEV_NETWORK && netdev.empty()) netdev = o->name ? o->name : "";
      if ((type == HWLOC_OBJ_OSDEV_OPENFABRICS || type == HWLOC_OBJ_OSDEV_NETWORK) && o->name)
        n.os_devices.push_back(o->name);
    }
    n.name = !rdma.empty() ? rdma : netdev;
    n.kind = !rdma.empty() ? "rdma" : n.pci_class == 0x0200 ? "ethernet" : "network";
    hw.nics.push_back(n);
  }
  const std::vector<int> rails = hw.rail_nics();
  std::vector<int> rail_users(hw.nics.size(), 0);

  for (hwloc_obj_t p : gpu_objs) {
    GpuInfo g;
    g.index = static_cast<int>(hw.gpus.size());
    g.vendor_id = p->attr->pcidev.vendor_id;
    g.device_id = p->attr->pcidev.device_id;
    g.locality = locality_of(t, p, hw);
    g.source = "pci";
    for (hwloc_obj_t o : os_devices(p)) {
      const std::string sub = o->subtype ? o->subtype : "";
      if (sub != "CUDA" && sub != "NVML") continue;
      if (o->name) g.os_devices.push_back(o->name);
      if (g.model.empty()) g.model = info(o, "GPUModel");
      if (g.uuid.empty()) g.uuid = info(o, "NVIDIAUUID");
      if (sub == "NVML" || g.source == "pci") g.source = sub == "NVML" ? "nvml" : "cuda";
    }
    if (g.model.empty()) g.model = describe_pci_model(p);
    // The nearest rail NIC; among equally near ones, the one fewest GPUs use so far, so that
    // two GPUs behind one switch with two NICs get one each.
    int best = -1;
    PathClass best_class = PathClass::kSys;
    for (int r : rails) {
      const PathClass c = path_between(p, nic_objs[r]);
      if (best < 0 || c < best_class || (c == best_class && rail_users[r] < rail_users[best])) {
        best = r;
        best_class = c;
      }
    }
    if (best >= 0) {
      g.nearest_nic = best;
      g.nic_path = path_name(best_class);
      ++rail_users[best];
    }
    hw.gpus.push_back(g);
  }
}

std::vector<int> process_affinity() {
  std::vector<int> pus;
  for (int ncpu = 1024; ncpu <= (1 << 16); ncpu *= 4) {
    cpu_set_t* set = CPU_ALLOC(ncpu);
    const std::size_t size = CPU_ALLOC_SIZE(ncpu);
    CPU_ZERO_S(size, set);
    if (sched_getaffinity(0, size, set) == 0) {
      for (int i = 0; i < ncpu; ++i)
        if (CPU_ISSET_S(i, size, set)) pus.push_back(i);
      CPU_FREE(set);
      return pus;
    }
    CPU_FREE(set);
  }
  return pus;
}

using collectives::local_hostname;

}  // namespace

std::vector<int> Hardware::rail_nics() const {
  std::vector<int> rdma, all;
  for (const NicInfo& n : nics) {
    all.push_back(n.index);
    if (n.kind == "rdma") rdma.push_back(n.index);
  }
  return rdma.empty() ? all : rdma;
}

std::string Hardware::signature() const {
  std::ostringstream s;
  s << packages.size() << " package" << (packages.size() == 1 ? "" : "s") << ", "
    << numa_nodes.size() << " NUMA, " << cores.size() << " cores, " << pus << " PUs, "
    << collectives::human_bytes(memory_bytes);
  if (!cpu_model.empty()) s << ", " << cpu_model;
  std::map<std::string, int> gpu_models;
  for (const GpuInfo& g : gpus) ++gpu_models[g.model];
  for (const auto& [m, n] : gpu_models) s << ", " << n << " x " << m;
  int rdma = 0;
  for (const NicInfo& n : nics) rdma += n.kind == "rdma";
  if (rdma) s << ", " << rdma << " RDMA NIC" << (rdma == 1 ? "" : "s");
  if (nics.size() - rdma)
    s << ", " << nics.size() - rdma << " other NIC" << (nics.size() - rdma == 1 ? "" : "s");
  return s.str();
}

Binding binding_from_pus(const Hardware& hw, const std::vector<int>& requested) {
  Binding b;
  std::set<int> machine;
  for (const CoreInfo& c : hw.cores) machine.insert(c.pus.begin(), c.pus.end());
  std::set<int> pus;
  for (int p : requested)
    if (machine.count(p)) pus.insert(p);
  b.pus.assign(pus.begin(), pus.end());
  b.cpuset = format_list(b.pus);
  b.known = !b.pus.empty();
  std::set<int> numa, pkgs;
  for (const CoreInfo& c : hw.cores) {
    const bool used = std::any_of(c.pus.begin(), c.pus.end(), [&](int p) { return pus.count(p); });
    if (!used) continue;
    b.cores.push_back(c.index);
    if (c.numa >= 0) numa.insert(c.numa);
    if (c.package >= 0) pkgs.insert(c.package);
  }
  b.numa_nodes.assign(numa.begin(), numa.end());
  b.packages.assign(pkgs.begin(), pkgs.end());
  // A single-PU machine cannot be "unbound" in any way that matters.
  b.bound = b.known && (pus.size() < machine.size() || machine.size() <= 1);
  return b;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void check_topology_xml(const std::string& path) {
  DiscoveryOptions o;
  o.xml_path = path;
  Topo topo;
  std::string source;
  try {
    load(topo, o, &source);
  } catch (const UsageError&) {
    throw;
  } catch (const Error&) {
    throw UsageError(path + ": not an hwloc XML topology (lstopo --of xml writes one)");
  }
}

Discovery discover(const DiscoveryOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = thread_cpu_seconds();
  Discovery d;
  {
    Topo topo;
    load(topo, options, &d.hardware.source);
    extract(topo.get(), d.hardware);
    const char* host = info(hwloc_get_root_obj(topo.get()), "HostName");
    d.hardware.hostname = d.hardware.source == "live" || !*host ? local_hostname() : host;
  }
  const std::vector<int> pus =
      options.binding.empty() ? process_affinity() : parse_list(options.binding);
  d.binding = binding_from_pus(d.hardware, pus);
  d.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  d.cpu_seconds = thread_cpu_seconds() - cpu0;
  return d;
}

}  // namespace collbench::topology
