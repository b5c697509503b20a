// `--algo auto`: which own or native algorithm to run for a collective, message size and rank
// count, decided by a table kept as data. The built-in table reflects measurements (see
// docs/algorithms.md); `collbench tune` measures this machine and writes a table the user then
// passes back (a file, or $COLLBENCH_SELECTION).
//
// File format (JSON, schema "collbench-selection-v1"):
//   { "schema": "collbench-selection-v1",
//     "note": "free text, e.g. where it was measured",
//     "allreduce": [ {"min_bytes": 0, "max_bytes": 8192, "min_ranks": 1, "max_ranks": 64,
//                     "algorithm": "recursive_doubling"}, ... ],
//     "alltoall":  [ ... ], "reducescatter": [ ... ], "allgather": [ ... ] }
// Byte ranges are inclusive and use the collective's size convention (all-reduce: bytes of each
// rank's vector; all-to-all: total bytes each rank sends). Every field but "algorithm" is
// optional (min 0 / 1, max unbounded). Rules are tried in order; the first match wins. A size no
// rule of the file covers falls back to the built-in table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectives/collective.h"
#include "collectives/dtype.h"

namespace collbench::collectives {

struct SelectionRule {
  std::size_t min_bytes = 0;
  std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
  int min_ranks = 1;
  int max_ranks = std::numeric_limits<int>::max();
  std::string algorithm;

  bool matches(std::size_t bytes, int ranks) const {
    return bytes >= min_bytes && bytes <= max_bytes && ranks >= min_ranks && ranks <= max_ranks;
  }
  bool operator==(const SelectionRule&) const = default;
};

class SelectionTable {
 public:
  static constexpr std::string_view kSchema = "collbench-selection-v1";
  // The environment variable `--algo auto` reads a table path from when no file is given.
  static constexpr const char* kEnvVar = "COLLBENCH_SELECTION";

  // The table shipped with collbench.
  static SelectionTable builtin();
  // Parses a table; throws UsageError naming `origin` and the offending entry (unknown
  // algorithm, inverted range, missing field, bad JSON).
  static SelectionTable parse(std::string_view json_text, std::string_view origin);
  // Reads and parses a file (UsageError if it cannot be read).
  static SelectionTable load(const std::string& path);
  // load(path) if path is non-empty, else load($COLLBENCH_SELECTION) if set, else builtin().
  static SelectionTable load_default(const std::string& path = "");

  // The algorithm for this collective, size and rank count: the first matching rule, else the
  // built-in table's choice. Never empty.
  std::string choose(Collective c, std::size_t bytes, int ranks) const;

  const std::vector<SelectionRule>& rules(Collective c) const;
  void set_rules(Collective c, std::vector<SelectionRule> rules);
  // Replaces the rules made for exactly `ranks` ranks by `rules` (put before the general ones),
  // which is what `collbench tune` does for the rank count it measured.
  void replace_for_ranks(Collective c, int ranks, std::vector<SelectionRule> rules);

  std::string to_json() const;  // pretty-printed, parse() reads it back unchanged
  // Writes atomically (temporary file + rename); throws Error on failure.
  void save(const std::string& path) const;

  // Where the table came from ("built-in" or a path), for result provenance.
  const std::string& origin() const { return origin_; }
  std::string note;

  // Turns per-size winners of a measurement (sizes ascending) into byte-range rules for one rank
  // count: the winner at size s_i covers (s_{i-1}, s_i]; the first starts at 0 and the last is
  // unbounded above; neighbours with the same winner merge.
  static std::vector<SelectionRule> rules_from_winners(
      const std::vector<std::pair<std::size_t, std::string>>& winners, int ranks);

 private:
  std::array<std::vector<SelectionRule>, kAllCollectives.size()> rules_;
  std::string origin_ = "built-in";
};

}  // namespace collbench::collectives
