// Plain-text tables and number formatting for everything collbench prints (model commands,
// workload runs, topology reports): one place, so the same value reads the same everywhere.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace collbench::bench {

std::string fmt(double v, int decimals);  // fixed decimals
std::string commas(std::int64_t v);       // 1,234,567
// Three significant digits, no exponent for everyday magnitudes ("-" for NaN).
std::string sig(double v);
std::string pct(double v);  // 0.153 -> "15.3%"
// Up to four significant digits, trailing zeros dropped (1, 2.7, 0.85).
std::string short_num(double v);

// Columns sized to their widest cell; the first left-aligned, the rest right-aligned; a rule
// under the header.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void row(std::vector<std::string> cells);
  std::string str() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace collbench::bench
