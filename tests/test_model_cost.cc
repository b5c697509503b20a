// The cost model's formulas: closed forms on one tier (Thakur, Rabenseifner & Gropp 2005), tier
// crossings and oversubscription on several, the fit's linear form against the prediction, and
// the built-in profiles against published measurements (results/reference/published/).
#include <gtest/gtest.h>

#include <cmath>

#include "collectives/error.h"
#include "topology/model/cost_model.h"
#include "topology/model/fit.h"
#include "topology/model/profiles.h"
#include "topology/model/site.h"
#include "topology/model/workload.h"

namespace collbench::model {
namespace {

constexpr double kA = 3e-6;      // α, s
constexpr double kBw = 10e9;     // B/s
constexpr double kB = 1 / kBw;   // β, s/B
constexpr double kRed = 5e9;     // reduction B/s
constexpr double kG = 1 / kRed;  // γ, s/B
constexpr double kN = 1 << 20;   // bytes

Fabric flat() {
  Fabric f;
  f.name = "flat";
  Tier t;
  t.name = "one";
  t.group_size = 0;
  t.alpha_us = kA * 1e6;
  t.bandwidth_gbps = kBw / 1e9;
  f.tiers.push_back(t);
  f.reduce_gbps = kRed / 1e9;
  return f;
}

double t_of(const Fabric& f, ModelAlgo a, double n, std::int64_t p) {
  return predict_time(make_net(f), a, n, p);
}

TEST(ModelCost, OneTierMatchesClosedForms) {
  const Fabric f = flat();
  const double p = 8, lg = 3;
  EXPECT_NEAR(t_of(f, ModelAlgo::kRingAllreduce, kN, 8),
              2 * (p - 1) * kA + 2 * (p - 1) / p * kN * kB + (p - 1) / p * kN * kG, 1e-12);
  EXPECT_NEAR(t_of(f, ModelAlgo::kRecursiveDoublingAllreduce, kN, 8),
              lg * kA + kN * lg * kB + kN * lg * kG, 1e-12);
  EXPECT_NEAR(t_of(f, ModelAlgo::kRabenseifnerAllreduce, kN, 8),
              2 * lg * kA + 2 * (p - 1) / p * kN * kB + (p - 1) / p * kN * kG, 1e-12);
  EXPECT_NEAR(t_of(f, ModelAlgo::kBinomialAllreduce, kN, 8),
              2 * lg * kA + 2 * kN * lg * kB + kN * lg * kG, 1e-12);
  EXPECT_NEAR(t_of(f, ModelAlgo::kBruckAlltoall, kN, 8), lg * kA + kN / 2 * lg * kB, 1e-12);
  EXPECT_NEAR(t_of(f, ModelAlgo::kPairwiseAlltoall, kN, 8), (p - 1) * kA + (p - 1) / p * kN * kB,
              1e-12);
  EXPECT_NEAR(t_of(f, ModelAlgo::kLinearAlltoall, kN, 8), (p - 1) * kA + (p - 1) / p * kN * kB,
              1e-12);
}

TEST(ModelCost, LocalCopiesAreChargedAtTheCopyRate) {
  // Bytes one rank copies, as the implementations in collectives/ do.
  EXPECT_EQ(copied_bytes(ModelAlgo::kRingAllreduce, kN, 8, 8, false), 0);
  EXPECT_EQ(copied_bytes(ModelAlgo::kLinearAlltoall, kN, 8, 8, false), kN / 8);
  EXPECT_EQ(copied_bytes(ModelAlgo::kPairwiseAlltoall, kN, 8, 8, true), kN + kN / 8);
  EXPECT_EQ(copied_bytes(ModelAlgo::kHierarchicalLeaderAllreduce, kN, 4, 4, false), kN);
  EXPECT_EQ(copied_bytes(ModelAlgo::kHierarchicalLeaderAllreduce, kN, 4, 4, true), 0);
  // Bruck on 2 ranks: rotation n, pack and unpack of one block (n/2 each), final placement n.
  EXPECT_EQ(copied_bytes(ModelAlgo::kBruckAlltoall, kN, 2, 2, false), 3 * kN);
  // 8 ranks: 3 rounds moving 4 blocks of n/8 each way, plus rotation and placement.
  EXPECT_EQ(copied_bytes(ModelAlgo::kBruckAlltoall, kN, 8, 8, false), 2 * kN + 3 * 2 * 4 * kN / 8);
  EXPECT_EQ(copied_bytes(ModelAlgo::kBruckAlltoall, kN, 1, 1, false), 0);

  Fabric f = flat();
  const double without = t_of(f, ModelAlgo::kBruckAlltoall, kN, 8);
  f.copy_gbps = 2;
  EXPECT_NEAR(t_of(f, ModelAlgo::kBruckAlltoall, kN, 8) - without, (2 * kN + 3 * kN) / 2e9, 1e-12);
  EXPECT_NEAR(t_of(f, ModelAlgo::kRingAllreduce, kN, 8),
              2 * 7 * kA + 2 * 7.0 / 8 * kN * kB + 7.0 / 8 * kN * kG, 1e-12);
  f.copy_gbps = -1;
  EXPECT_THROW(f.validate(), UsageError);
}

TEST(ModelCost, TreeStepsInsideANodeUseTheSingleFlowRate) {
  // Half the ranks send in a binomial tree's first step: on a node whose one flow is faster
  // than a rank's share with everyone sending, the tree gains; the ring does not.
  Fabric f = flat();
  const double ring = t_of(f, ModelAlgo::kRingAllreduce, kN, 2);
  const double tree = t_of(f, ModelAlgo::kBinomialAllreduce, kN, 2);
  f.tiers[0].flow_gbps = 2 * kBw / 1e9;
  EXPECT_NEAR(t_of(f, ModelAlgo::kRingAllreduce, kN, 2), ring, 1e-15);
  // p = 2: one reduce step and one broadcast step, each at max(1/(2 bw), 0.5 / bw).
  EXPECT_NEAR(t_of(f, ModelAlgo::kBinomialAllreduce, kN, 2), tree - 2 * kN * kB + 2 * kN * kB / 2,
              1e-12);
}

TEST(ModelCost, MessagesAtTheEagerLimitPayTheRendezvous) {
  // 8 ranks, limit 16 KiB, 7 us per rendezvous message.
  Fabric f = flat();
  const double r = 7e-6, lim = 16384, p = 8, lg = 3;
  f.tiers[0].eager_limit_bytes = lim;
  f.tiers[0].rendezvous_us = r * 1e6;
  f.validate();
  auto extra = [&](ModelAlgo a, double n) { return t_of(f, a, n, 8) - t_of(flat(), a, n, 8); };
  // Recursive doubling sends the whole vector each step: rendezvous from n = 16 KiB.
  EXPECT_NEAR(extra(ModelAlgo::kRecursiveDoublingAllreduce, lim - 4), 0, 1e-15);
  EXPECT_NEAR(extra(ModelAlgo::kRecursiveDoublingAllreduce, lim), lg * r, 1e-12);
  // The ring's messages are n/p: rendezvous from n = 8 x 16 KiB, then on all 2(p-1) steps.
  EXPECT_NEAR(extra(ModelAlgo::kRingAllreduce, lim), 0, 1e-15);
  EXPECT_NEAR(extra(ModelAlgo::kRingAllreduce, p * lim), 2 * (p - 1) * r, 1e-12);
  // Rabenseifner halves: at n = 4 x 16 KiB the first two steps of each half go by rendezvous.
  EXPECT_NEAR(extra(ModelAlgo::kRabenseifnerAllreduce, 4 * lim), 2 * 2 * r, 1e-12);
  // Pairwise all-to-all: blocks of n/p.
  EXPECT_NEAR(extra(ModelAlgo::kPairwiseAlltoall, p * lim), (p - 1) * r, 1e-12);
  f.tiers[0].rendezvous_us = -1;
  EXPECT_THROW(f.validate(), UsageError);
  // Saved and loaded with the fabric; absent means no limit.
  f.tiers[0].rendezvous_us = r * 1e6;
  const Fabric back = fabric_from_json(fabric_to_json(f), "test");
  EXPECT_EQ(back.tiers[0].eager_limit_bytes, lim);
  EXPECT_NEAR(back.tiers[0].rendezvous_us, 7, 1e-12);
  EXPECT_EQ(fabric_from_json(fabric_to_json(flat()), "test").tiers[0].eager_limit_bytes, 0);
}

TEST(ModelCost, NonPowerOfTwoFoldsTheExtraRanks) {
  const Fabric f = flat();
  // p = 6: the halving runs on p' = 4 participants after a fold of the 2 extra ranks.
  const double p2 = 4;
  EXPECT_NEAR(t_of(f, ModelAlgo::kRabenseifnerAllreduce, kN, 6),
              (2 * 2 + 2) * kA + (2 * (p2 - 1) / p2 + 2) * kN * kB + (1 + (p2 - 1) / p2) * kN * kG,
              1e-12);
  EXPECT_NEAR(t_of(f, ModelAlgo::kRecursiveDoublingAllreduce, kN, 6),
              (2 + 2) * kA + (2 + 2) * kN * kB + (2 + 1) * kN * kG, 1e-12);
  // Ring and binomial need no fold: 2(p-1) hops, ceil(lg p) levels.
  EXPECT_NEAR(t_of(f, ModelAlgo::kRingAllreduce, kN, 6),
              10 * kA + 2 * 5.0 / 6 * kN * kB + 5.0 / 6 * kN * kG, 1e-12);
  EXPECT_NEAR(t_of(f, ModelAlgo::kBinomialAllreduce, kN, 6), 6 * kA + 6 * kN * kB + 3 * kN * kG,
              1e-12);
  // Bruck on 6 ranks: rounds move 3, 2 and 2 blocks of n/6.
  EXPECT_NEAR(t_of(f, ModelAlgo::kBruckAlltoall, kN, 6), 3 * kA + 7.0 / 6 * kN * kB, 1e-12);
}

TEST(ModelCost, OneRankCostsNothingAndOverheadIsPerCall) {
  Fabric f = flat();
  EXPECT_EQ(t_of(f, ModelAlgo::kRingAllreduce, kN, 1), 0);
  f.call_overhead_us = 5;
  EXPECT_NEAR(
      t_of(f, ModelAlgo::kRingAllreduce, kN, 2) - t_of(flat(), ModelAlgo::kRingAllreduce, kN, 2),
      5e-6, 1e-12);
}

Fabric two_tier(double oversub_top = 1) {
  Fabric f;
  f.name = "test";
  Tier nv;
  nv.name = "nvlink";
  nv.group_size = 8;
  nv.alpha_us = 1;
  nv.bandwidth_gbps = 400;
  Tier leaf;
  leaf.name = "leaf";
  leaf.group_size = 64;
  leaf.alpha_us = 5;
  leaf.bandwidth_gbps = 40;
  Tier core = leaf;
  core.name = "core";
  core.group_size = 0;
  core.alpha_us = 7;
  core.oversubscription = oversub_top;
  f.tiers = {nv, leaf, core};
  return f;
}

TEST(ModelCost, RingCrossesDomainsThroughAllTheirLinks) {
  const Fabric f = two_tier();
  const double n = 1e9, p = 16;
  // 14 ring edges inside the two domains, 2 between them; the domain spreads its crossing over
  // 8 NICs (8 x 40 GB/s), slower than NVLink's 400.
  const double expect = 2 * (p - 1) / p * (14 * 1e-6 + 2 * 5e-6) + 2 * (p - 1) / p * n / (8 * 40e9);
  EXPECT_NEAR(t_of(f, ModelAlgo::kRingAllreduce, n, 16), expect, expect * 1e-12);
}

TEST(ModelCost, AllToAllBottleneckIsTheBytesLeavingEachBlock) {
  const Fabric f = two_tier();
  const double n = 1e9;
  // 16 ranks: 7 peers inside the domain, 8 across the leaf; half the bytes leave the domain.
  const double expect = 7 * 1e-6 + 8 * 5e-6 + std::max(n * 7 / 16 / 400e9, n * 8 / 16 / 40e9);
  EXPECT_NEAR(t_of(f, ModelAlgo::kLinearAlltoall, n, 16), expect, expect * 1e-12);
}

TEST(ModelCost, OversubscriptionShowsInAllToAllNotInRing) {
  const Fabric open = two_tier(1), tapered = two_tier(4);
  const double n = 1 << 30;
  // Inside one leaf block (64 ranks) the core's taper does not matter.
  EXPECT_DOUBLE_EQ(t_of(open, ModelAlgo::kLinearAlltoall, n, 64),
                   t_of(tapered, ModelAlgo::kLinearAlltoall, n, 64));
  // Across the core: all-to-all sends half its bytes through the 4:1 taper.
  const double a2a_open = t_of(open, ModelAlgo::kLinearAlltoall, n, 128);
  const double a2a_tap = t_of(tapered, ModelAlgo::kLinearAlltoall, n, 128);
  EXPECT_GT(a2a_tap, 1.8 * a2a_open);
  // Recursive doubling puts every rank across the core in its last step: slower too.
  EXPECT_GT(t_of(tapered, ModelAlgo::kRecursiveDoublingAllreduce, n, 128),
            1.2 * t_of(open, ModelAlgo::kRecursiveDoublingAllreduce, n, 128));
  // A ring has one edge per leaf block crossing the core: no change.
  EXPECT_DOUBLE_EQ(t_of(open, ModelAlgo::kRingAllreduce, n, 128),
                   t_of(tapered, ModelAlgo::kRingAllreduce, n, 128));
}

TEST(ModelCost, AlgorithmsThatDoNotApplyAreNaN) {
  const Fabric mi = site_fabric(find_profile("mi300x"), 1024);
  EXPECT_TRUE(std::isnan(t_of(mi, ModelAlgo::kInSwitchAllreduce, kN, 8)));
  EXPECT_FALSE(std::isnan(
      t_of(site_fabric(find_profile("h100"), 1024), ModelAlgo::kInSwitchAllreduce, kN, 8)));
  // Three levels need ranks spanning more than one tier-1 block.
  const Fabric h = site_fabric(find_profile("h100"), 262144);
  EXPECT_TRUE(std::isnan(t_of(h, ModelAlgo::kHierarchical3Allreduce, kN, 512)));
  EXPECT_FALSE(std::isnan(t_of(h, ModelAlgo::kHierarchical3Allreduce, kN, 4096)));
  const BestChoice b = best_algorithm(make_net(mi), Collective::kAllReduce, kN, 8);
  EXPECT_NE(b.algo, ModelAlgo::kInSwitchAllreduce);
  EXPECT_FALSE(std::isnan(b.time_s));
}

TEST(ModelCost, EveryProfileEveryCountGivesAFinitePositiveTime) {
  for (const auto& p : builtin_profiles()) {
    const ModelNet net = make_net(site_fabric(p, 262144));
    for (std::int64_t g = 8; g <= 262144; g *= 2)
      for (const auto& a : model_algorithms()) {
        const double t = predict_time(net, a.algo, 1 << 20, g);
        if (std::isnan(t)) continue;
        EXPECT_GT(t, 0) << p.key << " " << a.name << " " << g;
        EXPECT_TRUE(std::isfinite(t)) << p.key << " " << a.name << " " << g;
        // More bytes never take less time.
        EXPECT_GE(predict_time(net, a.algo, 1 << 24, g), t) << p.key << " " << a.name;
      }
  }
}

TEST(ModelCost, AllToAllBusbwNeverRisesWithMoreDomains) {
  // Every GPU's NIC carries all it sends to other domains, whichever tier the bytes then cross.
  // (Without the protocol switch: smaller messages per peer at more ranks may go by a faster
  // protocol, which is latency, not the bandwidth this is about.)
  for (const char* key : {"h100", "gb200"}) {
    Fabric f = site_fabric(find_profile(key), 262144);
    for (Tier& t : f.tiers) t.eager_limit_bytes = 0;
    const ModelNet net = make_net(f);
    for (const auto& a : model_algorithms()) {
      if (a.collective != Collective::kAllToAll) continue;
      double prev = 1e30;
      for (std::int64_t g = 144; g <= 262144; g *= 2) {
        const double n = 1 << 30;
        const double bus = busbw_gbps(Collective::kAllToAll, n, g, predict_time(net, a.algo, n, g));
        EXPECT_LE(bus, prev * 1.01) << key << " " << a.name << " at " << g;
        prev = bus;
      }
    }
  }
}

TEST(ModelCost, AtSiteScaleLatencyRulesOutTheFlatRing) {
  const ModelNet net = make_net(site_fabric(find_profile("h100"), 262144));
  const BestChoice small = best_algorithm(net, Collective::kAllReduce, 8, 131072);
  EXPECT_NE(small.algo, ModelAlgo::kRingAllreduce);
  EXPECT_GT(predict_time(net, ModelAlgo::kRingAllreduce, 8, 131072), 50 * small.time_s);
  // For large buffers a hierarchical or tree algorithm keeps busbw near the NIC rate.
  const double n = 1 << 30;
  const BestChoice big = best_algorithm(net, Collective::kAllReduce, n, 131072);
  EXPECT_GT(busbw_gbps(Collective::kAllReduce, n, 131072, big.time_s), 150);
}

TEST(ModelCost, StridedGroupsSeeTheTiersAboveTheirStride) {
  const ModelNet net = make_net(site_fabric(find_profile("h100"), 16384));
  const ModelNet dp = strided_net(net, 8);  // one member per NVLink domain
  EXPECT_EQ(dp.tiers, net.tiers - 1);
  EXPECT_EQ(dp.group[0], 512 / 8);
  EXPECT_EQ(dp.channels, 1);
  const ModelNet half = strided_net(net, 4);  // two members per domain
  EXPECT_EQ(half.tiers, net.tiers);
  EXPECT_EQ(half.group[0], 2);
  EXPECT_EQ(half.channels, 2);
  // Pipeline neighbours 1024 ranks apart cross the pod tier; 8 apart only the leaf.
  EXPECT_GT(predict_p2p(net, 8192, 1e6), predict_p2p(net, 8, 1e6));
  // 1 MB goes by the bulk protocol: 14 us of latency (NCCL's Simple, network).
  EXPECT_NEAR(predict_p2p(net, 8, 1e6), 14e-6 + 1e6 / (50e9 * 0.95), 1e-12);
  EXPECT_NEAR(predict_p2p(net, 8, 1e3), 2.7e-6 + 1e3 / (50e9 * 0.95), 1e-12);
}

TEST(ModelCost, LinearFormAgreesWithPredictionAndIsLinear) {
  double theta[kNumParams] = {};
  theta[alpha_param(0)] = 2e-6;
  theta[beta_param(0)] = 1 / 8e9;
  theta[alpha_param(1)] = 30e-6;
  theta[beta_param(1)] = 1 / 0.1e9;
  theta[gamma_param()] = 1 / 4e9;
  for (std::int64_t rpn : {1, 2, 4}) {
    // The same machine as a fabric file: per-rank share of the node link, whole link per flow.
    Fabric f;
    if (rpn > 1) {
      Tier intra;
      intra.name = "intra-node";
      intra.group_size = rpn;
      intra.alpha_us = 2;
      intra.bandwidth_gbps = 8;
      f.tiers.push_back(intra);
    }
    Tier inter;
    inter.name = "inter-node";
    inter.alpha_us = 30;
    inter.bandwidth_gbps = 0.1 / rpn;
    inter.flow_gbps = 0.1;
    f.tiers.push_back(inter);
    f.reduce_gbps = 4;
    ModelNet net = make_net(f);
    net.inner = ModelAlgo::kRingAllreduce;
    const auto lin = fit_net(rpn, theta);
    for (std::int64_t nodes : {1, 2, 3})
      for (const auto& a : model_algorithms()) {
        if (a.algo == ModelAlgo::kInSwitchAllreduce || a.algo == ModelAlgo::kHierarchical3Allreduce)
          continue;
        // A one-tier fabric is one domain (leader = binomial); the fit's one rank per node is
        // many (leaders = everyone). Both are right for what they describe.
        if (a.algo == ModelAlgo::kHierarchicalLeaderAllreduce && rpn == 1) continue;
        const std::int64_t p = nodes * rpn;
        if (p < 2) continue;
        for (double n : {64.0, 65536.0, 8e6}) {
          const LinearTime lt = predict_linear(lin, a.algo, n, p);
          const double t = predict_time(net, a.algo, n, p);
          EXPECT_NEAR(lt.v, t, t * 1e-9) << a.name << " p=" << p << " rpn=" << rpn;
          double dot = lt.k;
          for (int i = 0; i < kNumParams; ++i) dot += lt.c[i] * theta[i];
          EXPECT_NEAR(dot, lt.v, lt.v * 1e-9) << a.name;
        }
      }
  }
}

// Published NCCL figures (cases of results/reference/published/). The 8xH100 ring figure and the
// 5-node figure calibrated the link efficiencies; the others are predictions.
double best_busbw(const Fabric& f, std::int64_t p, double n) {
  const BestChoice b = best_algorithm(make_net(f), Collective::kAllReduce, n, p);
  return busbw_gbps(Collective::kAllReduce, n, p, b.time_s);
}

TEST(ModelCost, ProfilesAgainstPublishedMeasurements) {
  const double n = 4.0 * (1 << 30);
  const Fabric h100 = site_fabric(find_profile("h100"), 8);
  const ModelNet net = make_net(h100);
  const double ring =
      busbw_gbps(Collective::kAllReduce, n, 8, predict_time(net, ModelAlgo::kRingAllreduce, n, 8));
  const double nvls = busbw_gbps(Collective::kAllReduce, n, 8,
                                 predict_time(net, ModelAlgo::kInSwitchAllreduce, n, 8));
  EXPECT_NEAR(ring, 370, 370 * 0.03);
  EXPECT_NEAR(nvls, 480, 480 * 0.05);
  EXPECT_NEAR(best_busbw(site_fabric(find_profile("h200"), 8), 8, n), 475, 475 * 0.05);
  EXPECT_NEAR(best_busbw(site_fabric(find_profile("b200"), 8), 8, n), 830, 830 * 0.05);
  EXPECT_NEAR(best_busbw(site_fabric(find_profile("h200"), 1984), 1984, n), 350, 350 * 0.10);
}

}  // namespace
}  // namespace collbench::model

