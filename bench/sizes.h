// Size sweeps (the size flags themselves are parsed by collectives/units.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/units.h"

namespace collbench::bench {

using collectives::format_size;
using collectives::parse_size;

// Longest sweep accepted: each size is measured in turn, so more is a mistyped flag (-f 1.0001,
// -i 1), not a measurement.
inline constexpr std::size_t kMaxSweepSizes = 10000;

// Sizes from min to max inclusive: multiplied by factor (> 1), or stepped by step_bytes when it
// is non-zero. 0 is allowed as the first size. Throws UsageError beyond kMaxSweepSizes sizes.
std::vector<std::size_t> size_sweep(std::size_t min_bytes, std::size_t max_bytes, double factor,
                                    std::size_t step_bytes);

}  // namespace collbench::bench
