#include "bench/report.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "bench/provenance.h"
#include "bench/sizes.h"
#include "collectives/collective.h"
#include "collectives/error.h"
#include "collectives/input_file.h"
#include "collectives/registry.h"

namespace collbench::bench {

using nlohmann::json;

json Record::to_json() const {
  json j;
  j["collective"] = collectives::collective_name(collective);
  j["algorithm"] = algorithm;
  if (!selected_algorithm.empty()) j["selected_algorithm"] = selected_algorithm;
  j["backend"] = backend;
  j["dtype"] = collectives::dtype_name(dtype);
  j["op"] = collectives::traits(collective).reduces ? std::string(collectives::op_name(op))
                                                    : std::string("none");
  j["placement"] = in_place ? "in" : "out";
  j["bytes"] = bytes;
  j["count"] = count;
  j["ranks"] = ranks;
  j["nodes"] = nodes;
  j["ranks_per_node"] = ranks_per_node;
  j["repeat"] = repeat;
  j["iters"] = iters;
  j["warmup"] = warmup;
  j["time_us"] = {{"min", time_us.min},    {"mean", time_us.mean}, {"p50", time_us.p50},
                  {"p95", time_us.p95},    {"p99", time_us.p99},   {"max", time_us.max},
                  {"stdev", time_us.stdev}};
  j["algbw_gbps"] = algbw_gbps;
  j["busbw_gbps"] = busbw_gbps;
  j["algbw_p50_gbps"] = algbw_p50_gbps;
  j["busbw_p50_gbps"] = busbw_p50_gbps;
  j["busbw_factor"] = busbw_factor;
  j["slowest_rank"] = slowest_rank;
  j["slowest_rank_share"] = slowest_rank_share;
  j["wrong"] = wrong;
  j["check_reps"] = check_reps;
  j["first_wrong"] = first_wrong;
  j["samples_us"] = samples_us;
  j["timing"] = timing;
  j["samples_are"] = samples_are;
  j["rank_time_us"] = {{"min", rank_min_us}, {"avg", rank_avg_us}, {"max", rank_max_us}};
  j["rank_mean_us"] = rank_mean_us;
  if (nccl_estimate_us >= 0) j["nccl_estimate_us"] = nccl_estimate_us;
  j["page_faults_per_call"] = page_faults_per_call;
  if (!step.is_null()) j["step"] = step;
  j["stable"] = !instability.has_value();
  j["instability"] = instability ? instability->to_json() : json(nullptr);
  if (!stable_outcome.empty()) {
    j["stable_attempts"] = attempts;
    j["stable_outcome"] = stable_outcome;
  }
  return j;
}

ResultSink::ResultSink(const Options& o, json provenance, json options_json)
    : json_path_(o.json_path),
      csv_path_(o.csv_path),
      provenance_(std::move(provenance)),
      options_(std::move(options_json)) {}

void ResultSink::set_topology(json topology) {
  std::lock_guard<std::mutex> lock(mu_);
  topology_ = std::move(topology);
}

void ResultSink::set_in_progress(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  in_progress_ = what;
}

void ResultSink::set_extra(const std::string& key, json value) {
  std::lock_guard<std::mutex> lock(mu_);
  extra_[key] = std::move(value);
}

json ResultSink::to_json(bool complete, const std::string& failure) const {
  json j;
  j["schema"] = "collbench.result";
  j["schema_version"] = 1;
  j["complete"] = complete;
  j["failure"] = complete ? json(nullptr) : json(failure);
  j["provenance"] = provenance_;
  j["options"] = options_;
  j["topology"] = topology_;
  json recs = json::array();
  for (const auto& r : records_) recs.push_back(r.to_json());
  j["records"] = std::move(recs);
  for (const auto& [k, v] : extra_.items()) j[k] = v;
  return j;
}

std::string ResultSink::to_csv() const {
  std::ostringstream s;
  s << "collective,algorithm,selected_algorithm,backend,dtype,op,placement,bytes,count,ranks,"
       "nodes,repeat,iters,time_us_mean,time_us_min,time_us_p50,time_us_p95,time_us_p99,"
       "time_us_max,time_us_stdev,algbw_gbps,busbw_gbps,busbw_p50_gbps,slowest_rank,wrong,"
       "nccl_estimate_us\n";
  char buf[512];
  for (const auto& r : records_) {
    std::snprintf(buf, sizeof buf,
                  "%s,%s,%s,%s,%s,%s,%s,%zu,%zu,%d,%d,%d,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,"
                  "%.6f,%.6f,%.6f,%d,%lld,%s\n",
                  std::string(collectives::collective_name(r.collective)).c_str(),
                  r.algorithm.c_str(), r.selected_algorithm.c_str(), r.backend.c_str(),
                  std::string(collectives::dtype_name(r.dtype)).c_str(),
                  collectives::traits(r.collective).reduces
                      ? std::string(collectives::op_name(r.op)).c_str()
                      : "none",
                  r.in_place ? "in" : "out", r.bytes, r.count, r.ranks, r.nodes, r.repeat, r.iters,
                  r.time_us.mean, r.time_us.min, r.time_us.p50, r.time_us.p95, r.time_us.p99,
                  r.time_us.max, r.time_us.stdev, r.algbw_gbps, r.busbw_gbps, r.busbw_p50_gbps,
                  r.slowest_rank, static_cast<long long>(r.wrong),
                  // NCCL's own estimate (ncclGroupSimulateEnd) where there is one, else empty.
                  r.nccl_estimate_us >= 0 ? std::to_string(r.nccl_estimate_us).c_str() : "");
    s << buf;
  }
  return s.str();
}

void ResultSink::write(bool complete, const std::string& failure) {
  // Only the file of a finished run waits for the disk (see write_file_atomic).
  if (!json_path_.empty())
    write_file_atomic(json_path_, to_json(complete, failure).dump(1) + "\n", complete);
  if (!csv_path_.empty()) write_file_atomic(csv_path_, to_csv(), complete);
}

void ResultSink::add(const Record& r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  records_.push_back(r);
  last_completed_ = in_progress_;
  // Written after the step completed: if the run dies now, it died after this step.
  write(false, "run did not finish; last completed step: " + in_progress_);
}

void ResultSink::update(const std::function<void(std::vector<Record>&)>& change) {
  std::lock_guard<std::mutex> lock(mu_);
  change(records_);
  write(false, "run did not finish (" + in_progress_ + ")");
}

void ResultSink::finish(bool complete, const std::string& failure) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  provenance_["end_time"] = iso_time_now();
  write(complete, failure);
}

