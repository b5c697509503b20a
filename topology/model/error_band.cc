#include "topology/model/error_band.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "collectives/error.h"
#include "collectives/input_file.h"
#include "topology/model/numeric.h"
#include "topology/model/profiles.h"
#include "topology/model/site.h"

namespace collbench::model {
namespace {

std::string signed_pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.0f%%", v * 100);
  return buf;
}

std::string thousands(std::int64_t v) {
  std::string digits = std::to_string(v), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

const char* band_regime_name(BandRegime r) {
  switch (r) {
    case BandRegime::kOneDomain:
      return "one-domain";
    case BandRegime::kMultiDomain:
      return "multi-domain";
    case BandRegime::kMultiRack:
      return "multi-rack";
    case BandRegime::kAllToAll:
      return "all-to-all";
  }
  return "?";
}

const char* band_regime_key(BandRegime r) {
  switch (r) {
    case BandRegime::kOneDomain:
      return "one_domain";
    case BandRegime::kMultiDomain:
      return "multi_domain";
    case BandRegime::kMultiRack:
      return "multi_rack";
    case BandRegime::kAllToAll:
      return "alltoall";
  }
  return "?";
}

BandRegime band_regime(const CalibrationCase& c) {
  if (c.collective == Collective::kAllToAll) return BandRegime::kAllToAll;
  switch (c.regime) {
    case Regime::kOneDomain:
      return BandRegime::kOneDomain;
    case Regime::kMultiDomain:
      return BandRegime::kMultiDomain;
    case Regime::kMultiRack:
      return BandRegime::kMultiRack;
  }
  return BandRegime::kOneDomain;
}

BandRegime band_regime(Collective c, std::int64_t ranks, std::int64_t members_per_domain,
                       std::int64_t domain_gpus) {
  if (c == Collective::kAllToAll) return BandRegime::kAllToAll;
  if (ranks <= members_per_domain) return BandRegime::kOneDomain;
  return domain_gpus >= kRackScaleGpus ? BandRegime::kMultiRack : BandRegime::kMultiDomain;
}

Fabric case_fabric(const CalibrationCase& c) {
  Profile p = find_profile(c.profile);
  const CaseOverrides& o = c.overrides;
  if (o.scaleup_gpus) p.scaleup_gpus = static_cast<int>(*o.scaleup_gpus);
  if (o.scaleup_gbps) p.scaleup_gbps = *o.scaleup_gbps;
  if (o.nic_gbps) p.nic_gbps = *o.nic_gbps;
  if (o.in_switch) p.in_switch = *o.in_switch;
  Fabric f = site_fabric(p, c.gpus);
  f.name = c.id;
  // One flow (a ring channel, an all-to-all peer) uses one NIC: a GPU with two NICs gets each at
  // half its rate per flow; GPUs that share a NIC get it whole when the others are idle.
  const CaseSystem& y = c.system;
  if (y.nics_per_node > 0 && y.nic_gbps > 0 && y.nics_per_node != y.gpus_per_node)
    for (std::size_t k = 1; k < f.tiers.size(); ++k) f.tiers[k].flow_gbps = y.nic_gbps / 8;
  return f;
}

CaseResult predict_case(const CalibrationCase& c) {
  CaseResult r;
  r.c = &c;
  ModelNet net = make_net(case_fabric(c));
  net.fanout = c.fanout;
  if (c.model_algorithm == "best") {
    const BestChoice b = best_algorithm(net, c.model_collective, c.model_bytes, c.gpus);
    r.time_s = b.time_s;
    r.algorithm = std::string(model_algorithm(b.algo).name);
  } else {
    const auto a = find_model_algorithm(c.model_collective, c.model_algorithm);
    if (!a)
      throw UsageError(c.file + ": case '" + c.id + "': model.algorithm: '" + c.model_algorithm +
                       "' is not a modelled algorithm of that collective");
    r.time_s = predict_time(net, *a, c.model_bytes, c.gpus);
    r.algorithm = c.model_algorithm;
  }
  if (!(r.time_s > 0))
    throw UsageError(c.file + ": case '" + c.id + "': model.algorithm: '" + r.algorithm +
                     "' does not apply to this system");
  switch (c.compare) {
    case Compare::kBusbw:
      r.predicted = busbw_gbps(c.model_collective, c.model_bytes, c.gpus, r.time_s);
      r.error = r.predicted / c.value - 1;
      break;
    case Compare::kAlgbw:
      r.predicted = algbw_gbps(c.model_bytes, r.time_s);
      r.error = r.predicted / c.value - 1;
      break;
    case Compare::kTime:
      r.predicted = r.time_s * 1e6;
      r.error = c.value / r.predicted - 1;
      break;
  }
  return r;
}

ErrorStats error_stats(const std::vector<double>& errors) {
  ErrorStats s;
  s.n = static_cast<int>(errors.size());
  if (errors.empty()) return s;
  std::vector<double> abs;
  s.most_optimistic = errors.front();
  for (double e : errors) {
    abs.push_back(std::fabs(e));
    if (std::fabs(e) > std::fabs(s.worst)) s.worst = e;
    s.most_optimistic = std::max(s.most_optimistic, e);
  }
  s.median_abs = median_of(abs);
  return s;
}

CalibrationReport evaluate_calibration(const CalibrationRecord& record) {
  CalibrationReport rep;
  std::vector<double> all, train, test;
  for (const CalibrationCase& c : record.cases) {
    rep.results.push_back(predict_case(c));
    const double e = rep.results.back().error;
    all.push_back(e);
    (c.test ? test : train).push_back(e);
  }
  rep.overall = error_stats(all);
  rep.train = error_stats(train);
  rep.test = error_stats(test);
  for (BandRegime g : kBandRegimes) {
    std::vector<double> errs, errs_train, errs_test;
    RegimeBand band;
    band.regime = g;
    bool first = true;
    for (const CaseResult& r : rep.results) {
      if (band_regime(*r.c) != g) continue;
      errs.push_back(r.error);
      (r.c->test ? errs_test : errs_train).push_back(r.error);
      // What was measured relative to the model's figure, as a bandwidth.
      const double rel = 1.0 / (1.0 + r.error) - 1.0;
      band.lo = first ? rel : std::min(band.lo, rel);
      band.hi = first ? rel : std::max(band.hi, rel);
      band.max_gpus = std::max(band.max_gpus, r.c->gpus);
      first = false;
      ++band.cases;
    }
    rep.bands.push_back(band);
    if (errs.empty()) continue;
    rep.regimes.emplace_back(g, error_stats(errs));
    rep.regimes_train.emplace_back(g, error_stats(errs_train));
    rep.regimes_test.emplace_back(g, error_stats(errs_test));
  }
  return rep;
}

const CalibrationReport& builtin_calibration_report() {
  static const CalibrationReport report = evaluate_calibration(builtin_calibration());
  return report;
}

namespace {

nlohmann::json figures(const ErrorStats& s) {
  return {{"median_abs_error", s.median_abs}, {"worst_abs_error", std::fabs(s.worst)}};
}

void compare(const nlohmann::json& now, const nlohmann::json& base, const std::string& field,
             const std::string& where, std::vector<std::string>& worse) {
  if (!base.is_object()) throw UsageError(where + ": " + field + ": must be an object");
  for (const auto& [k, v] : base.items()) {
    const std::string f = field.empty() ? k : field + "." + k;
    if (field.empty() && (k == "schema" || k == "schema_version")) continue;
    if (!now.contains(k)) {
      worse.push_back(f + ": no longer computed");
      continue;
    }
    if (v.is_object()) {
      compare(now.at(k), v, f, where, worse);
      continue;
    }
    if (!v.is_number()) throw UsageError(where + ": " + f + ": must be a number");
    const double was = v.get<double>(), is = now.at(k).get<double>();
    // The file keeps four decimals; anything beyond that rounding is a regression.
    if (is > was + 5e-5) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "%s %.1f%% -> %.1f%%", f.c_str(), was * 100, is * 100);
      worse.push_back(buf);
    }
  }
}

}  // namespace

