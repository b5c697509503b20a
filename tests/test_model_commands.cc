// `collbench model ...` end to end through CLI11, without MPI: exit codes, the one-line errors,
// and the JSON each command writes.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>

#include "bench/model/commands.h"
#include "test_model_util.h"
#include "topology/model/workload.h"

namespace collbench::bench {
namespace {

using nlohmann::json;

struct Outcome {
  int rc = -1;
  std::string err;
};

Outcome run(std::vector<std::string> args) {
  CLI::App app{"collbench"};
  std::function<int()> action;
  add_model_commands(app, action);
  std::vector<std::string> argv_s{"collbench"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  Outcome r;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    r.rc = 100;
    r.err = e.what();
    return r;
  }
  if (!action) return r;
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  r.rc = action();
  testing::internal::GetCapturedStdout();
  r.err = testing::internal::GetCapturedStderr();
  return r;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

class ModelCommands : public testing::Test {
 protected:
  void SetUp() override { dir_ = model_test::temp_dir("cmd"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

TEST_F(ModelCommands, SiteWritesTheArithmeticAndTheFabric) {
  const Outcome r = run({"model", "site", "--power-mw", "300", "--gpu", "h100", "--json",
                         path("site.json"), "--fabric-out", path("fabric.json")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = read_json(path("site.json"));
  const std::int64_t gpus = j["sites"][0]["gpus"];
  EXPECT_GE(gpus, 180000);
  EXPECT_LE(gpus, 230000);
  EXPECT_FALSE(j["sites"][0]["arithmetic"].empty());
  EXPECT_EQ(read_json(path("fabric.json"))["schema"], "collbench.fabric");
  const Outcome bad = run({"model", "site", "--power-mw", "0.001"});
  EXPECT_EQ(bad.rc, 2);
  EXPECT_NE(bad.err.find("--power-mw"), std::string::npos) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
}

TEST_F(ModelCommands, PredictWritesEveryPointAndTheBest) {
  const Outcome r = run({"model", "predict", "--profile", "h100,gb200", "-b", "1K", "-e", "1M",
                         "--gpus", "8:64", "--json", path("p.json")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = read_json(path("p.json"));
  EXPECT_EQ(j["sizes"].size(), 11u);
  EXPECT_EQ(j["gpus"].size(), 4u);
  EXPECT_EQ(j["fabrics"].size(), 2u);
  // best: 2 fabrics x 2 collectives x 11 sizes x 4 counts
  EXPECT_EQ(j["best"].size(), 2u * 2 * 11 * 4);
  for (const auto& b : j["best"]) {
    EXPECT_GT(b["time_us"].get<double>(), 0);
    EXPECT_GT(b["busbw_gbps"].get<double>(), 0);
  }
  EXPECT_GT(j["points"].size(), j["best"].size());
  EXPECT_EQ(run({"model", "predict", "--profile", "h999"}).rc, 2);
  EXPECT_EQ(run({"model", "predict", "--gpus", "0:8"}).rc, 2);
  EXPECT_EQ(run({"model", "predict", "--algo", "magic"}).rc, 2);
}

TEST_F(ModelCommands, PredictGivesEveryFigureItsBandAndSaysWhenItExtrapolates) {
  const Outcome r = run({"model", "predict", "--profile", "h100", "-b", "1G", "-e", "1G", "--gpus",
                         "8,64,262144", "--collective", "allreduce", "--json", path("p.json")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = read_json(path("p.json"));
  EXPECT_FALSE(j["calibration"]["bands"].empty());
  for (const auto& p : j["points"]) {
    const std::int64_t g = p["gpus"];
    EXPECT_EQ(p["regime"], g == 8 ? "one_domain" : "multi_domain");
    EXPECT_EQ(p["extrapolated"].get<bool>(), g == 262144) << p.dump();
    EXPECT_LE(p["busbw_low_gbps"].get<double>(), p["busbw_gbps"].get<double>()) << p.dump();
    EXPECT_GE(p["busbw_high_gbps"].get<double>(), p["busbw_gbps"].get<double>()) << p.dump();
  }
  // 262,144 H100 need more than 300 MW: said in one line, with the power, and still computed.
  ASSERT_EQ(j["beyond_power_budget"].size(), 1u);
  const std::string line = j["beyond_power_budget"][0];
  EXPECT_NE(line.find("262,144 GPUs need 429 MW"), std::string::npos) << line;
  EXPECT_NE(line.find("holds 183,248"), std::string::npos) << line;
  const Outcome strict = run({"model", "predict", "--profile", "h100", "--gpus", "8:262144",
                              "--strict", "-b", "8", "-e", "8"});
  EXPECT_EQ(strict.rc, 2);
  EXPECT_NE(strict.err.find("429 MW"), std::string::npos) << strict.err;
  EXPECT_EQ(std::count(strict.err.begin(), strict.err.end(), '\n'), 1) << strict.err;
  EXPECT_EQ(run({"model", "predict", "--profile", "h100", "--gpus", "8:131072", "--strict", "-b",
                 "8", "-e", "8"})
                .rc,
            0);
}

TEST_F(ModelCommands, ValidatePublishedReportsEveryCaseAndChecksTheBaseline) {
  const Outcome r = run({"model", "validate", "--published", "--json", path("v.json"),
                         "--baseline-out", path("base.json")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = read_json(path("v.json"));
  EXPECT_GE(j["cases"].size(), 30u);
  for (const auto& c : j["cases"]) {
    EXPECT_GT(c["predicted"].get<double>(), 0) << c.dump();
    EXPECT_NEAR(c["ratio"].get<double>(), 1 + c["error"].get<double>(), 1e-12);
  }
  for (const char* g : {"overall", "train", "test"})
    EXPECT_GT(j["summary"][g]["cases"].get<int>(), 0) << g;
  for (const char* g : {"one_domain", "multi_domain", "multi_rack", "alltoall"})
    EXPECT_TRUE(j["summary"]["regimes"].contains(g)) << g;
  // Against its own figures nothing is worse; against better ones it fails.
  EXPECT_EQ(run({"model", "validate", "--published", "--baseline", path("base.json")}).rc, 0);
  json better = read_json(path("base.json"));
  better["test"]["median_abs_error"] = 0.001;
  std::ofstream(path("better.json")) << better.dump();
  EXPECT_EQ(run({"model", "validate", "--published", "--baseline", path("better.json")}).rc, 1);
  // Bad record files: one line naming the file, exit 2.
  std::ofstream(path("bad.json")) << R"({"schema": "collbench.published", "schema_version": 1,
      "cases": [{"id": "x1"}]})";
  const Outcome bad = run({"model", "validate", "--published", path("bad.json")});
  EXPECT_EQ(bad.rc, 2);
  EXPECT_NE(bad.err.find(path("bad.json") + ": case 'x1' (cases[0]): "), std::string::npos)
      << bad.err;
  EXPECT_NE(bad.err.find(": missing"), std::string::npos) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_EQ(run({"model", "validate", "--published", "--stat", "min"}).rc, 2);
  EXPECT_EQ(run({"model", "validate", "--baseline", path("base.json")}).rc, 2);
}

TEST_F(ModelCommands, FitThenPredictOnTheFittedFabric) {
  const std::string results =
      model_test::write_file(dir_, "r.json", model_test::synth_results({}, {}).dump());
  Outcome r = run({"model", "fit", results, "-o", path("fit.json"), "--json", path("report.json")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json rep = read_json(path("report.json"));
  EXPECT_GT(rep["records_used"].get<int>(), 50);
  EXPECT_FALSE(rep["quality"].empty());
  r = run({"model", "predict", "--fabric", path("fit.json"), "--gpus", "2:4", "-e", "64K"});
  EXPECT_EQ(r.rc, 0) << r.err;
  // The fitted fabric has no inter-node tier: projecting beyond its 4 ranks is refused.
  r = run({"model", "predict", "--fabric", path("fit.json"), "--gpus", "8"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("intra-node"), std::string::npos) << r.err;
  r = run({"model", "fit", results, "--tiers", "intra,inter"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("inter-node"), std::string::npos) << r.err;
  r = run({"model", "fit"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("results"), std::string::npos) << r.err;
}

TEST_F(ModelCommands, FitMergesRepeatsAndFitsTheRendezvous) {
  model_test::TrueParams tp;
  tp.eager = 4096;
  tp.rendezvous = 5e-6;
  model_test::SynthOptions o;
  o.min_bytes = 256;
  o.max_bytes = 1 << 20;
  o.factor = 2;
  json res = model_test::synth_results(tp, o);
  const std::size_t points = res["records"].size();
  o.seed = 11;  // a second repeat of every point, with other noise
  const json again = model_test::synth_results(tp, o);
  for (const auto& rec : again["records"]) res["records"].push_back(rec);
  const std::string results = model_test::write_file(dir_, "rv.json", res.dump());
  Outcome r = run({"model", "fit", results, "--eager-limit", "4K", "-o", path("fit.json"), "--json",
                   path("report.json")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json rep = read_json(path("report.json"));
  // Two repeats, one point each; the MPI_Allreduce records are not fitted.
  std::size_t native = 0;
  for (const auto& rec : res["records"]) native += rec["algorithm"] == "MPI_Allreduce" ? 1 : 0;
  EXPECT_EQ(rep["records_used"].get<std::size_t>(), points - native / 2);
  EXPECT_NE(rep["merged"].get<std::string>().find("median"), std::string::npos);
  EXPECT_NEAR(rep["parameters"]["rendezvous_intra_us"].get<double>(), 5.0, 0.5);
  const json fab = read_json(path("fit.json"));
  EXPECT_EQ(fab["tiers"][0]["eager_limit_bytes"].get<double>(), 4096);
  // --each-repeat keeps both.
  r = run({"model", "fit", results, "--each-repeat", "--json", path("each.json")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(read_json(path("each.json"))["records_used"].get<std::size_t>(), 2 * points - native);
  for (const char* bad : {"0", "lots"}) {
    r = run({"model", "validate", results, "--eager-limit", bad});
    EXPECT_EQ(r.rc, 2) << bad;
    EXPECT_NE(r.err.find("--eager-limit"), std::string::npos) << r.err;
  }
}

TEST_F(ModelCommands, ValidateReportsPerAlgorithm) {
  model_test::SynthOptions o;
  o.placements = {{1, 2}, {1, 3}, {1, 4}, {1, 5}};
  const std::string results =
      model_test::write_file(dir_, "v.json", model_test::synth_results({}, o).dump());
  const Outcome r = run({"model", "validate", results, "--json", path("val.json"), "--strict"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = read_json(path("val.json"));
  EXPECT_TRUE(j["pass"].get<bool>());
  EXPECT_EQ(j["held_out_ranks"], 5);
  EXPECT_GE(j["rows"].size(), 7u);
}

TEST_F(ModelCommands, StepPerGenerationAndBadConfigs) {
  Outcome r = run({"model", "step", "--example", "deepseek-v3", "--profile", "h100,gb200", "--json",
                   path("step.json")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = read_json(path("step.json"));
  ASSERT_EQ(j["profiles"].size(), 2u);
  for (const auto& p : j["profiles"]) {
    EXPECT_GT(p["total_ms"].get<double>(), 0);
    EXPECT_FALSE(p["dp_scaling"].empty());
    bool a2a = false;
    for (const auto& c : p["collectives"]) {
      a2a = a2a || c["op"] == "all-to-all";
      // Every figure has its band (which need not hold the figure: where every published case
      // fell below the model, so does the band).
      EXPECT_LE(c["time_step_low_ms"].get<double>(), c["time_step_high_ms"].get<double>())
          << c.dump();
      EXPECT_GT(c["time_step_low_ms"].get<double>(), 0) << c.dump();
    }
    EXPECT_TRUE(a2a);
    EXPECT_EQ(p["beyond_power_budget"], "");
  }
  r = run({"model", "step", "--example", "frontier-300mw", "--profile", "h100"});
  EXPECT_EQ(r.rc, 0) << r.err;
  // 16,384 GPUs of Llama 3 do not fit 20 MW: one line with the power they need; --strict: exit 2.
  r = run({"model", "step", "--example", "llama3-405b", "--profile", "h100", "--power-mw", "20",
           "--json", path("small.json")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string over = read_json(path("small.json"))["profiles"][0]["beyond_power_budget"];
  EXPECT_NE(over.find("16,384 GPUs need 26.8 MW"), std::string::npos) << over;
  r = run({"model", "step", "--example", "llama3-405b", "--profile", "h100", "--power-mw", "20",
           "--strict"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("26.8 MW"), std::string::npos) << r.err;
  json bad = model::workload_to_json(model::builtin_workload("llama3-405b"));
  bad["parallel"]["pp"] = 15;
  const std::string cfg = model_test::write_file(dir_, "bad.json", bad.dump());
  r = run({"model", "step", "--config", cfg});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("parallel"), std::string::npos) << r.err;
  r = run({"model", "step", "--example", "gpt-9"});
  EXPECT_EQ(r.rc, 2);
  // Scaled down to what a small machine has, predicted on a fitted fabric.
  const std::string results =
      model_test::write_file(dir_, "r.json", model_test::synth_results({}, {}).dump());
  ASSERT_EQ(run({"model", "fit", results, "-o", path("fit.json")}).rc, 0);
  r = run({"model", "step", "--example", "deepseek-v3", "--scale-to", "4", "--fabric",
           path("fit.json"), "--json", path("scaled.json")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json s = read_json(path("scaled.json"));
  EXPECT_EQ(s["scaled_to"], 4);
  EXPECT_EQ(s["parallel"]["ep"], 4);
  EXPECT_GT(s["targets"][0]["total_ms"].get<double>(), 0);
  r = run({"model", "step", "--scale-to", "8", "--fabric", path("fit.json")});
  EXPECT_EQ(r.rc, 2);  // the fitted fabric holds 4 ranks
  r = run({"model", "step", "--fabric", path("fit.json")});
  EXPECT_EQ(r.rc, 2);
}

TEST_F(ModelCommands, ProfilesListsSources) {
  const Outcome r = run({"model", "profiles", "--json", path("prof.json")});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = read_json(path("prof.json"));
  ASSERT_EQ(j["profiles"].size(), 5u);
  for (const auto& p : j["profiles"]) EXPECT_FALSE(p["sources"].empty());
}

}  // namespace
}  // namespace collbench::bench
