// Harness behaviour the reliability work fixed: bad numeric flags refused before anything runs,
// usage errors reported by the first rank of every MPMD command line, input and output files
// checked, and the command line's own checks. The end-to-end cases are in tests/probe/.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "bench/cli.h"
#include "bench/cli_checks.h"
#include "bench/mpi_session.h"
#include "bench/options.h"
#include "bench/output_file.h"
#include "bench/sizes.h"
#include "bench/table.h"
#include "collectives/error.h"
#include "collectives/input_file.h"

namespace collbench::bench {
namespace {

Options validated(std::size_t min, std::size_t max, double factor, std::size_t step,
                  double timeout = 300) {
  Options o;
  o.min_bytes = min;
  o.max_bytes = max;
  o.step_factor = factor;
  o.step_bytes = step;
  o.timeout_s = timeout;
  validate_options(o, {}, {}, {}, "both");
  return o;
}

TEST(Reliability, SweepFromZeroWithInfiniteFactorEnds) {
  // 0 x inf is NaN: the sweep must end rather than convert NaN to an integer.
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(size_sweep(0, 1024, inf, 0), (std::vector<std::size_t>{0}));
  EXPECT_EQ(size_sweep(8, 1024, inf, 0), (std::vector<std::size_t>{8}));
}

TEST(Reliability, OverlongSweepIsAUsageError) {
  EXPECT_EQ(size_sweep(1, kMaxSweepSizes, 2, 1).size(), kMaxSweepSizes);
  EXPECT_THROW(size_sweep(0, kMaxSweepSizes, 2, 1), UsageError);
  EXPECT_THROW(size_sweep(0, std::size_t{1} << 40, 1.0000001, 0), UsageError);
  // Refused while the options are validated, before MPI starts.
  EXPECT_THROW(validated(0, std::size_t{1} << 30, 2, 1), UsageError);
  EXPECT_THROW(validated(8, std::size_t{64} << 20, 1.0001, 0), UsageError);
  EXPECT_NO_THROW(validated(8, std::size_t{64} << 20, 1.01, 0));
}

TEST(Reliability, TimeoutMustBeFinite) {
  EXPECT_THROW(validated(8, 1024, 2, 0, std::numeric_limits<double>::infinity()), UsageError);
  EXPECT_THROW(validated(8, 1024, 2, 0, std::nan("")), UsageError);
  EXPECT_THROW(validated(8, 1024, 2, 0, -1), UsageError);
  EXPECT_NO_THROW(validated(8, 1024, 2, 0, 0));
  EXPECT_NO_THROW(validated(8, 1024, 2, 0, 1e6));
}

// Sets the launcher's variables for one case and restores the environment afterwards.
class LaunchEnv {
 public:
  LaunchEnv(const char* rank, const char* app, const char* counts) {
    for (const char* v : kVars) {
      const char* old = getenv(v);
      saved_.push_back(old ? std::string(old) : std::string("\x01"));
      unsetenv(v);
    }
    if (rank) setenv("OMPI_COMM_WORLD_RANK", rank, 1);
    if (app) setenv("OMPI_MCA_orte_app_num", app, 1);
    if (counts) setenv("OMPI_APP_CTX_NUM_PROCS", counts, 1);
  }
  ~LaunchEnv() {
    for (std::size_t i = 0; i < saved_.size(); ++i) {
      if (saved_[i] == "\x01") {
        unsetenv(kVars[i]);
      } else {
        setenv(kVars[i], saved_[i].c_str(), 1);
      }
    }
  }

 private:
  static constexpr const char* kVars[] = {
      "OMPI_COMM_WORLD_RANK",  "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", "OMPI_MCA_orte_app_num",
      "OMPI_APP_CTX_NUM_PROCS"};
  std::vector<std::string> saved_;
};

TEST(Reliability, FirstRankOfEveryCommandLineReportsUsageErrors) {
  {
    LaunchEnv e(nullptr, nullptr, nullptr);  // not launched
    EXPECT_TRUE(reports_usage_errors());
  }
  {
    LaunchEnv e("0", "0", "2 1");
    EXPECT_TRUE(reports_usage_errors());
  }
  {
    LaunchEnv e("1", "0", "2 1");  // same command line as rank 0
    EXPECT_FALSE(reports_usage_errors());
  }
  {
    LaunchEnv e("2", "1", "2 1");  // mpirun -np 2 A : -np 1 B -> rank 2 runs B
    EXPECT_TRUE(reports_usage_errors());
  }
  {
    LaunchEnv e("4", "2", "2 2 3");  // third command line starts at rank 4
    EXPECT_TRUE(reports_usage_errors());
  }
  {
    LaunchEnv e("5", "2", "2 2 3");
    EXPECT_FALSE(reports_usage_errors());
  }
  {
    LaunchEnv e("3", nullptr, nullptr);  // a launcher without app contexts
    EXPECT_FALSE(reports_usage_errors());
  }
}

// A folder of its own under the test's temporary directory, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cbrel-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_))
      out.push_back(e.path().filename().string());
    return out;
  }

 private:
  std::string path_;
};

