// `collbench model site`: GPUs, nodes, domains and switch tiers a power budget holds.
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
#include "topology/model/fabric.h"
#include "topology/model/site.h"

namespace collbench::bench::model_cli {
namespace {

using nlohmann::json;

struct SiteArgs {
  std::string gpu = "h100";
  double power_mw = 300;
  std::int64_t gpus = 0;
  model::SiteOptions site;
  std::string json_path;
  std::string fabric_out;
};

json site_json(const model::Site& s) {
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
          {"fabric", model::fabric_to_json(s.fabric)}};
}

int run_site(SiteArgs a) {
  check_outputs({{"--json", a.json_path}, {"--fabric-out", a.fabric_out}});
  a.site.power_mw = a.power_mw;
  a.site.gpus = a.gpus;
  const auto profiles = parse_profiles(a.gpu, "--gpu");
  if (!a.fabric_out.empty() && profiles.size() != 1)
    throw UsageError("--fabric-out: give one profile with --gpu (not 'all')");
  json out;
  out["command"] = "model site";
  out["sites"] = json::array();
  std::vector<model::Site> sites;
  for (const auto* p : profiles) {
    model::Site s = model::plan_site(*p, a.site);
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
    // How far the published cases reach on this kind of site: beyond, projections extrapolate.
    json coverage = json::array();
    std::printf("\ncalibration (collbench model validate --published):\n");
    for (model::Collective c : {model::Collective::kAllReduce, model::Collective::kAllToAll}) {
      const model::PointBand b = band_of(c, s.gpus, p->scaleup_gpus, p->scaleup_gpus);
      std::printf("  %s across this site's domains: %s\n",
                  std::string(collectives::collective_name(c)).c_str(),
                  model::band_text(b).c_str());
      coverage.push_back(
          {{"collective", std::string(collectives::collective_name(c))}, {"band", band_json(b)}});
    }
    std::printf("\n");
    out["sites"].push_back(site_json(s));
    out["sites"].back()["calibration"] = coverage;
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
      "public figures: xAI's Colossus, reported at over 300 MW, holds over 200,000 Hopper and "
      "Blackwell GPUs (docs/sources.md §4)\n");
  out["reference"] =
      "Colossus (xAI), reported at over 300 MW: over 200,000 Hopper and Blackwell GPUs "
      "(docs/sources.md §4)";
  if (!a.fabric_out.empty()) {
    save_fabric(sites.front().fabric, a.fabric_out);
    std::printf("wrote fabric %s\n", a.fabric_out.c_str());
  }
  write_json(a.json_path, out);
  return 0;
}

}  // namespace

void add_site_command(CLI::App* model, Action& action) {
  auto a = std::make_shared<SiteArgs>();
  CLI::App* c = model->add_subcommand(
      "site", "GPUs, nodes, domains and switch tiers a power budget holds, arithmetic shown");
  number_check(
      c->add_option("--power-mw", a->power_mw, "site power budget, MW")->capture_default_str(), 0);
  c->add_option("--gpu", a->gpu, "hardware profile (" + model::profile_keys() + ") or all")
      ->capture_default_str();
  number_check(
      c->add_option("--gpus", a->gpus, "size the site for this many GPUs instead of a power budget")
          ->check(CLI::Range(std::int64_t{1}, std::int64_t{1000000000})),
      0);
  add_site_options(c, a->site);
  c->add_option("--fabric-out", a->fabric_out, "write the site's fabric JSON");
  c->add_option("--json", a->json_path, "write the same content as JSON");
  c->callback(
      [&action, a] { action = [a] { return guarded("site", [&] { return run_site(*a); }); }; });
}

}  // namespace collbench::bench::model_cli
