// Sizes as users write and read them: binary K/M/G/T suffixes on the command line, the same
// in tables. One place for every layer (benchmark flags, model inputs, topology reports).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace collbench::collectives {

// "8", "64K", "1M", "1G", "2GiB", "512B" -> bytes. Throws UsageError naming `flag` on bad input.
std::size_t parse_size(std::string_view text, std::string_view flag = "size");

// 1536 -> "1.5K", 1048576 -> "1M", 100 -> "100"; parse_size reads it back.
std::string format_size(std::size_t bytes);

// 512 -> "512 B", 49152 -> "48 KiB", 5194416128 -> "4.8 GiB" (for prose and reports).
std::string human_bytes(std::int64_t bytes);

}  // namespace collbench::collectives
