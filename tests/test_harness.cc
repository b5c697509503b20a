// Unit tests of the harness pieces that need no MPI: sizes, statistics, busbw factors, the exact
// fill/check for every dtype and op, records against the schema, atomic files, option checks.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "bench/cli.h"
#include "bench/provenance.h"
#include "bench/record.h"
#include "bench/report.h"
#include "bench/sizes.h"
#include "bench/stats.h"
#include "collectives/error.h"
#include "collectives/reduce.h"
#include "collectives/spec.h"

namespace {

using namespace collbench;
using collbench::UsageError;
using namespace collbench::bench;
using collectives::Collective;
using collectives::DType;
using collectives::ReduceOp;

TEST(Sizes, ParsesBinarySuffixes) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("8"), 8u);
  EXPECT_EQ(parse_size("1K"), 1024u);
  EXPECT_EQ(parse_size("64k"), 65536u);
  EXPECT_EQ(parse_size("1M"), 1u << 20);
  EXPECT_EQ(parse_size("2GiB"), 2ull << 30);
  EXPECT_EQ(parse_size("3G"), 3ull << 30);
  EXPECT_EQ(parse_size("512B"), 512u);
  EXPECT_EQ(parse_size("1T"), 1ull << 40);
}

TEST(Sizes, RejectsBadInputWithTheFlagName) {
  for (const char* bad : {"", "K", "-1", "1X", "1.5M", "99999999999999999999", "1048577G"}) {
    try {
      parse_size(bad, "--max-bytes");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--max-bytes"), std::string::npos) << e.what();
    }
  }
}

TEST(Sizes, SweepByFactorAndStep) {
  EXPECT_EQ(size_sweep(8, 64, 2, 0), (std::vector<std::size_t>{8, 16, 32, 64}));
  EXPECT_EQ(size_sweep(8, 100, 4, 0), (std::vector<std::size_t>{8, 32}));
  EXPECT_EQ(size_sweep(0, 4, 2, 0), (std::vector<std::size_t>{0, 1, 2, 4}));
  EXPECT_EQ(size_sweep(10, 40, 2, 10), (std::vector<std::size_t>{10, 20, 30, 40}));
  EXPECT_EQ(size_sweep(5, 5, 2, 0), (std::vector<std::size_t>{5}));
  EXPECT_TRUE(size_sweep(6, 5, 2, 0).empty());
  // Near the top of the range the sweep stops instead of overflowing.
  const std::size_t big = std::size_t{1} << 50;
  EXPECT_EQ(size_sweep(big / 2, big, 2, 0).size(), 2u);
}

TEST(Sizes, Format) {
  EXPECT_EQ(format_size(100), "100");
  EXPECT_EQ(format_size(1024), "1K");
  EXPECT_EQ(format_size(1536), "1.5K");
  EXPECT_EQ(format_size(64u << 20), "64M");
  // 999.97 G rounds up to 1000 under %.3g, which would print an exponent parse_size rejects.
  EXPECT_EQ(format_size(1073709551636ull), "1000G");
  EXPECT_EQ(parse_size(format_size(1073709551636ull)), 1000ull << 30);
}

TEST(Stats, MatchesHandComputedValues) {
  const std::vector<double> v{5, 1, 4, 2, 3};
  const Stats s = compute_stats(v);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 5);
  EXPECT_DOUBLE_EQ(s.mean, 3);
  EXPECT_DOUBLE_EQ(s.p50, 3);
  EXPECT_DOUBLE_EQ(s.p95, 4.8);   // numpy.percentile(v, 95)
  EXPECT_DOUBLE_EQ(s.p99, 4.96);  // numpy.percentile(v, 99)
  EXPECT_NEAR(s.stdev, std::sqrt(2.5), 1e-12);
  const Stats one = compute_stats(std::vector<double>{7});
  EXPECT_DOUBLE_EQ(one.p99, 7);
  EXPECT_DOUBLE_EQ(one.stdev, 0);
  const Stats none = compute_stats(std::vector<double>{});
  EXPECT_DOUBLE_EQ(none.mean, 0);
}

