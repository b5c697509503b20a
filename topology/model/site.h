// A training site from its power budget: GPUs, nodes, scale-up domains and switch tiers, and the
// Fabric the cost model projects onto. Every step of the arithmetic is kept as text so that the
// CLI shows it; every assumption is an option.
//
// Power: per-GPU IT power = unit power / GPUs per unit (a DGX server, an NVL72 rack); all-in
// power per GPU = IT · (1 + overhead for network, storage and CPUs outside the unit) · PUE;
// GPUs = power / all-in, rounded down to whole units and scale-up domains.
//
// Network: one NIC per GPU into a rail-optimised Clos of switches with `radix` ports at NIC
// speed. A leaf uses radix·o/(o+1) ports down (o = leaf oversubscription); the leaves of one
// rail group serve the same rail of `down` scale-up domains (tier-1 block = down · domain GPUs).
// Two switch levels hold up to radix · down GPUs; beyond that a pod is what one spine plane
// reaches (down · radix/2 GPUs, rounded to whole rail groups) and a core level joins the pods.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "topology/model/fabric.h"
#include "topology/model/profiles.h"

namespace collbench::model {

struct SiteOptions {
  double power_mw = 300;
  double pue = 1.2;        // facility power / IT power (new large sites 1.1-1.3)
  double overhead = 0.07;  // network, storage, CPUs outside the GPU unit, fraction of IT power
  double unit_kw = 0;      // 0: the profile's maximum power of a server / rack
  int switch_radix = 0;    // 0: the profile's
  double leaf_oversubscription = 1;   // leaf down:up ports
  double spine_oversubscription = 1;  // spine down:up ports (above the pod)
  std::int64_t pod_gpus = 0;          // 0: what one spine plane reaches
  std::int64_t gpus = 0;              // >0: size the site for this many GPUs, ignore power
};

struct SwitchLevel {
  std::string name;  // leaf, spine, core
  std::int64_t switches = 0;
  std::int64_t block_gpus = 0;  // GPUs under one block of this level (0: the whole site)
  double oversubscription = 1;  // of the links leaving this level upward
};

struct Site {
  std::string profile;
  SiteOptions options;
  double it_kw_per_gpu = 0;
  double all_in_kw_per_gpu = 0;
  std::int64_t gpus = 0;
  std::int64_t nodes = 0;
  std::int64_t domains = 0;
  std::int64_t units = 0;  // servers or racks the power figure is given for
  double it_mw = 0;
  double facility_mw = 0;
  int radix = 0;
  std::vector<SwitchLevel> switches;
  std::vector<std::string> arithmetic;   // one line per step, numbers shown
  std::vector<std::string> assumptions;  // one line per assumption and its source
  Fabric fabric;
};

// Throws UsageError naming the option when it is out of range or the power cannot hold one unit.
Site plan_site(const Profile& p, const SiteOptions& o);

// The fabric of a site of `gpus` GPUs (tiers: scale-up, leaf, [pod], top), without the power
// arithmetic. gpus <= 0 sizes it for the largest site the switch radix allows with three levels.
Fabric site_fabric(const Profile& p, std::int64_t gpus, const SiteOptions& o = {});

}  // namespace collbench::model
