// `collbench model step`: a training step's collectives and their time per hardware generation.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/model/common.h"
#include "bench/sizes.h"
#include "bench/table.h"
#include "collectives/dtype.h"
#include "collectives/error.h"
#include "topology/model/cost_model.h"
#include "topology/model/fabric.h"
#include "topology/model/site.h"
#include "topology/model/workload.h"

namespace collbench::bench::model_cli {
namespace {

using collectives::Collective;
using nlohmann::json;

struct StepArgs {
  std::string example;
  std::string config;
  std::string profiles = "all";
  double power_mw = 0;  // 0: the workload's
  model::SiteOptions site;
  std::string json_path;
  bool list = false;
  std::int64_t scale_to = 0;  // > 0: the step scaled down to this many ranks
  std::string fabric_path;    // with scale_to: predict on this fabric (a fitted one)
  bool strict = false;        // more GPUs than the power budget holds: an error, not a note
};

// The error band of one collective of the step: its regime by the group's view of the fabric.
model::PointBand item_band(const model::StepCost& it, const model::ModelNet& net,
                           std::int64_t domain_gpus) {
  if (it.c.op == model::StepOp::kSendRecv) return {};  // not in the record: cases = 0
  const model::ModelNet g = model::strided_net(net, it.c.stride);
  // Members of the group in one scale-up domain: one when it strides across domains.
  const std::int64_t members = g.shared_tier0 ? 1 : g.tiers < 2 ? it.c.group_size : g.group[0];
  return band_of(model::step_collective(it.c.op), it.c.group_size, members, domain_gpus);
}

std::string mb(double bytes) { return sig(bytes / 1e6); }

// The step's collectives as a table and as JSON, each with its error band; `largest` names the
// costliest.
std::string step_table(const model::StepTiming& st, const model::ModelNet& net,
                       std::int64_t domain_gpus, json& items, std::string& largest) {
  Table t({"collective", "op", "group", "stride", "MB/GPU", "calls/step", "algorithm", "each (us)",
           "per step (ms)", "band", "regime"});
  items = json::array();
  double largest_t = -1, low = 0, high = 0;
  bool banded = true;
  for (const auto& it : st.items) {
    const model::PointBand b = item_band(it, net, domain_gpus);
    banded = banded && b.cases > 0;
    low += b.cases > 0 ? it.time_step_s / (1 + b.hi) : it.time_step_s;
    high += b.cases > 0 ? it.time_step_s / (1 + b.lo) : it.time_step_s;
    t.row({it.c.what, model::step_op_name(it.c.op), it.c.group + std::to_string(it.c.group_size),
           commas(it.c.stride), mb(it.c.bytes), short_num(it.c.count), it.algorithm,
           sig(it.time_each_s * 1e6), sig(it.time_step_s * 1e3), band_cell(b),
           b.cases > 0 ? model::band_regime_name(b.regime) : "not calibrated"});
    if (it.time_step_s > largest_t) {
      largest_t = it.time_step_s;
      largest = it.c.what;
    }
    items.push_back({{"what", it.c.what},
                     {"op", model::step_op_name(it.c.op)},
                     {"group", it.c.group},
                     {"group_size", it.c.group_size},
                     {"stride", it.c.stride},
                     {"bytes", it.c.bytes},
                     {"count", it.c.count},
                     {"algorithm", it.algorithm},
                     {"time_each_us", it.time_each_s * 1e6},
                     {"time_step_ms", it.time_step_s * 1e3},
                     {"band", band_json(b)},
                     {"time_step_low_ms", it.time_step_s / (1 + (b.cases ? b.hi : 0)) * 1e3},
                     {"time_step_high_ms", it.time_step_s / (1 + (b.cases ? b.lo : 0)) * 1e3}});
  }
  t.row({"total", "", "", "", "", "", "", "", sig(st.total_s * 1e3),
         sig(low * 1e3) + "-" + sig(high * 1e3) + " ms" + (banded ? "" : " (part)"), ""});
  items.push_back({{"what", "total"},
                   {"time_step_ms", st.total_s * 1e3},
                   {"time_step_low_ms", low * 1e3},
                   {"time_step_high_ms", high * 1e3},
                   {"every_item_banded", banded}});
  return t.str() +
         "band: measured / model - 1 over the published cases of the collective's regime; * "
         "extrapolated beyond the largest of them; the total's range adds the items' (send/recv "
         "has no case: counted as modelled)\n";
}

// The step scaled down to a few ranks (what `workload run` measures), predicted per fabric.
int run_step_scaled(const StepArgs& a, const model::Workload& w) {
  struct Target {
    std::string label;
    model::Fabric fabric;
  };
  std::vector<Target> targets;
  if (!a.fabric_path.empty()) {
    model::Fabric f = model::load_fabric(a.fabric_path);
    if (f.gpus > 0 && a.scale_to > f.gpus)
      throw UsageError("--scale-to " + std::to_string(a.scale_to) + ": the fabric '" + f.name +
                       "' holds " + std::to_string(f.gpus) + " ranks");
    targets.push_back({f.name.empty() ? a.fabric_path : f.name, f});
  } else {
    for (const auto* p : parse_profiles(a.profiles, "--profile"))
      targets.push_back({p->key, model::site_fabric(*p, a.scale_to, a.site)});
  }
  const model::Workload r = model::resolve_workload(w, 1 << 20);
  if (a.scale_to > r.parallel.gpus)
    throw UsageError("--scale-to " + std::to_string(a.scale_to) + ": above the full step of '" +
                     w.name + "' (" + commas(r.parallel.gpus) +
                     " ranks); give at most that many ranks");
  const model::Workload small = model::scaled_parallelism(r, a.scale_to);
  const auto plan = model::scaled_step(r, a.scale_to);
  std::printf(
      "Training step %s scaled down to %lld ranks: %s (full step: %s); message sizes and "
      "counts of the full step\n",
      w.name.c_str(), static_cast<long long>(a.scale_to),
      model::parallel_text(small.parallel).c_str(), model::parallel_text(r.parallel).c_str());
  json out;
  out["command"] = "model step";
  out["scaled_to"] = a.scale_to;
  out["workload"] = model::workload_to_json(w);
  out["parallel"] = {{"tp", small.parallel.tp},
                     {"cp", small.parallel.cp},
                     {"pp", small.parallel.pp},
                     {"dp", small.parallel.dp},
                     {"ep", small.parallel.ep}};
  out["targets"] = json::array();
  for (const auto& t : targets) {
    const model::ModelNet net = model::make_net(t.fabric);
    const model::StepTiming st = model::time_collectives(plan, net);
    json items;
    std::string largest;
    std::printf("\n== %s\n%s", t.label.c_str(),
                step_table(st, net, t.fabric.tiers.front().group_size, items, largest).c_str());
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
  check_outputs({{"--json", a.json_path}});
  if (a.list) {
    for (const auto& n : model::builtin_workload_names()) {
      const auto w = model::builtin_workload(n);
      std::printf("%-16s %s\n", n.c_str(), w.description.c_str());
    }
    return 0;
  }
  if (!a.example.empty() && !a.config.empty())
    throw UsageError("--example and --config: give one of them");
  model::Workload w = a.config.empty()
                          ? model::builtin_workload(a.example.empty() ? "llama3-405b" : a.example)
                          : model::load_workload(a.config);
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
  out["workload"] = model::workload_to_json(w);
  out["assumptions"] = {
      "rank order TP, CP, DP, PP (TP fastest); each collective placed where that order puts its "
      "group, all groups of a kind running at once",
      "best modelled algorithm per collective, each collective with its own formulas "
      "(reduce-scatter and all-gather included)",
      "times add up as if nothing overlapped with compute or with each other (an upper bound on "
      "exposed communication)",
      "MoE routing uniform over the EP group (no node-limited routing)",
      "site per profile from " + sig(w.power_mw) + " MW with the site options"};
  out["profiles"] = json::array();
  out["calibration"] = calibration_json();

  std::printf("Training step: %s — %s\n", w.name.c_str(), w.description.c_str());
  if (!w.source.empty()) std::printf("source: %s\n", w.source.c_str());

  Table summary({"profile", "site GPUs", "GPUs used", "DP", "comm per step (ms)", "largest item"});
  std::vector<std::string> scaling_text;
  for (const auto* p : profiles) {
    model::SiteOptions so = a.site;
    so.power_mw = w.power_mw;
    const model::Site site = model::plan_site(*p, so);
    const model::Workload r = model::resolve_workload(w, site.gpus);
    if (a.strict)
      if (const std::string line = over_budget(*p, so, r.parallel.gpus); !line.empty())
        throw UsageError(line);
    const std::int64_t fabric_gpus = std::max(site.gpus, r.parallel.gpus);
    const model::Fabric fabric = model::site_fabric(*p, fabric_gpus, so);
    const model::ModelNet net = model::make_net(fabric);
    const model::StepTiming st = model::time_step(r, net);

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
    std::printf("\n== %s: %s GPUs (%s site at %s MW holds %s)\n", p->key.c_str(),
                commas(r.parallel.gpus).c_str(), p->key.c_str(), sig(w.power_mw).c_str(),
                commas(site.gpus).c_str());
    if (const std::string line = over_budget(*p, so, r.parallel.gpus); !line.empty())
      std::printf("beyond the power budget: %s\n", line.c_str());
    json items;
    std::string largest;
    std::printf("%s", step_table(st, net, fabric.tiers.front().group_size, items, largest).c_str());

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
    const model::Fabric site_fab = model::site_fabric(*p, std::max(site.gpus, fabric_gpus), so);
    const model::ModelNet site_net = model::make_net(site_fab);
    for (std::int64_t d : dps) {
      model::Workload wd = r;
      wd.parallel.dp = d;
      wd.parallel.dp_fill = false;
      wd.parallel.gpus = 0;
      wd.model.global_batch = 0;  // keep micro-batches per pipeline fixed as DP grows
      wd = model::resolve_workload(wd);
      const model::StepTiming sd = model::time_step(wd, site_net);
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
                               {"beyond_power_budget", over_budget(*p, so, r.parallel.gpus)},
                               {"site_gpus", site.gpus},
                               {"gpus", r.parallel.gpus},
                               {"dp", r.parallel.dp},
                               {"microbatches", r.model.microbatches},
                               {"collectives", items},
                               {"total_ms", st.total_s * 1e3},
                               {"dp_scaling", scaling},
                               {"fabric", model::fabric_to_json(fabric)}});
  }
  std::printf("\nper hardware generation:\n%s", summary.str().c_str());
  std::printf("assumptions:\n");
  for (const auto& s : out["assumptions"]) std::printf("  - %s\n", s.get<std::string>().c_str());
  write_json(a.json_path, out);
  return 0;
}

}  // namespace

void add_step_command(CLI::App* model, Action& action) {
  auto a = std::make_shared<StepArgs>();
  CLI::App* c = model->add_subcommand(
      "step", "a training step's collectives and their time per hardware generation");
  c->add_option("--example", a->example,
                "built-in workload: llama3-405b (default), deepseek-v3, frontier-300mw");
  c->add_option("--config", a->config, "workload JSON (model + parallel)");
  c->add_flag("--list", a->list, "list the built-in workloads");
  c->add_option("--profile", a->profiles, "profiles (comma list) or all")->capture_default_str();
  number_check(
      c->add_option("--power-mw", a->power_mw, "site power (default: the workload's, 300 MW)"), 0);
  number_check(c->add_option("--scale-to", a->scale_to,
                             "the step scaled down to N ranks (what `workload run` measures), "
                             "predicted"),
               0);
  c->add_option("--fabric", a->fabric_path, "with --scale-to: a fabric JSON (from model fit)");
  add_site_options(c, a->site);
  c->add_flag("--strict", a->strict,
              "a workload of more GPUs than the power budget holds is an error (exit 2)");
  c->add_option("--json", a->json_path, "write the same content as JSON");
  c->callback(
      [&action, a] { action = [a] { return guarded("step", [&] { return run_step(*a); }); }; });
}

}  // namespace collbench::bench::model_cli
