#include "bench/stability.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "bench/stats.h"

namespace collbench::bench {
namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return percentile_sorted(v, 0.5);
}

// The largest reduction of the sum of squared deviations that one split of `x` (in sample order)
// achieves: the between-segment sum of squares n1 n2 / n (mean1 - mean2)^2, maximised over the
// allowed splits; *where gets the split. Least squares places a step exactly where it is, which
// rank statistics normalised by their variance do not (they favour the middle).
double best_reduction(std::span<const double> x, std::size_t min_side, int* where) {
  const std::size_t n = x.size();
  double total = 0;
  for (double v : x) total += v;
  double best = -1, prefix = 0;
  for (std::size_t k = 1; k < n; ++k) {
    prefix += x[k - 1];
    if (k < min_side || n - k < min_side) continue;
    const double n1 = static_cast<double>(k), n2 = static_cast<double>(n - k);
    const double d = prefix / n1 - (total - prefix) / n2;
    const double between = n1 * n2 / static_cast<double>(n) * d * d;
    if (between > best) {
      best = between;
      if (where) *where = static_cast<int>(k);
    }
  }
  return best;
}

std::string us(double v) {
  char b[32];
  std::snprintf(b, sizeof b, v >= 100 ? "%.0f" : "%.3g", v);
  return b;
}

}  // namespace

SplitTest best_split(std::span<const double> samples, const StabilityOptions& o) {
  SplitTest t;
  const std::size_t n = samples.size();
  const std::size_t min_side = std::max<std::size_t>(3, n / 10);
  if (n < 2 * min_side) return t;
  // On the logarithm (a level change is a ratio), clipped at 3 robust deviations from the median,
  // so that a rare spike cannot pass for a change of level (or hide one).
  std::vector<double> x;
  for (double v : samples) x.push_back(std::log(std::max(v, 1e-9)));
  const double med = median_of(x);
  std::vector<double> dev;
  for (double v : x) dev.push_back(std::fabs(v - med));
  const double spread = std::max(1.4826 * median_of(dev), 1e-3);
  for (double& v : x) v = std::clamp(v, med - 3 * spread, med + 3 * spread);
  const double observed = best_reduction(x, min_side, &t.split);
  if (t.split < 0) return t;
  t.z = observed;
  std::mt19937_64 rng(o.seed);
  int as_large = 0;
  for (int b = 0; b < o.permutations; ++b) {
    std::shuffle(x.begin(), x.end(), rng);
    if (best_reduction(x, min_side, nullptr) >= observed * (1 - 1e-12)) ++as_large;
  }
  t.p_value = (as_large + 1.0) / (o.permutations + 1.0);
  const auto k = static_cast<std::ptrdiff_t>(t.split);
  t.before_median = median_of({samples.begin(), samples.begin() + k});
  t.after_median = median_of({samples.begin() + k, samples.end()});
  return t;
}

// Below half a microsecond a level is an interrupt or a cache miss, not a regime: a no-op call
// (a zero-byte collective) of 0.01 us with a 0.1 us p95 is not unstable.
constexpr double kNoiseFloorUs = 0.5;

std::optional<Instability> find_instability(std::span<const double> samples_us,
                                            const StabilityOptions& o) {
  if (samples_us.size() < 6) return std::nullopt;
  const SplitTest t = best_split(samples_us, o);
  if (t.split >= 0 && t.p_value < o.alpha) {
    const double lo = std::min(t.before_median, t.after_median);
    const double hi = std::max(t.before_median, t.after_median);
    if (lo > 0 && hi / lo - 1 > o.threshold && hi - lo > kNoiseFloorUs)
      return Instability{"regime switch", t.split, t.before_median, t.after_median, t.p_value};
  }
  std::vector<double> v(samples_us.begin(), samples_us.end());
  std::sort(v.begin(), v.end());
  // A tail is at least 5% of the samples and never one sample: of 20, one interrupted call moves
  // the interpolated p95 past any bound (a spike, not a tail).
  const double p50 = percentile_sorted(v, 0.5), p95 = percentile_sorted(v, 0.95);
  const double bound = std::max((1 + 4 * o.threshold) * p50, p50 + kNoiseFloorUs);
  const auto above =
      static_cast<std::size_t>(v.end() - std::upper_bound(v.begin(), v.end(), bound));
  const std::size_t tail = std::max<std::size_t>(
      2, static_cast<std::size_t>(std::ceil(0.05 * static_cast<double>(v.size()))));
  if (p50 > 0 && above >= tail) return Instability{"heavy tail", -1, p50, p95, -1};
  return std::nullopt;
}

nlohmann::json Instability::to_json() const {
  nlohmann::json j = {{"reason", reason}};
  if (reason == "regime switch") {
    j["switch_at"] = switch_at;
    j["before_p50_us"] = before_us;
    j["after_p50_us"] = after_us;
    j["p_value"] = p_value;
  } else if (reason == "heavy tail") {
    j["p50_us"] = before_us;
    j["p95_us"] = after_us;
  } else {
    j["lowest_p50_us"] = before_us;
    j["highest_p50_us"] = after_us;
  }
  return j;
}

std::string Instability::text() const {
  if (reason == "regime switch")
    return "regime switch at sample " + std::to_string(switch_at) + ": " + us(before_us) +
           " us -> " + us(after_us) + " us";
  if (reason == "heavy tail")
    return "heavy tail: p95 " + us(after_us) + " us, p50 " + us(before_us);
  return "repeats disagree: p50 " + us(before_us) + " to " + us(after_us) + " us";
}

}  // namespace collbench::bench
