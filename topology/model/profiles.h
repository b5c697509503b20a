// Built-in hardware generations: the scale-up domain, the NIC and switches, power, memory. Every
// field carries its source (a datasheet, a public measurement, NCCL's tuning tables) or says
// "estimate" with the arithmetic. The site planner (site.h) turns a profile and a GPU count into
// a Fabric.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "topology/model/fabric.h"

namespace collbench::model {

struct Profile {
  std::string key;          // "h100", "h200", "b200", "gb200", "mi300x"
  std::string name;         // human name of the system
  int gpus_per_node = 8;    // GPUs in one server or compute tray
  int scaleup_gpus = 8;     // GPUs in one NVLink / Infinity Fabric domain
  double scaleup_gbps = 0;  // per GPU, one direction, GB/s (decimal)
  double scaleup_efficiency = 1;
  double scaleup_alpha_us = 0;  // per hop inside the domain
  bool in_switch = false;       // NVLink SHARP (NVLS) in the domain
  double in_switch_efficiency = 1;
  double nic_gbps = 0;  // per GPU, one direction, GB/s
  double nic_efficiency = 1;
  double net_alpha_us = 0;         // per hop through one leaf switch
  double switch_level_us = 0;      // added per switch level above the leaf
  int switch_radix = 0;            // switch ports at the NIC's speed
  bool network_in_switch = false;  // in-network reduction (SHARP) in the scale-out network
  double gpu_w = 0;
  double unit_kw = 0;     // maximum power of one power unit (a server, or a rack)
  int gpus_per_unit = 8;  // GPUs that unit_kw feeds
  double hbm_gb = 0;
  double hbm_tbps = 0;
  double call_overhead_us = 0;  // fixed cost of a collective call
  // Large messages go by the library's bulk protocol (NCCL's Simple) with longer per-hop
  // latencies: from protocol_switch_bytes per message, a hop costs these instead of the alphas.
  double protocol_switch_bytes = 0;  // 0 = one latency for every size
  double scaleup_bulk_alpha_us = 0;
  double net_bulk_alpha_us = 0;
  Tuning tuning;                               // what the collective library adds (fabric.h)
  std::map<std::string, std::string> sources;  // field name -> source
};

std::span<const Profile> builtin_profiles();
// Throws UsageError listing the known keys when `key` is not one (case-insensitive).
const Profile& find_profile(std::string_view key);
// "h100, h200, b200, gb200, mi300x"
std::string profile_keys();

}  // namespace collbench::model
