// `collbench model validate --published [FILES]`: the model against every published measurement of
// the calibration record (topology/model/calibration.h, error_band.h).
#include "bench/model/validate_published.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench/sizes.h"
#include "bench/table.h"
#include "collectives/error.h"
#include "topology/model/calibration.h"
#include "topology/model/error_band.h"

namespace collbench::bench::model_cli {
namespace {

using model::BandRegime;
using model::CalibrationReport;
using model::ErrorStats;
using nlohmann::json;

// The targets the model is held to (docs/model.md §7).
constexpr double kMedianTarget = 0.10;
constexpr double kCaseBound = 0.25;
constexpr double kBeyondDomainOptimism = 0.15;
constexpr double kTestVsTrainPoints = 0.05;
constexpr double kOneNodeBound = 0.05;

std::string signed_pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", v * 100);
  return buf;
}

json stats_json(const ErrorStats& s) {
  return {{"cases", s.n},
          {"median_abs_error", s.median_abs},
          {"worst_error", s.worst},
          {"most_optimistic", s.most_optimistic}};
}

std::vector<std::string> stats_row(const std::string& group, const ErrorStats& s) {
  return {group, std::to_string(s.n), s.n ? pct(s.median_abs) : "-",
          s.n ? signed_pct(s.worst) : "-", s.n ? signed_pct(s.most_optimistic) : "-"};
}

std::string unit_text(const model::CalibrationCase& c) {
  switch (c.metric) {
    case model::Metric::kBusbw:
      return "busbw GB/s";
    case model::Metric::kBandwidth:
      return "bytes/time GB/s";
    case model::Metric::kTime:
      return "time us";
  }
  return "";
}

// Per case: published, predicted, error; grouped by regime as the bands are.
json case_table(const CalibrationReport& rep) {
  json cases = json::array();
  for (BandRegime g : model::kBandRegimes) {
    Table t({"case", "role", "GPUs", "collective", "size", "measure", "published", "model", "error",
             "model algorithm"});
    int n = 0;
    for (const auto& r : rep.results) {
      const auto& c = *r.c;
      if (model::band_regime(c) != g) continue;
      ++n;
      t.row({c.id, c.test ? "test" : "train", commas(c.gpus),
             std::string(collectives::collective_name(c.collective)),
             collectives::human_bytes(static_cast<std::int64_t>(c.bytes)), unit_text(c),
             sig(c.value), sig(r.predicted), signed_pct(r.error), r.algorithm});
      cases.push_back({{"id", c.id},
                       {"file", c.file},
                       {"role", c.test ? "test" : "train"},
                       {"regime", model::band_regime_key(g)},
                       {"gpus", c.gpus},
                       {"collective", std::string(collectives::collective_name(c.collective))},
                       {"bytes", c.model_bytes},
                       {"unit", c.unit},
                       {"published", c.value},
                       {"predicted", r.predicted},
                       {"ratio", 1 + r.error},
                       {"error", r.error},
                       {"model_algorithm", r.algorithm},
                       {"source", c.url}});
    }
    if (n == 0) continue;
    std::printf("\n== %s (%d cases)\n%s", model::band_regime_name(g), n, t.str().c_str());
  }
  return cases;
}

json summary_table(const CalibrationReport& rep) {
  Table t({"group", "cases", "median |error|", "worst error", "most optimistic"});
  json j;
  t.row(stats_row("all", rep.overall));
  t.row(stats_row("train", rep.train));
  t.row(stats_row("test", rep.test));
  j["overall"] = stats_json(rep.overall);
  j["train"] = stats_json(rep.train);
  j["test"] = stats_json(rep.test);
  for (std::size_t i = 0; i < rep.regimes.size(); ++i) {
    const BandRegime g = rep.regimes[i].first;
    const std::string name = model::band_regime_name(g);
    t.row(stats_row(name, rep.regimes[i].second));
    t.row(stats_row("  " + name + " train", rep.regimes_train[i].second));
    t.row(stats_row("  " + name + " test", rep.regimes_test[i].second));
    j["regimes"][model::band_regime_key(g)] = {{"all", stats_json(rep.regimes[i].second)},
                                               {"train", stats_json(rep.regimes_train[i].second)},
                                               {"test", stats_json(rep.regimes_test[i].second)}};
  }
  std::printf(
      "\nerror = model / published - 1 for bandwidths, published / model - 1 for times (> 0: the "
      "model promised more than was measured)\n%s",
      t.str().c_str());
  return j;
}

// One 8-GPU NVIDIA node (HGX), where the link efficiencies were calibrated: the model must stay
// within ±5% there.
bool one_hgx_node(const model::CalibrationCase& c) {
  const std::string& g = c.system.gpu;
  return c.gpus == 8 && c.system.gpus_per_domain == 8 && c.system.domains == 1 &&
         (g == "h100" || g == "h200" || g == "h800" || g == "b200");
}

// The targets, each with its verdict and the cases that miss it.
json targets(const CalibrationReport& rep) {
  std::vector<std::string> outside, optimistic, one_node;
  for (const auto& r : rep.results) {
    const auto& c = *r.c;
    if (std::fabs(r.error) > kCaseBound) outside.push_back(c.id + " " + signed_pct(r.error));
    if (c.regime != model::Regime::kOneDomain && r.error > kBeyondDomainOptimism)
      optimistic.push_back(c.id + " " + signed_pct(r.error));
    if (one_hgx_node(c) && std::fabs(r.error) > kOneNodeBound)
      one_node.push_back(c.id + " " + signed_pct(r.error));
  }
  const double gap = rep.test.median_abs - rep.train.median_abs;
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  json out = json::array();
  auto add = [&](const std::string& what, bool met, const std::string& detail) {
    std::printf("  %-4s %s%s\n", met ? "met" : "MISS", what.c_str(),
                detail.empty() ? "" : (": " + detail).c_str());
    out.push_back({{"target", what}, {"met", met}, {"detail", detail}});
  };
  std::printf("\ntargets:\n");
  add("median |error| <= " + pct(kMedianTarget) + " over the record (" +
          pct(rep.overall.median_abs) + ")",
      rep.overall.median_abs <= kMedianTarget, "");
  add("every case within +-" + pct(kCaseBound) + " (" + std::to_string(outside.size()) +
          " outside)",
      outside.empty(), list(outside));
  add("no case beyond one domain optimistic by more than " + pct(kBeyondDomainOptimism),
      optimistic.empty(), list(optimistic));
  add("test median no worse than train by more than " + pct(kTestVsTrainPoints).substr(0, 3) +
          " points (test " + pct(rep.test.median_abs) + ", train " + pct(rep.train.median_abs) +
          ")",
      gap <= kTestVsTrainPoints, "");
  add("one 8-GPU HGX node within +-" + pct(kOneNodeBound), one_node.empty(), list(one_node));
  return out;
}

}  // namespace

