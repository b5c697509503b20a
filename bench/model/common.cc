#include "bench/model/common.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>

#include "bench/output_file.h"
#include "bench/sizes.h"
#include "bench/table.h"
#include "collectives/error.h"

namespace collbench::bench::model_cli {

using nlohmann::json;

CLI::Option* number_check(CLI::Option* opt, double lo, bool inclusive) {
  return opt->check(CLI::Validator(
      [lo, inclusive](std::string& text) -> std::string {
        std::size_t used = 0;
        double v = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool ok = used == text.size() && !text.empty() && std::isfinite(v) &&
                        (inclusive ? v >= lo : v > lo);
        if (ok) return {};
        return "must be a finite number " + std::string(inclusive ? ">= " : "> ") +
               CLI::detail::to_string(lo) + " (got '" + text + "')";
      },
      ""));
}

void check_outputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
  check_distinct_outputs(outputs);
  for (const auto& [flag, path] : outputs)
    if (!path.empty()) check_writable(path, flag);
}

int guarded(const char* command, const std::function<int()>& fn) {
  try {
    return fn();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "collbench model %s: %s\n", command, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "collbench model %s: error: %s\n", command, e.what());
    return 1;
  }
}

void write_json(const std::string& path, const json& j) {
  if (path.empty()) return;
  write_file_atomic(path, j.dump(1) + "\n");
  std::printf("\nwrote %s\n", path.c_str());
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::vector<const model::Profile*> parse_profiles(const std::string& text, const char* flag) {
  std::vector<const model::Profile*> out;
  if (text == "all") {
    for (const auto& p : model::builtin_profiles()) out.push_back(&p);
    return out;
  }
  for (const auto& key : split(text, ',')) {
    try {
      out.push_back(&model::find_profile(key));
    } catch (const UsageError& e) {
      throw UsageError(std::string(flag) + " " + text + ": " + e.what());
    }
  }
  return out;
}

std::int64_t parse_count(const std::string& s, const char* flag) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || v < 1)
    throw UsageError(std::string(flag) + " '" + s + "': expected a positive integer");
  return v;
}

std::vector<std::int64_t> parse_gpus(const std::string& text) {
  std::vector<std::int64_t> out;
  const auto colon = text.find(':');
  if (colon != std::string::npos) {
    const std::int64_t a = parse_count(text.substr(0, colon), "--gpus");
    const std::int64_t b = parse_count(text.substr(colon + 1), "--gpus");
    if (b < a) throw UsageError("--gpus " + text + ": the end is below the start");
    for (std::int64_t g = a; g <= b; g *= 2) out.push_back(g);
    if (out.back() != b) out.push_back(b);
  } else {
    for (const auto& s : split(text, ',')) out.push_back(parse_count(s, "--gpus"));
  }
  if (out.empty()) throw UsageError("--gpus: no GPU count given");
  return out;
}

void add_site_options(CLI::App* cmd, model::SiteOptions& o) {
  number_check(cmd->add_option("--pue", o.pue, "facility power / IT power")->capture_default_str(),
               1, true);
  number_check(cmd->add_option("--overhead", o.overhead,
                               "power for network, storage, CPUs outside the GPU server, fraction "
                               "of IT")
                   ->capture_default_str(),
               0, true);
  number_check(cmd->add_option("--node-kw", o.unit_kw,
                               "maximum power of one GPU server (NVL72: rack), kW; default: the "
                               "profile's"),
               0);
  number_check(cmd->add_option("--switch-radix", o.switch_radix,
                               "switch ports at NIC speed; default: the profile's (128 x 400G)"),
               0);
  number_check(cmd->add_option("--oversub-leaf", o.leaf_oversubscription, "leaf down:up port ratio")
                   ->capture_default_str(),
               1, true);
  number_check(cmd->add_option("--oversub-spine", o.spine_oversubscription,
                               "spine down:up port ratio (traffic between pods)")
                   ->capture_default_str(),
               1, true);
  number_check(cmd->add_option("--pod-gpus", o.pod_gpus,
                               "GPUs per pod (a whole number of rail groups); default: one spine "
                               "plane"),
               0);
}

