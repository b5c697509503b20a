// Fitting α/β/γ: synthetic result files made from known parameters through the model's
// formulas, with noise and outliers; the fit must recover the parameters, refuse what the data
// cannot determine, and validate on held-out points.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "collectives/error.h"
#include "test_model_util.h"
#include "topology/fit.h"

namespace collbench::topology {
namespace {

using model_test::SynthOptions;
using model_test::TrueParams;

std::vector<FitRecord> load(const nlohmann::json& results, const std::string& name) {
  const std::string dir = model_test::temp_dir("fit");
  const std::string path = model_test::write_file(dir, name, results.dump());
  auto records = load_result_files({path}).records;
  std::filesystem::remove_all(dir);
  return records;
}

double rel(double got, double want) { return std::fabs(got - want) / want; }

TEST(ModelFit, RecoversIntraNodeParametersThroughNoise) {
  const TrueParams tp;
  const auto recs = load(model_test::synth_results(tp, {}), "intra.json");
  const FitResult r = fit_records(recs);
  EXPECT_LT(rel(r.theta[alpha_param(0)], tp.alpha_intra), 0.10);
  EXPECT_LT(rel(1 / r.theta[beta_param(0)], tp.bw_intra), 0.05);
  EXPECT_LT(rel(1 / r.theta[gamma_param()], tp.reduce), 0.05);
  EXPECT_FALSE(r.fitted[alpha_param(1)]);
  ASSERT_EQ(r.fabric.tiers.size(), 1u);
  EXPECT_EQ(r.fabric.tiers[0].name, "intra-node");
  EXPECT_EQ(r.fabric.gpus, 4);  // the largest run: predictions beyond it are refused
  bool noted = false;
  for (const auto& n : r.notes) noted = noted || n.find("inter-node tier not determined") == 0;
  EXPECT_TRUE(noted);
  // Native MPI_Allreduce records are left out of the fit, and said so.
  bool native = false;
  for (const auto& n : r.notes) native = native || n.find("native") != std::string::npos;
  EXPECT_TRUE(native);
  for (const auto& q : r.quality) EXPECT_LT(q.median_rel_err, 0.05) << q.algorithm;
}

TEST(ModelFit, RecoversInterNodeLinkFromTwoAndThreeNodes) {
  TrueParams tp;
  SynthOptions o;
  o.placements = {{1, 2}, {2, 2}, {3, 2}, {2, 1}};
  o.allreduce.push_back("hierarchical");
  const auto recs = load(model_test::synth_results(tp, o), "inter.json");
  const FitResult r = fit_records(recs);
  EXPECT_LT(rel(r.theta[alpha_param(1)], tp.alpha_inter), 0.10);
  EXPECT_LT(rel(r.node_link_gbps * 1e9, tp.link_inter), 0.05);
  EXPECT_LT(rel(1 / r.theta[beta_param(0)], tp.bw_intra), 0.10);
  ASSERT_EQ(r.fabric.tiers.size(), 2u);
  EXPECT_EQ(r.fabric.tiers[0].group_size, 2);
  EXPECT_NEAR(r.fabric.tiers[1].flow_gbps, tp.link_inter / 1e9, tp.link_inter / 1e9 * 0.05);
  EXPECT_NEAR(r.fabric.tiers[1].bandwidth_gbps, r.fabric.tiers[1].flow_gbps / 2, 1e-9);
}

TEST(ModelFit, OutliersDoNotMoveTheFit) {
  TrueParams tp;
  SynthOptions o;
  o.outlier_rate = 0.08;
  o.outlier_factor = 4;
  const auto recs = load(model_test::synth_results(tp, o), "outliers.json");
  const FitResult r = fit_records(recs);
  EXPECT_GT(r.outliers, 0);
  EXPECT_LT(rel(1 / r.theta[beta_param(0)], tp.bw_intra), 0.05);
  EXPECT_LT(rel(1 / r.theta[gamma_param()], tp.reduce), 0.05);
  EXPECT_LT(rel(r.theta[alpha_param(0)], tp.alpha_intra), 0.15);
}

TEST(ModelFit, RefusesAnInterNodeTierFromOneNode) {
  const auto recs = load(model_test::synth_results({}, {}), "one-node.json");
  FitOptions o;
  o.tiers = TierChoice::kIntraInter;
  try {
    fit_records(recs, o);
    FAIL() << "expected a refusal";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("inter-node"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nodes = 1"), std::string::npos) << e.what();
  }
}

TEST(ModelFit, RefusesToSeparateBetaAndGammaFromRingAlone) {
  SynthOptions o;
  o.placements = {{1, 4}};
  o.allreduce = {"ring"};
  o.alltoall = {};
  o.add_native = false;
  const auto recs = load(model_test::synth_results({}, o), "ring-only.json");
  try {
    fit_records(recs);
    FAIL() << "expected a refusal";
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("gamma"), std::string::npos) << m;
    EXPECT_NE(m.find("beta(intra-node)"), std::string::npos) << m;
  }
  // Fixing γ makes the rest determined.
  FitOptions fixed;
  fixed.gamma_fixed = 1 / 4e9;
  const FitResult r = fit_records(recs, fixed);
  EXPECT_LT(rel(1 / r.theta[beta_param(0)], TrueParams{}.bw_intra), 0.05);
  EXPECT_FALSE(r.fitted[gamma_param()]);
}

TEST(ModelFit, RefusesAlphaFromOneSize) {
  // One size of one algorithm on one rank count: latency and bandwidth cannot be told apart.
  SynthOptions o;
  o.placements = {{1, 4}};
  o.allreduce = {"ring"};
  o.alltoall = {};
  o.add_native = false;
  o.min_bytes = o.max_bytes = 1 << 20;
  const auto recs = load(model_test::synth_results({}, o), "one-size.json");
  FitOptions fixed;
  fixed.gamma_fixed = 0.0;
  try {
    fit_records(recs, fixed);
    FAIL() << "expected a refusal";
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("alpha(intra-node) and beta(intra-node)"), std::string::npos) << m;
    EXPECT_NE(m.find("several message sizes"), std::string::npos) << m;
  }
}

TEST(ModelFit, ValidationPredictsHeldOutSizesAndRanks) {
  SynthOptions o;
  o.placements = {{1, 2}, {1, 3}, {1, 4}, {1, 5}};
  const auto recs = load(model_test::synth_results({}, o), "validate.json");
  const ValidationResult v = validate_records(recs);
  EXPECT_EQ(v.held_out_ranks, 5);
  EXPECT_GT(v.test_records, 0);
  EXPECT_TRUE(v.pass);
  bool native_row = false;
  for (const auto& row : v.rows) {
    if (row.native) {
      native_row = true;
      continue;
    }
    EXPECT_GT(row.test, 0) << row.algorithm;
    EXPECT_LT(row.median_rel_err, 0.06) << row.algorithm;
  }
  EXPECT_TRUE(native_row);
}

TEST(ModelFit, ValidationFailsWhenTheModelIsWrong) {
  // Times from a machine whose bruck is 3x slower than its formula above 1 KB: bruck misses
  // the target while the other algorithms still meet it.
  auto results = model_test::synth_results({}, {});
  for (auto& r : results["records"]) {
    if (r["algorithm"] != "bruck" || r["bytes"].get<double>() < 1000) continue;
    for (auto& [k, v] : r["time_us"].items()) v = v.get<double>() * 3;
  }
  const auto recs = load(results, "wrong-model.json");
  const ValidationResult v = validate_records(recs);
  EXPECT_FALSE(v.pass);
  for (const auto& row : v.rows) {
    if (row.native) continue;
    EXPECT_EQ(row.pass, row.algorithm != "bruck") << row.algorithm << " " << row.median_rel_err;
  }
}

TEST(ModelFit, LoaderNamesTheBadField) {
  const std::string dir = model_test::temp_dir("loader");
  struct Cleanup {
    std::string d;
    ~Cleanup() { std::filesystem::remove_all(d); }
  } cleanup{dir};
  auto good = model_test::synth_results({}, {});
  auto not_result = good;
  not_result["schema"] = "something.else";
  EXPECT_THROW(load_result_files({model_test::write_file(dir, "a.json", not_result.dump())}),
               UsageError);
  auto missing = good;
  missing["records"][3]["time_us"].erase("p50");
  try {
    load_result_files({model_test::write_file(dir, "b.json", missing.dump())});
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("records[3].time_us.p50"), std::string::npos) << e.what();
  }
  auto wrong = good;
  wrong["records"][0]["wrong"] = 5;
  const auto loaded = load_result_files({model_test::write_file(dir, "c.json", wrong.dump())});
  EXPECT_EQ(loaded.records.size(), good["records"].size() - 1);
  ASSERT_FALSE(loaded.skipped.empty());
  EXPECT_NE(loaded.skipped[0].find("wrong results"), std::string::npos);
  EXPECT_THROW(load_result_files({dir + "/does-not-exist.json"}), UsageError);
  EXPECT_THROW(load_result_files({model_test::write_file(dir, "d.json", "{not json")}), UsageError);
  EXPECT_THROW(load_result_files({model_test::write_file(dir, "e.json", good.dump())}, "p42"),
               UsageError);
}

}  // namespace
}  // namespace collbench::topology