std::string usage_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(Reliability, InputFilesNameTheFileAndTheReason) {
  TempDir d;
  std::filesystem::create_directory(d / "folder.json");
  ASSERT_EQ(mkfifo((d / "fifo.json").c_str(), 0600), 0);
  std::ofstream(d / "empty.json").close();
  std::ofstream(d / "bad.json") << "{\"a\": [1, 2";
  EXPECT_NE(usage_error_of([&] {
              read_input_json(d / "missing.json", "fabric file");
            }).find("missing.json: cannot open fabric file"),
            std::string::npos);
  EXPECT_NE(usage_error_of([&] {
              read_input_json(d / "folder.json", "fabric file");
            }).find("is a folder"),
            std::string::npos);
  // Without O_NONBLOCK the open would wait for a writer forever.
  EXPECT_NE(usage_error_of([&] {
              read_input_json(d / "fifo.json", "fabric file");
            }).find("not a regular file"),
            std::string::npos);
  EXPECT_NE(
      usage_error_of([&] { read_input_json(d / "empty.json", "fabric file"); }).find("is empty"),
      std::string::npos);
  const std::string bad = usage_error_of([&] { read_input_json(d / "bad.json", "fabric file"); });
  EXPECT_NE(bad.find("bad.json: not valid JSON"), std::string::npos);
  EXPECT_EQ(bad.find("json.exception"), std::string::npos) << bad;
}

TEST(Reliability, OutputsThatMustNotBeReplacedAreRefused) {
  TempDir d;
  std::ofstream(d / "kept.json") << "kept";
  chmod((d / "kept.json").c_str(), 0444);
  // Root passes access(W_OK) on any file: the mode bits decide too.
  EXPECT_NE(usage_error_of([&] { check_writable(d / "kept.json", "--json"); }).find("read-only"),
            std::string::npos);
  EXPECT_THROW(write_file_atomic(d / "kept.json", "new"), Error);
  std::string kept;
  std::getline(std::ifstream(d / "kept.json"), kept);
  EXPECT_EQ(kept, "kept");
  EXPECT_NE(usage_error_of([&] { check_writable("/dev/null", "--json"); }).find("regular file"),
            std::string::npos);
  EXPECT_NE(usage_error_of([&] { check_writable("", "--json"); }).find("empty"), std::string::npos);
  EXPECT_NE(usage_error_of([&] {
              check_distinct_outputs({{"--json", d / "x.json"}, {"--csv", d / "./x.json"}});
            }).find("--json and --csv name the same file"),
            std::string::npos);
  EXPECT_NO_THROW(check_distinct_outputs({{"--json", d / "x.json"}, {"--csv", ""}}));
}

TEST(Reliability, AtomicWriteFollowsLinksAndLeavesNoTemporaryFile) {
  TempDir d;
  std::ofstream(d / "target.json") << "old";
  std::filesystem::create_symlink("target.json", d / "link.json");
  write_file_atomic(d / "link.json", "new\n");
  EXPECT_TRUE(std::filesystem::is_symlink(d / "link.json"));
  std::string now;
  std::getline(std::ifstream(d / "target.json"), now);
  EXPECT_EQ(now, "new");
  EXPECT_EQ(d.names().size(), 2u);  // target and link, no temporary file
}

TEST(Reliability, MisspeltSubcommandsAreNamedWithTheNearestOne) {
  CLI::App app{"test", "collbench"};
  app.add_subcommand("allreduce");
  app.add_subcommand("alltoall");
  CLI::App* model = app.add_subcommand("model");
  model->add_subcommand("fit");
  model->add_subcommand("site");
  EXPECT_EQ(subcommand_error(app, {"allreduce", "-e", "1K"}), "");
  EXPECT_EQ(subcommand_error(app, {"allreduc", "-e", "1K"}),
            "unknown subcommand 'allreduc' of collbench (did you mean allreduce?)");
  EXPECT_EQ(subcommand_error(app, {"model", "fitt"}),
            "unknown subcommand 'fitt' of collbench model (did you mean fit?)");
  EXPECT_NE(subcommand_error(app, {"frobnicate"}).find("known: allreduce, alltoall, model"),
            std::string::npos);
  EXPECT_EQ(subcommand_error(app, {"--list"}), "");
}

TEST(Reliability, EmptyValuesAreRefused) {
  CLI::App app{"test", "collbench"};
  auto* sub = app.add_subcommand("allreduce");
  std::string json;
  bool quiet = false;
  sub->add_option("--json", json);
  sub->add_flag("-q", quiet);
  app.parse(std::vector<std::string>{"", "--json", "allreduce"});  // CLI11 takes them reversed
  EXPECT_NE(usage_error_of([&] { check_no_empty_values(app); }).find("--json: empty value"),
            std::string::npos);
  CLI::App ok{"test", "collbench"};
  auto* sub2 = ok.add_subcommand("allreduce");
  sub2->add_flag("-q", quiet);
  ok.parse(std::vector<std::string>{"-q", "allreduce"});
  EXPECT_NO_THROW(check_no_empty_values(ok));
}

TEST(Reliability, TimeoutsBelowASecondAreRefused) {
  EXPECT_NO_THROW(check_timeout(0, "--timeout"));
  EXPECT_NO_THROW(check_timeout(1, "--timeout"));
  EXPECT_THROW(check_timeout(0.001, "--timeout"), UsageError);
  EXPECT_THROW(check_timeout(2e6, "--timeout"), UsageError);
}

TEST(Reliability, HugeNumbersPrintWithoutOverflow) {
  EXPECT_EQ(sig(1e19), "1e+19");
  EXPECT_EQ(sig(-1e19), "-1e+19");
  EXPECT_EQ(sig(2.5e6), "2,500,000");
  EXPECT_EQ(commas(std::numeric_limits<std::int64_t>::min()), "-9,223,372,036,854,775,808");
}

}  // namespace
}  // namespace collbench::bench
