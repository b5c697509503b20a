#include "collectives/selection.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "collectives/error.h"
#include "collectives/input_file.h"
#include "collectives/registry.h"

namespace collbench::collectives {
namespace {

constexpr std::size_t kUnbounded = std::numeric_limits<std::size_t>::max();
constexpr std::size_t KiB = 1024, MiB = 1024 * 1024;

std::string_view key_of(Collective c) { return collective_name(c); }

SelectionRule rule(std::size_t lo, std::size_t hi, std::string algo, int min_ranks = 1,
                   int max_ranks = std::numeric_limits<int>::max()) {
  return {lo, hi, min_ranks, max_ranks, std::move(algo)};
}

}  // namespace

SelectionTable SelectionTable::builtin() {
  // From the α-β-γ costs (docs/algorithms.md) and measurements on a 2-core VM (OpenMPI 4.1 over
  // shared memory, 2 and 4 ranks; scripts/bench-algorithms.sh): whole-vector exchanges while
  // latency dominates (on 2 ranks recursive doubling sends no more bytes than the ring and needs
  // one step instead of two), Rabenseifner in between, the ring for long vectors (fewest bytes
  // per link, no fold penalty for non-powers of two). All-to-all: Bruck's lg p rounds for short
  // blocks on several ranks, then every message in flight at once (linear), and one peer at a
  // time (pairwise) for long blocks on many ranks, where flooding receivers costs. `collbench
  // tune` replaces these with measurements of the machine at hand.
  SelectionTable t;
  t.note = "built-in defaults";
  t.rules_[static_cast<int>(Collective::kAllReduce)] = {
      rule(0, 8 * KiB, "recursive_doubling"),
      rule(8 * KiB + 1, 1 * MiB, "recursive_doubling", 2, 2),
      rule(8 * KiB + 1, 1 * MiB, "rabenseifner"),
      rule(1 * MiB + 1, kUnbounded, "ring"),
  };
  t.rules_[static_cast<int>(Collective::kAllToAll)] = {
      rule(0, 1 * KiB, "bruck", 4, 7),
      rule(0, 8 * KiB, "bruck", 8),
      rule(0, 1 * MiB, "linear"),
      rule(1 * MiB + 1, kUnbounded, "linear", 1, 4),
      rule(1 * MiB + 1, kUnbounded, "pairwise"),
  };
  // Reduce-scatter and all-gather: the halves of the all-reduce choice (recursive halving /
  // doubling while latency dominates, the ring for long vectors); Bruck for short all-gathers
  // on rank counts that are not powers of two, where recursive doubling folds.
  t.rules_[static_cast<int>(Collective::kReduceScatter)] = {
      rule(0, 1 * MiB, "recursive_halving"),
      rule(1 * MiB + 1, kUnbounded, "ring"),
  };
  t.rules_[static_cast<int>(Collective::kAllGather)] = {
      rule(0, 64 * KiB, "bruck", 3),
      rule(0, 1 * MiB, "recursive_doubling"),
      rule(1 * MiB + 1, kUnbounded, "ring"),
  };
  return t;
}

const std::vector<SelectionRule>& SelectionTable::rules(Collective c) const {
  return rules_[static_cast<std::size_t>(c)];
}

void SelectionTable::set_rules(Collective c, std::vector<SelectionRule> r) {
  rules_[static_cast<std::size_t>(c)] = std::move(r);
}

void SelectionTable::replace_for_ranks(Collective c, int ranks, std::vector<SelectionRule> r) {
  auto& list = rules_[static_cast<std::size_t>(c)];
  std::erase_if(
      list, [&](const SelectionRule& x) { return x.min_ranks == ranks && x.max_ranks == ranks; });
  list.insert(list.begin(), r.begin(), r.end());
}

std::string SelectionTable::choose(Collective c, std::size_t bytes, int ranks) const {
  for (const auto& r : rules(c))
    if (r.matches(bytes, ranks)) return r.algorithm;
  static const SelectionTable kBuiltin = builtin();
  if (this != &kBuiltin)
    for (const auto& r : kBuiltin.rules(c))
      if (r.matches(bytes, ranks)) return r.algorithm;
  switch (c) {
    case Collective::kAllReduce:
    case Collective::kReduceScatter:
    case Collective::kAllGather:
      return "ring";
    case Collective::kAllToAll:
      return "linear";
  }
  return "ring";
}

SelectionTable SelectionTable::parse(std::string_view text, std::string_view origin) {
  const std::string where(origin);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("selection table " + where + ": not valid JSON: " + json_error_text(e));
  }
  if (!j.is_object()) throw UsageError("selection table " + where + ": expected a JSON object");
  if (j.contains("schema") && j["schema"] != std::string(kSchema))
    throw UsageError("selection table " + where + ": schema " + j["schema"].dump() + " is not " +
                     std::string(kSchema));
  SelectionTable t;
  t.origin_ = where;
  if (j.contains("note") && j["note"].is_string()) t.note = j["note"].get<std::string>();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key == "schema" || key == "note") continue;
    const auto c = parse_collective(key);
    if (!c)
      throw UsageError("selection table " + where + ": unknown key \"" + key + "\" (expected " +
                       collective_list() + ", schema, note)");
    if (!it->is_array())
      throw UsageError("selection table " + where + ": \"" + key + "\" must be a list of rules");
    std::vector<SelectionRule> rules;
    std::size_t index = 0;
    for (const auto& e : *it) {
      const std::string at =
          "selection table " + where + ": " + key + " rule " + std::to_string(index++);
      if (!e.is_object()) throw UsageError(at + " is not an object");
      SelectionRule r;
      try {
        if (!e.contains("algorithm") || !e["algorithm"].is_string())
          throw UsageError(at + " has no \"algorithm\" string");
        r.algorithm = e["algorithm"].get<std::string>();
        // A whole number in [0, limit], checked before any conversion (a double beyond the
        // target type's range would be undefined behaviour, not an error).
        const auto whole = [&](const char* key, double limit) {
          const auto& v = e[key];
          if (!v.is_number())
            throw UsageError(at + ": \"" + key + "\" must be a number, got " + v.dump());
          if (v.is_number_unsigned() && v.get<std::uint64_t>() <= static_cast<std::uint64_t>(limit))
            return v.get<std::uint64_t>();
          const double d = v.get<double>();
          if (!(d >= 0) || d != std::floor(d) || d > limit)
            throw UsageError(at + ": \"" + key + "\" must be a whole number from 0 to " +
                             std::to_string(static_cast<std::uint64_t>(limit)) + ", got " +
                             v.dump());
          return static_cast<std::uint64_t>(d);
        };
        constexpr double kBytesLimit = 9007199254740992.0;  // 2^53: 8 PiB
        constexpr double kRanksLimit = 2147483647.0;
        if (e.contains("min_bytes")) r.min_bytes = whole("min_bytes", kBytesLimit);
        if (e.contains("max_bytes") && !e["max_bytes"].is_null())
          r.max_bytes = whole("max_bytes", kBytesLimit);
        if (e.contains("min_ranks"))
          r.min_ranks = static_cast<int>(whole("min_ranks", kRanksLimit));
        if (e.contains("max_ranks") && !e["max_ranks"].is_null())
          r.max_ranks = static_cast<int>(whole("max_ranks", kRanksLimit));
      } catch (const nlohmann::json::exception& ex) {
        throw UsageError(at + ": " + json_error_text(ex));
      }
      for (auto f = e.begin(); f != e.end(); ++f)
        if (f.key() != "algorithm" && f.key() != "min_bytes" && f.key() != "max_bytes" &&
            f.key() != "min_ranks" && f.key() != "max_ranks")
          throw UsageError(at + ": unknown field \"" + f.key() + "\"");
      const AlgorithmInfo* known = find_algorithm(*c, r.algorithm);
      if (!known || !known->measurable())
        throw UsageError(at + ": no " + std::string(collective_name(*c)) + " algorithm named \"" +
                         r.algorithm + "\" (see collbench --list)");
      if (r.min_bytes > r.max_bytes)
        throw UsageError(at + ": min_bytes " + std::to_string(r.min_bytes) + " > max_bytes " +
                         std::to_string(r.max_bytes));
      if (r.min_ranks < 1 || r.min_ranks > r.max_ranks)
        throw UsageError(at + ": rank range [" + std::to_string(r.min_ranks) + ", " +
                         std::to_string(r.max_ranks) + "] is empty");
      rules.push_back(std::move(r));
    }
    t.set_rules(*c, std::move(rules));
  }
  return t;
}