void ResultSink::interrupt(const std::string& reason) {
  std::string why;
  {
    std::lock_guard<std::mutex> lock(mu_);
    why = reason + " after " + std::to_string(records_.size()) + " records" +
          (last_completed_.empty() ? std::string() : "; last completed step: " + last_completed_);
  }
  finish(false, why);
}

void note_failure_in_result_file(const std::string& path, const std::string& failure,
                                 const json& provenance, const json& options) {
  if (path.empty()) return;
  try {
    json j;
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      j = json::parse(read_input_file(path, "result file"), nullptr, false);
      // Rank 0's file, complete or with another failure already: leave it as it is.
      if (!j.is_object() || j.value("schema", "") != "collbench.result" ||
          j.value("complete", true) || !j.contains("failure") || !j["failure"].is_string() ||
          j["failure"].get<std::string>().rfind("run did not finish", 0) != 0)
        return;
    } else {
      j = {{"schema", "collbench.result"}, {"schema_version", 1}, {"provenance", provenance},
           {"options", options},           {"topology", nullptr}, {"records", json::array()}};
    }
    j["complete"] = false;
    j["failure"] = failure;
    write_file_atomic(path, j.dump(1) + "\n", false);
  } catch (...) {
  }
}

// ---------------------------------------------------------------------------------------------

namespace {

// Page faults per call worth naming: a call that maps a few pages afresh is noise; one that maps
// its whole message (a 64 MiB temporary buffer is 16,384 pages) pays microseconds for each.
constexpr double kNotableFaultsPerCall = 16;

// "; it takes 8194 page faults per call (...)" when a slow side's time includes memory mapped
// afresh inside the timed calls, which the other side does not pay; else "".
std::string fault_cause(double slow_faults, double fast_faults) {
  if (slow_faults < kNotableFaultsPerCall || slow_faults < 4 * fast_faults) return "";
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "; it takes %.0f page faults per call: memory mapped afresh inside every call (a "
                "temporary buffer the allocator returns to the system when it is freed), paid "
                "inside the time (docs/methodology.md, \"The library's 64 MiB all-reduce\")",
                slow_faults);
  return buf;
}

}  // namespace

