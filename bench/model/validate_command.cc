// `collbench model validate`: fit on part of a sweep, predict the held-out rest.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/model/fit_args.h"
#include "bench/model/validate_published.h"
#include "bench/sizes.h"
#include "bench/table.h"
#include "collectives/error.h"
#include "topology/model/fabric.h"
#include "topology/model/fit.h"

namespace collbench::bench::model_cli {
namespace {

using nlohmann::json;

int run_validate(const FitArgs& a) {
  check_outputs({{"--json", a.json_path}});
  model::ValidationOptions vo;
  vo.fit = fit_options(a);
  vo.holdout_every = a.holdout_every;
  vo.holdout_max_ranks = !a.no_holdout_ranks;
  if (!(a.target > 0)) throw UsageError("--target: must be > 0");
  vo.target = a.target;
  // validate_records refuses edges that are 0 or not ascending.
  for (const std::string& b : a.bands)
    vo.bands.push_back(static_cast<double>(parse_size(b, "--bands")));
  const InRange loaded = load_in_range(a);
  const model::ValidationResult v = model::validate_records(loaded.records, vo);
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
  auto verdict_of = [](const model::ValidationRow& r) {
    return r.test == 0 ? std::string("-")
           : r.native  ? std::string("info (best-of)")
           : r.pass    ? std::string("PASS")
                       : std::string("FAIL");
  };
  auto row_json = [](const model::ValidationRow& r) {
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

}  // namespace

// The flags of the fit that mean nothing against the published record.
constexpr const char* kFitOnlyFlags[] = {"--tiers",      "--stat",          "--dtype",
                                         "--gamma-gbps", "--min-bytes",     "--max-bytes",
                                         "--plain",      "--eager-limit",   "--each-repeat",
                                         "--bands",      "--holdout-every", "--no-holdout-ranks",
                                         "--target",     "--strict"};

void add_validate_command(CLI::App* model, Action& action) {
  auto a = std::make_shared<FitArgs>();
  auto pub = std::make_shared<PublishedArgs>();
  CLI::App* c = model->add_subcommand(
      "validate",
      "fit on part of a sweep and predict the held-out rest; or, with --published, the model "
      "against every published measurement of the calibration record");
  add_fit_flags(c, *a);
  c->add_option("--bands", a->bands,
                "size-band edges (e.g. 4K,8M): fit and validate each band on its own")
      ->delimiter(',');
  c->add_option("--holdout-every", a->holdout_every, "hold out every n-th size")
      ->capture_default_str();
  c->add_flag("--no-holdout-ranks", a->no_holdout_ranks, "keep the largest rank count in training");
  number_check(
      c->add_option("--target", a->target, "median relative error target")->capture_default_str(),
      0);
  c->add_flag("--strict", a->strict, "exit 1 when an algorithm misses the target");
  auto published = std::make_shared<bool>(false);
  c->add_flag(
      "--published", *published,
      "compare the model with the published measurements: the record collbench was built "
      "with (results/reference/published/), or the calibration files given instead of results");
  c->add_option("--baseline", pub->baseline,
                "with --published: exit 1 when a median or worst error is worse than in this "
                "file (results/reference/published/baseline/model-errors.json)");
  c->add_option("--baseline-out", pub->baseline_out,
                "with --published: write the current median and worst errors as a baseline");
  c->callback([&action, a, pub, published, c] {
    if (!*published) {
      if (c->count("--baseline") || c->count("--baseline-out"))
        action = [] {
          return guarded("validate", []() -> int {
            throw UsageError("--baseline and --baseline-out: only with --published");
          });
        };
      else
        action = [a] { return guarded("validate", [&] { return run_validate(*a); }); };
      return;
    }
    std::string fit_only;
    for (const char* f : kFitOnlyFlags)
      if (c->count(f)) fit_only = f;
    pub->files = a->files;
    pub->json_path = a->json_path;
    action = [pub, fit_only] {
      return guarded("validate", [&] {
        if (!fit_only.empty())
          throw UsageError(fit_only + ": a flag of the held-out fit, not of --published");
        return run_validate_published(*pub);
      });
    };
  });
}

}  // namespace collbench::bench::model_cli