SelectionTable SelectionTable::load(const std::string& path) {
  return parse(read_input_file(path, "selection table"), path);
}

SelectionTable SelectionTable::load_default(const std::string& path) {
  if (!path.empty()) return load(path);
  if (const char* env = std::getenv(kEnvVar); env && *env) return load(env);
  return builtin();
}

std::string SelectionTable::to_json() const {
  nlohmann::ordered_json j;
  j["schema"] = std::string(kSchema);
  if (!note.empty()) j["note"] = note;
  for (Collective c : kAllCollectives) {
    auto list = nlohmann::ordered_json::array();
    for (const auto& r : rules(c)) {
      nlohmann::ordered_json e;
      e["min_bytes"] = r.min_bytes;
      e["max_bytes"] = r.max_bytes == kUnbounded ? nlohmann::ordered_json(nullptr)
                                                 : nlohmann::ordered_json(r.max_bytes);
      e["min_ranks"] = r.min_ranks;
      e["max_ranks"] = r.max_ranks == std::numeric_limits<int>::max()
                           ? nlohmann::ordered_json(nullptr)
                           : nlohmann::ordered_json(r.max_ranks);
      e["algorithm"] = r.algorithm;
      list.push_back(std::move(e));
    }
    j[std::string(key_of(c))] = std::move(list);
  }
  return j.dump(2) + "\n";
}

void SelectionTable::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw Error("cannot write selection table " + tmp);
    out << to_json();
    if (!out.flush()) throw Error("cannot write selection table " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("cannot rename " + tmp + " to " + path);
  }
}

std::vector<SelectionRule> SelectionTable::rules_from_winners(
    const std::vector<std::pair<std::size_t, std::string>>& winners, int ranks) {
  std::vector<SelectionRule> out;
  std::size_t lo = 0;
  for (std::size_t i = 0; i < winners.size(); ++i) {
    const auto& [size, algo] = winners[i];
    const std::size_t hi = i + 1 == winners.size() ? kUnbounded : size;
    if (!out.empty() && out.back().algorithm == algo) {
      out.back().max_bytes = hi;
    } else {
      out.push_back(rule(lo, hi, algo, ranks, ranks));
    }
    lo = size + 1;
  }
  return out;
}

}  // namespace collbench::collectives
