// Statistics over per-iteration samples.
#pragma once

#include <span>

namespace collbench::bench {

struct Stats {
  double min = 0, mean = 0, p50 = 0, p95 = 0, p99 = 0, max = 0, stdev = 0;
};

// Percentiles interpolate linearly between order statistics (numpy's default). stdev is the
// sample standard deviation (n - 1); 0 for fewer than two samples. Empty input gives zeros.
Stats compute_stats(std::span<const double> samples);

// q in [0, 1] of already sorted values.
double percentile_sorted(std::span<const double> sorted, double q);

}  // namespace collbench::bench