std::vector<std::string> library_anomalies(const std::vector<Record>& records, double factor) {
  // Per point (everything but the algorithm): the library's time and the best own time.
  struct Pair {
    double native_us = -1, own_us = -1;
    double native_faults = 0, own_faults = 0;
    std::string native, own;
    std::size_t bytes = 0;
  };
  std::map<std::string, Pair> points;
  for (const auto& r : records) {
    if (r.wrong > 0 || !(r.time_us.p50 > 0)) continue;
    const auto* info = collectives::find_algorithm(r.collective, r.algorithm);
    if (!info) continue;  // "auto"
    const std::string key = std::string(collectives::collective_name(r.collective)) + "|" +
                            std::to_string(static_cast<int>(r.dtype)) + "|" +
                            std::to_string(static_cast<int>(r.op)) + "|" +
                            (r.in_place ? "in" : "out") + "|" + std::to_string(r.bytes) + "|" +
                            std::to_string(r.ranks) + "|" + std::to_string(r.repeat);
    Pair& p = points[key];
    p.bytes = r.bytes;
    if (info->native()) {
      p.native_us = r.time_us.p50;
      p.native = r.algorithm;
      p.native_faults = r.page_faults_per_call;
    } else if (p.own_us < 0 || r.time_us.p50 < p.own_us) {
      p.own_us = r.time_us.p50;
      p.own = r.algorithm;
      p.own_faults = r.page_faults_per_call;
    }
  }
  std::vector<std::string> out;
  std::map<std::string, bool> said;  // one line per (library, direction, size)
  for (const auto& [key, p] : points) {
    if (p.native_us <= 0 || p.own_us <= 0) continue;
    const double ratio = p.native_us / p.own_us;
    const bool lib_slow = ratio > factor, own_slow = 1 / ratio > factor;
    if (!lib_slow && !own_slow) continue;
    const std::string tag = p.native + (lib_slow ? "+" : "-") + std::to_string(p.bytes);
    if (said[tag]) continue;
    said[tag] = true;
    char buf[320];
    if (lib_slow)
      std::snprintf(buf, sizeof buf,
                    "at %s %s takes %.4g us, %.1fx the best own algorithm (%s, %.4g us): the "
                    "library's own choice on this machine, not the harness",
                    format_size(p.bytes).c_str(), p.native.c_str(), p.native_us, ratio,
                    p.own.c_str(), p.own_us);
    else
      std::snprintf(buf, sizeof buf,
                    "at %s the best own algorithm (%s, %.4g us) is %.1fx slower than %s (%.4g "
                    "us): look at that algorithm before the library",
                    format_size(p.bytes).c_str(), p.own.c_str(), p.own_us, 1 / ratio,
                    p.native.c_str(), p.native_us);
    out.emplace_back(std::string(buf) + (lib_slow ? fault_cause(p.native_faults, p.own_faults)
                                                  : fault_cause(p.own_faults, p.native_faults)));
  }
  return out;
}

void ConsoleTable::header(const json& prov, const Options& o, const std::string& topo_line) {
  if (!enabled_) return;
  std::string cmd;
  for (const auto& a : o.command_line) cmd += (cmd.empty() ? "" : " ") + a;
  std::printf("# collbench %s (%s)  %s\n", prov.value("collbench_version", "").c_str(),
              prov.value("git_sha", "").c_str(), cmd.c_str());
  std::printf("# %s\n", prov.value("mpi_library", "").c_str());
  std::printf("# ranks %d, nodes %d (%s), backend %s, started %s\n", prov.value("ranks", 0),
              prov.value("nodes", 0), topo_line.c_str(), prov.value("backend", "").c_str(),
              prov.value("start_time", "").c_str());
  std::printf(
      "# warmup %d, iters %d, check %d, buffer rotation %s, buffer passes %d, timeout %gs\n",
      o.warmup, o.iters, o.check, o.rotate_buffers ? "on" : "off", o.buffer_passes, o.timeout_s);
  std::printf("# host reduction kernels: %s\n", prov.value("reduce_isa", "?").c_str());
  const char* time_is = "per iteration the max over ranks, mean over iterations";
  if (o.timing == collectives::TimingMode::kBarrier)
    time_is = "barrier after every call; each rank's mean call time, averaged over ranks (OSU avg)";
  if (o.timing == collectives::TimingMode::kLoop)
    time_is =
        "one timer around the loop / iterations per rank, averaged over ranks (nccl-tests, "
        "IMB t_avg)";
  std::printf("# time (--timing %s): %s; algbw = size/time; busbw = algbw x %s\n#\n",
              std::string(collectives::timing_name(o.timing)).c_str(), time_is,
              o.collective == collectives::Collective::kAllReduce ? "2(n-1)/n" : "(n-1)/n");
  std::fflush(stdout);
}

