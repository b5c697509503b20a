// Replays the fuzz seed corpora and every input a fuzzer once crashed on
// (tests/fuzz/regressions/<target>/) through the fuzz entry points, in every build: a parser
// that breaks a promise again, or throws what main() does not catch, fails here; under
// scripts/test.sh --sanitize the sanitizers also check each input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/targets.h"

namespace collbench::fuzz {
namespace {

namespace fs = std::filesystem;

struct Target {
  const char* name;  // folder under tests/fuzz/corpus/ and tests/fuzz/regressions/
  void (*run)(const std::uint8_t*, std::size_t);
};
constexpr Target kTargets[] = {{"size", fuzz_size},
                               {"cli", fuzz_cli},
                               {"result", fuzz_result},
                               {"fabric", fuzz_fabric},
                               {"workload", fuzz_workload},
                               {"selection", fuzz_selection},
                               {"calibration", fuzz_calibration}};

std::vector<fs::path> inputs(const std::string& kind, const std::string& target) {
  std::vector<fs::path> out;
  const fs::path dir = fs::path(COLLBENCH_FUZZ_DIR) / kind / target;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void replay(const Target& t, const std::vector<fs::path>& files) {
  for (const auto& f : files) {
    const std::string bytes = read(f);
    SCOPED_TRACE(f.string());
    try {
      t.run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    } catch (const PropertyViolation& e) {
      ADD_FAILURE() << "promise broken: " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception the CLI does not handle: " << e.what();
    }
  }
}

TEST(FuzzReplay, EveryTargetHasASeedCorpus) {
  for (const auto& t : kTargets) EXPECT_GE(inputs("corpus", t.name).size(), 3u) << t.name;
}

TEST(FuzzReplay, SeedCorpora) {
  for (const auto& t : kTargets) replay(t, inputs("corpus", t.name));
}

TEST(FuzzReplay, Regressions) {
  for (const auto& t : kTargets) replay(t, inputs("regressions", t.name));
}

}  // namespace
}  // namespace collbench::fuzz
