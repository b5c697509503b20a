#include "bench/table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace collbench::bench {

std::string fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string commas(std::int64_t v) {
  // Unsigned magnitude: -v overflows for the most negative value.
  const std::uint64_t mag =
      v < 0 ? ~static_cast<std::uint64_t>(v) + 1 : static_cast<std::uint64_t>(v);
  const std::string digits = std::to_string(mag);
  std::string out = v < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string sig(double v) {
  if (std::isnan(v)) return "-";
  const double a = std::fabs(v);
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // Digits with commas up to a million billion; beyond, a 64-bit integer would overflow and
  // nobody reads that many digits.
  if (a >= 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
  }
  if (a >= 1e6) return commas(static_cast<std::int64_t>(std::llround(v)));
  if (a >= 100) return fmt(v, 0);
  if (a >= 10) return fmt(v, 1);
  if (a >= 1) return fmt(v, 2);
  if (a == 0) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string pct(double v) { return fmt(v * 100, 1) + "%"; }

std::string short_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

void Table::row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::str() const {
  std::vector<std::size_t> w(headers_.size());
  for (std::size_t c = 0; c < headers_.size(); ++c) {
    w[c] = headers_[c].size();
    for (const auto& r : rows_) w[c] = std::max(w[c], r[c].size());
  }
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::size_t pad = w[c] - cells[c].size();
      if (c == 0) {
        out << cells[c] << std::string(pad, ' ');
      } else {
        out << "  " << std::string(pad, ' ') << cells[c];
      }
    }
    out << '\n';
  };
  line(headers_);
  std::size_t total = 0;
  for (std::size_t c = 0; c < w.size(); ++c) total += w[c] + (c ? 2 : 0);
  out << std::string(total, '-') << '\n';
  for (const auto& r : rows_) line(r);
  return out.str();
}

}  // namespace collbench::bench
