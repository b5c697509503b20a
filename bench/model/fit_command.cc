// `collbench model fit`: alpha/beta per tier, gamma and delta fitted to measured result files.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/model/fit_args.h"
#include "bench/sizes.h"
#include "bench/table.h"
#include "collectives/error.h"
#include "topology/model/fabric.h"
#include "topology/model/fit.h"

namespace collbench::bench::model_cli {
namespace {

using nlohmann::json;

int run_fit(const FitArgs& a) {
  check_outputs({{"--output", a.output}, {"--json", a.json_path}});
  const model::FitOptions opt = fit_options(a);
  const InRange loaded = load_in_range(a);
  const model::FitResult r = model::fit_records(loaded.records, opt);
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
    save_fabric(r.fabric, a.output);
    std::printf("wrote fabric %s\n", a.output.c_str());
  }
  json out = {{"command", "model fit"},  {"files", loaded.files},
              {"stat", a.stat},          {"records_used", r.records_used},
              {"outliers", r.outliers},  {"iterations", r.iterations},
              {"merged", loaded.merged}, {"skipped", loaded.skipped},
              {"notes", r.notes},        {"parameters", params_json(r)},
              {"quality", quality},      {"fabric", model::fabric_to_json(r.fabric)}};
  write_json(a.json_path, out);
  return 0;
}

}  // namespace

void add_fit_command(CLI::App* model, Action& action) {
  auto a = std::make_shared<FitArgs>();
  CLI::App* c = model->add_subcommand("fit", "fit alpha/beta per tier and gamma to results");
  add_fit_flags(c, *a);
  c->add_option("-o,--output", a->output, "write the fitted fabric JSON");
  c->callback(
      [&action, a] { action = [a] { return guarded("fit", [&] { return run_fit(*a); }); }; });
}

}  // namespace collbench::bench::model_cli
