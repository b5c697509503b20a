// What `collbench model fit` and `model validate` share: their flags, reading the result files
// (repeats merged, a size range kept), and the fitted parameters as a table and as JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/model/common.h"
#include "topology/model/fit.h"

namespace collbench::bench::model_cli {

struct FitArgs {
  std::vector<std::string> files;
  std::string output;
  std::string tiers = "auto";
  std::string stat = "p50";
  std::string dtype;
  double gamma_gbps = -1;  // < 0: fit it; 0: free; > 0: fixed rate
  std::string json_path;
  // validate
  int holdout_every = 3;
  bool no_holdout_ranks = false;
  double target = 0.15;
  bool strict = false;
  // Only records in this size range (both): e.g. the DRAM-bound sizes, where one bandwidth holds.
  std::string min_bytes, max_bytes;
  bool plain = false;              // no δ, one β per tier: the textbook α-β-γ model
  bool each_repeat = false;        // keep repeated measurements of a point apart
  std::string eager_limit;         // intra-node eager limit: fit the rendezvous latency
  std::vector<std::string> bands;  // validate: size-band edges
};

// The loaded records, repeats merged (said in `merged`), less those outside
// --min-bytes/--max-bytes (said in `skipped`).
struct InRange : model::LoadedRecords {
  std::string merged;  // "320 measurements of 160 points ...", or empty
};

InRange load_in_range(const FitArgs& a);
model::FitOptions fit_options(const FitArgs& a);
std::string params_table(const model::FitResult& r);
nlohmann::json params_json(const model::FitResult& r);
// The flags of both commands (results, --tiers, --stat, ...).
void add_fit_flags(CLI::App* c, FitArgs& a);

}  // namespace collbench::bench::model_cli
