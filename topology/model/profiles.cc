#include "topology/model/profiles.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "collectives/error.h"

namespace collbench::model {
namespace {

// Sources named once; docs/sources.md gives each with its public address and how far it was
// checked.
constexpr const char* kNvDatasheet = "NVIDIA product page and datasheet (docs/sources.md §3)";
constexpr const char* kNcclLat =
    "NCCL src/graph/tuning.cc: per-hop latency, LL protocol (NVLink 0.6 us, network 2.7 us)";
constexpr const char* kNcclBase = "NCCL src/graph/tuning.cc: Ring/LL base latency 6.6 us";
constexpr const char* kNvlsHopper = "NCCL tuning: nvlsEfficiency 0.85 on Hopper";
constexpr const char* kNvlsBlackwell = "NCCL tuning: nvlsEfficiency 0.74 on Blackwell";
constexpr const char* kLinkEff =
    "calibrated: 8xH100 NCCL ring busbw ~370 GB/s of 450 GB/s line rate (NVIDIA/nccl-tests "
    "issue 212) -> 0.82; the same factor is assumed for other generations";
constexpr const char* kNicEff =
    "calibrated: 5 nodes x 8 H100, 4x400G per node, NCCL ring busbw 190 GB/s of 200 GB/s "
    "(NVIDIA/nccl issue 1368) -> 0.95";
constexpr const char* kNic400 = "400 Gb/s ConnectX-7 NIC per GPU = 50 GB/s (docs/sources.md §3)";
constexpr const char* kRadix =
    "NVIDIA Spectrum-X SN5600: 64 x 800G = 128 x 400G ports, the switch of the Colossus "
    "network (docs/sources.md §3)";
constexpr const char* kSwitchLevel =
    "estimate: each switch level above the leaf adds two switch traversals (~0.25 us each) and "
    "cable";
constexpr const char* kNcclSimple =
    "NCCL src/graph/tuning.cc: Simple-protocol per-hop latency of a ring (NVLink 3.4 us, network "
    "14 us), the protocol of large messages";
constexpr const char* kProtocolSwitch =
    "NCCL src/enqueue.cc: point-to-point messages above NCCL_P2P_LL_THRESHOLD (16 KiB per "
    "channel) go by Simple; taken for every message (collectives switch by the tuner's times)";
constexpr const char* kTreeEff = "NCCL src/graph/tuning.cc: tree bus bandwidth x 0.92";
constexpr const char* kTreeShared =
    "NCCL src/graph/tuning.cc: x 0.85 more when the tree pattern is TREE (GPUs share a NIC)";
constexpr const char* kNvlsAlpha =
    "NCCL src/graph/tuning.cc: NVLS latency over NVLink, Simple protocol, 25 us";
constexpr const char* kNvlsTreeAlpha =
    "NCCL src/graph/tuning.cc: NVLS-tree network latency, 20.9 us per hop, 2 log2(nodes) hops";
constexpr const char* kNvlsFull =
    "calibrated: NVLS busbw on 8 GPUs of an NVL72 (856 GB/s) equals all 72's (839); NCCL's "
    "tuning gives NVLS a bus bandwidth independent of the rank count (docs/model.md §2)";
constexpr const char* kNvlsFill =
    "fitted on the train cases of results/reference/published/ (512 MiB against 4 GiB)";
constexpr const char* kNvlsSerial =
    "fitted on the train cases of results/reference/published/ (NVLS tree on 4 nodes)";
constexpr const char* kP2pEff =
    "fitted on the train cases of results/reference/published/ (all-to-all inside one domain)";
constexpr const char* kGap =
    "calibrated: DeepEP low-latency dispatch takes 118-194 us at 16-256 ranks, the same fixed cost "
    "whatever the peers (results/reference/published/): sends posted at once overlap";

// NCCL's tuning constants and the figures fitted on the calibration record (docs/model.md §2).
// `channels`: NVLS channels (16 on Hopper, 32 across nodes on Blackwell, nvls.cc).
Tuning nccl_tuning(int channels, const char* channel_source) {
  Tuning u;
  u.channels = channels;
  u.tree_efficiency = 0.92;
  u.tree_shared_nic_efficiency = 0.85;
  u.in_switch_alpha_us = 25;
  u.in_switch_tree_alpha_us = 20.9;
  u.in_switch_full_gpus = 8;
  u.in_switch_fill_bytes = 6.5e6;
  u.in_switch_serial_fraction = 0.18;
  u.p2p_efficiency = 0.83;
  u.message_gap_us = 0;
  u.sources = {{"channels", channel_source},
               {"tree_efficiency", kTreeEff},
               {"tree_shared_nic_efficiency", kTreeShared},
               {"in_switch_alpha_us", kNvlsAlpha},
               {"in_switch_tree_alpha_us", kNvlsTreeAlpha},
               {"in_switch_full_gpus", kNvlsFull},
               {"in_switch_fill_bytes", kNvlsFill},
               {"in_switch_serial_fraction", kNvlsSerial},
               {"p2p_efficiency", kP2pEff},
               {"message_gap_us", kGap}};
  return u;
}

constexpr const char* kGamma =
    "NCCL fuses the reduction into its copy kernels, so gamma is inside the link efficiency";

Profile hopper(const char* key, const char* name, double hbm_gb, double hbm_tbps) {
  Profile p;
  p.key = key;
  p.name = name;
  p.gpus_per_node = 8;
  p.scaleup_gpus = 8;
  p.scaleup_gbps = 450;
  p.scaleup_efficiency = 0.82;
  p.scaleup_alpha_us = 0.6;
  p.in_switch = true;
  p.in_switch_efficiency = 0.85;
  p.nic_gbps = 50;
  p.nic_efficiency = 0.95;
  p.net_alpha_us = 2.7;
  p.switch_level_us = 0.5;
  p.switch_radix = 128;
  p.gpu_w = 700;
  p.unit_kw = 10.2;
  p.gpus_per_unit = 8;
  p.hbm_gb = hbm_gb;
  p.hbm_tbps = hbm_tbps;
  p.call_overhead_us = 6.6;
  p.protocol_switch_bytes = 16 * 1024;
  p.scaleup_bulk_alpha_us = 3.4;
  p.net_bulk_alpha_us = 14;
  p.tuning = nccl_tuning(16, "NCCL src/transport/nvls.cc: 16 NVLS channels on Hopper");
  p.sources = {
      {"scaleup_gbps",
       std::string("900 GB/s NVLink4 per GPU bidirectional (18 links) -> 450 GB/s each way; ") +
           kNvDatasheet},
      {"scaleup_gpus", std::string("HGX/DGX 8-GPU NVSwitch baseboard; ") + kNvDatasheet},
      {"scaleup_efficiency", kLinkEff},
      {"scaleup_alpha_us", kNcclLat},
      {"in_switch", "NVSwitch gen 3 supports NVLink SHARP (NVLS)"},
      {"in_switch_efficiency", kNvlsHopper},
      {"nic_gbps", kNic400},
      {"nic_efficiency", kNicEff},
      {"net_alpha_us", kNcclLat},
      {"switch_level_us", kSwitchLevel},
      {"switch_radix", kRadix},
      {"network_in_switch", "Spectrum-X Ethernet: no in-network reduction (SHARP is InfiniBand)"},
      {"gpu_w", std::string("700 W; ") + kNvDatasheet},
      {"unit_kw",
       "DGX H100 maximum 10.2 kW per 8 GPUs (DGX H100 user guide, docs/sources.md §4); typical "
       "draw "
       "~8.5 kW"},
      {"hbm", kNvDatasheet},
      {"call_overhead_us", kNcclBase},
      {"protocol_switch_bytes", kProtocolSwitch},
      {"scaleup_bulk_alpha_us", kNcclSimple},
      {"net_bulk_alpha_us", kNcclSimple},
      {"gamma", kGamma},
  };
  return p;
}

std::vector<Profile> make_profiles() {
  std::vector<Profile> out;
  out.push_back(hopper("h100", "NVIDIA H100 SXM, 8-GPU HGX, 400G Spectrum-X", 80, 3.35));

  Profile h200 = hopper("h200", "NVIDIA H200 SXM, 8-GPU HGX, 400G Spectrum-X", 141, 4.8);
  h200.sources["unit_kw"] =
      "estimate: same HGX baseboard and 700 W GPUs as H100 (docs/sources.md §3), so DGX H100's "
      "10.2 kW maximum per 8 GPUs";
  out.push_back(h200);

  Profile b200 = hopper("b200", "NVIDIA B200, 8-GPU HGX, 400G Spectrum-X", 180, 8.0);
  b200.scaleup_gbps = 900;
  b200.in_switch_efficiency = 0.74;
  b200.gpu_w = 1000;
  b200.unit_kw = 14.3;
  b200.sources["scaleup_gbps"] =
      std::string("1.8 TB/s NVLink5 per GPU bidirectional -> 900 GB/s each way; ") + kNvDatasheet;
  b200.sources["in_switch_efficiency"] = kNvlsBlackwell;
  b200.tuning =
      nccl_tuning(32, "NCCL src/transport/nvls.cc: 32 NVLS channels across nodes on Blackwell");
  b200.sources["scaleup_efficiency"] = std::string("assumed equal to Hopper's; ") + kLinkEff;
  b200.sources["gpu_w"] = std::string("1000 W; ") + kNvDatasheet;
  b200.sources["unit_kw"] =
      "NVIDIA DGX B200 datasheet: ~14.3 kW maximum per 8 GPUs (docs/sources.md §3; override "
      "with --node-kw)";
  b200.sources["hbm"] = std::string("180-192 GB, 8 TB/s; ") + kNvDatasheet;
  out.push_back(b200);

  Profile gb = b200;
  gb.key = "gb200";
  gb.name = "NVIDIA GB200 NVL72 (72-GPU NVLink domain), 400G Spectrum-X";
  gb.gpus_per_node = 4;
  gb.scaleup_gpus = 72;
  gb.gpu_w = 1200;
  gb.unit_kw = 120;
  gb.gpus_per_unit = 72;
  gb.hbm_gb = 186;
  gb.sources["scaleup_gpus"] = std::string("72 GPUs per NVLink domain; ") + kNvDatasheet;
  gb.sources["gpus_per_node"] = "compute tray of 2 Grace CPUs + 4 Blackwell GPUs";
  gb.sources["gpu_w"] = std::string("1200 W; ") + kNvDatasheet;
  gb.sources["unit_kw"] = "estimate: ~120 kW per NVL72 rack (docs/sources.md §3)";
  gb.sources["nic_gbps"] = std::string(kNic400) + " (GB300: 800 Gb/s)";
  gb.sources["hbm"] = std::string("186-192 GB, 8 TB/s; ") + kNvDatasheet;
  out.push_back(gb);

  Profile mi = hopper("mi300x", "AMD MI300X, 8-GPU OAM platform, 400G Ethernet", 192, 5.3);
  mi.scaleup_gbps = 448;
  mi.scaleup_alpha_us = 1.0;
  mi.in_switch = false;
  mi.in_switch_efficiency = 1;
  mi.gpu_w = 750;
  mi.unit_kw = 10.6;
  mi.call_overhead_us = 6.6;
  mi.sources["scaleup_gbps"] =
      "~896 GB/s Infinity Fabric per GPU bidirectional (7 links to the other GPUs of a full "
      "mesh) -> 448 GB/s each way; AMD MI300X data sheet (docs/sources.md §3). The model treats "
      "the mesh like a switch: algorithms must spread traffic over the 7 links (RCCL does)";
  mi.sources["scaleup_gpus"] = "8 GPUs fully connected by Infinity Fabric; AMD public specs";
  mi.sources["scaleup_efficiency"] = std::string("assumed equal to NVLink's; ") + kLinkEff;
  mi.sources["scaleup_alpha_us"] = "estimate: 1 us per hop (no NCCL/RCCL figure in the notes)";
  mi.sources["in_switch"] =
      "no switch in the scale-up domain (direct mesh): no in-switch reduction";
  mi.sources["in_switch_efficiency"] = "not applicable";
  mi.sources["gpu_w"] = "750 W; AMD MI300X data sheet (docs/sources.md §3)";
  mi.sources["unit_kw"] =
      "estimate: 8 x 750 W GPUs + the 4.6 kW a DGX H100 spends outside its GPUs (10.2 - 8 x 0.7) "
      "= 10.6 kW";
  mi.sources["hbm"] = "192 GB, 5.3 TB/s; AMD MI300X data sheet (docs/sources.md §3)";
  mi.sources["call_overhead_us"] = std::string("assumed as NCCL's: ") + kNcclBase;
  for (auto& [field, source] : mi.tuning.sources)
    source = "assumed as NCCL's (RCCL is its fork): " + source;
  out.push_back(mi);
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::span<const Profile> builtin_profiles() {
  static const std::vector<Profile> profiles = make_profiles();
  return profiles;
}

const Profile& find_profile(std::string_view key) {
  const std::string k = lower(key);
  for (const Profile& p : builtin_profiles())
    if (p.key == k) return p;
  throw UsageError("unknown hardware profile '" + std::string(key) + "' (known: " + profile_keys() +
                   ")");
}

std::string profile_keys() {
  std::string out;
  for (const Profile& p : builtin_profiles()) {
    if (!out.empty()) out += ", ";
    out += p.key;
  }
  return out;
}

}  // namespace collbench::model