int run_validate_published(const PublishedArgs& a) {
  // Outputs checked before anything is read or printed, like every other command's.
  check_outputs({{"--json", a.json_path}, {"--baseline-out", a.baseline_out}});
  const nlohmann::json baseline =
      a.baseline.empty() ? nlohmann::json() : model::load_baseline(a.baseline);
  const model::CalibrationRecord loaded =
      a.files.empty() ? model::CalibrationRecord{} : model::load_calibration(a.files);
  const model::CalibrationRecord& record = a.files.empty() ? model::builtin_calibration() : loaded;
  const CalibrationReport rep = model::evaluate_calibration(record);
  std::size_t tests = 0;
  for (const auto& c : record.cases) tests += c.test ? 1 : 0;
  std::printf(
      "The model against the published measurements: %zu cases (%zu test, %zu train) from\n",
      record.cases.size(), tests, record.cases.size() - tests);
  for (const auto& f : record.files) std::printf("  %s\n", f.c_str());
  std::printf(
      "each case predicted on its profile's site fabric at its GPU count, its overrides "
      "applied\n");
  json out;
  out["command"] = "model validate --published";
  out["files"] = record.files;
  out["cases"] = case_table(rep);
  out["summary"] = summary_table(rep);
  out["targets"] = targets(rep);
  json bands = json::array();
  for (const auto& b : rep.bands) bands.push_back(regime_band_json(b, "max_gpus"));
  out["bands"] = bands;
  std::printf("\nerror bands of the projections (measured / model - 1, over train and test):\n");
  for (const auto& b : rep.bands) {
    model::PointBand p = model::point_band(rep.bands, b.regime, 0);
    std::printf("  %s\n", model::band_text(p).c_str());
  }
  int rc = 0;
  if (!a.baseline.empty()) {
    const auto worse = model::baseline_regressions(rep, baseline, a.baseline);
    out["baseline"] = {{"file", a.baseline}, {"worse", worse}};
    if (worse.empty()) {
      std::printf("\nbaseline %s: no figure got worse\n", a.baseline.c_str());
    } else {
      std::printf("\nbaseline %s: WORSE\n", a.baseline.c_str());
      for (const auto& w : worse) std::printf("  %s\n", w.c_str());
      rc = 1;
    }
  }
  if (!a.baseline_out.empty()) {
    write_json(a.baseline_out, model::baseline_figures(rep));
  }
  write_json(a.json_path, out);
  return rc;
}

}  // namespace collbench::bench::model_cli
