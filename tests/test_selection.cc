// The `--algo auto` selection table: built-in choices, parsing and its errors, round trip,
// fallback, and the per-rank rules `collbench tune` writes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "collectives/registry.h"
#include "collectives/selection.h"

namespace collbench::collectives {
namespace {

TEST(Selection, BuiltinNamesRegisteredAlgorithmsEverywhere) {
  const SelectionTable t = SelectionTable::builtin();
  for (Collective c : kAllCollectives) {
    EXPECT_FALSE(t.rules(c).empty());
    for (int ranks : {1, 2, 3, 4, 8, 13, 1024, 200000})
      for (std::size_t bytes = 0; bytes < (std::size_t{1} << 40); bytes = bytes * 2 + 1) {
        const std::string a = t.choose(c, bytes, ranks);
        const AlgorithmInfo* info = find_algorithm(c, a);
        ASSERT_NE(info, nullptr) << a;
        EXPECT_FALSE(info->native()) << "built-in table should pick own algorithms: " << a;
      }
  }
  EXPECT_EQ(t.choose(Collective::kAllReduce, 8, 4), "recursive_doubling");
  EXPECT_EQ(t.choose(Collective::kAllReduce, 64 << 20, 4), "ring");
  EXPECT_EQ(t.choose(Collective::kAllToAll, 64 << 20, 16), "pairwise");
  EXPECT_EQ(t.choose(Collective::kAllToAll, 64 << 20, 2), "linear");
  EXPECT_EQ(t.choose(Collective::kAllToAll, 256, 16), "bruck");
  EXPECT_EQ(t.choose(Collective::kAllReduce, 100 << 10, 2), "recursive_doubling");
  EXPECT_EQ(t.choose(Collective::kAllReduce, 100 << 10, 3), "rabenseifner");
}

TEST(Selection, ParseFirstMatchWinsAndFallsBack) {
  const auto t = SelectionTable::parse(R"({
    "schema": "collbench-selection-v1",
    "note": "test",
    "allreduce": [
      {"max_bytes": 100, "min_ranks": 4, "max_ranks": 4, "algorithm": "binomial"},
      {"min_bytes": 0, "max_bytes": 1000, "algorithm": "rabenseifner"},
      {"min_bytes": 5000, "algorithm": "MPI_Allreduce"}
    ]
  })",
                                       "inline");
  EXPECT_EQ(t.origin(), "inline");
  EXPECT_EQ(t.note, "test");
  EXPECT_EQ(t.choose(Collective::kAllReduce, 50, 4), "binomial");
  EXPECT_EQ(t.choose(Collective::kAllReduce, 50, 5), "rabenseifner");
  EXPECT_EQ(t.choose(Collective::kAllReduce, 1000, 4), "rabenseifner");  // inclusive
  EXPECT_EQ(t.choose(Collective::kAllReduce, 1 << 30, 2), "MPI_Allreduce");
  // 1001..4999 is not covered: the built-in table decides.
  EXPECT_EQ(t.choose(Collective::kAllReduce, 2000, 2),
            SelectionTable::builtin().choose(Collective::kAllReduce, 2000, 2));
  // No all-to-all rules at all: built-in.
  EXPECT_TRUE(t.rules(Collective::kAllToAll).empty());
  EXPECT_EQ(t.choose(Collective::kAllToAll, 1 << 30, 16), "pairwise");
}

TEST(Selection, RoundTripThroughJson) {
  SelectionTable t = SelectionTable::builtin();
  t.note = "round trip";
  t.replace_for_ranks(
      Collective::kAllReduce, 6,
      {SelectionRule{0, 10, 6, 6, "binomial"}, SelectionRule{11, 99, 6, 6, "ring"}});
  const auto back = SelectionTable::parse(t.to_json(), "mem");
  for (Collective c : {Collective::kAllReduce, Collective::kAllToAll})
    EXPECT_EQ(back.rules(c), t.rules(c));
  EXPECT_EQ(back.note, "round trip");
  EXPECT_EQ(back.to_json(), t.to_json());
}