TEST(Spec, BusBandwidthFactors) {
  EXPECT_DOUBLE_EQ(collectives::busbw_factor(Collective::kAllReduce, 1), 0);
  EXPECT_DOUBLE_EQ(collectives::busbw_factor(Collective::kAllReduce, 2), 1.0);
  EXPECT_DOUBLE_EQ(collectives::busbw_factor(Collective::kAllReduce, 8), 1.75);
  EXPECT_DOUBLE_EQ(collectives::busbw_factor(Collective::kAllToAll, 4), 0.75);
  EXPECT_DOUBLE_EQ(collectives::busbw_factor(Collective::kAllToAll, 1), 0);
}

TEST(Spec, CountsFromBytes) {
  EXPECT_EQ(collectives::count_for_bytes(Collective::kAllReduce, 1024, DType::kF32, 3), 256u);
  EXPECT_EQ(collectives::count_for_bytes(Collective::kAllReduce, 1023, DType::kF32, 3), 255u);
  // All-to-all: whole blocks per peer.
  EXPECT_EQ(collectives::count_for_bytes(Collective::kAllToAll, 1024, DType::kF32, 3), 255u);
  EXPECT_EQ(collectives::count_for_bytes(Collective::kAllToAll, 8, DType::kF32, 3), 0u);
}

// Simulates p ranks: fills every rank's input, reduces them in a shuffled order, and checks
// the result. The check must pass, and a single changed element must be counted.
void simulate_allreduce(DType t, ReduceOp op, int p, std::size_t count) {
  const std::size_t es = collectives::dtype_size(t);
  std::vector<std::vector<std::byte>> in(static_cast<std::size_t>(p),
                                         std::vector<std::byte>(count * es + 1));
  for (int r = 0; r < p; ++r)
    collectives::fill_input(
        in[r].data(), collectives::CollectiveArgs{Collective::kAllReduce, count, t, op}, r, p, 42);
  // Reduce in reverse order with a different association than rank order.
  std::vector<std::byte> acc = in[static_cast<std::size_t>(p - 1)];
  for (int r = p - 2; r >= 0; --r)
    collectives::reduce_inplace(acc.data(), in[r].data(), count, t, op);
  for (int r = 0; r < p; ++r) {
    const auto res = collectives::check_output(
        acc.data(), collectives::CollectiveArgs{Collective::kAllReduce, count, t, op}, r, p, 42);
    ASSERT_EQ(res.wrong, 0u) << collectives::dtype_name(t) << " " << collectives::op_name(op)
                             << " p=" << p << " first wrong " << res.first_wrong << " expected "
                             << res.first_expected << " got " << res.first_actual;
  }
  if (count == 0) return;
  // A lost contribution (one rank missing) must be detected.
  std::vector<std::byte> partial = in[0];
  for (int r = 1; r < p - 1; ++r)
    collectives::reduce_inplace(partial.data(), in[r].data(), count, t, op);
  if (p >= 2) {
    const auto res = collectives::check_output(
        partial.data(), collectives::CollectiveArgs{Collective::kAllReduce, count, t, op}, 0, p,
        42);
    // min/max: only elements the dropped rank owns change (about count / p of them);
    const bool owner_only = op != ReduceOp::kSum;  // prod: a rank adds a factor 2 at 1/k of them
    if (count >= (owner_only ? 16 * static_cast<std::size_t>(p) : 64))
      EXPECT_GT(res.wrong, 0u) << "dropped rank not detected " << collectives::dtype_name(t) << " "
                               << collectives::op_name(op) << " p=" << p;
  }
  // The wrong seed (stale data from an earlier check) must be detected.
  if (count >= 64) {
    const auto stale = collectives::check_output(
        acc.data(), collectives::CollectiveArgs{Collective::kAllReduce, count, t, op}, 0, p, 43);
    {
      EXPECT_GT(stale.wrong, 0u) << "stale data not detected " << collectives::dtype_name(t) << " "
                                 << collectives::op_name(op) << " p=" << p;
    }
  }
}

