#include "collectives/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include "collectives/error.h"

namespace collbench::collectives {

std::size_t parse_size(std::string_view text, std::string_view flag) {
  auto bad = [&](const std::string& why) -> UsageError {
    return UsageError("invalid " + std::string(flag) + " '" + std::string(text) + "': " + why);
  };
  std::size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (i == text.size()) throw bad("empty");
  if (text[i] == '-') throw bad("sizes cannot be negative");
  std::uint64_t value = 0;
  std::size_t digits = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++digits) {
    const std::uint64_t d = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - d) / 10) throw bad("too large");
    value = value * 10 + d;
  }
  if (digits == 0) throw bad("expected a number, optionally followed by K, M, G or T");
  std::string suffix;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    suffix += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  unsigned shift = 0;
  if (suffix.empty() || suffix == "B") {
    shift = 0;
  } else if (suffix == "K" || suffix == "KB" || suffix == "KIB") {
    shift = 10;
  } else if (suffix == "M" || suffix == "MB" || suffix == "MIB") {
    shift = 20;
  } else if (suffix == "G" || suffix == "GB" || suffix == "GIB") {
    shift = 30;
  } else if (suffix == "T" || suffix == "TB" || suffix == "TIB") {
    shift = 40;
  } else {
    throw bad("unknown suffix '" + suffix + "' (use K, M, G or T: powers of 1024)");
  }
  if (shift && value > (std::numeric_limits<std::uint64_t>::max() >> shift)) throw bad("too large");
  const std::uint64_t bytes = value << shift;
  if (bytes > (std::uint64_t{1} << 50)) throw bad("larger than 1 PiB");
  return static_cast<std::size_t>(bytes);
}

std::string format_size(std::size_t bytes) {
  static const char* kUnits[] = {"", "K", "M", "G", "T"};
  int u = 0;
  double v = static_cast<double>(bytes);
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%zu", bytes);
  } else if (v == std::floor(v)) {
    std::snprintf(buf, sizeof buf, "%.0f%s", v, kUnits[u]);
  } else if (v >= 999.5) {
    // %.3g would switch to an exponent (1e+03G, also for 999.97 which rounds up to 1000),
    // which parse_size does not read.
    std::snprintf(buf, sizeof buf, "%.0f%s", v, kUnits[u]);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g%s", v, kUnits[u]);
  }
  return buf;
}

std::string human_bytes(std::int64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (v == static_cast<double>(static_cast<std::int64_t>(v)))
    std::snprintf(buf, sizeof buf, "%lld %s", static_cast<long long>(v), units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace collbench::collectives
