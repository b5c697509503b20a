// The model against the calibration record, and the error band that gives every projection.
//
// Each case is predicted the way `collbench model predict` projects: the profile's site fabric at
// the case's GPU count (with the case's overrides), the algorithm the case names or the best
// modelled one. Its error is the model's optimism: model / published - 1 for bandwidths,
// published / model - 1 for times (> 0: the model promised more than was measured).
//
// Regimes for statistics and bands: all-reduce (and all-gather, reduce-scatter) inside one
// scale-up domain, across several 8-GPU domains, across rack-scale domains; all-to-all anywhere.
// A band is the range of measured / model over every case of its regime, train and test: a
// projected bandwidth V is expected between V·(1 + lo) and V·(1 + hi). A point beyond the largest
// GPU count of its regime's cases is marked extrapolated.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "topology/model/calibration.h"
#include "topology/model/cost_model.h"
#include "topology/model/fabric.h"

namespace collbench::model {

enum class BandRegime { kOneDomain, kMultiDomain, kMultiRack, kAllToAll };
inline constexpr BandRegime kBandRegimes[] = {BandRegime::kOneDomain, BandRegime::kMultiDomain,
                                              BandRegime::kMultiRack, BandRegime::kAllToAll};
const char* band_regime_name(BandRegime r);  // "one domain", "multi-domain", ...
const char* band_regime_key(BandRegime r);   // "one_domain", "multi_domain", ..., "alltoall"
BandRegime band_regime(const CalibrationCase& c);
// A projection point: its collective, its ranks, how many of them share one scale-up domain in
// the view of its group (1 for a group strided across domains), and the fabric's domain size.
BandRegime band_regime(Collective c, std::int64_t ranks, std::int64_t members_per_domain,
                       std::int64_t domain_gpus);

// The fabric a case is predicted on: its profile's site fabric at its GPU count, overrides
// applied.
Fabric case_fabric(const CalibrationCase& c);

struct CaseResult {
  const CalibrationCase* c = nullptr;
  std::string algorithm;  // the model algorithm that gave the figure
  double time_s = 0;
  double predicted = 0;  // in the case's unit
  double error = 0;      // optimism: > 0 when the model promised more than was measured
};
CaseResult predict_case(const CalibrationCase& c);

// Median and worst |error| (the worst keeps its sign), and the most optimistic error.
struct ErrorStats {
  int n = 0;
  double median_abs = 0;
  double worst = 0;
  double most_optimistic = 0;
};
ErrorStats error_stats(const std::vector<double>& errors);

struct RegimeBand {
  BandRegime regime = BandRegime::kOneDomain;
  int cases = 0;
  double lo = 0, hi = 0;  // measured / model - 1, lowest and highest over the cases
  std::int64_t max_gpus = 0;
};

struct CalibrationReport {
  std::vector<CaseResult> results;  // in record order
  ErrorStats overall, train, test;
  std::vector<std::pair<BandRegime, ErrorStats>> regimes;  // every regime with cases
  std::vector<std::pair<BandRegime, ErrorStats>> regimes_train, regimes_test;
  std::vector<RegimeBand> bands;  // one per regime, cases = 0 where none
};
CalibrationReport evaluate_calibration(const CalibrationRecord& record);
// The built-in record's report, computed once.
const CalibrationReport& builtin_calibration_report();

// A baseline of the record's figures (median and worst |error| overall, train, test and per
// regime), as `model validate --published --baseline-out` writes it; the figures of `now` worse
// than the baseline's (beyond the file's rounding), as lines "regimes.multi_rack.all.worst_error
// 20.1% -> 24.0%". load_baseline throws UsageError naming the file.
nlohmann::json baseline_figures(const CalibrationReport& now);
nlohmann::json load_baseline(const std::string& path);
std::vector<std::string> baseline_regressions(const CalibrationReport& now,
                                              const nlohmann::json& baseline,
                                              const std::string& where);

// A projected figure's band and whether it lies beyond its regime's calibrated GPU counts.
struct PointBand {
  BandRegime regime = BandRegime::kOneDomain;
  int cases = 0;  // 0: no case in the regime, no band
  double lo = 0, hi = 0;
  bool extrapolated = false;
  std::int64_t max_gpus = 0;
};
PointBand point_band(const std::vector<RegimeBand>& bands, BandRegime regime, std::int64_t ranks);
// "-18%/+6% from 14 multi-domain cases" (+ ", extrapolated beyond 1,440 GPUs").
std::string band_text(const PointBand& b);

}  // namespace collbench::model
