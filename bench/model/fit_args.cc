#include "bench/model/fit_args.h"

#include <CLI/CLI.hpp>
#include <algorithm>

#include "bench/sizes.h"
#include "bench/table.h"
#include "collectives/error.h"

namespace collbench::bench::model_cli {

using nlohmann::json;

InRange load_in_range(const FitArgs& a) {
  InRange loaded{model::load_result_files(a.files, a.stat), {}};
  if (loaded.records.empty()) {
    // Say why every record was left out (all wrong, one rank, ...), not just that none is left.
    std::string why;
    for (const auto& s : loaded.skipped) why += (why.empty() ? "" : "; ") + s;
    throw UsageError("results: no record can be fitted (" +
                     (why.empty() ? std::string("the files hold no records") : why) + ")");
  }
  if (!a.dtype.empty() &&
      std::none_of(loaded.records.begin(), loaded.records.end(),
                   [&](const model::FitRecord& r) { return r.dtype == a.dtype; })) {
    std::string have;
    for (const auto& r : loaded.records)
      if (have.find(r.dtype) == std::string::npos) have += (have.empty() ? "" : ", ") + r.dtype;
    throw UsageError("--dtype " + a.dtype + ": no record of that element type (the files hold " +
                     have + ")");
  }
  if (!a.each_repeat) {
    const std::size_t before = loaded.records.size();
    if (const std::size_t folded = model::merge_repeats(loaded.records); folded > 0)
      loaded.merged = std::to_string(before) + " measurements of " +
                      std::to_string(loaded.records.size()) +
                      " points: each point's time is the median of its repeats (--each-repeat "
                      "keeps them apart)";
  }
  if (a.min_bytes.empty() && a.max_bytes.empty()) return loaded;
  const double lo =
      a.min_bytes.empty() ? 0.0 : static_cast<double>(parse_size(a.min_bytes, "--min-bytes"));
  const double hi =
      a.max_bytes.empty() ? 1e300 : static_cast<double>(parse_size(a.max_bytes, "--max-bytes"));
  if (lo > hi)
    throw UsageError("--min-bytes " + a.min_bytes + " is above --max-bytes " + a.max_bytes);
  const auto before = loaded.records.size();
  std::erase_if(loaded.records,
                [&](const model::FitRecord& r) { return r.bytes < lo || r.bytes > hi; });
  const auto dropped = before - loaded.records.size();
  if (dropped)
    loaded.skipped.push_back(std::to_string(dropped) + " records: outside " +
                             (a.min_bytes.empty() ? "0" : a.min_bytes) + " .. " +
                             (a.max_bytes.empty() ? "any" : a.max_bytes) + " bytes");
  if (loaded.records.empty()) throw UsageError("no records between --min-bytes and --max-bytes");
  return loaded;
}

model::FitOptions fit_options(const FitArgs& a) {
  model::FitOptions o;
  if (a.tiers == "auto") {
    o.tiers = model::TierChoice::kAuto;
  } else if (a.tiers == "intra") {
    o.tiers = model::TierChoice::kIntra;
  } else if (a.tiers == "intra,inter" || a.tiers == "inter") {
    o.tiers = model::TierChoice::kIntraInter;
  } else {
    throw UsageError("--tiers " + a.tiers + ": expected auto, intra or intra,inter");
  }
  o.dtype = a.dtype;
  o.local_terms = !a.plain;
  if (!a.eager_limit.empty()) {
    o.eager_limit = static_cast<double>(parse_size(a.eager_limit, "--eager-limit"));
    if (!(o.eager_limit > 0)) throw UsageError("--eager-limit " + a.eager_limit + ": must be > 0");
  }
  if (a.gamma_gbps == 0) {
    o.gamma_fixed = 0.0;
  } else if (a.gamma_gbps > 0) {
    o.gamma_fixed = 1.0 / (a.gamma_gbps * 1e9);
  }
  return o;
}

std::string params_table(const model::FitResult& r) {
  Table t({"parameter", "value", "unit", "meaning"});
  using model::alpha_param;
  using model::beta_param;
  using model::gamma_param;
  if (r.fitted[alpha_param(0)]) {
    t.row({"alpha intra-node", sig(r.theta[alpha_param(0)] * 1e6), "us", "latency per message"});
    const double b = r.theta[beta_param(0)];
    t.row({"bandwidth intra-node", b > 0 ? sig(1 / b / 1e9) : "inf", "GB/s",
           "per rank, all ranks of the node sending (1/beta)"});
    if (r.separate_flow) {
      const double f = r.theta[model::flow_beta0_param()];
      t.row({"  one flow", f > 0 ? sig(1 / f / 1e9) : "inf", "GB/s",
             "when only some ranks of the node send (tree steps)"});
    }
    if (r.eager_limit > 0)
      t.row({"  rendezvous", sig(r.theta[model::rendezvous0_param()] * 1e6), "us",
             "added per message of >= " + format_size(static_cast<std::uint64_t>(r.eager_limit)) +
                 " (eager limit)"});
  }
  if (r.fitted[alpha_param(1)]) {
    t.row({"alpha inter-node", sig(r.theta[alpha_param(1)] * 1e6), "us", "latency per message"});
    t.row({"node link", r.node_link_gbps >= 1e6 ? "inf" : sig(r.node_link_gbps), "GB/s",
           "shared by the ranks of a node (1/beta)"});
    t.row({"  per rank", sig(r.node_link_gbps / std::max<std::int64_t>(1, r.ranks_per_node)),
           "GB/s", "link / " + std::to_string(r.ranks_per_node) + " ranks per node"});
  }
  const double g = r.theta[gamma_param()];
  t.row({"reduction rate", g > 0 ? sig(1 / g / 1e9) : "free", "GB/s",
         std::string("1/gamma, per byte reduced") + (r.fitted[gamma_param()] ? "" : " (fixed)")});
  if (r.fitted[model::delta_param()]) {
    const double d = r.theta[model::delta_param()];
    t.row({"local copy rate", d > 0 ? sig(1 / d / 1e9) : "free", "GB/s",
           "1/delta, per byte a rank copies in its own memory"});
  }
  return t.str();
}

json params_json(const model::FitResult& r) {
  using model::alpha_param;
  using model::beta_param;
  using model::gamma_param;
  json p;
  if (r.fitted[alpha_param(0)]) {
    p["alpha_intra_us"] = r.theta[alpha_param(0)] * 1e6;
    p["beta_intra_s_per_byte"] = r.theta[beta_param(0)];
  }
  if (r.fitted[alpha_param(1)]) {
    p["alpha_inter_us"] = r.theta[alpha_param(1)] * 1e6;
    p["beta_inter_link_s_per_byte"] = r.theta[beta_param(1)];
    p["node_link_gbps"] = r.node_link_gbps;
  }
  p["gamma_s_per_byte"] = r.theta[gamma_param()];
  p["gamma_fitted"] = r.fitted[gamma_param()];
  if (r.separate_flow) p["beta_intra_flow_s_per_byte"] = r.theta[model::flow_beta0_param()];
  if (r.fitted[model::delta_param()]) p["delta_s_per_byte"] = r.theta[model::delta_param()];
  if (r.eager_limit > 0) {
    p["eager_limit_bytes"] = r.eager_limit;
    p["rendezvous_intra_us"] = r.theta[model::rendezvous0_param()] * 1e6;
  }
  p["ranks_per_node"] = r.ranks_per_node;
  return p;
}

void add_fit_flags(CLI::App* c, FitArgs& a) {
  c->add_option("results", a.files, "result files (results/schema/result-v1)");
  c->add_option("--tiers", a.tiers, "auto, intra or intra,inter")->capture_default_str();
  c->add_option("--stat", a.stat, "time statistic: p50, mean or min")->capture_default_str();
  c->add_option("--dtype", a.dtype, "all-reduce element type to fit (default: most common)");
  number_check(c->add_option("--gamma-gbps", a.gamma_gbps,
                             "fix the reduction rate (GB/s; 0 = free) instead of fitting it"),
               0, true);
  c->add_option("--json", a.json_path, "write the same content as JSON");
  c->add_option("-b,--min-bytes", a.min_bytes,
                "use only records of at least this size (e.g. 4M: the sizes that stream from "
                "memory, where one bandwidth holds)");
  c->add_option("-e,--max-bytes", a.max_bytes, "use only records of at most this size");
  c->add_flag("--plain", a.plain,
              "the textbook alpha-beta-gamma model: no local-copy cost delta, one intra-node "
              "beta (default: fit them where the records determine them)");
  c->add_option("--eager-limit", a.eager_limit,
                "message size from which the MPI library inside a node uses a rendezvous (Open "
                "MPI shared memory: 4K): fit its extra latency (LogGPS)");
  c->add_flag("--each-repeat", a.each_repeat,
              "keep repeated measurements of one point (--repeat, several files) as separate "
              "records (default: one record per point, the median of its repeats)");
}

}  // namespace collbench::bench::model_cli
