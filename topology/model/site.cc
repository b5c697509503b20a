#include "topology/model/site.h"

#include <cmath>
#include <cstdio>

#include "collectives/error.h"

namespace collbench::model {
namespace {

std::string with_commas(std::int64_t v) {
  const std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out = v < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string num(double v, int decimals = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

// A value as given (num() rounds to a few decimals, which can turn 0.0001 into 0).
std::string given_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

struct Network {
  int radix = 0;
  std::int64_t leaf_down = 0, leaf_up = 0;
  std::int64_t spine_down = 0, spine_up = 0;  // when three levels
  std::int64_t block1 = 0;                    // rail group
  std::int64_t two_level_max = 0;
  std::int64_t pod = 0;
};

void check_options(const Profile& p, const SiteOptions& o) {
  if (!(o.pue >= 1 && o.pue <= 5)) throw UsageError("--pue " + num(o.pue) + ": must be in [1, 5]");
  if (!(o.overhead >= 0 && o.overhead <= 2))
    throw UsageError("--overhead " + num(o.overhead) + ": must be in [0, 2]");
  if (!(o.unit_kw >= 0) || !std::isfinite(o.unit_kw))
    throw UsageError("--node-kw " + num(o.unit_kw) + ": must be > 0");
  // A unit cannot draw less than its GPUs alone: below that the GPU count is meaningless.
  const double gpus_kw = p.gpus_per_unit * p.gpu_w / 1000.0;
  if (o.unit_kw > 0 && o.unit_kw < gpus_kw)
    throw UsageError("--node-kw " + given_number(o.unit_kw) + ": below the " + num(gpus_kw) +
                     " kW that the " + std::to_string(p.gpus_per_unit) + " " + p.key +
                     " GPUs of one unit draw alone");
  const int radix = o.switch_radix != 0 ? o.switch_radix : p.switch_radix;
  if (radix < 4 || radix % 2 != 0)
    throw UsageError("--switch-radix " + std::to_string(radix) + ": must be an even number >= 4");
  if (!(o.leaf_oversubscription >= 1))
    throw UsageError("--oversub-leaf " + num(o.leaf_oversubscription) + ": must be >= 1");
  if (!(o.spine_oversubscription >= 1))
    throw UsageError("--oversub-spine " + num(o.spine_oversubscription) + ": must be >= 1");
  if (o.pod_gpus < 0) throw UsageError("--pod-gpus: must be >= 0");
  if (o.gpus < 0) throw UsageError("--gpus: must be >= 0");
}

Network plan_network(const Profile& p, const SiteOptions& o) {
  Network n;
  n.radix = o.switch_radix > 0 ? o.switch_radix : p.switch_radix;
  const double o1 = o.leaf_oversubscription, o2 = o.spine_oversubscription;
  n.leaf_down = static_cast<std::int64_t>(std::floor(n.radix * o1 / (o1 + 1)));
  n.leaf_up = n.radix - n.leaf_down;
  n.spine_down = static_cast<std::int64_t>(std::floor(n.radix * o2 / (o2 + 1)));
  n.spine_up = n.radix - n.spine_down;
  n.block1 = n.leaf_down * p.scaleup_gpus;
  n.two_level_max = static_cast<std::int64_t>(n.radix) * n.leaf_down;
  if (o.pod_gpus > 0) {
    if (o.pod_gpus % n.block1 != 0)
      throw UsageError("--pod-gpus " + std::to_string(o.pod_gpus) +
                       ": must be a multiple of the rail group (" + std::to_string(n.block1) +
                       " GPUs = " + std::to_string(n.leaf_down) + " domains x " +
                       std::to_string(p.scaleup_gpus) + " GPUs)");
    n.pod = o.pod_gpus;
  } else {
    const std::int64_t reach = n.leaf_down * n.spine_down;
    n.pod = std::max<std::int64_t>(1, reach / n.block1) * n.block1;
  }
  return n;
}

// Levels the site needs: 1 (one rail group), 2 (leaf + spine) or 3 (leaf, spine, core).
int levels_for(const Network& n, std::int64_t gpus, const SiteOptions& o) {
  if (gpus > 0 && gpus <= n.block1) return 1;
  if (gpus > 0 && gpus <= n.two_level_max && o.pod_gpus == 0) return 2;
  return 3;
}

Fabric build_fabric(const Profile& p, const Network& n, std::int64_t gpus, const SiteOptions& o) {
  Fabric f;
  f.name = p.key + (gpus > 0 ? "-" + std::to_string(gpus) : std::string());
  f.description = p.name;
  f.gpus = gpus > 0 ? gpus : 0;
  f.call_overhead_us = p.call_overhead_us;
  f.reduce_gbps = 0;
  f.sources["call_overhead_us"] = p.sources.count("call_overhead_us")
                                      ? p.sources.at("call_overhead_us")
                                      : std::string("profile");
  f.sources["reduce_gbps"] = p.sources.count("gamma") ? p.sources.at("gamma") : "profile";
  f.tuning = p.tuning;
  auto src = [&](const char* field) {
    auto it = p.sources.find(field);
    return it == p.sources.end() ? std::string("profile ") + p.key : it->second;
  };

  Tier up;
  up.name = p.key == "mi300x" ? "infinity-fabric" : "nvlink";
  up.group_size = p.scaleup_gpus;
  up.alpha_us = p.scaleup_alpha_us;
  up.bandwidth_gbps = p.scaleup_gbps;
  up.efficiency = p.scaleup_efficiency;
  up.in_switch = p.in_switch;
  up.in_switch_efficiency = p.in_switch_efficiency;
  if (p.protocol_switch_bytes > 0 && p.scaleup_bulk_alpha_us > p.scaleup_alpha_us) {
    up.eager_limit_bytes = p.protocol_switch_bytes;
    up.rendezvous_us = p.scaleup_bulk_alpha_us - p.scaleup_alpha_us;
    up.sources["eager_limit_bytes"] = src("protocol_switch_bytes");
    up.sources["rendezvous_us"] = src("scaleup_bulk_alpha_us") + " (bulk minus the alpha)";
  }
  up.sources.insert({{"group_size", src("scaleup_gpus")},
                     {"alpha_us", src("scaleup_alpha_us")},
                     {"bandwidth_gbps", src("scaleup_gbps")},
                     {"efficiency", src("scaleup_efficiency")},
                     {"in_switch", src("in_switch")},
                     {"in_switch_efficiency", src("in_switch_efficiency")}});
  f.tiers.push_back(up);

  auto net_tier = [&](const std::string& name, std::int64_t group, int level, double oversub,
                      const std::string& group_src, const std::string& oversub_src) {
    Tier t;
    t.name = name;
    t.group_size = group;
    t.alpha_us = p.net_alpha_us + level * p.switch_level_us;
    t.bandwidth_gbps = p.nic_gbps;
    t.efficiency = p.nic_efficiency;
    t.oversubscription = oversub;
    t.in_switch = p.network_in_switch;
    t.in_switch_efficiency = p.in_switch_efficiency;
    if (p.protocol_switch_bytes > 0 && p.net_bulk_alpha_us > p.net_alpha_us) {
      // The switch levels above the leaf add to the bulk protocol's latency as to the alpha.
      t.eager_limit_bytes = p.protocol_switch_bytes;
      t.rendezvous_us = p.net_bulk_alpha_us - p.net_alpha_us;
      t.sources["eager_limit_bytes"] = src("protocol_switch_bytes");
      t.sources["rendezvous_us"] = src("net_bulk_alpha_us") + " (bulk minus the alpha)";
    }
    t.sources.insert(
        {{"group_size", group_src},
         {"alpha_us",
          level == 0 ? src("net_alpha_us") : src("net_alpha_us") + "; " + src("switch_level_us")},
         {"bandwidth_gbps", src("nic_gbps")},
         {"efficiency", src("nic_efficiency")},
         {"oversubscription", oversub_src},
         {"in_switch", src("network_in_switch")}});
    return t;
  };
  const int levels = levels_for(n, gpus, o);
  const std::string rail_src = "rail-optimised: one leaf per rail serves " +
                               std::to_string(n.leaf_down) + " domains (radix " +
                               std::to_string(n.radix) + ", " + src("switch_radix") + ")";
  const std::string oversub_flag_leaf = "--oversub-leaf (leaf down:up ports)";
  const std::string oversub_flag_spine = "--oversub-spine (spine down:up ports)";
  if (gpus > 0 && gpus <= p.scaleup_gpus) {
    // A site inside one domain still gets a leaf tier so that predictions can go past it.
    f.tiers.push_back(net_tier("leaf", 0, 0, 1, rail_src, "none inside one leaf"));
    return f;
  }
  if (levels == 1) {
    f.tiers.push_back(net_tier("leaf", 0, 0, 1, rail_src, "none inside one leaf"));
  } else if (levels == 2) {
    f.tiers.push_back(net_tier("leaf", n.block1, 0, 1, rail_src, "none inside one leaf"));
    f.tiers.push_back(net_tier("spine", 0, 1, o.leaf_oversubscription,
                               "two switch levels hold up to radix x leaf-down GPUs",
                               oversub_flag_leaf));
  } else {
    f.tiers.push_back(net_tier("leaf", n.block1, 0, 1, rail_src, "none inside one leaf"));
    if (n.pod > n.block1) {
      f.tiers.push_back(net_tier("pod", n.pod, 1, o.leaf_oversubscription,
                                 o.pod_gpus > 0 ? std::string("--pod-gpus")
                                                : "GPUs one spine plane reaches: leaf-down x "
                                                  "spine-down, whole rail groups",
                                 oversub_flag_leaf));
      f.tiers.push_back(net_tier("core", 0, 2, o.spine_oversubscription,
                                 "the whole site (third switch level)", oversub_flag_spine));
    } else {
      f.tiers.push_back(net_tier("core", 0, 2, o.leaf_oversubscription * o.spine_oversubscription,
                                 "the whole site (a pod is one rail group here)",
                                 oversub_flag_leaf + " x " + oversub_flag_spine));
    }
  }
  return f;
}

}  // namespace

Fabric site_fabric(const Profile& p, std::int64_t gpus, const SiteOptions& o) {
  check_options(p, o);
  const Network n = plan_network(p, o);
  Fabric f = build_fabric(p, n, gpus, o);
  f.validate();
  return f;
}

Site plan_site(const Profile& p, const SiteOptions& o) {
  check_options(p, o);
  Site s;
  s.profile = p.key;
  s.options = o;
  const double unit_kw = o.unit_kw > 0 ? o.unit_kw : p.unit_kw;
  const std::string unit_name = p.gpus_per_unit == p.gpus_per_node ? "server" : "rack";
  s.it_kw_per_gpu = unit_kw / p.gpus_per_unit;
  s.all_in_kw_per_gpu = s.it_kw_per_gpu * (1 + o.overhead) * o.pue;
  // Whole units that are also whole scale-up domains.
  std::int64_t step = p.gpus_per_unit;
  while (step % p.scaleup_gpus != 0 || step % p.gpus_per_node != 0) step += p.gpus_per_unit;

  s.arithmetic.push_back("IT power per GPU = " + num(unit_kw) + " kW per " + unit_name + " / " +
                         std::to_string(p.gpus_per_unit) + " GPUs = " + num(s.it_kw_per_gpu) +
                         " kW");
  s.arithmetic.push_back("all-in power per GPU = " + num(s.it_kw_per_gpu) + " kW x (1 + " +
                         num(o.overhead) + " overhead) x " + num(o.pue) +
                         " PUE = " + num(s.all_in_kw_per_gpu) + " kW");
  if (o.gpus > 0) {
    s.gpus = (o.gpus / step) * step;
    if (s.gpus == 0)
      throw UsageError("--gpus " + std::to_string(o.gpus) + ": fewer than one " + unit_name +
                       " of " + std::to_string(step) + " GPUs");
    s.arithmetic.push_back("GPUs = --gpus " + with_commas(o.gpus) + ", whole " +
                           std::to_string(step) + "-GPU units: " + with_commas(s.gpus));
  } else {
    if (!(o.power_mw > 0)) throw UsageError("--power-mw " + num(o.power_mw) + ": must be > 0");
    // A terawatt is a thousand times the largest site planned; beyond it the GPU count would
    // not fit the integers the projections use.
    if (!(o.power_mw <= 1e6))
      throw UsageError("--power-mw " + num(o.power_mw) + ": must be at most 1000000 (1 TW)");
    const double raw = o.power_mw * 1000.0 / s.all_in_kw_per_gpu;
    s.gpus = static_cast<std::int64_t>(std::floor(raw / step)) * step;
    if (s.gpus == 0)
      throw UsageError("--power-mw " + num(o.power_mw) + ": " + num(o.power_mw * 1000) +
                       " kW cannot hold one " + unit_name + " of " + std::to_string(step) +
                       " GPUs (needs " + num(s.all_in_kw_per_gpu * step) + " kW all-in)");
    s.arithmetic.push_back("GPUs = " + num(o.power_mw) + " MW / " + num(s.all_in_kw_per_gpu) +
                           " kW = " + with_commas(static_cast<std::int64_t>(raw)) + ", whole " +
                           std::to_string(step) + "-GPU units: " + with_commas(s.gpus));
  }
  s.nodes = s.gpus / p.gpus_per_node;
  s.domains = s.gpus / p.scaleup_gpus;
  s.units = s.gpus / p.gpus_per_unit;
  s.it_mw = s.units * unit_kw / 1000.0;
  s.facility_mw = s.it_mw * (1 + o.overhead) * o.pue;
  s.arithmetic.push_back("nodes = " + with_commas(s.gpus) + " / " +
                         std::to_string(p.gpus_per_node) + " = " + with_commas(s.nodes) +
                         "; scale-up domains = " + with_commas(s.gpus) + " / " +
                         std::to_string(p.scaleup_gpus) + " = " + with_commas(s.domains));
  s.arithmetic.push_back("GPU IT power = " + with_commas(s.units) + " x " + num(unit_kw) +
                         " kW = " + num(s.it_mw, 2) + " MW; facility = " + num(s.it_mw, 2) + " x " +
                         num(1 + o.overhead) + " x " + num(o.pue) + " = " + num(s.facility_mw, 2) +
                         " MW");

  const Network n = plan_network(p, o);
  s.radix = n.radix;
  const int levels = levels_for(n, s.gpus, o);
  const std::int64_t leaves = ceil_div(s.gpus, n.leaf_down);
  s.arithmetic.push_back("leaf: " + std::to_string(n.radix) +
                         " ports = " + std::to_string(n.leaf_down) + " down + " +
                         std::to_string(n.leaf_up) + " up; leaves = ceil(" + with_commas(s.gpus) +
                         " NICs / " + std::to_string(n.leaf_down) + ") = " + with_commas(leaves));
  s.arithmetic.push_back("rail group = " + std::to_string(n.leaf_down) + " domains x " +
                         std::to_string(p.scaleup_gpus) + " GPUs = " + with_commas(n.block1) +
                         " GPUs (" + std::to_string(p.scaleup_gpus) + " leaves, one per rail)");
  s.switches.push_back({"leaf", leaves, std::min(s.gpus, n.block1), o.leaf_oversubscription});
  if (levels == 1) {
    s.arithmetic.push_back("one switch level: " + with_commas(s.gpus) +
                           " <= " + with_commas(n.block1) + " GPUs of one rail group");
  } else if (levels == 2) {
    const std::int64_t spines = ceil_div(leaves * n.leaf_up, n.radix);
    s.arithmetic.push_back("two switch levels: " + with_commas(s.gpus) +
                           " <= " + std::to_string(n.radix) + " x " + std::to_string(n.leaf_down) +
                           " = " + with_commas(n.two_level_max) + "; spines = ceil(" +
                           with_commas(leaves) + " x " + std::to_string(n.leaf_up) + " / " +
                           std::to_string(n.radix) + ") = " + with_commas(spines));
    s.switches.push_back({"spine", spines, 0, 1});
  } else {
    const std::int64_t spines = ceil_div(leaves * n.leaf_up, n.spine_down);
    const std::int64_t cores = ceil_div(spines * n.spine_up, n.radix);
    s.arithmetic.push_back("three switch levels: " + with_commas(s.gpus) +
                           (o.pod_gpus > 0 ? " GPUs with --pod-gpus set"
                                           : " > " + std::to_string(n.radix) + " x " +
                                                 std::to_string(n.leaf_down) + " = " +
                                                 with_commas(n.two_level_max)));
    s.arithmetic.push_back(
        "spine: " + std::to_string(n.spine_down) + " down + " + std::to_string(n.spine_up) +
        " up; pod = " + with_commas(n.pod) + " GPUs (" + with_commas(n.pod / n.block1) +
        " rail groups); spines = ceil(" + with_commas(leaves) + " x " + std::to_string(n.leaf_up) +
        " / " + std::to_string(n.spine_down) + ") = " + with_commas(spines));
    s.arithmetic.push_back("core = ceil(" + with_commas(spines) + " x " +
                           std::to_string(n.spine_up) + " / " + std::to_string(n.radix) + ") = " +
                           with_commas(cores) + "; pods = " + with_commas(ceil_div(s.gpus, n.pod)));
    s.switches.push_back({"spine", spines, std::min(s.gpus, n.pod), o.spine_oversubscription});
    s.switches.push_back({"core", cores, 0, 1});
  }

  auto src = [&](const char* f) {
    auto it = p.sources.find(f);
    return it == p.sources.end() ? std::string("profile") : it->second;
  };
  s.assumptions.push_back(
      "unit power " + num(unit_kw) + " kW per " + std::to_string(p.gpus_per_unit) +
      " GPUs (--node-kw): " +
      (o.unit_kw > 0 ? std::string("set on the command line") : src("unit_kw")));
  s.assumptions.push_back("PUE " + num(o.pue) +
                          " (--pue): new large sites 1.1-1.3, industry average 1.56 (Uptime "
                          "Institute, docs/sources.md §4)");
  s.assumptions.push_back("overhead " + num(o.overhead) +
                          " (--overhead): network, storage and CPUs outside the GPU unit "
                          "(estimate, docs/sources.md §4)");
  s.assumptions.push_back("one NIC per GPU at " + num(p.nic_gbps * 8) +
                          " Gb/s: " + src("nic_gbps"));
  s.assumptions.push_back("switch radix " + std::to_string(n.radix) +
                          " at NIC speed (--switch-radix): " + src("switch_radix"));
  s.assumptions.push_back("oversubscription leaf " + num(o.leaf_oversubscription) + ":1, spine " +
                          num(o.spine_oversubscription) +
                          ":1 (--oversub-leaf, --oversub-spine); rail-optimised leaves");
  s.fabric = build_fabric(p, n, s.gpus, o);
  s.fabric.validate();
  return s;
}

}  // namespace collbench::model