nlohmann::json baseline_figures(const CalibrationReport& now) {
  auto round4 = [](double v) { return std::round(v * 1e4) / 1e4; };
  nlohmann::json b = {{"schema", "collbench.calibration_baseline"}, {"schema_version", 1}};
  auto put = [&](nlohmann::json& at, const ErrorStats& s) {
    at = figures(s);
    for (auto& [k, v] : at.items()) v = round4(v.get<double>());
  };
  put(b["overall"], now.overall);
  put(b["train"], now.train);
  put(b["test"], now.test);
  for (std::size_t i = 0; i < now.regimes.size(); ++i) {
    nlohmann::json& r = b["regimes"][band_regime_key(now.regimes[i].first)];
    put(r["all"], now.regimes[i].second);
    if (now.regimes_train[i].second.n > 0) put(r["train"], now.regimes_train[i].second);
    if (now.regimes_test[i].second.n > 0) put(r["test"], now.regimes_test[i].second);
  }
  return b;
}

nlohmann::json load_baseline(const std::string& path) {
  const nlohmann::json j = read_input_json(path, "calibration baseline");
  if (!j.is_object() || !j.contains("schema") || j.at("schema") != "collbench.calibration_baseline")
    throw UsageError(path + ": schema: must be \"collbench.calibration_baseline\"");
  return j;
}

std::vector<std::string> baseline_regressions(const CalibrationReport& now,
                                              const nlohmann::json& baseline,
                                              const std::string& where) {
  std::vector<std::string> worse;
  compare(baseline_figures(now), baseline, "", where, worse);
  return worse;
}

PointBand point_band(const std::vector<RegimeBand>& bands, BandRegime regime, std::int64_t ranks) {
  PointBand p;
  p.regime = regime;
  for (const RegimeBand& b : bands) {
    if (b.regime != regime) continue;
    p.cases = b.cases;
    p.lo = b.lo;
    p.hi = b.hi;
    p.max_gpus = b.max_gpus;
    p.extrapolated = b.cases == 0 || ranks > b.max_gpus;
  }
  return p;
}

std::string band_text(const PointBand& b) {
  if (b.cases == 0)
    return std::string("no ") + band_regime_name(b.regime) + " case: no band, not calibrated";
  std::string s = signed_pct(b.lo) + "/" + signed_pct(b.hi) + " from " + std::to_string(b.cases) +
                  " " + band_regime_name(b.regime) + " cases";
  if (b.extrapolated) s += ", extrapolated beyond " + thousands(b.max_gpus) + " GPUs";
  return s;
}

}  // namespace collbench::model
