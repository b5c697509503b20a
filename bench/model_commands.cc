#include "bench/model_commands.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench/sizes.h"
#include "collectives/error.h"
#include "topology/cost_model.h"
#include "topology/fabric.h"
#include "topology/fit.h"
#include "topology/profiles.h"
#include "topology/site.h"
#include "topology/workload.h"

namespace collbench::bench {
namespace {

using nlohmann::json;
using topology::Collective;

// --- text helpers -----------------------------------------------------------------------------

std::string fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string commas(std::int64_t v) {
  const std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out = v < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Three significant digits, no exponent for everyday magnitudes.
std::string sig(double v) {
  if (std::isnan(v)) return "-";
  const double a = std::fabs(v);
  if (a >= 1e6) return commas(static_cast<std::int64_t>(std::llround(v)));
  if (a >= 100) return fmt(v, 0);
  if (a >= 10) return fmt(v, 1);
  if (a >= 1) return fmt(v, 2);
  if (a == 0) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string pct(double v) { return fmt(v * 100, 1) + "%"; }

// Up to four significant digits, trailing zeros dropped (1, 2.7, 0.85).
std::string short_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void row(std::vector<std::string> cells) {
    cells.resize(headers_.size());
    rows_.push_back(std::move(cells));
  }
  std::string str() const {
    std::vector<std::size_t> w(headers_.size());
    for (std::size_t c = 0; c < headers_.size(); ++c) {
      w[c] = headers_[c].size();
      for (const auto& r : rows_) w[c] = std::max(w[c], r[c].size());
    }
    std::ostringstream out;
    auto line = [&](const std::vector<std::string>& cells) {
      for (std::size_t c = 0; c < cells.size(); ++c) {
        const std::size_t pad = w[c] - cells[c].size();
        if (c == 0) {
          out << cells[c] << std::string(pad, ' ');
        } else {
          out << "  " << std::string(pad, ' ') << cells[c];
        }
      }
      out << '\n';
    };
    line(headers_);
    std::size_t total = 0;
    for (std::size_t c = 0; c < w.size(); ++c) total += w[c] + (c ? 2 : 0);
    out << std::string(total, '-') << '\n';
    for (const auto& r : rows_) line(r);
    return out.str();
  }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

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
  topology::write_file_atomic(path, j.dump(1) + "\n");
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

std::vector<const topology::Profile*> parse_profiles(const std::string& text, const char* flag) {
  std::vector<const topology::Profile*> out;
  if (text == "all") {
    for (const auto& p : topology::builtin_profiles()) out.push_back(&p);
    return out;
  }
  for (const auto& key : split(text, ',')) {
    try {
      out.push_back(&topology::find_profile(key));
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

// "8:262144" (powers of two between, and the end) or "8,16,1024".
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

void add_site_options(CLI::App* cmd, topology::SiteOptions& o) {
  cmd->add_option("--pue", o.pue, "facility power / IT power")->capture_default_str();
  cmd->add_option("--overhead", o.overhead,
                  "power for network, storage, CPUs outside the GPU server, fraction of IT")
      ->capture_default_str();
  cmd->add_option("--node-kw", o.unit_kw,
                  "maximum power of one GPU server (NVL72: rack), kW; default: the profile's");
  cmd->add_option("--switch-radix", o.switch_radix,
                  "switch ports at NIC speed; default: the profile's (128 x 400G)");
  cmd->add_option("--oversub-leaf", o.leaf_oversubscription, "leaf down:up port ratio")
      ->capture_default_str();
  cmd->add_option("--oversub-spine", o.spine_oversubscription,
                  "spine down:up port ratio (traffic between pods)")
      ->capture_default_str();
  cmd->add_option("--pod-gpus", o.pod_gpus,
                  "GPUs per pod (a whole number of rail groups); default: one spine plane");
}

json site_options_json(const topology::SiteOptions& o) {
  return {{"pue", o.pue},
          {"overhead", o.overhead},
          {"node_kw", o.unit_kw},
          {"switch_radix", o.switch_radix},
          {"oversub_leaf", o.leaf_oversubscription},
          {"oversub_spine", o.spine_oversubscription},
          {"pod_gpus", o.pod_gpus}};
}

std::string fabric_table(const topology::Fabric& f) {
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

// --- model profiles ---------------------------------------------------------------------------

struct ProfilesArgs {
  std::string json_path;
};

int run_profiles(const ProfilesArgs& a) {
  Table t({"key", "system", "scale-up GPUs", "scale-up GB/s", "eff", "in-switch", "NIC GB/s",
           "radix", "GPU W", "unit kW / GPUs", "HBM GB", "HBM TB/s"});
  json out;
  out["command"] = "model profiles";
  out["profiles"] = json::array();
  for (const auto& p : topology::builtin_profiles()) {
    t.row({p.key, p.name, std::to_string(p.scaleup_gpus), sig(p.scaleup_gbps),
           fmt(p.scaleup_efficiency, 2),
           p.in_switch ? "NVLS x" + fmt(p.in_switch_efficiency, 2) : "no", sig(p.nic_gbps),
           std::to_string(p.switch_radix), sig(p.gpu_w),
           sig(p.unit_kw) + " / " + std::to_string(p.gpus_per_unit), sig(p.hbm_gb),
           sig(p.hbm_tbps)});
    out["profiles"].push_back({{"key", p.key},
                               {"name", p.name},
                               {"gpus_per_node", p.gpus_per_node},
                               {"scaleup_gpus", p.scaleup_gpus},
                               {"scaleup_gbps", p.scaleup_gbps},
                               {"scaleup_efficiency", p.scaleup_efficiency},
                               {"scaleup_alpha_us", p.scaleup_alpha_us},
                               {"in_switch", p.in_switch},
                               {"in_switch_efficiency", p.in_switch_efficiency},
                               {"nic_gbps", p.nic_gbps},
                               {"nic_efficiency", p.nic_efficiency},
                               {"net_alpha_us", p.net_alpha_us},
                               {"switch_level_us", p.switch_level_us},
                               {"switch_radix", p.switch_radix},
                               {"network_in_switch", p.network_in_switch},
                               {"gpu_w", p.gpu_w},
                               {"unit_kw", p.unit_kw},
                               {"gpus_per_unit", p.gpus_per_unit},
                               {"hbm_gb", p.hbm_gb},
                               {"hbm_tbps", p.hbm_tbps},
                               {"call_overhead_us", p.call_overhead_us},
                               {"sources", p.sources}});
  }
  std::printf("Built-in hardware profiles (bandwidths per GPU, one direction, decimal GB/s)\n\n%s",
              t.str().c_str());
  for (const auto& p : topology::builtin_profiles()) {
    std::printf("\n%s sources:\n", p.key.c_str());
    for (const auto& [field, src] : p.sources)
      std::printf("  %-22s %s\n", field.c_str(), src.c_str());
  }
  write_json(a.json_path, out);
  return 0;
}

// --- model site -------------------------------------------------------------------------------

struct SiteArgs {
  std::string gpu = "h100";
  double power_mw = 300;
  std::int64_t gpus = 0;
  topology::SiteOptions site;
  std::string json_path;
  std::string fabric_out;
};

json site_json(const topology::Site& s) {
  json sw = json::array();
  for (const auto& l : s.switches)
    sw.push_back({{"level", l.name},
                  {"switches", l.switches},
                  {"block_gpus", l.block_gpus},
                  {"oversubscription", l.oversubscription}});
  return {{"profile", s.profile},
          {"power_mw", s.options.power_mw},
          {"gpus", s.gpus},
          {"nodes", s.nodes},
          {"scaleup_domains", s.domains},
          {"power_units", s.units},
          {"it_kw_per_gpu", s.it_kw_per_gpu},
          {"all_in_kw_per_gpu", s.all_in_kw_per_gpu},
          {"gpu_it_mw", s.it_mw},
          {"facility_mw", s.facility_mw},
          {"switch_radix", s.radix},
          {"switches", sw},
          {"arithmetic", s.arithmetic},
          {"assumptions", s.assumptions},
          {"options", site_options_json(s.options)},
          {"fabric", topology::fabric_to_json(s.fabric)}};
}

int run_site(SiteArgs a) {
  a.site.power_mw = a.power_mw;
  a.site.gpus = a.gpus;
  const auto profiles = parse_profiles(a.gpu, "--gpu");
  if (!a.fabric_out.empty() && profiles.size() != 1)
    throw UsageError("--fabric-out: give one profile with --gpu (not 'all')");
  json out;
  out["command"] = "model site";
  out["sites"] = json::array();
  std::vector<topology::Site> sites;
  for (const auto* p : profiles) {
    topology::Site s = topology::plan_site(*p, a.site);
    std::printf("== %s: %s, %s\n\n", p->key.c_str(), p->name.c_str(),
                a.gpus > 0 ? (commas(a.gpus) + " GPUs requested").c_str()
                           : (sig(a.power_mw) + " MW").c_str());
    for (std::size_t i = 0; i < s.arithmetic.size(); ++i)
      std::printf("  %zu. %s\n", i + 1, s.arithmetic[i].c_str());
    Table sum({"GPUs", "nodes", "scale-up domains", "kW/GPU IT", "kW/GPU all-in", "GPU IT MW",
               "facility MW"});
    sum.row({commas(s.gpus), commas(s.nodes), commas(s.domains), fmt(s.it_kw_per_gpu, 3),
             fmt(s.all_in_kw_per_gpu, 3), fmt(s.it_mw, 1), fmt(s.facility_mw, 1)});
    std::printf("\n%s", sum.str().c_str());
    Table sw({"switch level", "switches", "GPUs per block", "uplink oversubscription"});
    for (const auto& l : s.switches)
      sw.row({l.name, commas(l.switches), l.block_gpus ? commas(l.block_gpus) : "all",
              short_num(l.oversubscription) + ":1"});
    std::printf("\n%s", sw.str().c_str());
    std::printf("\nfabric for the cost model:\n%s", fabric_table(s.fabric).c_str());
    std::printf("\nassumptions:\n");
    for (const auto& line : s.assumptions) std::printf("  - %s\n", line.c_str());
    std::printf("\n");
    out["sites"].push_back(site_json(s));
    sites.push_back(std::move(s));
  }
  if (sites.size() > 1) {
    Table cmp({"profile", "GPUs", "nodes", "domains", "kW/GPU all-in", "switches"});
    for (const auto& s : sites) {
      std::int64_t n = 0;
      for (const auto& l : s.switches) n += l.switches;
      cmp.row({s.profile, commas(s.gpus), commas(s.nodes), commas(s.domains),
               fmt(s.all_in_kw_per_gpu, 3), commas(n)});
    }
    std::printf("side by side:\n%s", cmp.str().c_str());
  }
  std::printf(
      "public figures: a 300 MW site holds about 180k-230k Hopper GPUs or 130k-150k "
      "Blackwell GPUs (model-facts.md)\n");
  out["reference"] = "300 MW: about 180k-230k Hopper or 130k-150k Blackwell GPUs (model-facts.md)";
  if (!a.fabric_out.empty()) {
    topology::save_fabric(sites.front().fabric, a.fabric_out);
    std::printf("wrote fabric %s\n", a.fabric_out.c_str());
  }
  write_json(a.json_path, out);
  return 0;
}

// --- model predict ----------------------------------------------------------------------------

struct PredictArgs {
  std::string profiles = "all";
  std::string fabric_path;
  std::string collective = "all";
  std::string min_bytes = "8";
  std::string max_bytes = "4G";
  double factor = 2;
  std::string gpus = "8:262144";
  std::string algos;
  topology::SiteOptions site;
  std::string json_path;
  bool profiles_given = false;
};

std::string algo_code(topology::ModelAlgo a) {
  switch (a) {
    case topology::ModelAlgo::kRing:
      return "R";
    case topology::ModelAlgo::kRecursiveDoubling:
      return "RD";
    case topology::ModelAlgo::kRabenseifner:
      return "RB";
    case topology::ModelAlgo::kBinomial:
      return "BN";
    case topology::ModelAlgo::kDoubleBinaryTree:
      return "T";
    case topology::ModelAlgo::kHierarchical:
      return "H";
    case topology::ModelAlgo::kHierarchical3:
      return "H3";
    case topology::ModelAlgo::kHierarchicalLeader:
      return "HL";
    case topology::ModelAlgo::kInSwitch:
      return "NV";
    case topology::ModelAlgo::kLinear:
      return "L";
    case topology::ModelAlgo::kPairwise:
      return "P";
    case topology::ModelAlgo::kBruck:
      return "B";
    case topology::ModelAlgo::kAllToAllHierarchical:
      return "H";
    case topology::ModelAlgo::kCount:
      break;
  }
  return "?";
}

int run_predict(const PredictArgs& a) {
  if (!a.fabric_path.empty() && a.profiles_given)
    throw UsageError("--fabric and --profile: give one of them");
  std::vector<Collective> colls;
  if (a.collective == "all") {
    colls = {Collective::kAllReduce, Collective::kAllToAll};
  } else {
    auto c = collectives::parse_collective(a.collective);
    if (!c)
      throw UsageError("--collective " + a.collective + ": expected allreduce, alltoall or all");
    colls = {*c};
  }
  const std::size_t lo = parse_size(a.min_bytes, "--min-bytes");
  const std::size_t hi = parse_size(a.max_bytes, "--max-bytes");
  if (lo == 0) throw UsageError("--min-bytes: must be > 0");
  if (hi < lo) throw UsageError("--max-bytes: below --min-bytes");
  if (!(a.factor > 1)) throw UsageError("--step-factor: must be > 1");
  const std::vector<std::size_t> sizes = size_sweep(lo, hi, a.factor, 0);
  const std::vector<std::int64_t> gpus = parse_gpus(a.gpus);
  const std::int64_t max_gpus = *std::max_element(gpus.begin(), gpus.end());

  std::vector<topology::ModelAlgo> algos;
  if (!a.algos.empty() && a.algos != "all") {
    for (const auto& name : split(a.algos, ',')) {
      bool found = false;
      for (Collective c : colls) {
        if (auto m = topology::find_model_algorithm(c, name)) {
          algos.push_back(*m);
          found = true;
        }
      }
      if (!found) {
        std::string known;
        for (const auto& i : topology::model_algorithms())
          known += (known.empty() ? "" : ", ") + std::string(i.name);
        throw UsageError("--algo " + name + ": no modelled algorithm of that name (" + known + ")");
      }
    }
  } else {
    for (const auto& i : topology::model_algorithms())
      for (Collective c : colls)
        if (i.collective == c) algos.push_back(i.algo);
  }

  struct Target {
    std::string label;
    topology::Fabric fabric;
  };
  std::vector<Target> targets;
  if (!a.fabric_path.empty()) {
    topology::Fabric f = topology::load_fabric(a.fabric_path);
    if (f.gpus > 0 && max_gpus > f.gpus) {
      throw UsageError("--gpus " + a.gpus + ": the fabric '" + f.name + "' holds " +
                       commas(f.gpus) + " ranks" +
                       (f.tiers.size() == 1 ? " (its only tier is " + f.tiers[0].name +
                                                  "; fit on 2 or more nodes to project beyond)"
                                            : std::string()));
    }
    targets.push_back({f.name.empty() ? a.fabric_path : f.name, f});
  } else {
    for (const auto* p : parse_profiles(a.profiles, "--profile"))
      targets.push_back({p->key, topology::site_fabric(*p, max_gpus, a.site)});
  }

  // The projection itself: closed form, no allocation inside.
  const std::size_t n_alg = algos.size(), n_size = sizes.size(), n_gpu = gpus.size();
  std::vector<double> times(targets.size() * n_alg * n_size * n_gpu);
  std::vector<topology::ModelNet> nets;
  for (const auto& t : targets) nets.push_back(topology::make_net(t.fabric));
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t idx = 0;
  for (std::size_t f = 0; f < targets.size(); ++f)
    for (std::size_t al = 0; al < n_alg; ++al)
      for (std::size_t s = 0; s < n_size; ++s)
        for (std::size_t g = 0; g < n_gpu; ++g)
          times[idx++] =
              topology::predict_time(nets[f], algos[al], static_cast<double>(sizes[s]), gpus[g]);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto at = [&](std::size_t f, std::size_t al, std::size_t s, std::size_t g) {
    return times[((f * n_alg + al) * n_size + s) * n_gpu + g];
  };

  json out;
  out["command"] = "model predict";
  out["units"] = {{"bytes", "per rank (all-to-all: total a rank sends)"},
                  {"time_us", "microseconds"},
                  {"busbw_gbps", "decimal GB/s, nccl-tests factors"}};
  out["assumptions"] = {
      "ranks placed in blocks: consecutive ranks share the lowest tiers",
      "traffic leaving a scale-up domain is spread over the domain's NICs (NCCL channels)",
      "each step is charged at the slowest tier its pairs cross; oversubscription divides the "
      "rate of traffic crossing a tier by the ratio accumulated below it",
      "one collective at a time on the fabric (no other jobs)"};
  out["sizes"] = sizes;
  out["gpus"] = gpus;
  out["fabrics"] = json::array();
  out["points"] = json::array();
  out["best"] = json::array();
  out["projection_seconds"] = elapsed;
  for (std::size_t f = 0; f < targets.size(); ++f) {
    out["fabrics"].push_back(
        {{"label", targets[f].label}, {"fabric", topology::fabric_to_json(targets[f].fabric)}});
    for (std::size_t al = 0; al < n_alg; ++al) {
      const auto& info = topology::model_algorithm(algos[al]);
      for (std::size_t s = 0; s < n_size; ++s)
        for (std::size_t g = 0; g < n_gpu; ++g) {
          const double t = at(f, al, s, g);
          if (std::isnan(t)) continue;
          const double b = static_cast<double>(sizes[s]);
          out["points"].push_back(
              {{"fabric", targets[f].label},
               {"collective", std::string(collectives::collective_name(info.collective))},
               {"algorithm", std::string(info.name)},
               {"bytes", sizes[s]},
               {"gpus", gpus[g]},
               {"time_us", t * 1e6},
               {"algbw_gbps", topology::algbw_gbps(b, t)},
               {"busbw_gbps", topology::busbw_gbps(info.collective, b, gpus[g], t)}});
        }
    }
  }

  std::printf(
      "Projection: %zu fabrics x %zu algorithms x %zu sizes x %zu GPU counts = %zu points "
      "in %.3f ms\n",
      targets.size(), n_alg, n_size, n_gpu, times.size(), elapsed * 1e3);
  std::printf("Cells: busbw of the best algorithm (GB/s) and its code; sizes per rank.\n");
  const std::size_t every = n_size > 16 ? 2 : 1;
  if (every > 1) std::printf("Every 2nd size shown; --json has every point.\n");
  for (std::size_t f = 0; f < targets.size(); ++f) {
    for (Collective c : colls) {
      std::vector<std::string> head{"size"};
      for (auto g : gpus) head.push_back(commas(g));
      Table t(head);
      for (std::size_t s = 0; s < n_size; ++s) {
        std::vector<std::string> row{format_size(sizes[s])};
        for (std::size_t g = 0; g < n_gpu; ++g) {
          double best = NAN;
          std::size_t best_al = 0;
          for (std::size_t al = 0; al < n_alg; ++al) {
            if (topology::model_algorithm(algos[al]).collective != c) continue;
            const double tt = at(f, al, s, g);
            if (std::isnan(tt)) continue;
            if (std::isnan(best) || tt < best) {
              best = tt;
              best_al = al;
            }
          }
          if (std::isnan(best)) {
            row.push_back("-");
            continue;
          }
          const double b = static_cast<double>(sizes[s]);
          const double bus = topology::busbw_gbps(c, b, gpus[g], best);
          row.push_back(sig(bus) + " " + algo_code(algos[best_al]));
          out["best"].push_back(
              {{"fabric", targets[f].label},
               {"collective", std::string(collectives::collective_name(c))},
               {"bytes", sizes[s]},
               {"gpus", gpus[g]},
               {"algorithm", std::string(topology::model_algorithm(algos[best_al]).name)},
               {"time_us", best * 1e6},
               {"busbw_gbps", bus}});
        }
        if (s % every == 0 || s + 1 == n_size) t.row(row);
      }
      std::printf("\n== %s, %s (columns: GPUs)\n%s", targets[f].label.c_str(),
                  std::string(collectives::collective_name(c)).c_str(), t.str().c_str());
    }
    std::printf("fabric %s:\n%s", targets[f].label.c_str(),
                fabric_table(targets[f].fabric).c_str());
  }
  std::printf(
      "\ncodes: R ring, RD recursive_doubling, RB rabenseifner, BN binomial, T "
      "double_binary_tree, H hierarchical, H3 hierarchical3, HL hierarchical_leader, NV "
      "in_switch; all-to-all: L linear, P pairwise, B bruck, H hierarchical\n");
  std::printf("assumptions:\n");
  for (const auto& s : out["assumptions"]) std::printf("  - %s\n", s.get<std::string>().c_str());
  write_json(a.json_path, out);
  return 0;
}

// --- model fit / validate ---------------------------------------------------------------------

struct FitArgs {
  std::vector<std::string> files;
  std::string output;
  std::string tiers = "auto";
  std::string stat = "p50";
  std::string dtype;
  double gamma_gbps = -1;  // < 0: fit it; 0: free; > 0: fixed rate
  std::string json_path;
  // validate
  int holdout_every = 3;
  bool no_holdout_ranks = false;
  double target = 0.15;
  bool strict = false;
  // Only records in this size range (both): e.g. the DRAM-bound sizes, where one bandwidth holds.
  std::string min_bytes, max_bytes;
  bool plain = false;              // no δ, one β per tier: the textbook α-β-γ model
  bool each_repeat = false;        // keep repeated measurements of a point apart
  std::string eager_limit;         // intra-node eager limit: fit the rendezvous latency
  std::vector<std::string> bands;  // validate: size-band edges
};

// The loaded records, repeats merged (said in `merged`), less those outside
// --min-bytes/--max-bytes (said in `skipped`).
struct InRange : topology::LoadedRecords {
  std::string merged;  // "320 measurements of 160 points ...", or empty
};

InRange load_in_range(const FitArgs& a) {
  InRange loaded{topology::load_result_files(a.files, a.stat), {}};
  if (!a.each_repeat) {
    const std::size_t before = loaded.records.size();
    if (const std::size_t folded = topology::merge_repeats(loaded.records); folded > 0)
      loaded.merged = std::to_string(before) + " measurements of " +
                      std::to_string(loaded.records.size()) +
                      " points: each point's time is the median of its repeats (--each-repeat "
                      "keeps them apart)";
  }
  if (a.min_bytes.empty() && a.max_bytes.empty()) return loaded;
  const double lo =
      a.min_bytes.empty() ? 0.0 : static_cast<double>(parse_size(a.min_bytes, "--min-bytes"));
  const double hi =
      a.max_bytes.empty() ? 1e300 : static_cast<double>(parse_size(a.max_bytes, "--max-bytes"));
  if (lo > hi)
    throw UsageError("--min-bytes " + a.min_bytes + " is above --max-bytes " + a.max_bytes);
  const auto before = loaded.records.size();
  std::erase_if(loaded.records,
                [&](const topology::FitRecord& r) { return r.bytes < lo || r.bytes > hi; });
  const auto dropped = before - loaded.records.size();
  if (dropped)
    loaded.skipped.push_back(std::to_string(dropped) + " records: outside " +
                             (a.min_bytes.empty() ? "0" : a.min_bytes) + " .. " +
                             (a.max_bytes.empty() ? "any" : a.max_bytes) + " bytes");
  if (loaded.records.empty()) throw UsageError("no records between --min-bytes and --max-bytes");
  return loaded;
}

topology::FitOptions fit_options(const FitArgs& a) {
  topology::FitOptions o;
  if (a.tiers == "auto") {
    o.tiers = topology::TierChoice::kAuto;
  } else if (a.tiers == "intra") {
    o.tiers = topology::TierChoice::kIntra;
  } else if (a.tiers == "intra,inter" || a.tiers == "inter") {
    o.tiers = topology::TierChoice::kIntraInter;
  } else {
    throw UsageError("--tiers " + a.tiers + ": expected auto, intra or intra,inter");
  }
  o.dtype = a.dtype;
  o.local_terms = !a.plain;
  if (!a.eager_limit.empty()) {
    o.eager_limit = static_cast<double>(parse_size(a.eager_limit, "--eager-limit"));
    if (!(o.eager_limit > 0)) throw UsageError("--eager-limit " + a.eager_limit + ": must be > 0");
  }
  if (a.gamma_gbps == 0) {
    o.gamma_fixed = 0.0;
  } else if (a.gamma_gbps > 0) {
    o.gamma_fixed = 1.0 / (a.gamma_gbps * 1e9);
  }
  return o;
}

std::string params_table(const topology::FitResult& r) {
  Table t({"parameter", "value", "unit", "meaning"});
  using topology::alpha_param;
  using topology::beta_param;
  using topology::gamma_param;
  if (r.fitted[alpha_param(0)]) {
    t.row({"alpha intra-node", sig(r.theta[alpha_param(0)] * 1e6), "us", "latency per message"});
    const double b = r.theta[beta_param(0)];
    t.row({"bandwidth intra-node", b > 0 ? sig(1 / b / 1e9) : "inf", "GB/s",
           "per rank, all ranks of the node sending (1/beta)"});
    if (r.separate_flow) {
      const double f = r.theta[topology::flow_beta0_param()];
      t.row({"  one flow", f > 0 ? sig(1 / f / 1e9) : "inf", "GB/s",
             "when only some ranks of the node send (tree steps)"});
    }
    if (r.eager_limit > 0)
      t.row({"  rendezvous", sig(r.theta[topology::rendezvous0_param()] * 1e6), "us",
             "added per message of >= " + format_size(static_cast<std::uint64_t>(r.eager_limit)) +
                 " (eager limit)"});
  }
  if (r.fitted[alpha_param(1)]) {
    t.row({"alpha inter-node", sig(r.theta[alpha_param(1)] * 1e6), "us", "latency per message"});
    t.row({"node link", r.node_link_gbps >= 1e6 ? "inf" : sig(r.node_link_gbps), "GB/s",
           "shared by the ranks of a node (1/beta)"});
    t.row({"  per rank", sig(r.node_link_gbps / std::max<std::int64_t>(1, r.ranks_per_node)),
           "GB/s", "link / " + std::to_string(r.ranks_per_node) + " ranks per node"});
  }
  const double g = r.theta[gamma_param()];
  t.row({"reduction rate", g > 0 ? sig(1 / g / 1e9) : "free", "GB/s",
         std::string("1/gamma, per byte reduced") + (r.fitted[gamma_param()] ? "" : " (fixed)")});
  if (r.fitted[topology::delta_param()]) {
    const double d = r.theta[topology::delta_param()];
    t.row({"local copy rate", d > 0 ? sig(1 / d / 1e9) : "free", "GB/s",
           "1/delta, per byte a rank copies in its own memory"});
  }
  return t.str();
}

json params_json(const topology::FitResult& r) {
  using topology::alpha_param;
  using topology::beta_param;
  using topology::gamma_param;
  json p;
  if (r.fitted[alpha_param(0)]) {
    p["alpha_intra_us"] = r.theta[alpha_param(0)] * 1e6;
    p["beta_intra_s_per_byte"] = r.theta[beta_param(0)];
  }
  if (r.fitted[alpha_param(1)]) {
    p["alpha_inter_us"] = r.theta[alpha_param(1)] * 1e6;
    p["beta_inter_link_s_per_byte"] = r.theta[beta_param(1)];
    p["node_link_gbps"] = r.node_link_gbps;
  }
  p["gamma_s_per_byte"] = r.theta[gamma_param()];
  p["gamma_fitted"] = r.fitted[gamma_param()];
  if (r.separate_flow) p["beta_intra_flow_s_per_byte"] = r.theta[topology::flow_beta0_param()];
  if (r.fitted[topology::delta_param()]) p["delta_s_per_byte"] = r.theta[topology::delta_param()];
  if (r.eager_limit > 0) {
    p["eager_limit_bytes"] = r.eager_limit;
    p["rendezvous_intra_us"] = r.theta[topology::rendezvous0_param()] * 1e6;
  }
  p["ranks_per_node"] = r.ranks_per_node;
  return p;
}

int run_fit(const FitArgs& a) {
  const topology::FitOptions opt = fit_options(a);
  const InRange loaded = load_in_range(a);
  const topology::FitResult r = topology::fit_records(loaded.records, opt);
  std::printf(
      "Fit of alpha/beta/gamma%s (time statistic: %s; weighted least squares on relative "
      "error, Tukey bisquare)\n",
      a.plain ? "" : "/delta", a.stat.c_str());
  std::printf("files: %zu; records used: %d; outliers dropped: %d; iterations: %d\n",
              loaded.files.size(), r.records_used, r.outliers, r.iterations);
  if (!loaded.merged.empty()) std::printf("  merged %s\n", loaded.merged.c_str());
  for (const auto& s : loaded.skipped) std::printf("  skipped %s\n", s.c_str());
  for (const auto& n : r.notes) std::printf("  note: %s\n", n.c_str());
  std::printf("\n%s", params_table(r).c_str());
  Table q({"collective", "algorithm", "tier", "records", "median err", "worst err", "outliers"});
  json quality = json::array();
  for (const auto& fq : r.quality) {
    q.row({fq.collective, fq.algorithm, fq.tier, std::to_string(fq.records), pct(fq.median_rel_err),
           pct(fq.worst_rel_err), std::to_string(fq.outliers)});
    quality.push_back({{"collective", fq.collective},
                       {"algorithm", fq.algorithm},
                       {"tier", fq.tier},
                       {"records", fq.records},
                       {"median_rel_err", fq.median_rel_err},
                       {"worst_rel_err", fq.worst_rel_err},
                       {"outliers", fq.outliers}});
  }
  std::printf("\nfit quality (relative error of the fitted model on the records):\n%s",
              q.str().c_str());
  std::printf("\nfabric:\n%s", fabric_table(r.fabric).c_str());
  std::printf(
      "assumptions: ranks numbered node by node; the ranks of a node share one network "
      "link; hierarchical algorithms run the file's --inter-node-algo between nodes; "
      "native collectives not fitted\n");
  if (!a.output.empty()) {
    topology::save_fabric(r.fabric, a.output);
    std::printf("wrote fabric %s\n", a.output.c_str());
  }
  json out = {{"command", "model fit"},  {"files", loaded.files},
              {"stat", a.stat},          {"records_used", r.records_used},
              {"outliers", r.outliers},  {"iterations", r.iterations},
              {"merged", loaded.merged}, {"skipped", loaded.skipped},
              {"notes", r.notes},        {"parameters", params_json(r)},
              {"quality", quality},      {"fabric", topology::fabric_to_json(r.fabric)}};
  write_json(a.json_path, out);
  return 0;
}

int run_validate(const FitArgs& a) {
  topology::ValidationOptions vo;
  vo.fit = fit_options(a);
  vo.holdout_every = a.holdout_every;
  vo.holdout_max_ranks = !a.no_holdout_ranks;
  if (!(a.target > 0)) throw UsageError("--target: must be > 0");
  vo.target = a.target;
  // validate_records refuses edges that are 0 or not ascending.
  for (const std::string& b : a.bands)
    vo.bands.push_back(static_cast<double>(parse_size(b, "--bands")));
  const InRange loaded = load_in_range(a);
  const topology::ValidationResult v = topology::validate_records(loaded.records, vo);
  std::printf("Held-out validation: fit on part of the sweep, predict the rest (statistic %s)\n",
              a.stat.c_str());
  std::printf("held out: every %d-th size of each algorithm%s; train %d records, test %d\n",
              vo.holdout_every,
              v.held_out_ranks
                  ? (" and every record on " + std::to_string(v.held_out_ranks) + " ranks").c_str()
                  : "",
              v.train_records, v.test_records);
  if (!loaded.merged.empty()) std::printf("  merged %s\n", loaded.merged.c_str());
  for (const auto& s : loaded.skipped) std::printf("  skipped %s\n", s.c_str());
  json bands = json::array();
  for (const auto& b : v.bands) {
    const std::string in = b.label.empty() ? std::string() : " (band " + b.label + ")";
    for (const auto& n : b.fit.notes) std::printf("  note%s: %s\n", in.c_str(), n.c_str());
    std::printf("\nparameters fitted on the training part%s, %d records:\n%s", in.c_str(), b.train,
                params_table(b.fit).c_str());
    bands.push_back({{"label", b.label},
                     {"min_bytes", b.lo},
                     {"below_bytes", b.hi > 0 ? json(b.hi) : json(nullptr)},
                     {"train_records", b.train},
                     {"test_records", b.test},
                     {"parameters", params_json(b.fit)},
                     {"notes", b.fit.notes}});
  }
  auto verdict_of = [](const topology::ValidationRow& r) {
    return r.test == 0 ? std::string("-")
           : r.native  ? std::string("info (best-of)")
           : r.pass    ? std::string("PASS")
                       : std::string("FAIL");
  };
  auto row_json = [](const topology::ValidationRow& r) {
    json j = {{"collective", r.collective},
              {"algorithm", r.algorithm},
              {"train", r.native ? 0 : r.train},
              {"test", r.test},
              {"median_rel_err", r.median_rel_err},
              {"worst_rel_err", r.worst_rel_err},
              {"native", r.native},
              {"pass", r.pass}};
    if (!r.band.empty()) j["band"] = r.band;
    return j;
  };
  json band_rows = json::array();
  if (!v.band_rows.empty()) {
    Table bt({"band", "collective", "algorithm", "train", "test", "median err", "worst err"});
    for (const auto& r : v.band_rows) {
      bt.row({r.band, r.collective, r.algorithm, std::to_string(r.native ? 0 : r.train),
              std::to_string(r.test), r.test ? pct(r.median_rel_err) : "-",
              r.test ? pct(r.worst_rel_err) : "-"});
      band_rows.push_back(row_json(r));
    }
    std::printf("\nheld-out prediction error per band:\n%s", bt.str().c_str());
  }
  Table t({"collective", "algorithm", "train", "test", "median err", "worst err", "verdict"});
  json rows = json::array();
  for (const auto& r : v.rows) {
    t.row({r.collective, r.algorithm, std::to_string(r.native ? 0 : r.train),
           std::to_string(r.test), r.test ? pct(r.median_rel_err) : "-",
           r.test ? pct(r.worst_rel_err) : "-", verdict_of(r)});
    rows.push_back(row_json(r));
  }
  std::printf("\nheld-out prediction error%s (target: median <= %s per algorithm):\n%s",
              v.bands.size() > 1 ? ", all bands" : "", pct(vo.target).c_str(), t.str().c_str());
  std::printf("\nverdict: %s\n", v.pass ? "PASS" : "FAIL");
  json out = {{"command", "model validate"},
              {"files", loaded.files},
              {"stat", a.stat},
              {"holdout_every", vo.holdout_every},
              {"held_out_ranks", v.held_out_ranks},
              {"merged", loaded.merged},
              {"train_records", v.train_records},
              {"test_records", v.test_records},
              {"target", vo.target},
              {"model", a.plain ? "alpha-beta-gamma" : "alpha-beta-gamma-delta"},
              {"parameters", params_json(v.fit)},
              {"bands", bands},
              {"band_rows", band_rows},
              {"rows", rows},
              {"pass", v.pass},
              {"notes", v.fit.notes}};
  write_json(a.json_path, out);
  return a.strict && !v.pass ? 1 : 0;
}

// --- model step -------------------------------------------------------------------------------

struct StepArgs {
  std::string example;
  std::string config;
  std::string profiles = "all";
  double power_mw = 0;  // 0: the workload's
  topology::SiteOptions site;
  std::string json_path;
  bool list = false;
  std::int64_t scale_to = 0;  // > 0: the step scaled down to this many ranks
  std::string fabric_path;    // with scale_to: predict on this fabric (a fitted one)
};

std::string mb(double bytes) { return sig(bytes / 1e6); }

// The step's collectives as a table and as JSON; `largest` names the costliest.
std::string step_table(const topology::StepTiming& st, json& items, std::string& largest) {
  Table t({"collective", "op", "group", "stride", "MB/GPU", "calls/step", "algorithm", "each (us)",
           "per step (ms)"});
  items = json::array();
  double largest_t = -1;
  for (const auto& it : st.items) {
    t.row({it.c.what, topology::step_op_name(it.c.op), it.c.group + std::to_string(it.c.group_size),
           commas(it.c.stride), mb(it.c.bytes), short_num(it.c.count), it.algorithm,
           sig(it.time_each_s * 1e6), sig(it.time_step_s * 1e3)});
    if (it.time_step_s > largest_t) {
      largest_t = it.time_step_s;
      largest = it.c.what;
    }
    items.push_back({{"what", it.c.what},
                     {"op", topology::step_op_name(it.c.op)},
                     {"group", it.c.group},
                     {"group_size", it.c.group_size},
                     {"stride", it.c.stride},
                     {"bytes", it.c.bytes},
                     {"count", it.c.count},
                     {"algorithm", it.algorithm},
                     {"time_each_us", it.time_each_s * 1e6},
                     {"time_step_ms", it.time_step_s * 1e3}});
  }
  t.row({"total", "", "", "", "", "", "", "", sig(st.total_s * 1e3)});
  return t.str();
}

std::string parallel_text(const topology::Parallelism& p) {
  return "TP" + std::to_string(p.tp) + " x CP" + std::to_string(p.cp) + " x PP" +
         std::to_string(p.pp) + " x DP" + std::to_string(p.dp) +
         (p.ep > 1 ? " (EP" + std::to_string(p.ep) + ")" : std::string());
}

// The step scaled down to a few ranks (what `workload run` measures), predicted per fabric.
int run_step_scaled(const StepArgs& a, const topology::Workload& w) {
  struct Target {
    std::string label;
    topology::Fabric fabric;
  };
  std::vector<Target> targets;
  if (!a.fabric_path.empty()) {
    topology::Fabric f = topology::load_fabric(a.fabric_path);
    if (f.gpus > 0 && a.scale_to > f.gpus)
      throw UsageError("--scale-to " + std::to_string(a.scale_to) + ": the fabric '" + f.name +
                       "' holds " + std::to_string(f.gpus) + " ranks");
    targets.push_back({f.name.empty() ? a.fabric_path : f.name, f});
  } else {
    for (const auto* p : parse_profiles(a.profiles, "--profile"))
      targets.push_back({p->key, topology::site_fabric(*p, a.scale_to, a.site)});
  }
  const topology::Workload r = topology::resolve_workload(w, 1 << 20);
  const topology::Workload small = topology::scaled_parallelism(r, a.scale_to);
  const auto plan = topology::scaled_step(r, a.scale_to);
  std::printf(
      "Training step %s scaled down to %lld ranks: %s (full step: %s); message sizes and "
      "counts of the full step\n",
      w.name.c_str(), static_cast<long long>(a.scale_to), parallel_text(small.parallel).c_str(),
      parallel_text(r.parallel).c_str());
  json out;
  out["command"] = "model step";
  out["scaled_to"] = a.scale_to;
  out["workload"] = topology::workload_to_json(w);
  out["parallel"] = {{"tp", small.parallel.tp},
                     {"cp", small.parallel.cp},
                     {"pp", small.parallel.pp},
                     {"dp", small.parallel.dp},
                     {"ep", small.parallel.ep}};
  out["targets"] = json::array();
  for (const auto& t : targets) {
    const topology::StepTiming st = topology::time_collectives(plan, topology::make_net(t.fabric));
    json items;
    std::string largest;
    std::printf("\n== %s\n%s", t.label.c_str(), step_table(st, items, largest).c_str());
    out["targets"].push_back(
        {{"label", t.label}, {"collectives", items}, {"total_ms", st.total_s * 1e3}});
  }
  std::printf(
      "assumptions: groups placed as the rank order TP, CP, DP, PP puts them; best "
      "modelled algorithm per collective; nothing overlaps\n");
  write_json(a.json_path, out);
  return 0;
}

int run_step(const StepArgs& a) {
  if (a.list) {
    for (const auto& n : topology::builtin_workload_names()) {
      const auto w = topology::builtin_workload(n);
      std::printf("%-16s %s\n", n.c_str(), w.description.c_str());
    }
    return 0;
  }
  if (!a.example.empty() && !a.config.empty())
    throw UsageError("--example and --config: give one of them");
  topology::Workload w =
      a.config.empty() ? topology::builtin_workload(a.example.empty() ? "llama3-405b" : a.example)
                       : topology::load_workload(a.config);
  if (a.power_mw < 0) throw UsageError("--power-mw: must be > 0");
  if (a.power_mw > 0) w.power_mw = a.power_mw;
  if (a.scale_to < 0) throw UsageError("--scale-to: must be >= 1");
  if (a.scale_to > 0) return run_step_scaled(a, w);
  if (!a.fabric_path.empty())
    throw UsageError(
        "--fabric: give --scale-to N too (a fitted fabric describes the machine "
        "measured, not the site)");
  const auto profiles = parse_profiles(a.profiles, "--profile");

  json out;
  out["command"] = "model step";
  out["workload"] = topology::workload_to_json(w);
  out["assumptions"] = {
      "rank order TP, CP, DP, PP (TP fastest); each collective placed where that order puts its "
      "group, all groups of a kind running at once",
      "best modelled algorithm per collective; reduce-scatter / all-gather cost half an all-reduce "
      "of the same buffer",
      "times add up as if nothing overlapped with compute or with each other (an upper bound on "
      "exposed communication)",
      "MoE routing uniform over the EP group (no node-limited routing)",
      "site per profile from " + sig(w.power_mw) + " MW with the site options"};
  out["profiles"] = json::array();

  std::printf("Training step: %s — %s\n", w.name.c_str(), w.description.c_str());
  if (!w.source.empty()) std::printf("source: %s\n", w.source.c_str());

  Table summary({"profile", "site GPUs", "GPUs used", "DP", "comm per step (ms)", "largest item"});
  std::vector<std::string> scaling_text;
  for (const auto* p : profiles) {
    topology::SiteOptions so = a.site;
    so.power_mw = w.power_mw;
    const topology::Site site = topology::plan_site(*p, so);
    const topology::Workload r = topology::resolve_workload(w, site.gpus);
    const std::int64_t fabric_gpus = std::max(site.gpus, r.parallel.gpus);
    const topology::Fabric fabric = topology::site_fabric(*p, fabric_gpus, so);
    const topology::ModelNet net = topology::make_net(fabric);
    const topology::StepTiming st = topology::time_step(r, net);

    if (p == profiles.front()) {
      const auto& par = r.parallel;
      std::printf(
          "model: %sB parameters%s, %d layers, hidden %d, seq %d, micro-batch %d, %d "
          "micro-batches per step\n",
          sig(r.model.params / 1e9).c_str(),
          r.model.expert_params > 0
              ? (" (" + sig(r.model.expert_params / 1e9) + "B in experts)").c_str()
              : "",
          r.model.layers, r.model.hidden, r.model.seq, r.model.micro_batch, r.model.microbatches);
      std::printf("parallel: TP%lld x CP%lld x PP%lld x DP%s%s, ZeRO %d\n",
                  static_cast<long long>(par.tp), static_cast<long long>(par.cp),
                  static_cast<long long>(par.pp),
                  w.parallel.dp_fill ? "fill" : std::to_string(par.dp).c_str(),
                  par.ep > 1 ? (" (EP" + std::to_string(par.ep) + ")").c_str() : "", par.zero);
    }
    std::printf("\n== %s: %s GPUs (%s site at %s MW holds %s)%s\n", p->key.c_str(),
                commas(r.parallel.gpus).c_str(), p->key.c_str(), sig(w.power_mw).c_str(),
                commas(site.gpus).c_str(),
                r.parallel.gpus > site.gpus ? " — more GPUs than the site holds" : "");
    json items;
    std::string largest;
    std::printf("%s", step_table(st, items, largest).c_str());

    // DP growing to fill the site.
    const std::int64_t replica = r.parallel.tp * r.parallel.cp * r.parallel.pp;
    std::int64_t fill_dp = site.gpus / replica;
    if (r.parallel.ep > 1) fill_dp = (fill_dp / r.parallel.ep) * r.parallel.ep;
    std::vector<std::int64_t> dps;
    const std::int64_t start = std::min<std::int64_t>(w.parallel.dp_fill ? 128 : r.parallel.dp,
                                                      std::max<std::int64_t>(fill_dp, 1));
    for (std::int64_t d = start; d < fill_dp; d *= 2) dps.push_back(d);
    if (fill_dp >= 1) dps.push_back(fill_dp);
    Table sc({"DP", "GPUs", "DP collectives (ms)", "all collectives (ms)"});
    json scaling = json::array();
    const topology::Fabric site_fab =
        topology::site_fabric(*p, std::max(site.gpus, fabric_gpus), so);
    const topology::ModelNet site_net = topology::make_net(site_fab);
    for (std::int64_t d : dps) {
      topology::Workload wd = r;
      wd.parallel.dp = d;
      wd.parallel.dp_fill = false;
      wd.parallel.gpus = 0;
      wd.model.global_batch = 0;  // keep micro-batches per pipeline fixed as DP grows
      wd = topology::resolve_workload(wd);
      const topology::StepTiming sd = topology::time_step(wd, site_net);
      double dp_t = 0;
      for (const auto& it : sd.items)
        if (it.c.group.rfind("DP", 0) == 0) dp_t += it.time_step_s;
      sc.row({commas(d), commas(wd.parallel.gpus), sig(dp_t * 1e3), sig(sd.total_s * 1e3)});
      scaling.push_back({{"dp", d},
                         {"gpus", wd.parallel.gpus},
                         {"dp_ms", dp_t * 1e3},
                         {"total_ms", sd.total_s * 1e3}});
    }
    std::printf("\nas DP grows to fill the %s MW %s site (micro-batches per pipeline fixed):\n%s",
                sig(w.power_mw).c_str(), p->key.c_str(), sc.str().c_str());
    summary.row({p->key, commas(site.gpus), commas(r.parallel.gpus), commas(r.parallel.dp),
                 sig(st.total_s * 1e3), largest});
    out["profiles"].push_back({{"profile", p->key},
                               {"site_gpus", site.gpus},
                               {"gpus", r.parallel.gpus},
                               {"dp", r.parallel.dp},
                               {"microbatches", r.model.microbatches},
                               {"collectives", items},
                               {"total_ms", st.total_s * 1e3},
                               {"dp_scaling", scaling},
                               {"fabric", topology::fabric_to_json(fabric)}});
  }
  std::printf("\nper hardware generation:\n%s", summary.str().c_str());
  std::printf("assumptions:\n");
  for (const auto& s : out["assumptions"]) std::printf("  - %s\n", s.get<std::string>().c_str());
  write_json(a.json_path, out);
  return 0;
}

}  // namespace

void add_model_commands(CLI::App& app, std::function<int()>& action) {
  CLI::App* model = app.add_subcommand(
      "model", "cost model: fit, site, predict, step, validate, profiles (no MPI)");
  model->require_subcommand(1);

  {
    auto a = std::make_shared<ProfilesArgs>();
    CLI::App* c = model->add_subcommand("profiles", "built-in hardware profiles and sources");
    c->add_option("--json", a->json_path, "write the same content as JSON");
    c->callback([&action, a] {
      action = [a] { return guarded("profiles", [&] { return run_profiles(*a); }); };
    });
  }
  {
    auto a = std::make_shared<SiteArgs>();
    CLI::App* c = model->add_subcommand(
        "site", "GPUs, nodes, domains and switch tiers a power budget holds, arithmetic shown");
    c->add_option("--power-mw", a->power_mw, "site power budget, MW")->capture_default_str();
    c->add_option("--gpu", a->gpu, "hardware profile (" + topology::profile_keys() + ") or all")
        ->capture_default_str();
    c->add_option("--gpus", a->gpus, "size the site for this many GPUs instead of a power budget");
    add_site_options(c, a->site);
    c->add_option("--fabric-out", a->fabric_out, "write the site's fabric JSON");
    c->add_option("--json", a->json_path, "write the same content as JSON");
    c->callback(
        [&action, a] { action = [a] { return guarded("site", [&] { return run_site(*a); }); }; });
  }
  {
    auto a = std::make_shared<PredictArgs>();
    CLI::App* c = model->add_subcommand(
        "predict", "time and busbw of every algorithm, sizes x GPU counts, per profile or fabric");
    c->add_option("--profile", a->profiles, "profiles (comma list) or all")->capture_default_str();
    c->add_option("--fabric", a->fabric_path, "fabric JSON (from model fit or model site)");
    c->add_option("--collective", a->collective, "allreduce, alltoall or all")
        ->capture_default_str();
    c->add_option("-b,--min-bytes", a->min_bytes, "smallest size per rank (K/M/G = 1024^k)")
        ->capture_default_str();
    c->add_option("-e,--max-bytes", a->max_bytes, "largest size per rank")->capture_default_str();
    c->add_option("-f,--step-factor", a->factor, "size multiplier")->capture_default_str();
    c->add_option("--gpus", a->gpus, "GPU counts: A:B (powers of two) or a comma list")
        ->capture_default_str();
    c->add_option("--algo", a->algos, "algorithms (comma list), default all");
    add_site_options(c, a->site);
    c->add_option("--json", a->json_path, "write every point as JSON (for the plotting script)");
    c->callback([&action, a, c] {
      a->profiles_given = c->count("--profile") > 0;
      action = [a] { return guarded("predict", [&] { return run_predict(*a); }); };
    });
  }
  for (const bool validate : {false, true}) {
    auto a = std::make_shared<FitArgs>();
    CLI::App* c =
        validate
            ? model->add_subcommand("validate", "fit on part of a sweep, predict the held-out rest")
            : model->add_subcommand("fit", "fit alpha/beta per tier and gamma to results");
    c->add_option("results", a->files, "result files (results/schema/result-v1)");
    c->add_option("--tiers", a->tiers, "auto, intra or intra,inter")->capture_default_str();
    c->add_option("--stat", a->stat, "time statistic: p50, mean or min")->capture_default_str();
    c->add_option("--dtype", a->dtype, "all-reduce element type to fit (default: most common)");
    c->add_option("--gamma-gbps", a->gamma_gbps,
                  "fix the reduction rate (GB/s; 0 = free) instead of fitting it");
    c->add_option("--json", a->json_path, "write the same content as JSON");
    c->add_option("-b,--min-bytes", a->min_bytes,
                  "use only records of at least this size (e.g. 4M: the sizes that stream from "
                  "memory, where one bandwidth holds)");
    c->add_option("-e,--max-bytes", a->max_bytes, "use only records of at most this size");
    c->add_flag("--plain", a->plain,
                "the textbook alpha-beta-gamma model: no local-copy cost delta, one intra-node "
                "beta (default: fit them where the records determine them)");
    c->add_option("--eager-limit", a->eager_limit,
                  "message size from which the MPI library inside a node uses a rendezvous (Open "
                  "MPI shared memory: 4K): fit its extra latency (LogGPS)");
    c->add_flag("--each-repeat", a->each_repeat,
                "keep repeated measurements of one point (--repeat, several files) as separate "
                "records (default: one record per point, the median of its repeats)");
    if (validate) {
      c->add_option("--bands", a->bands,
                    "size-band edges (e.g. 4K,8M): fit and validate each band on its own")
          ->delimiter(',');
      c->add_option("--holdout-every", a->holdout_every, "hold out every n-th size")
          ->capture_default_str();
      c->add_flag("--no-holdout-ranks", a->no_holdout_ranks,
                  "keep the largest rank count in training");
      c->add_option("--target", a->target, "median relative error target")->capture_default_str();
      c->add_flag("--strict", a->strict, "exit 1 when an algorithm misses the target");
      c->callback([&action, a] {
        action = [a] { return guarded("validate", [&] { return run_validate(*a); }); };
      });
    } else {
      c->add_option("-o,--output", a->output, "write the fitted fabric JSON");
      c->callback(
          [&action, a] { action = [a] { return guarded("fit", [&] { return run_fit(*a); }); }; });
    }
  }
  {
    auto a = std::make_shared<StepArgs>();
    CLI::App* c = model->add_subcommand(
        "step", "a training step's collectives and their time per hardware generation");
    c->add_option("--example", a->example,
                  "built-in workload: llama3-405b (default), deepseek-v3, frontier-300mw");
    c->add_option("--config", a->config, "workload JSON (model + parallel)");
    c->add_flag("--list", a->list, "list the built-in workloads");
    c->add_option("--profile", a->profiles, "profiles (comma list) or all")->capture_default_str();
    c->add_option("--power-mw", a->power_mw, "site power (default: the workload's, 300 MW)");
    c->add_option("--scale-to", a->scale_to,
                  "the step scaled down to N ranks (what `workload run` measures), predicted");
    c->add_option("--fabric", a->fabric_path, "with --scale-to: a fabric JSON (from model fit)");
    add_site_options(c, a->site);
    c->add_option("--json", a->json_path, "write the same content as JSON");
    c->callback(
        [&action, a] { action = [a] { return guarded("step", [&] { return run_step(*a); }); }; });
  }
}

}  // namespace collbench::bench
