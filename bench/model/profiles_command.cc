// `collbench model profiles`: the built-in hardware profiles and their sources.
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
#include "topology/model/profiles.h"

namespace collbench::bench::model_cli {
namespace {

using nlohmann::json;

struct ProfilesArgs {
  std::string json_path;
};

int run_profiles(const ProfilesArgs& a) {
  check_outputs({{"--json", a.json_path}});
  Table t({"key", "system", "scale-up GPUs", "scale-up GB/s", "eff", "in-switch", "NIC GB/s",
           "radix", "GPU W", "unit kW / GPUs", "HBM GB", "HBM TB/s"});
  json out;
  out["command"] = "model profiles";
  out["profiles"] = json::array();
  for (const auto& p : model::builtin_profiles()) {
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
  for (const auto& p : model::builtin_profiles()) {
    std::printf("\n%s sources:\n", p.key.c_str());
    for (const auto& [field, src] : p.sources)
      std::printf("  %-22s %s\n", field.c_str(), src.c_str());
  }
  write_json(a.json_path, out);
  return 0;
}

}  // namespace

void add_profiles_command(CLI::App* model, Action& action) {
  auto a = std::make_shared<ProfilesArgs>();
  CLI::App* c = model->add_subcommand("profiles", "built-in hardware profiles and sources");
  c->add_option("--json", a->json_path, "write the same content as JSON");
  c->callback([&action, a] {
    action = [a] { return guarded("profiles", [&] { return run_profiles(*a); }); };
  });
}

}  // namespace collbench::bench::model_cli
