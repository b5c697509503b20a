// The site planner, the fabric file format and the built-in profiles.
#include <gtest/gtest.h>

#include <filesystem>

#include "bench/model/common.h"
#include "collectives/error.h"
#include "test_model_util.h"
#include "topology/model/fabric.h"
#include "topology/model/profiles.h"
#include "topology/model/site.h"

namespace collbench::model {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelSite, HopperAt300MegawattsMatchesPublicFigures) {
  const Site s = plan_site(find_profile("h100"), {});
  EXPECT_GE(s.gpus, 180000);
  EXPECT_LE(s.gpus, 230000);
  EXPECT_EQ(s.gpus % 8, 0);
  EXPECT_EQ(s.nodes * 8, s.gpus);
  EXPECT_NEAR(s.facility_mw, 300, 0.1);
  // At typical draw (8.5 kW per server) the same site holds about 220k.
  SiteOptions typical;
  typical.unit_kw = 8.5;
  const Site t = plan_site(find_profile("h100"), typical);
  EXPECT_GT(t.gpus, 215000);
  EXPECT_LT(t.gpus, 225000);
  EXPECT_FALSE(s.arithmetic.empty());
  EXPECT_NE(s.arithmetic[1].find("1.637"), std::string::npos) << s.arithmetic[1];
}

TEST(ModelSite, BlackwellRacksAt300Megawatts) {
  const Site s = plan_site(find_profile("gb200"), {});
  EXPECT_GE(s.gpus, 130000);
  EXPECT_LE(s.gpus, 150000);
  EXPECT_EQ(s.gpus % 72, 0);
  EXPECT_EQ(s.domains * 72, s.gpus);
  EXPECT_EQ(s.fabric.tiers.front().group_size, 72);
}

TEST(ModelSite, SwitchTiersCoverEveryNic) {
  for (const auto& p : builtin_profiles()) {
    const Site s = plan_site(p, {});
    ASSERT_EQ(s.switches.size(), 3u) << p.key;
    EXPECT_GE(s.switches[0].switches * 64, s.gpus) << p.key;  // 64 down ports per leaf
    EXPECT_GE(s.switches[2].switches * 128, s.switches[1].switches * 64) << p.key;
    s.fabric.validate();
    EXPECT_EQ(s.fabric.tiers.back().group_size, 0);
  }
  const Fabric h = site_fabric(find_profile("h100"), 262144);
  ASSERT_EQ(h.tiers.size(), 4u);
  EXPECT_EQ(h.tiers[1].group_size, 512);
  EXPECT_EQ(h.tiers[2].group_size, 4096);
  // Small sites need fewer switch levels.
  EXPECT_EQ(site_fabric(find_profile("h100"), 4096).tiers.size(), 3u);
  EXPECT_EQ(site_fabric(find_profile("h100"), 256).tiers.size(), 2u);
}

TEST(ModelSite, OptionsReachTheFabric) {
  SiteOptions o;
  o.pod_gpus = 3072;
  o.spine_oversubscription = 7;  // Llama 3's cluster: 7:1 above the pod
  const Fabric f = site_fabric(find_profile("h100"), 16384, o);
  ASSERT_EQ(f.tiers.size(), 4u);
  EXPECT_EQ(f.tiers[2].group_size, 3072);
  EXPECT_EQ(f.tiers[3].oversubscription, 7);
  SiteOptions pue;
  pue.pue = 1.5;
  EXPECT_LT(plan_site(find_profile("h100"), pue).gpus, plan_site(find_profile("h100"), {}).gpus);
}

TEST(ModelSite, BadOptionsNameTheFlag) {
  SiteOptions tiny;
  tiny.power_mw = 0.005;
  EXPECT_NE(error_of([&] { plan_site(find_profile("h100"), tiny); }).find("--power-mw"),
            std::string::npos);
  SiteOptions huge;  // a fuzzer's 6e106 MW overflowed the GPU count
  huge.power_mw = 6e106;
  EXPECT_NE(error_of([&] { plan_site(find_profile("h100"), huge); }).find("at most 1000000"),
            std::string::npos);
  SiteOptions pue;
  pue.pue = 0.9;
  EXPECT_NE(error_of([&] { plan_site(find_profile("h100"), pue); }).find("--pue"),
            std::string::npos);
  SiteOptions pod;
  pod.pod_gpus = 1000;
  EXPECT_NE(error_of([&] { plan_site(find_profile("h100"), pod); }).find("--pod-gpus"),
            std::string::npos);
  SiteOptions radix;
  radix.switch_radix = 7;
  EXPECT_NE(error_of([&] { plan_site(find_profile("h100"), radix); }).find("--switch-radix"),
            std::string::npos);
  EXPECT_NE(error_of([] { find_profile("h300"); }).find("h100, h200"), std::string::npos);
}

TEST(ModelProfiles, EveryFieldThatFeedsTheModelHasASource) {
  for (const auto& p : builtin_profiles()) {
    for (const char* f : {"scaleup_gbps", "scaleup_gpus", "scaleup_efficiency", "scaleup_alpha_us",
                          "in_switch", "nic_gbps", "nic_efficiency", "net_alpha_us", "switch_radix",
                          "gpu_w", "unit_kw", "hbm"}) {
      ASSERT_TRUE(p.sources.count(f)) << p.key << " " << f;
      EXPECT_FALSE(p.sources.at(f).empty());
    }
    // The fabric carries the sources on to its tiers.
    const Fabric fab = site_fabric(p, 1024);
    EXPECT_TRUE(fab.tiers[0].sources.count("bandwidth_gbps")) << p.key;
  }
  EXPECT_EQ(builtin_profiles().size(), 5u);
}

TEST(ModelFabric, JsonRoundTrip) {
  Fabric f = site_fabric(find_profile("gb200"), 140000);
  f.reduce_gbps = 123;
  const Fabric g = fabric_from_json(fabric_to_json(f), "mem");
  EXPECT_EQ(fabric_to_json(g), fabric_to_json(f));
  const std::string dir = model_test::temp_dir("fabric");
  bench::model_cli::save_fabric(f, dir + "/f.json");
  EXPECT_EQ(fabric_to_json(load_fabric(dir + "/f.json")), fabric_to_json(f));
  for (const auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(ModelFabric, ErrorsNameTheField) {
  const auto good = fabric_to_json(site_fabric(find_profile("h100"), 8192));
  auto check = [&](nlohmann::json j, const std::string& field) {
    const std::string msg = error_of([&] { fabric_from_json(j, "fab.json"); });
    EXPECT_NE(msg.find("fab.json: " + field), std::string::npos) << msg;
  };
  auto j = good;
  j["tiers"][1].erase("bandwidth_gbps");
  check(j, "tiers[1].bandwidth_gbps");
  j = good;
  j["tiers"][0]["alpha_us"] = "fast";
  check(j, "tiers[0].alpha_us");
  j = good;
  j["tiers"][1]["group_size"] = 100;  // not a multiple of 8
  check(j, "tiers[1].group_size");
  j = good;
  j["tiers"][1]["group_size"] = 0;  // only the top may be unbounded
  check(j, "tiers[1].group_size");
  j = good;
  j["tiers"][2]["oversubscription"] = 0.5;
  check(j, "tiers[2].oversubscription");
  j = good;
  j["tiers"][0]["efficiency"] = 1.5;
  check(j, "tiers[0].efficiency");
  j = good;
  j.erase("tiers");
  check(j, "tiers");
  j = good;
  j["schema_version"] = 2;
  check(j, "schema_version");
}

}  // namespace
}  // namespace collbench::model