namespace collbench::model {
namespace {

// The model and the registry name algorithms by one identity: every algorithm collbench runs (and
// every modelled-only one) has a formula, under the registry's name and collective, and natives
// have none (they are predicted as the best of their collective).
TEST(ModelIdentity, EveryRegistryAlgorithmHasItsFormula) {
  const ModelNet net = make_net(site_fabric(find_profile("h100"), 64));
  for (const auto& info : collectives::algorithm_registry()) {
    const auto m = find_model_algorithm(info.collective, info.name);
    if (info.native()) {
      EXPECT_FALSE(m.has_value()) << info.name;
      continue;
    }
    ASSERT_TRUE(m.has_value()) << info.name << " (" << collectives::collective_name(info.collective)
                               << ") has no formula";
    EXPECT_EQ(*m, info.id);
    EXPECT_EQ(model_algorithm(info.id).name, info.name);
    EXPECT_EQ(model_algorithm(info.id).collective, info.collective);
    // In-switch reduction needs switches that reduce, three levels three tiers.
    if (info.id == ModelAlgo::kInSwitchAllreduce || info.id == ModelAlgo::kHierarchical3Allreduce)
      continue;
    const double t = predict_time(net, info.id, 1 << 20, 16);
    EXPECT_TRUE(t > 0 && std::isfinite(t)) << info.name << ": " << t;
  }
  for (const auto& m : model_algorithms())
    EXPECT_FALSE(collectives::algorithm_info(m.algo).native()) << m.name;
}

// Reduce-scatter and all-gather are priced by their own formulas: on one tier the ring halves are
// half the ring all-reduce's bytes and steps, never "half an all-reduce" by decree.
TEST(ModelIdentity, ReduceScatterAndAllgatherHaveTheirOwnFormulas) {
  Fabric f;
  f.name = "flat";
  f.tiers.push_back(Tier{"net", 0, 2.0, 10.0});
  f.gpus = 64;
  f.reduce_gbps = 5;
  const ModelNet net = make_net(f);
  const double n = 64.0 * (1 << 20);
  const double rs = predict_time(net, ModelAlgo::kRingReduceScatter, n, 8);
  const double ag = predict_time(net, ModelAlgo::kRingAllgather, n, 8);
  const double ar = predict_time(net, ModelAlgo::kRingAllreduce, n, 8);
  EXPECT_NEAR(rs + ag, ar, ar * 1e-9);
  EXPECT_GT(rs, ag);  // the reduction
  // The step's reduce-scatter is priced as a reduce-scatter.
  StepCollective c;
  c.op = StepOp::kReduceScatter;
  c.group = "DP";
  c.group_size = 8;
  c.bytes = n;
  c.count = 1;
  const StepTiming st = time_collectives({c}, net);
  ASSERT_EQ(st.items.size(), 1u);
  EXPECT_EQ(
      collectives::find_algorithm(collectives::Collective::kReduceScatter, st.items[0].algorithm)
          ->collective,
      collectives::Collective::kReduceScatter);
  EXPECT_LE(st.items[0].time_each_s, rs * (1 + 1e-9));
}

}  // namespace
}  // namespace collbench::model