void ConsoleTable::section(int ranks, int nodes, int repeat, bool show) {
  if (!enabled_) return;
  if (show) std::printf("#\n# --- %d ranks on %d node(s), repeat %d ---\n", ranks, nodes, repeat);
  std::printf("#%60s %s\n", "", "       out-of-place                      in-place");
  std::printf("#%11s %12s %6s %6s %-24s %9s %8s %8s %7s %9s %8s %8s %7s\n", "size", "count", "type",
              "redop", "algorithm", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw",
              "#wrong");
  std::printf("#%11s %12s %6s %6s %-24s %9s %8s %8s %7s %9s %8s %8s %7s\n", "(B)", "(elements)", "",
              "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
  std::fflush(stdout);
}

namespace {

std::string wrong_text(const Record& r) {
  if (r.wrong < 0) return "N/A";
  return std::to_string(r.wrong);
}

}  // namespace

void ConsoleTable::row(const Record* out, const Record* in) {
  if (!enabled_) return;
  const Record& any = out ? *out : *in;
  std::string algo = any.algorithm;
  if (!any.selected_algorithm.empty()) algo += "(" + any.selected_algorithm + ")";
  std::printf(" %11zu %12zu %6s %6s %-24s", any.bytes, any.count,
              std::string(collectives::dtype_name(any.dtype)).c_str(),
              collectives::traits(any.collective).reduces
                  ? std::string(collectives::op_name(any.op)).c_str()
                  : "none",
              algo.c_str());
  for (const Record* r : {out, in}) {
    if (r) {
      std::printf(" %9.2f %8.3f %8.3f %7s", r->time_us.mean, r->algbw_gbps, r->busbw_gbps,
                  wrong_text(*r).c_str());
    } else {
      std::printf(" %9s %8s %8s %7s", "-", "-", "-", "-");
    }
  }
  const bool unstable = (out && out->instability) || (in && in->instability);
  std::printf("%s\n", unstable ? "  !" : "");
  if (rank_spread_) {
    std::string line = "#   ranks' mean time min/avg/max (us):";
    for (const Record* r : {out, in}) {
      if (!r) continue;
      char buf[96];
      std::snprintf(buf, sizeof buf, " %s %.2f/%.2f/%.2f", r->in_place ? "in" : "out",
                    r->rank_min_us, r->rank_avg_us, r->rank_max_us);
      line += buf;
    }
    std::printf("%s\n", line.c_str());
  }
  // The reason under the row: a time that switched level is two regimes, not one number.
  for (const Record* r : {out, in})
    if (r && r->instability)
      std::printf("#   ! unstable %s: %s\n", r->in_place ? "in-place" : "out-of-place",
                  r->instability->text().c_str());
  std::fflush(stdout);
}

void ConsoleTable::note(const std::string& text) {
  if (!enabled_) return;
  std::printf("# %s\n", text.c_str());
  std::fflush(stdout);
}

void ConsoleTable::summary(const std::vector<Record>& records) {
  if (!enabled_) return;
  struct Best {
    double busbw = -1;
    std::size_t bytes = 0;
    std::string placement;
    std::int64_t wrong = 0;
    bool checked = false;
  };
  std::map<std::string, Best> best;  // key: algorithm @ ranks
  std::int64_t total_wrong = 0;
  for (const auto& r : records) {
    const std::string key = r.algorithm + " on " + std::to_string(r.ranks) + " ranks (" +
                            std::string(collectives::dtype_name(r.dtype)) + ")";
    auto& b = best[key];
    if (r.busbw_gbps > b.busbw) {
      b.busbw = r.busbw_gbps;
      b.bytes = r.bytes;
      b.placement = r.in_place ? "in-place" : "out-of-place";
    }
    if (r.wrong > 0) {
      b.wrong += r.wrong;
      total_wrong += r.wrong;
    }
    b.checked |= r.wrong >= 0;
  }
  std::printf("#\n# Summary: peak bus bandwidth per algorithm (not an average over sizes)\n");
  for (const auto& [key, b] : best) {
    std::printf("#   %-44s peak busbw %9.3f GB/s at %s (%s), #wrong %s\n", key.c_str(), b.busbw,
                format_size(b.bytes).c_str(), b.placement.c_str(),
                b.checked ? std::to_string(b.wrong).c_str() : "not checked");
  }
  int unstable = 0;
  for (const auto& r : records) unstable += r.instability ? 1 : 0;
  if (unstable)
    std::printf(
        "# %d point(s) flagged unstable (marked !): their samples are not one regime; rerun them "
        "alone or with --stable SECONDS before comparing\n",
        unstable);
  for (const auto& line : library_anomalies(records)) std::printf("# note: %s\n", line.c_str());
  std::printf("# Wrong elements in total: %lld %s\n", static_cast<long long>(total_wrong),
              total_wrong ? "FAILED" : "OK");
  std::fflush(stdout);
}

}  // namespace collbench::bench