TEST(Spec, AllReduceCheckIsExactForEveryDtypeOpAndRankCount) {
  for (DType t : collectives::all_dtypes())
    for (ReduceOp op : collectives::all_ops())
      for (int p : {1, 2, 3, 5, 8, 13, 64, 300, 1000})
        // fp8's tiny limits spread a sum over indicators: at 1000 ranks a dropped rank changes
        // about 1 element in 150 (e5m2), so its detection needs a few thousand elements.
        simulate_allreduce(t, op, p, p > 100 ? (collectives::dtype_is_fp8(t) ? 4099 : 257) : 1031);
}

// fp8's exact limits are tiny (16 and 8): at every rank count up to 16, every input and every
// partial sum of a sum check stays within the limit (inputs are non-negative, so the total bounds
// every partial sum), and the check passes for every op.
TEST(Spec, Fp8CheckStaysExactAtEveryRankCountUpTo16) {
  for (DType t : {DType::kF8E4M3, DType::kF8E5M2}) {
    const double limit = collectives::dtype_exact_limit(t);
    for (int p = 1; p <= 16; ++p) {
      for (ReduceOp op : collectives::all_ops()) simulate_allreduce(t, op, p, 4099);
      const std::size_t count = 4099;
      std::vector<double> total(count, 0.0);
      std::vector<std::uint8_t> buf(count);
      for (int r = 0; r < p; ++r) {
        collectives::fill_input(
            buf.data(),
            collectives::CollectiveArgs{Collective::kAllReduce, count, t, ReduceOp::kSum}, r, p, 7);
        for (std::size_t i = 0; i < count; ++i)
          total[i] += collectives::element_as_double(buf.data(), i, t);
      }
      for (std::size_t i = 0; i < count; ++i)
        ASSERT_LE(total[i], limit) << collectives::dtype_name(t) << " p=" << p << " element " << i;
    }
  }
}

TEST(Spec, SentinelIsCountedWrong) {
  for (DType t : collectives::all_dtypes()) {
    std::vector<std::byte> buf(100 * collectives::dtype_size(t));
    collectives::fill_sentinel(buf.data(),
                               collectives::CollectiveArgs{Collective::kAllReduce, 100, t}, 0, 4);
    const auto res = collectives::check_output(
        buf.data(), collectives::CollectiveArgs{Collective::kAllReduce, 100, t, ReduceOp::kSum}, 0,
        4, 1);
    EXPECT_GE(res.wrong, 95u) << collectives::dtype_name(t);
  }
}

TEST(Spec, AllToAllCheckDetectsMisplacedBlocks) {
  for (DType t : collectives::all_dtypes()) {
    const int p = 5;
    const std::size_t block = 37, count = block * p, es = collectives::dtype_size(t);
    std::vector<std::vector<std::byte>> send(p, std::vector<std::byte>(count * es));
    std::vector<std::vector<std::byte>> recv(p, std::vector<std::byte>(count * es));
    for (int r = 0; r < p; ++r)
      collectives::fill_input(
          send[r].data(),
          collectives::CollectiveArgs{Collective::kAllToAll, count, t, ReduceOp::kSum}, r, p, 9);
    for (int i = 0; i < p; ++i)
      for (int j = 0; j < p; ++j)  // block j of rank i goes to rank j, slot i
        std::memcpy(recv[j].data() + i * block * es, send[i].data() + j * block * es, block * es);
    for (int r = 0; r < p; ++r)
      EXPECT_EQ(
          collectives::check_output(
              recv[r].data(),
              collectives::CollectiveArgs{Collective::kAllToAll, count, t, ReduceOp::kSum}, r, p, 9)
              .wrong,
          0u);
    // Swap two blocks on rank 2: both must be reported.
    std::vector<std::byte> tmp(block * es);
    auto* b = recv[2].data();
    std::memcpy(tmp.data(), b, block * es);
    std::memcpy(b, b + block * es, block * es);
    std::memcpy(b + block * es, tmp.data(), block * es);
    const auto res = collectives::check_output(
        recv[2].data(),
        collectives::CollectiveArgs{Collective::kAllToAll, count, t, ReduceOp::kSum}, 2, p, 9);
    EXPECT_GT(res.wrong, block) << collectives::dtype_name(t);
    EXPECT_EQ(res.first_wrong, 0 + (res.first_wrong >= 0 ? res.first_wrong : 0));
  }
}

