// Whether a point's samples describe one regime. A point whose time switches level part-way (a
// change of the machine's state, not of the collective), or whose tail is far from its median,
// or whose repeats disagree, is flagged instead of being summarised as if it were one number.
//
// Regime switch: on the logarithm of the samples, the split into a leading and a trailing run
// (each at least max(3, n/10) samples) that explains the most variance (least squares) is the
// candidate; its significance is the share of B random permutations of the samples (fixed seed,
// so a verdict is reproducible) whose best split explains as much (a permutation test of the
// maximum, which needs no correction for the many splits tried). The switch is reported when
// that p-value is below alpha and the two runs' medians differ by more than the threshold
// (relative) and by more than 0.5 us.
// Tail: at least max(2, 5% of n) samples above max((1 + 4 x threshold) x p50, p50 + 0.5 us).
// Repeats: the p50 of the same point in different --repeat passes differ by more than threshold.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace collbench::bench {

struct StabilityOptions {
  double threshold = 0.25;  // relative change that counts as a different regime, in (0, 1)
  double alpha = 0.01;      // significance of a regime switch
  int permutations = 200;
  std::uint64_t seed = 0x5eed;
};

struct Instability {
  std::string reason;    // "regime switch", "heavy tail", "repeats disagree"
  int switch_at = -1;    // regime switch: index of the first sample of the second regime
  double before_us = 0;  // medians of the two regimes (switch), p50 and p95 (tail),
  double after_us = 0;   // or the smallest and largest p50 of the repeats
  double p_value = -1;   // of the switch; -1 when not a test
  nlohmann::json to_json() const;
  std::string text() const;  // one line for the console
};

// Nothing when the samples look like one regime.
std::optional<Instability> find_instability(std::span<const double> samples_us,
                                            const StabilityOptions& o);

// The change-point test alone: the best split, its statistic (variance explained) and its
// permutation p-value.
struct SplitTest {
  int split = -1;
  double z = 0;  // the statistic
  double p_value = 1;
  double before_median = 0, after_median = 0;
};
SplitTest best_split(std::span<const double> samples, const StabilityOptions& o);

}  // namespace collbench::bench
