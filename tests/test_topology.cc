// Discovery against hwloc XML of a GPU server (tests/data/) and synthetic topologies: what the
// machine holds, which NUMA node each GPU and NIC hangs off, and what a binding covers.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "collectives/error.h"
#include "topology/discovery.h"

namespace collbench::topology {
namespace {

const std::string kServerXml = std::string(COLLBENCH_TEST_DATA) + "/gpu-server-2s-8gpu-8nic.xml";
const std::string kServerPciXml =
    std::string(COLLBENCH_TEST_DATA) + "/gpu-server-2s-8gpu-8nic-pci.xml";

Discovery load_xml(const std::string& path, const std::string& binding = "") {
  DiscoveryOptions o;
  o.xml_path = path;
  o.binding = binding;
  return discover(o);
}

TEST(TopologyDiscovery, GpuServerMachine) {
  const Hardware hw = load_xml(kServerXml).hardware;
  EXPECT_EQ(hw.hostname, "gpu-server-xml");
  EXPECT_EQ(hw.source, kServerXml);
  EXPECT_EQ(hw.packages.size(), 2u);
  EXPECT_EQ(hw.numa_nodes.size(), 2u);
  EXPECT_EQ(hw.cores.size(), 16u);
  EXPECT_EQ(hw.pus, 32);
  EXPECT_EQ(hw.memory_bytes, std::int64_t{1} << 40);
  EXPECT_EQ(hw.cpu_model, "Intel(R) Xeon(R) Platinum 8480+");
  for (int p = 0; p < 2; ++p) {
    EXPECT_EQ(hw.packages[p].cores, 8);
    EXPECT_EQ(hw.packages[p].pus, 16);
    EXPECT_EQ(hw.numa_nodes[p].package, p);
    EXPECT_EQ(hw.numa_nodes[p].memory_bytes, std::int64_t{512} << 30);
    EXPECT_EQ(format_list(hw.numa_nodes[p].cores), p == 0 ? "0-7" : "8-15");
    EXPECT_EQ(hw.numa_nodes[p].cpuset, p == 0 ? "0-7,16-23" : "8-15,24-31");
  }
  // Linux numbering: the SMT sibling of PU c is PU 16 + c.
  EXPECT_EQ(hw.cores[3].pus, (std::vector<int>{3, 19}));
  EXPECT_EQ(hw.cores[12].numa, 1);
  EXPECT_EQ(hw.cores[12].package, 1);
}

TEST(TopologyDiscovery, Caches) {
  const Hardware hw = load_xml(kServerXml).hardware;
  auto find = [&](int level, const std::string& kind) -> const CacheInfo* {
    for (const auto& c : hw.caches)
      if (c.level == level && c.kind == kind) return &c;
    return nullptr;
  };
  ASSERT_NE(find(1, "data"), nullptr);
  EXPECT_EQ(find(1, "data")->size_bytes, 48 * 1024);
  EXPECT_EQ(find(1, "data")->count, 16);
  ASSERT_NE(find(1, "instruction"), nullptr);
  ASSERT_NE(find(2, "unified"), nullptr);
  EXPECT_EQ(find(2, "unified")->size_bytes, 2 << 20);
  ASSERT_NE(find(3, "unified"), nullptr);
  EXPECT_EQ(find(3, "unified")->count, 2);
}

void expect_gpu_locality(const Hardware& hw) {
  ASSERT_EQ(hw.gpus.size(), 8u);
  const char* buses[] = {"0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
                         "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"};
  for (int g = 0; g < 8; ++g) {
    SCOPED_TRACE("GPU " + std::to_string(g));
    const GpuInfo& gpu = hw.gpus[g];
    EXPECT_EQ(gpu.index, g);
    EXPECT_EQ(gpu.locality.bus_id, buses[g]);
    EXPECT_EQ(gpu.vendor_id, 0x10de);
    EXPECT_EQ(gpu.locality.numa, g / 4);
    EXPECT_EQ(gpu.locality.package, g / 4);
    EXPECT_EQ(gpu.locality.cpuset, g < 4 ? "0-7,16-23" : "8-15,24-31");
    // Each GPU shares a PCIe switch with one ConnectX: that is its rail NIC.
    ASSERT_GE(gpu.nearest_nic, 0);
    EXPECT_EQ(hw.nics[gpu.nearest_nic].name, "mlx5_" + std::to_string(g));
    EXPECT_EQ(gpu.nic_path, "PIX");
  }
}

TEST(TopologyDiscovery, GpusFromNvmlOsDevices) {
  const Hardware hw = load_xml(kServerXml).hardware;
  expect_gpu_locality(hw);
  EXPECT_EQ(hw.gpus[5].source, "nvml");
  EXPECT_EQ(hw.gpus[5].model, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(hw.gpus[5].uuid, "GPU-00000000-0000-0000-0000-000000000005");
  EXPECT_EQ(hw.gpus[5].os_devices, (std::vector<std::string>{"cuda5", "nvml5"}));
}

TEST(TopologyDiscovery, GpusFromPciClassWithoutCudaOrNvml) {
  // What Debian's hwloc (no CUDA/NVML plugin) reports: bare PCI devices.
  const Hardware hw = load_xml(kServerPciXml).hardware;
  expect_gpu_locality(hw);
  EXPECT_EQ(hw.gpus[0].source, "pci");
  EXPECT_EQ(hw.gpus[0].model, "NVIDIA [10de:2330]");
  EXPECT_TRUE(hw.gpus[0].os_devices.empty());
  EXPECT_TRUE(hw.gpus[0].uuid.empty());
}

TEST(TopologyDiscovery, Nics) {
  const Hardware hw = load_xml(kServerXml).hardware;
  ASSERT_EQ(hw.nics.size(), 9u);  // 8 ConnectX-7 + the management port
  // Bus order: the management port (bus 02) comes first.
  EXPECT_EQ(hw.nics[0].name, "eno1");
  EXPECT_EQ(hw.nics[0].kind, "ethernet");
  EXPECT_EQ(hw.nics[0].locality.numa, 0);
  int rdma = 0;
  for (const NicInfo& n : hw.nics) {
    if (n.kind != "rdma") continue;
    ++rdma;
    const int k = std::stoi(n.name.substr(5));  // mlx5_K
    EXPECT_EQ(n.locality.numa, k / 4) << n.name;
    EXPECT_EQ(n.vendor_id, 0x15b3);
    EXPECT_EQ(n.pci_class, 0x0207);
    ASSERT_EQ(n.os_devices.size(), 2u);
    EXPECT_EQ(n.os_devices[0].rfind("ibp", 0), 0u) << "network interface listed: " << n.name;
  }
  EXPECT_EQ(rdma, 8);
  // Inter-node traffic goes over the RDMA NICs, not the management port.
  const auto rails = hw.rail_nics();
  EXPECT_EQ(rails.size(), 8u);
  EXPECT_EQ(std::count(rails.begin(), rails.end(), 0), 0);
}

TEST(TopologyDiscovery, Signature) {
  const std::string sig = load_xml(kServerXml).hardware.signature();
  EXPECT_NE(sig.find("2 packages"), std::string::npos) << sig;
  EXPECT_NE(sig.find("16 cores"), std::string::npos) << sig;
  EXPECT_NE(sig.find("8 x NVIDIA H100 80GB HBM3"), std::string::npos) << sig;
  EXPECT_NE(sig.find("8 RDMA NICs"), std::string::npos) << sig;
  EXPECT_NE(sig, load_xml(kServerPciXml).hardware.signature());  // GPU model differs
}

TEST(TopologyDiscovery, BindingWithinOneNumaNode) {
  const Binding b = load_xml(kServerXml, "0-3,16-19").binding;
  EXPECT_TRUE(b.known);
  EXPECT_TRUE(b.bound);
  EXPECT_EQ(b.cpuset, "0-3,16-19");
  EXPECT_EQ(b.cores, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(b.numa(), 0);
  EXPECT_EQ(b.package(), 0);
}

TEST(TopologyDiscovery, BindingAcrossSockets) {
  const Binding b = load_xml(kServerXml, "7-8").binding;
  EXPECT_TRUE(b.bound);
  EXPECT_EQ(b.numa_nodes, (std::vector<int>{0, 1}));
  EXPECT_EQ(b.numa(), -1);
  EXPECT_EQ(b.package(), -1);
}

TEST(TopologyDiscovery, BindingToEveryPuIsUnbound) {
  const Binding b = load_xml(kServerXml, "0-31").binding;
  EXPECT_TRUE(b.known);
  EXPECT_FALSE(b.bound);
  EXPECT_EQ(b.cores.size(), 16u);
}

TEST(TopologyDiscovery, BindingIgnoresPusTheMachineLacks) {
  const Binding b = load_xml(kServerXml, "30-40").binding;
  EXPECT_EQ(b.cpuset, "30-31");
  EXPECT_EQ(b.cores, (std::vector<int>{14, 15}));
  const Binding none = load_xml(kServerXml, "64-65").binding;
  EXPECT_FALSE(none.known);
  EXPECT_FALSE(none.bound);
}

TEST(TopologyDiscovery, Synthetic) {
  DiscoveryOptions o;
  o.synthetic = "pack:2 numa:1 core:3 pu:2";
  o.binding = "0-1";
  const Discovery d = discover(o);
  EXPECT_EQ(d.hardware.packages.size(), 2u);
  EXPECT_EQ(d.hardware.numa_nodes.size(), 2u);
  EXPECT_EQ(d.hardware.cores.size(), 6u);
  EXPECT_EQ(d.hardware.pus, 12);
  EXPECT_TRUE(d.hardware.gpus.empty());
  EXPECT_TRUE(d.binding.bound);
  EXPECT_EQ(d.binding.cores, (std::vector<int>{0}));
}

TEST(TopologyDiscovery, XmlBufferMatchesFile) {
  std::ifstream f(kServerPciXml);
  std::stringstream ss;
  ss << f.rdbuf();
  DiscoveryOptions o;
  o.xml_buffer = ss.str();
  const Hardware hw = discover(o).hardware;
  EXPECT_EQ(hw.source, "xml-buffer");
  EXPECT_EQ(hw.gpus.size(), 8u);
}

TEST(TopologyDiscovery, LiveMachine) {
  const Discovery d = discover();
  EXPECT_EQ(d.hardware.source, "live");
  EXPECT_GE(d.hardware.pus, 1);
  EXPECT_GE(d.hardware.cores.size(), 1u);
  EXPECT_GE(d.hardware.numa_nodes.size(), 1u);
  EXPECT_FALSE(d.hardware.hostname.empty());
  EXPECT_TRUE(d.binding.known);
  EXPECT_GT(d.seconds, 0.0);
}

TEST(TopologyDiscovery, ErrorsNameTheSource) {
  DiscoveryOptions missing;
  missing.xml_path = "/nonexistent/topo.xml";
  try {
    discover(missing);
    FAIL() << "a missing XML file must throw";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/topo.xml"), std::string::npos);
  }
  DiscoveryOptions garbage;
  garbage.xml_buffer = "<topology><object type=";
  EXPECT_THROW(discover(garbage), Error);
  DiscoveryOptions both;
  both.xml_path = kServerXml;
  both.synthetic = "pu:2";
  EXPECT_THROW(discover(both), UsageError);
  DiscoveryOptions bad_binding;
  bad_binding.synthetic = "pu:2";
  bad_binding.binding = "1-x";
  EXPECT_THROW(discover(bad_binding), UsageError);
}

TEST(TopologyLists, FormatAndParse) {
  EXPECT_EQ(format_list({}), "");
  EXPECT_EQ(format_list({5}), "5");
  EXPECT_EQ(format_list({3, 0, 1, 2, 8, 10, 11, 10}), "0-3,8,10-11");
  EXPECT_EQ(parse_list("0-3,8,10-11"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(parse_list("7"), (std::vector<int>{7}));
  for (const char* bad : {"", ",", "1,", "a", "3-1", "1-", "-1", "1--2", "2x"})
    EXPECT_THROW(parse_list(bad), UsageError) << "'" << bad << "'";
}

TEST(TopologyLists, HumanBytes) {
  EXPECT_EQ(collectives::human_bytes(512), "512 B");
  EXPECT_EQ(collectives::human_bytes(48 * 1024), "48 KiB");
  EXPECT_EQ(collectives::human_bytes(std::int64_t{512} << 30), "512 GiB");
  EXPECT_EQ(collectives::human_bytes(5194416128), "4.8 GiB");
}

TEST(TopologyJson, HardwareAndBindingRoundTrip) {
  const Discovery d = load_xml(kServerXml, "8-11");
  const Hardware back = hardware_from_json(to_json(d.hardware));
  EXPECT_EQ(to_json(back), to_json(d.hardware));
  EXPECT_EQ(back.gpus[6].locality.numa, 1);
  EXPECT_EQ(back.nics[back.gpus[6].nearest_nic].name, "mlx5_6");
  const Binding b = binding_from_json(to_json(d.binding));
  EXPECT_EQ(to_json(b), to_json(d.binding));
  EXPECT_EQ(b.pus, (std::vector<int>{8, 9, 10, 11}));
}

}  // namespace
}  // namespace collbench::topology