json site_options_json(const model::SiteOptions& o) {
  return {{"pue", o.pue},
          {"overhead", o.overhead},
          {"node_kw", o.unit_kw},
          {"switch_radix", o.switch_radix},
          {"oversub_leaf", o.leaf_oversubscription},
          {"oversub_spine", o.spine_oversubscription},
          {"pod_gpus", o.pod_gpus}};
}

std::string fabric_table(const model::Fabric& f) {
  Table t({"tier", "block (GPUs)", "alpha (us)", "bandwidth (GB/s/GPU)", "efficiency",
           "flow (GB/s)", "oversub", "in-switch"});
  for (const auto& tier : f.tiers) {
    t.row({tier.name, tier.group_size == 0 ? "all" : commas(tier.group_size),
           short_num(tier.alpha_us), sig(tier.bandwidth_gbps), fmt(tier.efficiency, 2),
           tier.flow_gbps > 0 ? sig(tier.flow_gbps) : "=bw",
           short_num(tier.oversubscription) + ":1",
           tier.in_switch ? "yes x" + fmt(tier.in_switch_efficiency, 2) : "no"});
  }
  std::string out = t.str();
  out += "reduction: " +
         (f.reduce_gbps > 0 ? sig(f.reduce_gbps) + " GB/s" : std::string("free (fused)")) +
         "; call overhead " + sig(f.call_overhead_us) + " us";
  if (f.copy_gbps > 0) out += "; local copies " + sig(f.copy_gbps) + " GB/s";
  out += "\n";
  for (const auto& tier : f.tiers)
    if (tier.eager_limit_bytes > 0)
      out += tier.name + ": messages of " +
             format_size(static_cast<std::uint64_t>(tier.eager_limit_bytes)) +
             " and more go by rendezvous, +" + sig(tier.rendezvous_us) + " us each\n";
  return out;
}

model::PointBand band_of(model::Collective c, std::int64_t ranks, std::int64_t members_per_domain,
                         std::int64_t domain_gpus) {
  const auto& bands = model::builtin_calibration_report().bands;
  return model::point_band(bands, model::band_regime(c, ranks, members_per_domain, domain_gpus),
                           ranks);
}

std::string band_cell(const model::PointBand& b) {
  if (b.cases == 0) return "-";
  auto p = [](double v) { return (v >= 0 ? "+" : "") + fmt(v * 100, 0); };
  return p(b.lo) + "/" + p(b.hi) + "%" + (b.extrapolated ? "*" : "");
}

json band_json(const model::PointBand& b) {
  return {{"regime", model::band_regime_key(b.regime)},
          {"cases", b.cases},
          {"low", b.lo},
          {"high", b.hi},
          {"extrapolated", b.extrapolated},
          {"calibrated_up_to_gpus", b.max_gpus}};
}

json regime_band_json(const model::RegimeBand& b, const char* gpus_key) {
  return {{"regime", model::band_regime_key(b.regime)},
          {"cases", b.cases},
          {"low", b.lo},
          {"high", b.hi},
          {gpus_key, b.max_gpus}};
}

json calibration_json() {
  const auto& rep = model::builtin_calibration_report();
  json bands = json::array();
  for (const auto& b : rep.bands) bands.push_back(regime_band_json(b, "calibrated_up_to_gpus"));
  return {{"record", model::builtin_calibration().files},
          {"meaning",
           "measured / model - 1 over every published case of the regime (train and test): a "
           "bandwidth B is expected in [B(1+low), B(1+high)], a time T in [T/(1+high), "
           "T/(1+low)]; extrapolated: more GPUs than any case of the regime"},
          {"bands", bands}};
}

std::string over_budget(const model::Profile& p, const model::SiteOptions& o, std::int64_t gpus) {
  model::SiteOptions so = o;
  so.gpus = 0;
  const model::Site site = model::plan_site(p, so);
  if (gpus <= site.gpus) return "";
  return p.key + ": " + commas(gpus) + " GPUs need " + sig(gpus * site.all_in_kw_per_gpu / 1e3) +
         " MW at " + fmt(site.all_in_kw_per_gpu, 3) + " kW all-in per GPU; the " +
         sig(so.power_mw) + " MW site holds " + commas(site.gpus) + " (--power-mw)";
}

void save_fabric(const model::Fabric& f, const std::string& path) {
  f.validate();
  write_file_atomic(path, model::fabric_to_json(f).dump(2) + "\n");
}

}  // namespace collbench::bench::model_cli