TEST(Selection, ErrorsNameTheProblem) {
  auto expect_error = [](const char* json, const char* needle) {
    try {
      SelectionTable::parse(json, "t.json");
      ADD_FAILURE() << "accepted: " << json;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("t.json"), std::string::npos) << e.what();
    }
  };
  expect_error("{", "not valid JSON");
  expect_error("[]", "JSON object");
  expect_error(R"({"allreduce": [{"algorithm": "nope"}]})",
               "no allreduce algorithm named \"nope\"");
  expect_error(R"({"allreduce": [{"algorithm": "linear"}]})",
               "named \"linear\"");  // wrong collective
  expect_error(R"({"alltoall": [{"min_bytes": 10}]})", "no \"algorithm\"");
  expect_error(R"({"allreduce": [{"algorithm": "ring", "min_bytes": 10, "max_bytes": 5}]})",
               "min_bytes 10 > max_bytes 5");
  expect_error(R"({"allreduce": [{"algorithm": "ring", "min_ranks": 0}]})", "rank range");
  expect_error(R"({"allreduce": [{"algorithm": "ring", "max_byte": 5}]})", "unknown field");
  expect_error(R"({"broadcast": []})", "unknown key");
  expect_error(R"({"schema": "v0", "allreduce": []})", "schema");
  expect_error(R"({"allreduce": [{"algorithm": "ring", "min_bytes": "x"}]})", "rule 0");
}

TEST(Selection, RulesFromWinnersMergeNeighbours) {
  const auto rules = SelectionTable::rules_from_winners({{4, "recursive_doubling"},
                                                         {8, "recursive_doubling"},
                                                         {16, "rabenseifner"},
                                                         {32, "ring"},
                                                         {64, "ring"}},
                                                        4);
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0], (SelectionRule{0, 8, 4, 4, "recursive_doubling"}));
  EXPECT_EQ(rules[1], (SelectionRule{9, 16, 4, 4, "rabenseifner"}));
  EXPECT_EQ(rules[2].min_bytes, 17u);
  EXPECT_EQ(rules[2].max_bytes, std::numeric_limits<std::size_t>::max());
  EXPECT_EQ(rules[2].algorithm, "ring");
  SelectionTable t = SelectionTable::builtin();
  t.replace_for_ranks(Collective::kAllReduce, 4, rules);
  EXPECT_EQ(t.choose(Collective::kAllReduce, 12, 4), "rabenseifner");
  EXPECT_EQ(t.choose(Collective::kAllReduce, 12, 2),
            SelectionTable::builtin().choose(Collective::kAllReduce, 12, 2));
  // Tuning again for 4 ranks replaces, not accumulates.
  t.replace_for_ranks(Collective::kAllReduce, 4, {SelectionRule{0, 100, 4, 4, "binomial"}});
  EXPECT_EQ(t.choose(Collective::kAllReduce, 12, 4), "binomial");
  EXPECT_EQ(t.rules(Collective::kAllReduce).size(),
            SelectionTable::builtin().rules(Collective::kAllReduce).size() + 1);
}

TEST(Selection, SaveLoadAndEnvironment) {
  char dir[] = "/tmp/collbench-selXXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/table.json";
  SelectionTable t;
  t.set_rules(Collective::kAllToAll, {SelectionRule{0, 1000, 1, 64, "bruck"}});
  t.save(path);
  const auto loaded = SelectionTable::load(path);
  EXPECT_EQ(loaded.origin(), path);
  EXPECT_EQ(loaded.choose(Collective::kAllToAll, 10, 2), "bruck");
  EXPECT_THROW(SelectionTable::load(std::string(dir) + "/missing.json"), UsageError);
  setenv(SelectionTable::kEnvVar, path.c_str(), 1);
  EXPECT_EQ(SelectionTable::load_default().origin(), path);
  unsetenv(SelectionTable::kEnvVar);
  EXPECT_EQ(SelectionTable::load_default().origin(), "built-in");
  std::remove(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace collbench::collectives
