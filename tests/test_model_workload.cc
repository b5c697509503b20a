// Training step → collectives: sizes and counts against docs/sources.md §5, configuration errors
// that name the field, and the step's time on a site.
#include <gtest/gtest.h>

#include "collectives/error.h"
#include "topology/model/profiles.h"
#include "topology/model/site.h"
#include "topology/model/workload.h"

namespace collbench::model {
namespace {

const StepCollective* find(const std::vector<StepCollective>& v, const std::string& what) {
  for (const auto& c : v)
    if (c.what == what) return &c;
  return nullptr;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelWorkload, Llama405bStep) {
  const Workload w = resolve_workload(builtin_workload("llama3-405b"));
  EXPECT_EQ(w.parallel.gpus, 16384);
  EXPECT_EQ(w.model.microbatches, 2048 / 128);
  const auto cs = step_collectives(w);
  // Tensor parallel: b·s·h·2 bytes = 268 MB (docs/sources.md §5), 4 per layer and micro-batch,
  // 126 layers over 16 stages -> 8 layers per stage.
  const StepCollective* tp = find(cs, "TP activations");
  ASSERT_NE(tp, nullptr);
  EXPECT_DOUBLE_EQ(tp->bytes, 8192.0 * 16384 * 2);
  EXPECT_EQ(tp->group_size, 8);
  EXPECT_EQ(tp->stride, 1);
  EXPECT_DOUBLE_EQ(tp->count, 4 * 8 * 16);
  // Data parallel (ZeRO-1): reduce-scatter + all-gather of 2·P/(TP·PP) bytes over DP128.
  const StepCollective* dp = find(cs, "DP gradients (ZeRO)");
  ASSERT_NE(dp, nullptr);
  EXPECT_DOUBLE_EQ(dp->bytes, 2 * 405e9 / (8 * 16));
  EXPECT_EQ(dp->group_size, 128);
  EXPECT_EQ(dp->stride, 8);
  const StepCollective* pp = find(cs, "PP activations");
  ASSERT_NE(pp, nullptr);
  EXPECT_EQ(pp->stride, 8 * 128);
  EXPECT_EQ(find(cs, "EP dispatch"), nullptr);
}

TEST(ModelWorkload, DeepSeekExpertParallelBytesPerToken) {
  const Workload w = resolve_workload(builtin_workload("deepseek-v3"));
  const auto cs = step_collectives(w);
  const StepCollective* d = find(cs, "EP dispatch");
  const StepCollective* c = find(cs, "EP combine");
  ASSERT_NE(d, nullptr);
  ASSERT_NE(c, nullptr);
  const double tokens = 4096;  // micro-batch 1 x seq 4096, TP1, CP1
  // docs/sources.md §5: about 172 KB per token per layer (FP8 dispatch + BF16 combine, top-8).
  EXPECT_NEAR((d->bytes + c->bytes) / tokens, 172032, 1);
  EXPECT_EQ(d->group_size, 64);
  EXPECT_DOUBLE_EQ(d->count, 2 * 4 * w.model.microbatches);  // 58 MoE layers / 16 stages -> 4
  const StepCollective* e = find(cs, "expert gradients (ZeRO)");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->group_size, 2);  // 128 DP ranks / EP64
}

TEST(ModelWorkload, FillingTheSite) {
  const Site s = plan_site(find_profile("h100"), {});
  const Workload w = resolve_workload(builtin_workload("frontier-300mw"), s.gpus);
  EXPECT_EQ(w.parallel.dp, s.gpus / 128);
  EXPECT_LE(w.parallel.gpus, s.gpus);
  EXPECT_GT(w.parallel.gpus, s.gpus - 128);
  EXPECT_NE(error_of([] {
              resolve_workload(builtin_workload("frontier-300mw"), 64);
            }).find("fewer than one model replica"),
            std::string::npos);
}

TEST(ModelWorkload, ConfigErrorsNameTheField) {
  nlohmann::json good = workload_to_json(builtin_workload("llama3-405b"));
  auto check = [&](nlohmann::json j, const std::string& field) {
    const std::string msg = error_of([&] { workload_from_json(j, "w.json"); });
    EXPECT_NE(msg.find(field), std::string::npos) << "got: " << msg;
  };
  auto j = good;
  j["parallel"]["gpus"] = 16000;
  check(j, "tp*cp*pp*dp = 8*1*16*128 = 16384 but parallel.gpus = 16000");
  j = good;
  j["model"].erase("hidden");
  check(j, "w.json: model.hidden: missing");
  j = good;
  j["parallel"]["tp"] = 3;
  check(j, "parallel.tp");
  j = good;
  j["parallel"]["ep"] = 4;
  check(j, "parallel.ep");
  j = good;
  j["model"]["global_batch"] = 1000;
  check(j, "model.global_batch");
  j = good;
  j["parallel"]["dp"] = "lots";
  check(j, "parallel.dp");
  j = good;
  j["parallel"]["zero"] = 4;
  check(j, "parallel.zero");
  auto moe = workload_to_json(builtin_workload("deepseek-v3"));
  moe["parallel"]["ep"] = 48;
  check(moe, "parallel.ep");
  EXPECT_EQ(workload_to_json(workload_from_json(good, "w.json")), good);
}

TEST(ModelWorkload, ScaledDownStepKeepsSizesAndShrinksGroups) {
  const Workload llama = resolve_workload(builtin_workload("llama3-405b"));
  const Workload small = scaled_parallelism(llama, 4);
  EXPECT_EQ(small.parallel.tp, 4);
  EXPECT_EQ(small.parallel.dp, 1);
  EXPECT_EQ(small.parallel.pp, 1);
  const auto plan = scaled_step(llama, 4);
  ASSERT_EQ(plan.size(), 1u);  // only TP has more than one rank left
  EXPECT_EQ(plan[0].what, "TP activations");
  EXPECT_EQ(plan[0].group_size, 4);
  EXPECT_DOUBLE_EQ(plan[0].bytes, 8192.0 * 16384 * 2);  // the full step's message
  const Workload ds = resolve_workload(builtin_workload("deepseek-v3"));
  const auto moe = scaled_step(ds, 4);
  const StepCollective* ep = find(moe, "EP dispatch");
  const StepCollective* dp = find(moe, "DP gradients (ZeRO)");
  ASSERT_NE(ep, nullptr);
  ASSERT_NE(dp, nullptr);
  EXPECT_EQ(ep->group_size, 4);
  EXPECT_EQ(dp->group_size, 4);
  EXPECT_DOUBLE_EQ(ep->bytes, find(step_collectives(ds), "EP dispatch")->bytes);
  // 3 ranks: degrees become divisors of 3.
  EXPECT_EQ(scaled_parallelism(llama, 3).parallel.tp, 3);
  EXPECT_THROW(scaled_parallelism(llama, 0), UsageError);
}

TEST(ModelWorkload, StepTimeOnASiteAndDataParallelGrowth) {
  const Fabric f = site_fabric(find_profile("h100"), 183248);
  const ModelNet net = make_net(f);
  Workload w = resolve_workload(builtin_workload("llama3-405b"));
  const StepTiming t = time_step(w, net);
  double sum = 0;
  for (const auto& i : t.items) {
    EXPECT_GT(i.time_each_s, 0) << i.c.what;
    EXPECT_DOUBLE_EQ(i.time_step_s, i.time_each_s * i.c.count);
    sum += i.time_step_s;
  }
  EXPECT_NEAR(t.total_s, sum, 1e-12);
  // The DP all-gather of 6.3 GB over 128 ranks is bandwidth-bound: at least size / NIC rate.
  const StepCost* dp = nullptr;
  for (const auto& i : t.items)
    if (i.c.what == "DP weights (ZeRO)") dp = &i;
  ASSERT_NE(dp, nullptr);
  EXPECT_GT(dp->time_each_s, 0.5 * 2 * 405e9 / 128 / 50e9);
  // Growing DP with fixed micro-batches never makes the DP collectives cheaper.
  double prev = 0;
  for (std::int64_t d : {128, 512, 2048}) {
    Workload g = w;
    g.parallel.dp = d;
    g.parallel.gpus = 0;
    g.model.global_batch = 0;
    g = resolve_workload(g);
    double dp_t = 0;
    for (const auto& i : time_step(g, net).items)
      if (i.c.group == "DP") dp_t += i.time_step_s;
    EXPECT_GE(dp_t, prev * 0.999) << d;
    prev = dp_t;
  }
}

}  // namespace
}  // namespace collbench::model
