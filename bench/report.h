// Reporters: the console table (rank 0), and the JSON and CSV files, rewritten atomically after
// every measured row so that a run that dies keeps everything measured before, marked incomplete.
#pragma once

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
  void set_in_progress(const std::string& what);  // recorded as the failure if the run dies
  void add(const Record& r);                      // appends and rewrites the files
  // The last write: the first call wins (a timeout, then the launcher's SIGTERM, keeps the
  // timeout), and add() writes nothing after it.
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
  nlohmann::json provenance_, options_, topology_;
  std::vector<Record> records_;
  std::string in_progress_, last_completed_;
  bool finished_ = false;
  std::mutex mu_;
};

// For a rank other than 0 when rank 0 stopped answering (frozen or dead): puts `failure` into the
// result file rank 0 has been writing (its rows kept), or writes one without rows. Never throws.
void note_failure_in_result_file(const std::string& path, const std::string& failure,
                                 const nlohmann::json& provenance, const nlohmann::json& options);

// The nccl-tests-like table on stdout.
class ConsoleTable {
 public:
  explicit ConsoleTable(bool enabled) : enabled_(enabled) {}
  void header(const nlohmann::json& provenance, const Options& o, const std::string& topo_line);
  void section(int ranks, int nodes, int repeat, bool show);
  void row(const Record* out, const Record* in);
  void note(const std::string& text);
  void summary(const std::vector<Record>& records);

 private:
  bool enabled_;
};

}  // namespace collbench::bench
