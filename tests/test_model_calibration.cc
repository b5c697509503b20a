// The calibration record (results/reference/published/) and the model against it: the loader's
// rules, bad input named by file, case and field, the error bands, and the checked-in baseline
// of the model's errors, which no change may make worse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "collectives/error.h"
#include "topology/model/calibration.h"
#include "topology/model/error_band.h"
#include "topology/model/sha256.h"

namespace collbench::model {
namespace {

using nlohmann::json;

TEST(ModelCalibration, Sha256KnownAnswers) {
  // FIPS 180-4 examples.
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(ModelCalibration, BuiltInRecordMeetsItsOwnRules) {
  const CalibrationRecord& r = builtin_calibration();
  ASSERT_GE(r.cases.size(), 30u);
  std::size_t beyond = 0, tests = 0;
  for (const auto& c : r.cases) {
    beyond += c.system.domains > 1 ? 1 : 0;
    tests += c.test ? 1 : 0;
    EXPECT_EQ(c.test,
              test_by_rule(c.url, c.gpus, std::string(collectives::collective_name(c.collective))))
        << c.id;
  }
  EXPECT_GE(beyond, 15u);
  EXPECT_GE(tests * 5, r.cases.size());
  // The files in the source tree are the ones compiled in.
  const CalibrationRecord files = load_calibration({COLLBENCH_PUBLISHED_DIR "/cases.json"});
  EXPECT_EQ(files.cases.size(), r.cases.size());
}

// The first case of the record as JSON, to break one field at a time.
json first_case() {
  std::ifstream in(COLLBENCH_PUBLISHED_DIR "/cases.json");
  const json doc = json::parse(in);
  return doc.at("cases").at(0);
}

json file_of(const json& cases) {
  return {{"schema", "collbench.published"}, {"schema_version", 1}, {"cases", cases}};
}

// The one-line message a bad file gives.
std::string error_of(const json& doc) {
  try {
    CalibrationRecord r;
    r.cases = calibration_cases_from_json(doc, "bad.json");
    check_record(r);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelCalibration, BadInputNamesFileCaseAndField) {
  const json good = first_case();
  const std::string id = good.at("id");
  {
    json c = good;
    c.erase("unit");
    const std::string e = error_of(file_of(json::array({c})));
    EXPECT_NE(e.find("bad.json: case '" + id + "' (cases[0]): unit: missing"), std::string::npos)
        << e;
  }
  {
    json c = good;
    c["unit"] = "Gbit/s";
    const std::string e = error_of(file_of(json::array({c})));
    EXPECT_NE(e.find("bad.json: case '" + id + "' (cases[0]): unit: 'Gbit/s'"), std::string::npos)
        << e;
  }
  {
    // 32 GPUs on 4 nodes but no NIC stated: no fabric holds them.
    json c = good;
    c["gpus"] = 32;
    c["regime"] = "multi_domain";
    c["system"]["nodes"] = 4;
    c["system"]["domains"] = 4;
    c["system"]["nics_per_node"] = 0;
    c["system"]["nic_gbps"] = 0;
    c["model"]["gpus"] = 32;
    const std::string e = error_of(file_of(json::array({c})));
    EXPECT_NE(e.find("bad.json: case '" + id + "' (cases[0]): system.nic_gbps:"), std::string::npos)
        << e;
    EXPECT_NE(e.find("no fabric holds them"), std::string::npos) << e;
  }
  {
    json c = good;
    c["model"]["algorithm"] = "telepathy";
    const std::string e = error_of(file_of(json::array({c})));
    EXPECT_NE(e.find("model.algorithm"), std::string::npos) << e;
  }
  {
    const std::string e = error_of(file_of(json::array({good, good})));
    EXPECT_NE(e.find("bad.json: case '" + id + "' (cases[1]): id: duplicate"), std::string::npos)
        << e;
  }
  {
    // The same measurement under a new id.
    json twin = good;
    twin["id"] = "twin-of-the-first";
    const std::string e = error_of(file_of(json::array({good, twin})));
    EXPECT_NE(e.find("case 'twin-of-the-first' (cases[1]): value: duplicate case"),
              std::string::npos)
        << e;
  }
  {
    json c = good;
    c["role"] = c["role"] == "train" ? "test" : "train";
    EXPECT_NE(error_of(file_of(json::array({c}))).find("role:"), std::string::npos);
  }
  EXPECT_NE(error_of(json::array()).find("bad.json: schema:"), std::string::npos);
  EXPECT_NE(error_of(file_of(json::array())).find("bad.json: cases:"), std::string::npos);
  for (const std::string& e : {error_of(file_of(json::array({good}))), std::string()})
    EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST(ModelCalibration, TooFewTestCasesNamesEveryFile) {
  // A rule over the whole record (a fuzzer found its message once named no file).
  CalibrationRecord r;
  for (const CalibrationCase& c : builtin_calibration().cases) {
    if (c.test) continue;
    r.cases.push_back(c);
    r.cases.back().file = r.cases.size() == 1 ? "a.json" : "b.json";
    if (r.cases.size() == 3) break;
  }
  ASSERT_EQ(r.cases.size(), 3u);
  std::string e;
  try {
    check_record(r);
  } catch (const UsageError& err) {
    e = err.what();
  }
  EXPECT_EQ(e, "a.json, b.json: only 0 of 3 cases are test cases (at least a fifth must be)");
  r.cases.push_back(*std::find_if(builtin_calibration().cases.begin(),
                                  builtin_calibration().cases.end(),
                                  [](const CalibrationCase& c) { return c.test; }));
  EXPECT_NO_THROW(check_record(r));
}

TEST(ModelCalibration, BandsCoverEveryRegimeAndMarkExtrapolation) {
  const CalibrationReport& rep = builtin_calibration_report();
  ASSERT_EQ(rep.results.size(), builtin_calibration().cases.size());
  for (const RegimeBand& b : rep.bands) {
    EXPECT_GT(b.cases, 0) << band_regime_name(b.regime);
    EXPECT_LE(b.lo, b.hi);
    EXPECT_GT(b.max_gpus, 0);
  }
  const PointBand in = point_band(rep.bands, BandRegime::kMultiDomain, 16);
  EXPECT_FALSE(in.extrapolated);
  const PointBand far = point_band(rep.bands, BandRegime::kMultiDomain, 262144);
  EXPECT_TRUE(far.extrapolated);
  EXPECT_NE(band_text(far).find("extrapolated beyond"), std::string::npos);
  // Where a projection point falls.
  EXPECT_EQ(band_regime(Collective::kAllReduce, 8, 8, 8), BandRegime::kOneDomain);
  EXPECT_EQ(band_regime(Collective::kAllReduce, 64, 8, 8), BandRegime::kMultiDomain);
  EXPECT_EQ(band_regime(Collective::kAllReduce, 144, 72, 72), BandRegime::kMultiRack);
  EXPECT_EQ(band_regime(Collective::kAllReduce, 128, 1, 8), BandRegime::kMultiDomain);
  EXPECT_EQ(band_regime(Collective::kAllToAll, 8, 8, 8), BandRegime::kAllToAll);
}

TEST(ModelCalibration, NoErrorWorseThanTheBaseline) {
  const json base = load_baseline(COLLBENCH_PUBLISHED_DIR "/baseline/model-errors.json");
  const auto worse = baseline_regressions(builtin_calibration_report(), base, "baseline");
  for (const auto& w : worse) ADD_FAILURE() << "worse than the baseline: " << w;
  // A baseline of a better model than this one is caught.
  json better = base;
  better["overall"]["median_abs_error"] = 0.0;
  EXPECT_FALSE(baseline_regressions(builtin_calibration_report(), better, "b").empty());
}

TEST(ModelCalibration, OneEightGpuNodeStaysWithinFivePercent) {
  for (const CaseResult& r : builtin_calibration_report().results) {
    const auto& c = *r.c;
    // An 8-GPU NVIDIA board, where the link efficiencies were calibrated.
    const std::string& g = c.system.gpu;
    if (c.gpus != 8 || c.system.gpus_per_domain != 8 || c.system.domains != 1) continue;
    if (g != "h100" && g != "h200" && g != "h800" && g != "b200") continue;
    EXPECT_LE(std::fabs(r.error), 0.05) << c.id << " " << r.error;
  }
}

}  // namespace
}  // namespace collbench::model
