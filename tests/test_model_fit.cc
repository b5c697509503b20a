// Fitting α/β/γ: synthetic result files made from known parameters through the model's
// formulas, with noise and outliers; the fit must recover the parameters, refuse what the data
// cannot determine, and validate on held-out points.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "collectives/error.h"
#include "test_model_util.h"
#include "topology/model/fit.h"

namespace collbench::model {
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

TEST(ModelFit, RecoversLocalCopyCostAndSingleFlow) {
  // A host where copies run at 3 GB/s and one flow at 12 GB/s beside 8 GB/s per rank when all
  // send: bruck's rotations and the trees' half-idle steps show both.
  TrueParams tp;
  tp.copy = 3e9;
  tp.flow_intra = 12e9;
  SynthOptions o;
  o.allreduce.push_back("hierarchical_leader");
  const auto recs = load(model_test::synth_results(tp, o), "copy-flow.json");
  const FitResult r = fit_records(recs);
  ASSERT_TRUE(r.fitted[delta_param()]);
  ASSERT_TRUE(r.separate_flow);
  EXPECT_LT(rel(1 / r.theta[delta_param()], tp.copy), 0.10);
  EXPECT_LT(rel(1 / r.theta[flow_beta0_param()], tp.flow_intra), 0.10);
  EXPECT_LT(rel(1 / r.theta[beta_param(0)], tp.bw_intra), 0.05);
  EXPECT_NEAR(r.fabric.copy_gbps, 3.0, 0.3);
  EXPECT_NEAR(r.fabric.tiers[0].flow_gbps, 12.0, 1.2);
  for (const auto& q : r.quality) EXPECT_LT(q.median_rel_err, 0.05) << q.algorithm;
  // The textbook model cannot place bruck's copies: its error there is large.
  FitOptions plain;
  plain.local_terms = false;
  const FitResult p = fit_records(recs, plain);
  EXPECT_FALSE(p.fitted[delta_param()]);
  double bruck_err = 0;
  for (const auto& q : p.quality)
    if (q.algorithm == "bruck") bruck_err = q.median_rel_err;
  EXPECT_GT(bruck_err, 0.15);
}

TEST(ModelFit, RecoversTheRendezvousLatencyAboveTheEagerLimit) {
  // Messages of 4 KiB and more pay 5 us on top of alpha: the time steps up at 4 KiB of buffer for
  // the algorithms that send whole vectors and at 8 KiB for those that send halves, so no single
  // size band holds one regime. Given the limit, the fit recovers the step and both lines.
  TrueParams tp;
  tp.eager = 4096;
  tp.rendezvous = 5e-6;
  SynthOptions o;
  o.min_bytes = 256;
  o.max_bytes = 1 << 20;
  o.factor = 2;
  const auto recs = load(model_test::synth_results(tp, o), "rendezvous.json");
  FitOptions with;
  with.eager_limit = 4096;
  const FitResult r = fit_records(recs, with);
  ASSERT_GT(r.eager_limit, 0);
  EXPECT_LT(rel(r.theta[rendezvous0_param()], tp.rendezvous), 0.10);
  EXPECT_LT(rel(r.theta[alpha_param(0)], tp.alpha_intra), 0.10);
  EXPECT_LT(rel(1 / r.theta[beta_param(0)], tp.bw_intra), 0.05);
  EXPECT_EQ(r.fabric.tiers[0].eager_limit_bytes, 4096);
  EXPECT_NEAR(r.fabric.tiers[0].rendezvous_us, 5.0, 0.5);
  for (const auto& q : r.quality) EXPECT_LT(q.median_rel_err, 0.05) << q.algorithm;
  // Without the limit one alpha straddles both regimes and the small sizes miss.
  const FitResult one = fit_records(recs);
  EXPECT_EQ(one.eager_limit, 0);
  double worst = 0, worst_with = 0;
  for (const auto& q : one.quality) worst = std::max(worst, q.worst_rel_err);
  for (const auto& q : r.quality) worst_with = std::max(worst_with, q.worst_rel_err);
  EXPECT_GT(worst, 0.25);
  EXPECT_LT(worst_with, 0.15);
  // A limit above every message: nothing to fit, said in a note.
  FitOptions high;
  high.eager_limit = 1e12;
  const FitResult h = fit_records(recs, high);
  EXPECT_EQ(h.eager_limit, 0);
  bool noted = false;
  for (const auto& n : h.notes) noted = noted || n.find("rendezvous") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(ModelFit, OptionalTermsDropWhenTheRecordsCannotSeparateThem) {
  // Ring and recursive doubling copy nothing and every rank sends in every step: neither δ nor
  // a single-flow rate is determined, and the fit says so instead of refusing.
  SynthOptions o;
  o.allreduce = {"ring", "recursive_doubling"};
  o.alltoall = {};
  const auto recs = load(model_test::synth_results({}, o), "no-copies.json");
  const FitResult r = fit_records(recs);
  EXPECT_FALSE(r.fitted[delta_param()]);
  EXPECT_FALSE(r.separate_flow);
  EXPECT_EQ(r.fabric.copy_gbps, 0);
  EXPECT_LT(rel(1 / r.theta[beta_param(0)], TrueParams{}.bw_intra), 0.10);
}

TEST(ModelFit, BandsFitEachSizeRegimeOnItsOwn) {
  // Bandwidth 5x higher while the buffers fit in cache (below 1 MiB) than above: one fit over
  // every size misses next to the change, one fit per band predicts each.
  TrueParams fast, slow;
  fast.alpha_intra = slow.alpha_intra = 0.2e-6;
  fast.bw_intra = 20e9;
  slow.bw_intra = 4e9;
  SynthOptions o;
  o.add_native = false;
  auto results = model_test::synth_results(fast, o);
  const auto slow_results = model_test::synth_results(slow, o);
  auto& recs = results["records"];
  nlohmann::json merged = nlohmann::json::array();
  for (std::size_t i = 0; i < recs.size(); ++i)
    merged.push_back(recs[i]["bytes"].get<double>() < (1 << 20) ? recs[i]
                                                                : slow_results["records"][i]);
  results["records"] = merged;
  const auto loaded = load(results, "bands.json");
  ValidationOptions one;
  one.holdout_max_ranks = false;
  const ValidationResult v1 = validate_records(loaded, one);
  double worst1 = 0;
  for (const auto& row : v1.rows) worst1 = std::max(worst1, row.worst_rel_err);
  // The held-out sizes next to the regime change miss by far (the median can hide them).
  EXPECT_GT(worst1, 0.4);
  ValidationOptions two = one;
  two.bands = {1 << 20};
  const ValidationResult v2 = validate_records(loaded, two);
  EXPECT_TRUE(v2.pass);
  ASSERT_EQ(v2.bands.size(), 2u);
  EXPECT_EQ(v2.bands[0].label, "< 1 MiB");
  EXPECT_EQ(v2.bands[1].label, ">= 1 MiB");
  EXPECT_LT(rel(1 / v2.bands[0].fit.theta[beta_param(0)], 20e9), 0.05);
  EXPECT_LT(rel(1 / v2.bands[1].fit.theta[beta_param(0)], 4e9), 0.05);
  EXPECT_FALSE(v2.band_rows.empty());
  double worst2 = 0;
  for (const auto& row : v2.rows) {
    EXPECT_LT(row.median_rel_err, 0.08) << row.algorithm;
    worst2 = std::max(worst2, row.worst_rel_err);
  }
  EXPECT_LT(worst2, 0.15);
  ValidationOptions bad = one;
  bad.bands = {1 << 20, 1 << 10};
  EXPECT_THROW(validate_records(loaded, bad), UsageError);
  bad.bands = {0};
  EXPECT_THROW(validate_records(loaded, bad), UsageError);
}

TEST(ModelFit, RepeatsOfOnePointMergeIntoTheirMedian) {
  auto rec = [](const std::string& algo, double bytes, bool in_place, double t) {
    FitRecord r;
    r.collective = Collective::kAllToAll;
    r.algorithm = algo;
    r.bytes = bytes;
    r.ranks = 2;
    r.ranks_per_node = 2;
    r.in_place = in_place;
    r.time_s = t;
    return r;
  };
  std::vector<FitRecord> recs = {
      rec("linear", 1024, false, 3.0),   rec("linear", 1024, false, 1.0),
      rec("linear", 1024, true, 7.0),  // another placement: another point
      rec("pairwise", 1024, false, 5.0), rec("linear", 2048, false, 9.0),
      rec("linear", 1024, false, 2.5),   rec("linear", 1024, false, 100.0),  // a stall
  };
  EXPECT_EQ(merge_repeats(recs), 3u);
  ASSERT_EQ(recs.size(), 4u);
  // Order of first appearance; four repeats: the mean of the middle two.
  EXPECT_EQ(recs[0].algorithm, "linear");
  EXPECT_FALSE(recs[0].in_place);
  EXPECT_EQ(recs[0].measurements, 4);
  EXPECT_DOUBLE_EQ(recs[0].time_s, 2.75);
  EXPECT_TRUE(recs[1].in_place);
  EXPECT_DOUBLE_EQ(recs[1].time_s, 7.0);
  EXPECT_EQ(recs[2].algorithm, "pairwise");
  EXPECT_DOUBLE_EQ(recs[3].bytes, 2048);
  EXPECT_EQ(recs[3].measurements, 1);
  // Nothing repeated: nothing changes.
  EXPECT_EQ(merge_repeats(recs), 0u);
  EXPECT_EQ(recs.size(), 4u);
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
}  // namespace collbench::model
