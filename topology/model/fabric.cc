#include "topology/model/fabric.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "collectives/error.h"
#include "collectives/input_file.h"

namespace collbench::model {
namespace {

using nlohmann::json;

std::string prefix(const std::string& where) { return where.empty() ? "" : where + ": "; }

[[noreturn]] void bad(const std::string& where, const std::string& field, const std::string& why) {
  throw UsageError(prefix(where) + field + ": " + why);
}

double get_number(const json& obj, const char* key, const std::string& where,
                  const std::string& path, bool required, double fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) bad(where, path + key, "missing (a number is required)");
    return fallback;
  }
  if (!it->is_number()) bad(where, path + key, "must be a number, got " + it->dump());
  double v = it->get<double>();
  if (!std::isfinite(v)) bad(where, path + key, "must be finite");
  return v;
}

std::string get_string(const json& obj, const char* key, const std::string& where,
                       const std::string& path, bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) bad(where, path + key, "missing (a string is required)");
    return {};
  }
  if (!it->is_string()) bad(where, path + key, "must be a string, got " + it->dump());
  return it->get<std::string>();
}

std::map<std::string, std::string> get_sources(const json& obj, const std::string& where,
                                               const std::string& path) {
  std::map<std::string, std::string> out;
  auto it = obj.find("sources");
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_object()) bad(where, path + "sources", "must be an object {field: source}");
  for (auto& [k, v] : it->items()) {
    if (!v.is_string()) bad(where, path + "sources." + k, "must be a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

void validate_fabric(const Fabric& f, const std::string& where) {
  const auto& tiers = f.tiers;
  if (tiers.empty()) bad(where, "tiers", "at least one tier is required");
  if (tiers.size() > 6) bad(where, "tiers", "at most 6 tiers are supported");
  std::int64_t below = 1;
  for (std::size_t k = 0; k < tiers.size(); ++k) {
    const Tier& t = tiers[k];
    const std::string p = "tiers[" + std::to_string(k) + "].";
    const bool top = k + 1 == tiers.size();
    if (t.group_size < 0) bad(where, p + "group_size", "must be >= 0");
    if (t.group_size == 0 && !top)
      bad(where, p + "group_size", "only the top tier may be unbounded (0)");
    if (t.group_size > 0) {
      if (t.group_size <= below && k > 0)
        bad(where, p + "group_size",
            std::to_string(t.group_size) + " must be larger than the tier below (" +
                std::to_string(below) + ")");
      if (t.group_size % below != 0)
        bad(where, p + "group_size",
            std::to_string(t.group_size) + " must be a multiple of the tier below (" +
                std::to_string(below) + ")");
      below = t.group_size;
    }
    if (!(t.alpha_us >= 0)) bad(where, p + "alpha_us", "must be >= 0");
    if (!(t.bandwidth_gbps > 0)) bad(where, p + "bandwidth_gbps", "must be > 0");
    if (!(t.efficiency > 0 && t.efficiency <= 1)) bad(where, p + "efficiency", "must be in (0, 1]");
    if (t.flow_gbps < 0) bad(where, p + "flow_gbps", "must be >= 0 (0 = bandwidth_gbps)");
    if (!(t.oversubscription >= 1)) bad(where, p + "oversubscription", "must be >= 1");
    if (!(t.in_switch_efficiency > 0 && t.in_switch_efficiency <= 1))
      bad(where, p + "in_switch_efficiency", "must be in (0, 1]");
    if (!(t.eager_limit_bytes >= 0 && t.eager_limit_bytes <= 1099511627776.0))
      bad(where, p + "eager_limit_bytes", "must be in [0, 2^40] (0 = no limit)");
    if (!(t.rendezvous_us >= 0 && t.rendezvous_us <= 1e6))
      bad(where, p + "rendezvous_us", "must be in [0, 1e6]");
  }
  if (f.reduce_gbps < 0) bad(where, "reduce_gbps", "must be >= 0 (0 = free)");
  if (f.call_overhead_us < 0) bad(where, "call_overhead_us", "must be >= 0");
  if (!(f.copy_gbps >= 0)) bad(where, "copy_gbps", "must be >= 0 (0 = free)");
  if (f.gpus < 0) bad(where, "gpus", "must be >= 0");
  const Tuning& u = f.tuning;
  if (u.channels < 0 || u.channels > 1024) bad(where, "tuning.channels", "must be in [0, 1024]");
  auto fraction = [&](double v, const char* field) {
    if (!(v > 0 && v <= 1)) bad(where, std::string("tuning.") + field, "must be in (0, 1]");
  };
  fraction(u.tree_efficiency, "tree_efficiency");
  fraction(u.tree_shared_nic_efficiency, "tree_shared_nic_efficiency");
  fraction(u.p2p_efficiency, "p2p_efficiency");
  if (!(u.in_switch_serial_fraction >= 0 && u.in_switch_serial_fraction <= 1))
    bad(where, "tuning.in_switch_serial_fraction", "must be in [0, 1]");
  auto range = [&](double v, double lo, double hi, const char* field) {
    if (!(v >= lo && v <= hi))
      bad(where, std::string("tuning.") + field,
          "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  };
  range(u.in_switch_alpha_us, 0, 1e6, "in_switch_alpha_us");
  range(u.in_switch_tree_alpha_us, 0, 1e6, "in_switch_tree_alpha_us");
  range(u.in_switch_fill_bytes, 0, 1099511627776.0, "in_switch_fill_bytes");
  range(u.message_gap_us, -1, 1e6, "message_gap_us");
  if (u.in_switch_full_gpus < 0 || u.in_switch_full_gpus == 1 || u.in_switch_full_gpus > 1 << 20)
    bad(where, "tuning.in_switch_full_gpus", "must be 0 (none) or in [2, 2^20]");
}

Tuning tuning_from_json(const json& j, const std::string& where) {
  Tuning u;
  if (!j.is_object()) bad(where, "tuning", "must be an object");
  static const char* kFields[] = {"channels",
                                  "tree_efficiency",
                                  "tree_shared_nic_efficiency",
                                  "in_switch_alpha_us",
                                  "in_switch_tree_alpha_us",
                                  "in_switch_full_gpus",
                                  "in_switch_fill_bytes",
                                  "in_switch_serial_fraction",
                                  "p2p_efficiency",
                                  "message_gap_us",
                                  "sources"};
  for (const auto& [k, v] : j.items()) {
    bool known = false;
    for (const char* f : kFields) known = known || k == f;
    if (!known) bad(where, "tuning." + k, "unknown field");
  }
  const std::string p = "tuning.";
  auto whole = [&](const char* key) {
    const double v = get_number(j, key, where, p, false, 0);
    if (v != std::floor(v) || std::fabs(v) > 1e9) bad(where, p + key, "must be an integer");
    return static_cast<int>(v);
  };
  u.channels = whole("channels");
  u.tree_efficiency = get_number(j, "tree_efficiency", where, p, false, 1);
  u.tree_shared_nic_efficiency = get_number(j, "tree_shared_nic_efficiency", where, p, false, 1);
  u.in_switch_alpha_us = get_number(j, "in_switch_alpha_us", where, p, false, 0);
  u.in_switch_tree_alpha_us = get_number(j, "in_switch_tree_alpha_us", where, p, false, 0);
  u.in_switch_full_gpus = whole("in_switch_full_gpus");
  u.in_switch_fill_bytes = get_number(j, "in_switch_fill_bytes", where, p, false, 0);
  u.in_switch_serial_fraction = get_number(j, "in_switch_serial_fraction", where, p, false, 0);
  u.p2p_efficiency = get_number(j, "p2p_efficiency", where, p, false, 1);
  u.message_gap_us = get_number(j, "message_gap_us", where, p, false, -1);
  u.sources = get_sources(j, where, p);
  return u;
}

json tuning_to_json(const Tuning& u) {
  json o;
  const Tuning none;
  if (u.channels != none.channels) o["channels"] = u.channels;
  if (u.tree_efficiency != none.tree_efficiency) o["tree_efficiency"] = u.tree_efficiency;
  if (u.tree_shared_nic_efficiency != none.tree_shared_nic_efficiency)
    o["tree_shared_nic_efficiency"] = u.tree_shared_nic_efficiency;
  if (u.in_switch_alpha_us != none.in_switch_alpha_us)
    o["in_switch_alpha_us"] = u.in_switch_alpha_us;
  if (u.in_switch_tree_alpha_us != none.in_switch_tree_alpha_us)
    o["in_switch_tree_alpha_us"] = u.in_switch_tree_alpha_us;
  if (u.in_switch_full_gpus != none.in_switch_full_gpus)
    o["in_switch_full_gpus"] = u.in_switch_full_gpus;
  if (u.in_switch_fill_bytes != none.in_switch_fill_bytes)
    o["in_switch_fill_bytes"] = u.in_switch_fill_bytes;
  if (u.in_switch_serial_fraction != none.in_switch_serial_fraction)
    o["in_switch_serial_fraction"] = u.in_switch_serial_fraction;
  if (u.p2p_efficiency != none.p2p_efficiency) o["p2p_efficiency"] = u.p2p_efficiency;
  if (u.message_gap_us != none.message_gap_us) o["message_gap_us"] = u.message_gap_us;
  if (!u.sources.empty()) o["sources"] = u.sources;
  return o;
}

}  // namespace

void Fabric::validate() const {
  validate_fabric(*this, name.empty() ? std::string("fabric") : "fabric '" + name + "'");
}

Fabric fabric_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) bad(where, "fabric", "must be a JSON object");
  auto schema = j.find("schema");
  if (schema != j.end() && (!schema->is_string() || *schema != "collbench.fabric"))
    bad(where, "schema", "must be \"collbench.fabric\", got " + schema->dump());
  auto version = j.find("schema_version");
  if (version != j.end() && (!version->is_number_integer() || version->get<int>() != 1))
    bad(where, "schema_version", "this collbench reads version 1, got " + version->dump());
  Fabric f;
  f.name = get_string(j, "name", where, "", false);
  f.description = get_string(j, "description", where, "", false);
  f.reduce_gbps = get_number(j, "reduce_gbps", where, "", false, 0);
  f.call_overhead_us = get_number(j, "call_overhead_us", where, "", false, 0);
  f.copy_gbps = get_number(j, "copy_gbps", where, "", false, 0);
  double gpus = get_number(j, "gpus", where, "", false, 0);
  if (gpus != std::floor(gpus)) bad(where, "gpus", "must be an integer");
  if (std::fabs(gpus) > 1099511627776.0) bad(where, "gpus", "must be at most 2^40");
  f.gpus = static_cast<std::int64_t>(gpus);
  f.sources = get_sources(j, where, "");
  if (auto tu = j.find("tuning"); tu != j.end() && !tu->is_null())
    f.tuning = tuning_from_json(*tu, where);
  auto tiers = j.find("tiers");
  if (tiers == j.end()) bad(where, "tiers", "missing (an array of tiers is required)");
  if (!tiers->is_array()) bad(where, "tiers", "must be an array");
  for (std::size_t k = 0; k < tiers->size(); ++k) {
    const json& t = (*tiers)[k];
    const std::string p = "tiers[" + std::to_string(k) + "].";
    if (!t.is_object()) bad(where, "tiers[" + std::to_string(k) + "]", "must be an object");
    Tier tier;
    tier.name = get_string(t, "name", where, p, true);
    double g = get_number(t, "group_size", where, p, true, 0);
    if (g != std::floor(g)) bad(where, p + "group_size", "must be an integer");
    if (std::fabs(g) > 1099511627776.0) bad(where, p + "group_size", "must be at most 2^40");
    tier.group_size = static_cast<std::int64_t>(g);
    tier.alpha_us = get_number(t, "alpha_us", where, p, true, 0);
    tier.bandwidth_gbps = get_number(t, "bandwidth_gbps", where, p, true, 0);
    tier.efficiency = get_number(t, "efficiency", where, p, false, 1);
    tier.flow_gbps = get_number(t, "flow_gbps", where, p, false, 0);
    tier.oversubscription = get_number(t, "oversubscription", where, p, false, 1);
    auto insw = t.find("in_switch");
    if (insw != t.end() && !insw->is_null()) {
      if (!insw->is_boolean()) bad(where, p + "in_switch", "must be true or false");
      tier.in_switch = insw->get<bool>();
    }
    tier.in_switch_efficiency = get_number(t, "in_switch_efficiency", where, p, false, 1);
    tier.eager_limit_bytes = get_number(t, "eager_limit_bytes", where, p, false, 0);
    tier.rendezvous_us = get_number(t, "rendezvous_us", where, p, false, 0);
    tier.sources = get_sources(t, where, p);
    f.tiers.push_back(std::move(tier));
  }
  validate_fabric(f, where);
  return f;
}

json fabric_to_json(const Fabric& f) {
  json j;
  j["schema"] = "collbench.fabric";
  j["schema_version"] = 1;
  j["name"] = f.name;
  if (!f.description.empty()) j["description"] = f.description;
  if (f.gpus > 0) j["gpus"] = f.gpus;
  j["reduce_gbps"] = f.reduce_gbps;
  j["call_overhead_us"] = f.call_overhead_us;
  if (f.copy_gbps > 0) j["copy_gbps"] = f.copy_gbps;
  j["tiers"] = json::array();
  for (const Tier& t : f.tiers) {
    json o;
    o["name"] = t.name;
    o["group_size"] = t.group_size;
    o["alpha_us"] = t.alpha_us;
    o["bandwidth_gbps"] = t.bandwidth_gbps;
    o["efficiency"] = t.efficiency;
    o["flow_gbps"] = t.flow_gbps;
    o["oversubscription"] = t.oversubscription;
    o["in_switch"] = t.in_switch;
    o["in_switch_efficiency"] = t.in_switch_efficiency;
    if (t.eager_limit_bytes > 0) {
      o["eager_limit_bytes"] = t.eager_limit_bytes;
      o["rendezvous_us"] = t.rendezvous_us;
    }
    if (!t.sources.empty()) o["sources"] = t.sources;
    j["tiers"].push_back(std::move(o));
  }
  if (const json tu = tuning_to_json(f.tuning); !tu.is_null()) j["tuning"] = tu;
  if (!f.sources.empty()) j["sources"] = f.sources;
  return j;
}

Fabric load_fabric(const std::string& path) {
  return fabric_from_json(read_input_json(path, "fabric file"), path);
}

}  // namespace collbench::model
