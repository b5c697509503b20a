#include "bench/sizes.h"

#include <cmath>

#include "collectives/error.h"

namespace collbench::bench {

std::vector<std::size_t> size_sweep(std::size_t min_bytes, std::size_t max_bytes, double factor,
                                    std::size_t step_bytes) {
  std::vector<std::size_t> sizes;
  if (min_bytes > max_bytes) return sizes;
  std::size_t s = min_bytes;
  while (true) {
    if (sizes.size() == kMaxSweepSizes)
      throw UsageError("the sweep from " + format_size(min_bytes) + " to " +
                       format_size(max_bytes) + " has more than " + std::to_string(kMaxSweepSizes) +
                       " sizes; raise --step-factor or --step-bytes");
    sizes.push_back(s);
    std::size_t next;
    if (step_bytes > 0) {
      next = s + step_bytes;
    } else {
      const double scaled = std::floor(static_cast<double>(s) * factor);
      // Written so that NaN (0 x inf) also ends the sweep instead of reaching the cast.
      next = !(scaled <= static_cast<double>(max_bytes)) ? max_bytes + 1
                                                         : static_cast<std::size_t>(scaled);
      if (next <= s) next = s + 1;
    }
    if (next > max_bytes || next < s) break;
    s = next;
  }
  return sizes;
}

}  // namespace collbench::bench
