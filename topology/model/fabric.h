// The fabric of a cluster as the cost model sees it: nested tiers of ranks (GPUs), from the
// scale-up domain (NVLink island, or the ranks of one node) up through leaf/rail, spine and core.
//
// Tier k groups ranks into blocks of `group_size` consecutive ranks; two ranks talk over tier k
// when the smallest block holding both is a tier-k block. Ranks are numbered so that consecutive
// ranks share the lowest tiers (block placement), which is how launchers place them by default.
//
// Bandwidth is given per rank: on a GPU system with one NIC per GPU the tier-1 figure is the NIC
// rate; on a CPU node whose ranks share one link it is the link rate divided by the ranks of the
// node, and `flow_gbps` (what one flow can reach) is the whole link. Oversubscription on tier k
// divides the capacity of the links that carry traffic across tier k (it accumulates upward).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace collbench::model {

struct Tier {
  std::string name;             // "nvlink", "leaf", "spine", "core", "intra-node", ...
  std::int64_t group_size = 0;  // ranks in one block of this tier; 0 = unbounded (top)
  double alpha_us = 0;          // latency of one message that crosses this tier
  double bandwidth_gbps = 0;    // per-rank bandwidth at this tier, decimal GB/s
  double efficiency = 1;        // achieved fraction of bandwidth_gbps (and of flow_gbps)
  // Most one flow can reach; 0 = bandwidth_gbps. Above it when ranks share a link (a CPU node,
  // GPUs sharing a NIC); below it when a GPU has several NICs and one flow uses one.
  double flow_gbps = 0;
  double oversubscription = 1;      // taper of the links crossing this tier (>= 1)
  bool in_switch = false;           // switches of this tier reduce data (NVLS, SHARP)
  double in_switch_efficiency = 1;  // achieved fraction of link bandwidth when they do
  // Messages of at least this many bytes go by rendezvous and cost rendezvous_us more than
  // alpha_us (LogGPS's S; an MPI library's eager limit). 0 = no limit.
  double eager_limit_bytes = 0;
  double rendezvous_us = 0;
  std::map<std::string, std::string> sources;  // field name -> where its value comes from

  double effective_gbps() const { return bandwidth_gbps * efficiency; }
  double effective_flow_gbps() const {
    return (flow_gbps > 0 ? flow_gbps : bandwidth_gbps) * efficiency;
  }
};

// What a collective library adds on top of the links (NCCL's tuning model, src/graph/tuning.cc;
// docs/model.md §2): how many channels carry traffic out of a domain, the efficiency of its
// trees and point-to-point traffic, the in-switch pipeline, how sends posted at once are charged.
// Every default leaves the textbook formulas as they are: fitted and CPU fabrics have none.
struct Tuning {
  // Most channels a scale-up domain spreads its ring and tree traffic to other domains over, one
  // NIC each (NCCL: 16 NVLS channels on Hopper, 32 across nodes on Blackwell); 0 = one per member.
  int channels = 0;
  double tree_efficiency = 1;             // tree bandwidth factor (NCCL 0.92)
  double tree_shared_nic_efficiency = 1;  // more, when GPUs share a NIC (NCCL's TREE pattern 0.85)
  double in_switch_alpha_us = 0;  // in-switch reduction in a domain (NCCL NVLS 25); 0 = 2 alpha
  double in_switch_tree_alpha_us = 0;  // per network level of an NVLS tree (NCCL 20.9); 0 = alpha
  // Domain size beyond which in-switch bus bandwidth stops growing (0 = never): measured NVLS busbw
  // on 8 GPUs of an NVL72 equals that of all 72.
  int in_switch_full_gpus = 0;
  // Start-up of the in-switch pipeline: this many bytes per GPU of the domain at the GPU's link
  // rate before it streams (what makes 512 MiB slower than 4 GiB per byte).
  double in_switch_fill_bytes = 0;
  // Of the shorter of the two stages of an in-switch tree (the domain, the network), the fraction
  // that does not overlap the longer one.
  double in_switch_serial_fraction = 0;
  double p2p_efficiency = 1;  // all-to-all's fraction of the scale-up tier's rate
  // Sends posted at once (linear all-to-all): one latency plus this per message; < 0 = a latency
  // per message (LogGP's gap against Hockney's serial messages).
  double message_gap_us = -1;
  std::map<std::string, std::string> sources;  // field name -> where its value comes from

  bool operator==(const Tuning&) const = default;
};

struct Fabric {
  std::string name;
  std::string description;
  std::vector<Tier> tiers;  // lowest (scale-up) first
  double reduce_gbps = 0;   // reduction throughput (γ = 1 / rate); 0 = free (fused in transfer)
  double call_overhead_us = 0;  // fixed cost of one collective call (kernel launch, setup)
  // Rate of a rank's local copies (δ = 1 / rate); 0 = free. Fitted on one host, where a copy
  // costs as much as a message; left 0 on the GPU profiles (HBM copies beside slower links).
  double copy_gbps = 0;
  std::int64_t gpus = 0;  // ranks the fabric holds; 0 = not stated
  Tuning tuning;
  std::map<std::string, std::string> sources;

  // Throws UsageError naming the first bad field ("tiers[1].bandwidth_gbps: must be > 0").
  void validate() const;
  // γ in seconds per byte.
  double gamma_s_per_byte() const { return reduce_gbps > 0 ? 1.0 / (reduce_gbps * 1e9) : 0.0; }
};

// JSON form: {"schema": "collbench.fabric", "schema_version": 1, "name", "tiers": [...], ...}.
// `where` prefixes error messages (a file name). Throws UsageError naming the field.
Fabric fabric_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json fabric_to_json(const Fabric& f);
Fabric load_fabric(const std::string& path);

}  // namespace collbench::model
