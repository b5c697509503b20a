// `collbench model predict`: time and busbw of every modelled algorithm over sizes and GPU counts.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/model/common.h"
#include "bench/sizes.h"
#include "bench/table.h"
#include "collectives/dtype.h"
#include "collectives/error.h"
#include "topology/model/cost_model.h"
#include "topology/model/fabric.h"
#include "topology/model/site.h"

namespace collbench::bench::model_cli {
namespace {

using collectives::Collective;
using nlohmann::json;

struct PredictArgs {
  std::string profiles = "all";
  std::string fabric_path;
  std::string collective = "all";
  std::string min_bytes = "8";
  std::string max_bytes = "4G";
  double factor = 2;
  std::string gpus = "8:262144";
  std::string algos;
  model::SiteOptions site;
  std::string json_path;
  bool profiles_given = false;
  bool strict = false;  // more GPUs than the power budget holds: an error, not a note
};

std::string algo_code(model::ModelAlgo a) {
  switch (a) {
    case model::ModelAlgo::kRingAllreduce:
      return "R";
    case model::ModelAlgo::kRecursiveDoublingAllreduce:
      return "RD";
    case model::ModelAlgo::kRabenseifnerAllreduce:
      return "RB";
    case model::ModelAlgo::kBinomialAllreduce:
      return "BN";
    case model::ModelAlgo::kDoubleBinaryTreeAllreduce:
      return "T";
    case model::ModelAlgo::kHierarchicalAllreduce:
      return "H";
    case model::ModelAlgo::kHierarchical3Allreduce:
      return "H3";
    case model::ModelAlgo::kHierarchicalLeaderAllreduce:
      return "HL";
    case model::ModelAlgo::kInSwitchAllreduce:
      return "NV";
    case model::ModelAlgo::kLinearAlltoall:
      return "L";
    case model::ModelAlgo::kPairwiseAlltoall:
      return "P";
    case model::ModelAlgo::kBruckAlltoall:
      return "B";
    case model::ModelAlgo::kHierarchicalAlltoall:
      return "H";
    case model::ModelAlgo::kRingReduceScatter:
      return "R";
    case model::ModelAlgo::kRecursiveHalvingReduceScatter:
      return "RH";
    case model::ModelAlgo::kPairwiseReduceScatter:
      return "P";
    case model::ModelAlgo::kHierarchicalReduceScatter:
      return "H";
    case model::ModelAlgo::kRingAllgather:
      return "R";
    case model::ModelAlgo::kRecursiveDoublingAllgather:
      return "RD";
    case model::ModelAlgo::kBruckAllgather:
      return "B";
    case model::ModelAlgo::kHierarchicalAllgather:
      return "H";
    case model::ModelAlgo::kMpiAllreduce:
    case model::ModelAlgo::kMpiAlltoall:
    case model::ModelAlgo::kMpiReduceScatter:
    case model::ModelAlgo::kMpiAllgather:
      return "MPI";
    case model::ModelAlgo::kNcclAllreduce:
    case model::ModelAlgo::kNcclAlltoall:
    case model::ModelAlgo::kNcclReduceScatter:
    case model::ModelAlgo::kNcclAllgather:
      return "NCCL";
    case model::ModelAlgo::kCount:
      break;
  }
  return "?";
}

// What to project: collectives, sizes, GPU counts, algorithms, fabrics; the GPU counts beyond
// each profile's power budget.
struct Plan {
  struct Target {
    std::string label;
    model::Fabric fabric;
  };
  std::vector<Collective> colls;
  std::vector<std::size_t> sizes;
  std::vector<std::int64_t> gpus;
  std::vector<model::ModelAlgo> algos;
  std::vector<Target> targets;
  std::vector<std::string> over;  // one line per profile
};

std::vector<model::ModelAlgo> chosen_algorithms(const PredictArgs& a,
                                                const std::vector<Collective>& colls) {
  std::vector<model::ModelAlgo> algos;
  if (a.algos.empty() || a.algos == "all") {
    for (const auto& i : model::model_algorithms())
      for (Collective c : colls)
        if (i.collective == c) algos.push_back(i.algo);
    return algos;
  }
  for (const auto& name : split(a.algos, ',')) {
    bool found = false;
    for (Collective c : colls) {
      if (auto m = model::find_model_algorithm(c, name)) {
        algos.push_back(*m);
        found = true;
      }
    }
    if (!found) {
      std::string known;
      for (const auto& i : model::model_algorithms())
        known += (known.empty() ? "" : ", ") + std::string(i.name);
      throw UsageError("--algo " + name + ": no modelled algorithm of that name (" + known + ")");
    }
  }
  return algos;
}

Plan make_plan(const PredictArgs& a) {
  if (!a.fabric_path.empty() && a.profiles_given)
    throw UsageError("--fabric and --profile: give one of them");
  Plan plan;
  if (a.collective == "all") {
    plan.colls = {Collective::kAllReduce, Collective::kAllToAll};
  } else {
    auto c = collectives::parse_collective(a.collective);
    if (!c)
      throw UsageError("--collective " + a.collective + ": expected allreduce, alltoall or all");
    plan.colls = {*c};
  }
  const std::size_t lo = parse_size(a.min_bytes, "--min-bytes");
  const std::size_t hi = parse_size(a.max_bytes, "--max-bytes");
  if (lo == 0) throw UsageError("--min-bytes: must be > 0");
  if (hi < lo) throw UsageError("--max-bytes: below --min-bytes");
  if (!(a.factor > 1)) throw UsageError("--step-factor: must be > 1");
  plan.sizes = size_sweep(lo, hi, a.factor, 0);
  plan.gpus = parse_gpus(a.gpus);
  const std::int64_t max_gpus = *std::max_element(plan.gpus.begin(), plan.gpus.end());
  plan.algos = chosen_algorithms(a, plan.colls);
  if (!a.fabric_path.empty()) {
    model::Fabric f = model::load_fabric(a.fabric_path);
    if (f.gpus > 0 && max_gpus > f.gpus) {
      throw UsageError("--gpus " + a.gpus + ": the fabric '" + f.name + "' holds " +
                       commas(f.gpus) + " ranks" +
                       (f.tiers.size() == 1 ? " (its only tier is " + f.tiers[0].name +
                                                  "; fit on 2 or more nodes to project beyond)"
                                            : std::string()));
    }
    plan.targets.push_back({f.name.empty() ? a.fabric_path : f.name, f});
    return plan;
  }
  for (const auto* p : parse_profiles(a.profiles, "--profile")) {
    if (const std::string line = over_budget(*p, a.site, max_gpus); !line.empty()) {
      if (a.strict) throw UsageError("--gpus " + a.gpus + ": " + line);
      plan.over.push_back(line);
    }
    plan.targets.push_back({p->key, model::site_fabric(*p, max_gpus, a.site)});
  }
  return plan;
}

// Every time of the plan: closed form, no allocation inside the timed loop.
struct Projection {
  std::vector<double> times;  // [fabric][algorithm][size][gpus]
  double seconds = 0;
  std::size_t n_alg = 0, n_size = 0, n_gpu = 0;
  double at(std::size_t f, std::size_t al, std::size_t s, std::size_t g) const {
    return times[((f * n_alg + al) * n_size + s) * n_gpu + g];
  }
};

Projection project(const Plan& plan) {
  Projection pr;
  pr.n_alg = plan.algos.size();
  pr.n_size = plan.sizes.size();
  pr.n_gpu = plan.gpus.size();
  pr.times.resize(plan.targets.size() * pr.n_alg * pr.n_size * pr.n_gpu);
  std::vector<model::ModelNet> nets;
  for (const auto& t : plan.targets) nets.push_back(model::make_net(t.fabric));
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t idx = 0;
  for (std::size_t f = 0; f < plan.targets.size(); ++f)
    for (std::size_t al = 0; al < pr.n_alg; ++al)
      for (std::size_t s = 0; s < pr.n_size; ++s)
        for (std::size_t g = 0; g < pr.n_gpu; ++g)
          pr.times[idx++] = model::predict_time(nets[f], plan.algos[al],
                                                static_cast<double>(plan.sizes[s]), plan.gpus[g]);
  pr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return pr;
}

// The error band of a GPU count on a fabric, for a collective (looked up once per column).
model::PointBand column_band(const Plan& plan, std::size_t f, Collective c, std::size_t g) {
  const auto& tiers = plan.targets[f].fabric.tiers;
  // One tier: every count is one domain.
  const std::int64_t domain = tiers.size() > 1 ? tiers[0].group_size : plan.gpus[g] + 1;
  return band_of(c, plan.gpus[g], domain, domain);
}

json banded_point(json point, const model::PointBand& b, double busbw, double time_s) {
  point["regime"] = model::band_regime_key(b.regime);
  point["extrapolated"] = b.extrapolated;
  if (b.cases > 0) {
    point["busbw_low_gbps"] = busbw * (1 + b.lo);
    point["busbw_high_gbps"] = busbw * (1 + b.hi);
    point["time_low_us"] = time_s * 1e6 / (1 + b.hi);
    point["time_high_us"] = time_s * 1e6 / (1 + b.lo);
  }
  return point;
}

// Every point of every algorithm, with its band.
json points_json(const Plan& plan, const Projection& pr) {
  json points = json::array();
  for (std::size_t f = 0; f < plan.targets.size(); ++f) {
    for (std::size_t al = 0; al < pr.n_alg; ++al) {
      const auto& info = model::model_algorithm(plan.algos[al]);
      std::vector<model::PointBand> bands;
      for (std::size_t g = 0; g < pr.n_gpu; ++g)
        bands.push_back(column_band(plan, f, info.collective, g));
      for (std::size_t s = 0; s < pr.n_size; ++s)
        for (std::size_t g = 0; g < pr.n_gpu; ++g) {
          const double t = pr.at(f, al, s, g);
          if (std::isnan(t)) continue;
          const double b = static_cast<double>(plan.sizes[s]);
          const double bus = model::busbw_gbps(info.collective, b, plan.gpus[g], t);
          points.push_back(banded_point(
              {{"fabric", plan.targets[f].label},
               {"collective", std::string(collectives::collective_name(info.collective))},
               {"algorithm", std::string(info.name)},
               {"bytes", plan.sizes[s]},
               {"gpus", plan.gpus[g]},
               {"time_us", t * 1e6},
               {"algbw_gbps", model::algbw_gbps(b, t)},
               {"busbw_gbps", bus}},
              bands[g], bus, t));
        }
    }
  }
  return points;
}

// One table per fabric and collective: the best algorithm's busbw per size and GPU count, then
// each column's regime and band. Fills out["best"] and out["column_bands"].
std::string best_table(const Plan& plan, const Projection& pr, std::size_t f, Collective c,
                       json& out) {
  std::vector<std::string> head{"size"};
  for (auto g : plan.gpus) head.push_back(commas(g));
  Table t(head);
  const std::size_t every = pr.n_size > 16 ? 2 : 1;
  for (std::size_t s = 0; s < pr.n_size; ++s) {
    std::vector<std::string> row{format_size(plan.sizes[s])};
    for (std::size_t g = 0; g < pr.n_gpu; ++g) {
      double best = NAN;
      std::size_t best_al = 0;
      for (std::size_t al = 0; al < pr.n_alg; ++al) {
        if (model::model_algorithm(plan.algos[al]).collective != c) continue;
        const double tt = pr.at(f, al, s, g);
        if (!std::isnan(tt) && (std::isnan(best) || tt < best)) {
          best = tt;
          best_al = al;
        }
      }
      if (std::isnan(best)) {
        row.push_back("-");
        continue;
      }
      const double bus =
          model::busbw_gbps(c, static_cast<double>(plan.sizes[s]), plan.gpus[g], best);
      row.push_back(sig(bus) + " " + algo_code(plan.algos[best_al]));
      const model::PointBand pb = column_band(plan, f, c, g);
      json entry = banded_point(
          {{"fabric", plan.targets[f].label},
           {"collective", std::string(collectives::collective_name(c))},
           {"bytes", plan.sizes[s]},
           {"gpus", plan.gpus[g]},
           {"algorithm", std::string(model::model_algorithm(plan.algos[best_al]).name)},
           {"time_us", best * 1e6},
           {"busbw_gbps", bus}},
          pb, bus, best);
      entry["band"] = band_json(pb);
      out["best"].push_back(std::move(entry));
    }
    if (s % every == 0 || s + 1 == pr.n_size) t.row(row);
  }
  std::vector<std::string> regime_row{"regime"}, band_row{"band"};
  json col_bands = json::array();
  for (std::size_t g = 0; g < pr.n_gpu; ++g) {
    const model::PointBand pb = column_band(plan, f, c, g);
    regime_row.push_back(model::band_regime_name(pb.regime));
    band_row.push_back(band_cell(pb));
    col_bands.push_back(band_json(pb));
  }
  t.row(regime_row);
  t.row(band_row);
  out["column_bands"].push_back({{"fabric", plan.targets[f].label},
                                 {"collective", std::string(collectives::collective_name(c))},
                                 {"gpus", plan.gpus},
                                 {"bands", col_bands}});
  return t.str();
}

int run_predict(const PredictArgs& a) {
  check_outputs({{"--json", a.json_path}});
  const Plan plan = make_plan(a);
  for (const auto& line : plan.over) std::printf("beyond the power budget: %s\n", line.c_str());
  const Projection pr = project(plan);

  json out;
  out["command"] = "model predict";
  out["units"] = {{"bytes", "per rank (all-to-all: total a rank sends)"},
                  {"time_us", "microseconds"},
                  {"busbw_gbps", "decimal GB/s, nccl-tests factors"}};
  out["assumptions"] = {
      "ranks placed in blocks: consecutive ranks share the lowest tiers",
      "traffic leaving a scale-up domain is spread over the domain's NICs (NCCL channels)",
      "each step is charged at the slowest tier its pairs cross; oversubscription divides the "
      "rate of traffic crossing a tier by the ratio accumulated below it",
      "one collective at a time on the fabric (no other jobs)"};
  out["sizes"] = plan.sizes;
  out["gpus"] = plan.gpus;
  out["fabrics"] = json::array();
  for (const auto& t : plan.targets)
    out["fabrics"].push_back({{"label", t.label}, {"fabric", model::fabric_to_json(t.fabric)}});
  out["points"] = points_json(plan, pr);
  out["best"] = json::array();
  out["projection_seconds"] = pr.seconds;
  out["calibration"] = calibration_json();
  out["beyond_power_budget"] = plan.over;

  std::printf(
      "Projection: %zu fabrics x %zu algorithms x %zu sizes x %zu GPU counts = %zu points "
      "in %.3f ms\n",
      plan.targets.size(), pr.n_alg, pr.n_size, pr.n_gpu, pr.times.size(), pr.seconds * 1e3);
  std::printf("Cells: busbw of the best algorithm (GB/s) and its code; sizes per rank.\n");
  if (pr.n_size > 16) std::printf("Every 2nd size shown; --json has every point.\n");
  for (std::size_t f = 0; f < plan.targets.size(); ++f) {
    for (Collective c : plan.colls)
      std::printf("\n== %s, %s (columns: GPUs)\n%s", plan.targets[f].label.c_str(),
                  std::string(collectives::collective_name(c)).c_str(),
                  best_table(plan, pr, f, c, out).c_str());
    std::printf("fabric %s:\n%s", plan.targets[f].label.c_str(),
                fabric_table(plan.targets[f].fabric).c_str());
  }
  std::printf(
      "\ncodes: R ring, RD recursive_doubling, RB rabenseifner, BN binomial, T "
      "double_binary_tree, H hierarchical, H3 hierarchical3, HL hierarchical_leader, NV "
      "in_switch; all-to-all: L linear, P pairwise, B bruck, H hierarchical; reduce-scatter: R "
      "ring, RH recursive_halving, P pairwise, H hierarchical; all-gather: R ring, RD "
      "recursive_doubling, B bruck, H hierarchical\n");
  std::printf(
      "band: measured / model - 1 over the published cases of the column's regime "
      "(`collbench model validate --published`); * extrapolated: more GPUs than any of them\n");
  std::printf("assumptions:\n");
  for (const auto& s : out["assumptions"]) std::printf("  - %s\n", s.get<std::string>().c_str());
  write_json(a.json_path, out);
  return 0;
}

}  // namespace

void add_predict_command(CLI::App* model, Action& action) {
  auto a = std::make_shared<PredictArgs>();
  CLI::App* c = model->add_subcommand(
      "predict", "time and busbw of every algorithm, sizes x GPU counts, per profile or fabric");
  c->add_option("--profile", a->profiles, "profiles (comma list) or all")->capture_default_str();
  c->add_option("--fabric", a->fabric_path, "fabric JSON (from model fit or model site)");
  c->add_option("--collective", a->collective, "allreduce, alltoall or all")->capture_default_str();
  c->add_option("-b,--min-bytes", a->min_bytes, "smallest size per rank (K/M/G = 1024^k)")
      ->capture_default_str();
  c->add_option("-e,--max-bytes", a->max_bytes, "largest size per rank")->capture_default_str();
  number_check(
      c->add_option("-f,--step-factor", a->factor, "size multiplier")->capture_default_str(), 1);
  c->add_option("--gpus", a->gpus, "GPU counts: A:B (powers of two) or a comma list")
      ->capture_default_str();
  c->add_option("--algo", a->algos, "algorithms (comma list), default all");
  add_site_options(c, a->site);
  c->add_option("--power-mw", a->site.power_mw,
                "power budget the GPU counts are checked against (a note when exceeded)")
      ->capture_default_str();
  c->add_flag("--strict", a->strict, "more GPUs than the power budget holds is an error (exit 2)");
  c->add_option("--json", a->json_path, "write every point as JSON (for the plotting script)");
  c->callback([&action, a, c] {
    a->profiles_given = c->count("--profile") > 0;
    action = [a] { return guarded("predict", [&] { return run_predict(*a); }); };
  });
}

}  // namespace collbench::bench::model_cli
