// Size flags (binary K/M/G/T suffixes) and size sweeps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace collbench::bench {

// "8", "64K", "1M", "1G", "2GiB", "512B" -> bytes. Throws UsageError naming `flag` on bad input.
std::size_t parse_size(std::string_view text, std::string_view flag = "size");

// Longest sweep accepted: each size is measured in turn, so more is a mistyped flag (-f 1.0001,
// -i 1), not a measurement.
inline constexpr std::size_t kMaxSweepSizes = 10000;

// Sizes from min to max inclusive: multiplied by factor (> 1), or stepped by step_bytes when it
// is non-zero. 0 is allowed as the first size. Throws UsageError beyond kMaxSweepSizes sizes.
std::vector<std::size_t> size_sweep(std::size_t min_bytes, std::size_t max_bytes, double factor,
                                    std::size_t step_bytes);

// 1536 -> "1.5K", 1048576 -> "1M", 100 -> "100".
std::string format_size(std::size_t bytes);

}  // namespace collbench::bench
