// SHA-256 (FIPS 180-4), for the calibration record's train/test rule: a case's role is fixed by
// the hash of its run, so that nobody chooses which cases judge the model.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace collbench::model {

std::array<std::uint8_t, 32> sha256(std::string_view data);
// Lower-case hexadecimal digest.
std::string sha256_hex(std::string_view data);

}  // namespace collbench::model
