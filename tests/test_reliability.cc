// Harness behaviour the reliability work fixed: bad numeric flags refused before anything runs,
// and usage errors reported by the first rank of every MPMD command line.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "bench/cli.h"
#include "bench/mpi_session.h"
#include "bench/options.h"
#include "bench/sizes.h"
#include "collectives/error.h"

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

}  // namespace
}  // namespace collbench::bench
