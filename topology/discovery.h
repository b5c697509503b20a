// What one process sees of its machine, through hwloc: packages, NUMA nodes, cores and PUs,
// caches, GPUs, network adapters (with the NUMA node each hangs off) and this process's binding.
// No MPI here: layout.h combines the reports of all ranks.
//
// GPUs come from hwloc's CUDA/NVML OS devices where hwloc was built with them, otherwise from
// PCI devices of vendor NVIDIA (0x10de) and class 3D (0x0302) or VGA (0x0300): Debian's hwloc has
// neither plugin. Loading is kept cheap (no OpenCL/GL/CUDA plugins, no distances, memory
// attributes or CPU kinds) so that every rank can afford it at start-up.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "collectives/units.h"

namespace collbench::topology {

struct CacheInfo {
  int level = 0;                // 1, 2, 3 ...
  std::string kind;             // "unified", "data", "instruction"
  std::int64_t size_bytes = 0;  // of one instance
  int count = 0;                // instances in the machine
};

struct PackageInfo {
  int index = 0;  // logical index (0..packages-1)
  std::string cpu_model;
  int cores = 0;
  int pus = 0;
};

struct NumaInfo {
  int index = 0;     // logical index
  int os_index = 0;  // the kernel's node number
  int package = -1;  // logical package index, -1 if it spans several
  std::int64_t memory_bytes = 0;
  std::vector<int> cores;  // logical core indices local to this node
  std::string cpuset;      // PU list ("0-7,16-23")
};

struct CoreInfo {
  int index = 0;  // logical index
  int package = -1;
  int numa = -1;
  std::vector<int> pus;  // OS PU numbers
};

// Where a PCI device sits: the NUMA node and package of its first non-I/O ancestor.
struct PciLocality {
  std::string bus_id;  // "0000:18:00.0"
  int numa = -1;       // logical NUMA index, -1 when it hangs off several or none
  int package = -1;
  std::string cpuset;  // PUs local to the device
};

struct GpuInfo {
  int index = 0;       // order of PCI bus id (nvidia-smi and CUDA_DEVICE_ORDER=PCI_BUS_ID order)
  std::string source;  // "nvml", "cuda" (hwloc OS devices) or "pci" (PCI class/vendor only)
  std::string model;   // GPUModel from hwloc, or "NVIDIA [10de:2330]" from PCI ids
  std::string uuid;    // NVIDIAUUID when NVML provided it
  std::vector<std::string> os_devices;  // "cuda0", "nvml0" ...
  std::uint16_t vendor_id = 0, device_id = 0;
  PciLocality locality;
  int nearest_nic = -1;  // index into Hardware::nics, -1 if none
  std::string nic_path;  // how the nearest NIC is reached: "PCIe switch", "host bridge", ...
};

struct NicInfo {
  int index = 0;
  std::string name;  // RDMA device name (mlx5_0) when there is one, else the interface (eth0)
  std::string kind;  // "rdma" (has an OpenFabrics OS device) or "ethernet"/"network"
  std::vector<std::string> os_devices;  // "ibp24s0", "mlx5_0"
  std::uint16_t vendor_id = 0, device_id = 0;
  std::uint16_t pci_class = 0;
  PciLocality locality;
};

// The machine as hwloc describes it. Identical on every rank of a node.
struct Hardware {
  std::string hostname;  // from the topology (HostName info) or gethostname for live machines
  std::string source;    // "live" or the XML path / "xml-buffer" / "synthetic:..."
  std::string hwloc_version;
  std::string architecture;
  std::string cpu_model;
  std::int64_t memory_bytes = 0;
  int pus = 0;
  std::vector<PackageInfo> packages;
  std::vector<NumaInfo> numa_nodes;
  std::vector<CoreInfo> cores;
  std::vector<CacheInfo> caches;
  std::vector<GpuInfo> gpus;
  std::vector<NicInfo> nics;

  // Indices of the NICs used for inter-node traffic: the RDMA ones when there are any, else all.
  std::vector<int> rail_nics() const;
  // A one-line description of what makes nodes comparable ("2 packages, 2 NUMA, 16 cores,
  // 32 PUs, 1024 GiB, 8 x NVIDIA H100 80GB HBM3, 8 RDMA NICs"). Nodes whose signatures differ
  // draw a warning.
  std::string signature() const;
};

// This process's CPU binding, as PU (OS) numbers and what they cover.
struct Binding {
  std::string cpuset;           // PU list ("0-3,16-19"); "" when unknown
  std::vector<int> pus;         // OS PU numbers
  std::vector<int> cores;       // logical cores with at least one bound PU
  std::vector<int> numa_nodes;  // logical NUMA nodes with at least one bound PU
  std::vector<int> packages;
  // False when the process may run on every PU of the machine (nothing pinned it).
  bool bound = false;
  bool known = false;  // false when the binding could not be read

  int numa() const { return numa_nodes.size() == 1 ? numa_nodes.front() : -1; }
  int package() const { return packages.size() == 1 ? packages.front() : -1; }
};

struct DiscoveryOptions {
  // At most one of these; all empty means the live machine.
  std::string xml_path;
  std::string xml_buffer;
  std::string synthetic;  // hwloc synthetic description, "pack:2 core:4 pu:2"
  // The binding to evaluate, as a PU list ("0-3"). Empty: the process's real binding
  // (sched_getaffinity), restricted to the PUs the topology has.
  std::string binding;
  // Discover GPUs, NICs and the PCI tree. Off, loading costs a few ms instead of tens: ranks
  // that are not their node's leader need only cores and NUMA nodes.
  bool io = true;
  // Keep hwloc's CUDA plugin (slow: it initialises the CUDA driver). Off by default.
  bool cuda_plugin = false;
};

struct Discovery {
  Hardware hardware;
  Binding binding;
  double seconds = 0;      // wall time of load + extraction + binding
  double cpu_seconds = 0;  // CPU time of the same (wall minus waiting for a core, for I/O)
};

// Throws collbench::Error when hwloc cannot load the topology (message names the source).
Discovery discover(const DiscoveryOptions& options = {});

// Loads an hwloc XML file as discover() would, to refuse a bad --topology-xml before MPI starts:
// throws UsageError naming the file and why (missing, a folder, not hwloc XML).
void check_topology_xml(const std::string& path);

// Binding of a PU list against a discovered machine (pure; used by discover and by tests).
Binding binding_from_pus(const Hardware& hw, const std::vector<int>& pus);

// "0-3,8,10-11" <-> {0,1,2,3,8,10,11}. parse throws UsageError on malformed input.
std::string format_list(const std::vector<int>& values);
std::vector<int> parse_list(const std::string& text);

nlohmann::json to_json(const Hardware& hw);
nlohmann::json to_json(const Binding& b);
Hardware hardware_from_json(const nlohmann::json& j);
Binding binding_from_json(const nlohmann::json& j);

}  // namespace collbench::topology
