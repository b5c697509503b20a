// The instability test of a point's samples (bench/stability.h): a level switch is found at the
// right sample, a steady point with realistic noise is not flagged, heavy tails and disagreeing
// repeats are named.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "bench/stability.h"

namespace collbench::bench {
namespace {

// Samples of a steady point: a level with log-normal jitter and rare short spikes, as a
// latency-bound collective shows on a shared machine.
std::vector<double> steady(std::mt19937_64& rng, int n, double level, double jitter) {
  std::lognormal_distribution<double> noise(0.0, jitter);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(level * noise(rng) * (u(rng) < 0.03 ? 1.8 : 1.0));
  return v;
}

TEST(Stability, RegimeSwitchFoundAtItsSample) {
  std::mt19937_64 rng(1);
  int found = 0, at_right_place = 0;
  for (int trial = 0; trial < 50; ++trial) {
    auto v = steady(rng, 20, 125, 0.08);
    for (std::size_t i = 5; i < v.size(); ++i) v[i] *= 11;  // 125 us -> ~1.4 ms
    const auto why = find_instability(v, StabilityOptions{});
    if (why && why->reason == "regime switch") {
      ++found;
      at_right_place += why->switch_at == 5;
      EXPECT_LT(why->p_value, 0.01);
      EXPECT_GT(why->after_us / why->before_us, 5);
    }
  }
  EXPECT_EQ(found, 50);
  EXPECT_GE(at_right_place, 48);
}

TEST(Stability, SteadyPointsRarelyFlagged) {
  std::mt19937_64 rng(2);
  int flagged = 0;
  for (int trial = 0; trial < 400; ++trial)
    flagged += find_instability(steady(rng, 20, 125, 0.08), StabilityOptions{}).has_value();
  EXPECT_LE(flagged, 400 * 5 / 100) << flagged << " of 400 steady points flagged";
}

TEST(Stability, SmallStepBelowTheThresholdIsNotASwitch) {
  std::mt19937_64 rng(3);
  auto v = steady(rng, 40, 100, 0.02);
  for (std::size_t i = 20; i < v.size(); ++i) v[i] *= 1.1;  // significant but only 10%
  EXPECT_FALSE(find_instability(v, StabilityOptions{}).has_value());
  StabilityOptions tight;
  tight.threshold = 0.05;
  const auto why = find_instability(v, tight);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(why->reason, "regime switch");
  EXPECT_NEAR(why->switch_at, 20, 2);
}

TEST(Stability, HeavyTail) {
  std::vector<double> v(20, 100.0);
  for (int i : {3, 9, 14}) v[static_cast<std::size_t>(i)] = 900;  // 15% of calls 9x slower
  const auto why = find_instability(v, StabilityOptions{});
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(why->reason, "heavy tail");
  EXPECT_NE(why->text().find("p95"), std::string::npos);
}

TEST(Stability, OneSpikeIsNotAHeavyTail) {
  std::vector<double> v(20, 100.0);
  v[11] = 3000;  // one call interrupted for 3 ms: p95 interpolates to 245, but it is one call
  EXPECT_FALSE(find_instability(v, StabilityOptions{}).has_value());
  v[4] = 2500;  // a second one of 20 is a tail (10%)
  const auto why = find_instability(v, StabilityOptions{});
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(why->reason, "heavy tail");
}

TEST(Stability, SubMicrosecondJitterIsNotARegime) {
  std::vector<double> v(20, 0.01);  // a zero-byte call
  for (int i : {2, 7, 13}) v[static_cast<std::size_t>(i)] = 0.1;
  EXPECT_FALSE(find_instability(v, StabilityOptions{}).has_value());
  std::vector<double> w(20, 0.2);
  for (std::size_t i = 10; i < 20; ++i) w[i] = 0.6;  // 3x, but 0.4 us
  EXPECT_FALSE(find_instability(w, StabilityOptions{}).has_value());
  for (std::size_t i = 10; i < 20; ++i) w[i] = 2.0;  // 10x and 1.8 us: a regime
  ASSERT_TRUE(find_instability(w, StabilityOptions{}).has_value());
}

TEST(Stability, TooFewSamplesAreNotJudged) {
  EXPECT_FALSE(find_instability(std::vector<double>{1, 100, 1}, StabilityOptions{}).has_value());
  EXPECT_FALSE(find_instability(std::vector<double>{}, StabilityOptions{}).has_value());
}

TEST(Stability, VerdictIsReproducible) {
  std::mt19937_64 rng(4);
  const auto v = steady(rng, 30, 50, 0.3);
  const SplitTest a = best_split(v, StabilityOptions{}), b = best_split(v, StabilityOptions{});
  EXPECT_EQ(a.split, b.split);
  EXPECT_EQ(a.p_value, b.p_value);
}

}  // namespace
}  // namespace collbench::bench
