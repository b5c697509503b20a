#include "topology/model/profiles.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "collectives/error.h"

namespace collbench::model {
namespace {

// Sources named once; model-facts.md collects them (shared/reference in the project's notes).
constexpr const char* kNvDatasheet =
    "NVIDIA datasheet as quoted in MLCommons system descriptions (model-facts.md, hardware table)";
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
constexpr const char* kNic400 = "400 Gb/s NIC per GPU = 50 GB/s (model-facts.md)";
constexpr const char* kRadix =
    "NVIDIA Spectrum-X SN5600: 64 x 800G = 128 x 400G ports (Colossus network, model-facts.md)";
constexpr const char* kSwitchLevel =
    "estimate: each switch level above the leaf adds two switch traversals (~0.25 us each) and "
    "cable";
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
       "DGX H100 maximum 10.2 kW per 8 GPUs (model-facts.md, the 300 MW site); typical draw "
       "~8.5 kW"},
      {"hbm", kNvDatasheet},
      {"call_overhead_us", kNcclBase},
      {"gamma", kGamma},
  };
  return p;
}

std::vector<Profile> make_profiles() {
  std::vector<Profile> out;
  out.push_back(hopper("h100", "NVIDIA H100 SXM, 8-GPU HGX, 400G Spectrum-X", 80, 3.35));

  Profile h200 = hopper("h200", "NVIDIA H200 SXM, 8-GPU HGX, 400G Spectrum-X", 141, 4.8);
  h200.sources["unit_kw"] =
      "estimate: same HGX baseboard and 700 W GPUs as H100 (model-facts.md), so DGX H100's "
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
  b200.sources["scaleup_efficiency"] = std::string("assumed equal to Hopper's; ") + kLinkEff;
  b200.sources["gpu_w"] = std::string("1000 W; ") + kNvDatasheet;
  b200.sources["unit_kw"] =
      "NVIDIA DGX B200 datasheet: ~14.3 kW maximum per 8 GPUs (not in model-facts.md; override "
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
  gb.sources["unit_kw"] = "~120 kW per NVL72 rack (model-facts.md, the 300 MW site)";
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
      "mesh) -> 448 GB/s each way; AMD MI300X public specs (model-facts.md). The model treats "
      "the mesh like a switch: algorithms must spread traffic over the 7 links (RCCL does)";
  mi.sources["scaleup_gpus"] = "8 GPUs fully connected by Infinity Fabric; AMD public specs";
  mi.sources["scaleup_efficiency"] = std::string("assumed equal to NVLink's; ") + kLinkEff;
  mi.sources["scaleup_alpha_us"] = "estimate: 1 us per hop (no NCCL/RCCL figure in the notes)";
  mi.sources["in_switch"] =
      "no switch in the scale-up domain (direct mesh): no in-switch reduction";
  mi.sources["in_switch_efficiency"] = "not applicable";
  mi.sources["gpu_w"] = "750 W; AMD MI300X public specs (model-facts.md)";
  mi.sources["unit_kw"] =
      "estimate: 8 x 750 W GPUs + the 4.6 kW a DGX H100 spends outside its GPUs (10.2 - 8 x 0.7) "
      "= 10.6 kW";
  mi.sources["hbm"] = "192 GB, 5.3 TB/s; AMD MI300X public specs (model-facts.md)";
  mi.sources["call_overhead_us"] = std::string("assumed as NCCL's: ") + kNcclBase;
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