// A minimal JSON-schema check: required keys, types, const and enum, recursively.
void validate(const nlohmann::json& schema, const nlohmann::json& v, const std::string& where) {
  if (schema.contains("const")) EXPECT_EQ(v, schema["const"]) << where;
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found |= e == v;
    EXPECT_TRUE(found) << where << " = " << v.dump();
  }
  if (schema.contains("type")) {
    std::vector<std::string> types;
    if (schema["type"].is_array())
      for (const auto& t : schema["type"]) types.push_back(t);
    else
      types.push_back(schema["type"]);
    bool ok = false;
    for (const auto& t : types) {
      ok |= (t == "object" && v.is_object()) || (t == "array" && v.is_array()) ||
            (t == "string" && v.is_string()) || (t == "boolean" && v.is_boolean()) ||
            (t == "null" && v.is_null()) || (t == "number" && v.is_number()) ||
            (t == "integer" && v.is_number_integer());
    }
    EXPECT_TRUE(ok) << where << " has the wrong type: " << v.dump().substr(0, 80);
  }
  if (v.is_object()) {
    if (schema.contains("required"))
      for (const auto& k : schema["required"])
        EXPECT_TRUE(v.contains(k.get<std::string>())) << where << " lacks " << k;
    if (schema.contains("properties"))
      for (const auto& [k, sub] : schema["properties"].items())
        if (v.contains(k)) validate(sub, v[k], where + "." + k);
  }
  if (v.is_array() && schema.contains("items"))
    for (std::size_t i = 0; i < v.size(); ++i) validate(schema["items"], v[i], where + "[]");
}

Options sample_options(const std::string& json_path) {
  Options o;
  o.json_path = json_path;
  o.csv_path = json_path + ".csv";
  o.command_line = {"collbench", "allreduce"};
  return o;
}

Record sample_record() {
  Record r;
  r.algorithm = "ring";
  r.dtype = DType::kBF16;
  r.bytes = 1 << 20;
  r.count = r.bytes / 2;
  r.ranks = 4;
  r.nodes = 2;
  r.ranks_per_node = 2;
  r.iters = 3;
  r.samples_us = {10, 11, 12};
  r.time_us = compute_stats(r.samples_us);
  r.algbw_gbps = 1;
  r.busbw_factor = 1.5;
  r.busbw_gbps = 1.5;
  r.wrong = 0;
  return r;
}

