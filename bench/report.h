// Reporters: the console table (rank 0), and the JSON and CSV files, rewritten atomically after
// every measured row so that a run that dies keeps everything measured before, marked incomplete.
#pragma once

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/options.h"
#include "bench/output_file.h"
#include "bench/record.h"

namespace collbench::bench {

class ResultSink {
 public:
  ResultSink(const Options& o, nlohmann::json provenance, nlohmann::json options_json);
  void set_topology(nlohmann::json topology);
  // A top-level section of its own (a workload run's step description and totals).
  void set_extra(const std::string& key, nlohmann::json value);
  void set_in_progress(const std::string& what);  // recorded as the failure if the run dies
  void add(const Record& r);                      // appends and rewrites the files
  // The last write: the first call wins (a timeout, then the launcher's SIGTERM, keeps the
  // timeout), and add() writes nothing after it.
  // Changes the records measured so far (a verdict that needs all of them) and rewrites.
  void update(const std::function<void(std::vector<Record>&)>& change);
  void finish(bool complete, const std::string& failure);
  // finish(false, ...) for a signal: the reason, the rows kept and the step that was cut short.
  void interrupt(const std::string& reason);
  const std::vector<Record>& records() const { return records_; }
  nlohmann::json to_json(bool complete, const std::string& failure) const;
  std::string to_csv() const;
  std::mutex& mutex() { return mu_; }

 private:
  void write(bool complete, const std::string& failure);

  std::string json_path_, csv_path_;
  nlohmann::json provenance_, options_, topology_, extra_ = nlohmann::json::object();
  std::vector<Record> records_;
  std::string in_progress_, last_completed_;
  bool finished_ = false;
  std::mutex mu_;
};

// For a rank other than 0 when rank 0 stopped answering (frozen or dead): puts `failure` into the
// result file rank 0 has been writing (its rows kept), or writes one without rows. Never throws.
void note_failure_in_result_file(const std::string& path, const std::string& failure,
                                 const nlohmann::json& provenance, const nlohmann::json& options);
// One line per point where the MPI library's (or NCCL's) own collective is more than `factor`
// times slower than the best of collbench's algorithms, or the reverse: so that a reader does not
// take a library's tuning choice for a harness fault, or the other way round.
std::vector<std::string> library_anomalies(const std::vector<Record>& records, double factor = 5.0);

// The nccl-tests-like table on stdout.
class ConsoleTable {
 public:
  explicit ConsoleTable(bool enabled, bool rank_spread = false)
      : enabled_(enabled), rank_spread_(rank_spread) {}
  void header(const nlohmann::json& provenance, const Options& o, const std::string& topo_line);
  void section(int ranks, int nodes, int repeat, bool show);
  void row(const Record* out, const Record* in);
  void note(const std::string& text);
  void summary(const std::vector<Record>& records);

 private:
  bool enabled_;
  bool rank_spread_;  // a line under each row: min/avg/max over ranks of each rank's mean
};

}  // namespace collbench::bench