TEST(Results, RoundTripAgainstTheSchema) {
  const auto dir = std::filesystem::temp_directory_path() / "collbench_test_results";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "r.json").string();
  std::ifstream sf(COLLBENCH_SCHEMA);
  const auto schema = nlohmann::json::parse(sf);

  ResultSink sink(sample_options(path),
                  {{"collbench_version", "0.1.0"},
                   {"git_sha", "abc"},
                   {"command_line", {"collbench"}},
                   {"start_time", "2026-01-01T00:00:00Z"},
                   {"backend", "mpi"},
                   {"ranks", 4},
                   {"nodes", 2},
                   {"hostnames", {"a", "a", "b", "b"}}},
                  {{"warmup", 1}, {"iters", 3}, {"check", 1}, {"rotate_buffers", true}});
  sink.add(sample_record());
  // Mid-run the file exists, is valid, and says it is incomplete.
  auto mid = nlohmann::json::parse(std::ifstream(path));
  validate(schema, mid, "$");
  EXPECT_FALSE(mid["complete"].get<bool>());
  EXPECT_EQ(mid["records"].size(), 1u);
  sink.add(sample_record());
  sink.finish(true, "");
  auto done = nlohmann::json::parse(std::ifstream(path));
  validate(schema, done, "$");
  EXPECT_TRUE(done["complete"].get<bool>());
  EXPECT_TRUE(done["failure"].is_null());
  ASSERT_EQ(done["records"].size(), 2u);
  const auto& rec = done["records"][0];
  EXPECT_EQ(rec["dtype"], "bf16");
  EXPECT_EQ(rec["samples_us"].size(), 3u);
  EXPECT_DOUBLE_EQ(rec["time_us"]["p50"].get<double>(), 11.0);
  // CSV: header plus one line per record.
  std::ifstream csv(path + ".csv");
  int lines = 0;
  for (std::string l; std::getline(csv, l);) ++lines;
  EXPECT_EQ(lines, 3);
  // No temporary files are left behind.
  for (const auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  std::filesystem::remove_all(dir);
}

// A record of `algorithm` at 64 MiB whose p50 is `us`, taking `faults` page faults per call.
Record timed(const std::string& algorithm, double us, double faults) {
  Record r = sample_record();
  r.algorithm = algorithm;
  r.bytes = std::size_t{64} << 20;
  r.samples_us = {us, us, us};
  r.time_us = compute_stats(r.samples_us);
  r.page_faults_per_call = faults;
  return r;
}

TEST(Results, LibraryAnomalyNamesTheSideAndItsPageFaults) {
  // Within 5x either way: nothing to say.
  EXPECT_TRUE(library_anomalies({timed("MPI_Allreduce", 40, 0), timed("ring", 10, 0)}).empty());
  // The library 18x slower than the best own algorithm (rabenseifner, not ring), faulting.
  auto lines = library_anomalies({timed("MPI_Allreduce", 180000, 8194), timed("ring", 12000, 0),
                                  timed("rabenseifner", 10000, 0)});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("MPI_Allreduce takes 1.8e+05 us, 18.0x"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("rabenseifner"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("8194 page faults per call"), std::string::npos) << lines[0];
  // Slow without faulting: the cause is not claimed.
  lines = library_anomalies({timed("MPI_Allreduce", 180000, 2), timed("ring", 10000, 0)});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find("page faults"), std::string::npos) << lines[0];
  // The reverse: the own algorithm is the slow one, and its faults are named.
  lines = library_anomalies({timed("MPI_Allreduce", 1000, 0), timed("ring", 9000, 300)});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("look at that algorithm"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("300 page faults"), std::string::npos) << lines[0];
  // A wrong result is never compared.
  Record wrong = timed("ring", 10, 0);
  wrong.wrong = 3;
  EXPECT_TRUE(library_anomalies({timed("MPI_Allreduce", 1000, 0), wrong}).empty());
}

// A fake /sys and /proc: one kdamond with a pageout scheme, NUMA balancing off, THP on madvise.
TEST(Provenance, MemoryBackgroundReadsDamonAndWarnsOnlyWhenItRuns) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / "collbench_test_membg";
  fs::remove_all(root);
  auto put = [&](const std::string& rel, const std::string& text) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << text << "\n";
  };
  const std::string kd = "sys/kernel/mm/damon/admin/kdamonds/0/";
  put(kd + "state", "on");
  put(kd + "contexts/0/operations", "paddr");
  put(kd + "contexts/0/schemes/0/action", "pageout");
  put("proc/sys/kernel/numa_balancing", "0");
  put("sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never");
  put("proc/cpuinfo", "processor : 0\nflags : fpu sse2 hypervisor avx2");
  auto bg = memory_background(root.string());
  ASSERT_EQ(bg["damon_kdamonds"].size(), 1u);
  EXPECT_EQ(bg["damon_kdamonds"][0]["state"], "on");
  EXPECT_EQ(bg["damon_kdamonds"][0]["operations"], "paddr");
  EXPECT_EQ(bg["damon_kdamonds"][0]["scheme_actions"], nlohmann::json::array({"pageout"}));
  EXPECT_EQ(bg["numa_balancing"], "0");
  EXPECT_EQ(bg["transparent_hugepage"], "madvise");
  EXPECT_TRUE(bg["virtual_machine"].get<bool>());
  EXPECT_FALSE(bg.contains("ksm_run"));  // not in the fake tree: left out
  const std::string w = memory_background_warning(bg);
  EXPECT_EQ(w.rfind("warning: DAMON is monitoring", 0), 0u) << w;
  EXPECT_NE(w.find("kdamond 0"), std::string::npos) << w;
  // Stopped: recorded, no warning.
  put(kd + "state", "off");
  bg = memory_background(root.string());
  EXPECT_EQ(bg["damon_kdamonds"][0]["state"], "off");
  EXPECT_EQ(memory_background_warning(bg), "");
  // The reclaim module alone also warns.
  put("sys/module/damon_reclaim/parameters/enabled", "Y");
  EXPECT_NE(memory_background_warning(memory_background(root.string())).find("damon_reclaim"),
            std::string::npos);
  fs::remove_all(root);
}

TEST(Results, UnwritablePathsAreRefusedBeforeMeasuring) {
  EXPECT_THROW(check_writable("/nonexistent-folder/x.json", "--json"), UsageError);
  EXPECT_THROW(check_writable(std::filesystem::temp_directory_path().string(), "--json"),
               UsageError);
  EXPECT_NO_THROW(
      check_writable((std::filesystem::temp_directory_path() / "ok.json").string(), "--json"));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::temp_directory_path() / "ok.json"));
}

TEST(Options, ValidationNamesTheProblem) {
  auto expect_error = [](Options o, std::vector<std::string> algos, std::vector<std::string> dtypes,
                         std::vector<std::string> ops, std::string placement, std::string needle) {
    try {
      validate_options(o, algos, dtypes, ops, placement);
      ADD_FAILURE() << "accepted; wanted: " << needle;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  Options o;
  expect_error(o, {"nope"}, {"f32"}, {"sum"}, "both", "unknown allreduce algorithm 'nope'");
  expect_error(o, {}, {"f33"}, {"sum"}, "both", "unknown dtype 'f33'");
  expect_error(o, {}, {"f32"}, {"avg"}, "both", "unknown op 'avg'");
  expect_error(o, {}, {"f32"}, {"sum"}, "sideways", "unknown --placement");
  Options big = o;
  big.min_bytes = 2048;
  big.max_bytes = 1024;
  expect_error(big, {}, {"f32"}, {"sum"}, "both", "larger than --max-bytes");
  Options f = o;
  f.step_factor = 1.0;
  expect_error(f, {}, {"f32"}, {"sum"}, "both", "--step-factor");
  Options n = o;
  n.iters = 0;
  expect_error(n, {}, {"f32"}, {"sum"}, "both", "--iters");

  Options ok = o;
  validate_options(ok, {"all"}, {"all"}, {"sum,max"}, "in");
  EXPECT_EQ(ok.dtypes.size(), collectives::all_dtypes().size());
  EXPECT_EQ(ok.ops.size(), 2u);
  EXPECT_EQ(ok.placement, Placement::kIn);
  EXPECT_FALSE(ok.algorithms.empty());
  EXPECT_EQ(ok.algorithms.front(), "MPI_Allreduce");
}

}  // namespace
