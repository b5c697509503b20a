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
    case model::ModelAlgo::kCount:
      break;
  }
  return "?";
}

int run_predict(const PredictArgs& a) {
  check_outputs({{"--json", a.json_path}});
  if (!a.fabric_path.empty() && a.profiles_given)
    throw UsageError("--fabric and --profile: give one of them");
  std::vector<Collective> colls;
  if (a.collective == "all") {
    colls = {Collective::kAllReduce, Collective::kAllToAll};
  } else {
    auto c = collectives::parse_collective(a.collective);
    if (!c)
      throw UsageError("--collective " + a.collective + ": expected allreduce, alltoall or all");
    colls = {*c};
  }
  const std::size_t lo = parse_size(a.min_bytes, "--min-bytes");
  const std::size_t hi = parse_size(a.max_bytes, "--max-bytes");
  if (lo == 0) throw UsageError("--min-bytes: must be > 0");
  if (hi < lo) throw UsageError("--max-bytes: below --min-bytes");
  if (!(a.factor > 1)) throw UsageError("--step-factor: must be > 1");
  const std::vector<std::size_t> sizes = size_sweep(lo, hi, a.factor, 0);
  const std::vector<std::int64_t> gpus = parse_gpus(a.gpus);
  const std::int64_t max_gpus = *std::max_element(gpus.begin(), gpus.end());

  std::vector<model::ModelAlgo> algos;
  if (!a.algos.empty() && a.algos != "all") {
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
  } else {
    for (const auto& i : model::model_algorithms())
      for (Collective c : colls)
        if (i.collective == c) algos.push_back(i.algo);
  }

  struct Target {
    std::string label;
    model::Fabric fabric;
  };
  std::vector<Target> targets;
  if (!a.fabric_path.empty()) {
    model::Fabric f = model::load_fabric(a.fabric_path);
    if (f.gpus > 0 && max_gpus > f.gpus) {
      throw UsageError("--gpus " + a.gpus + ": the fabric '" + f.name + "' holds " +
                       commas(f.gpus) + " ranks" +
                       (f.tiers.size() == 1 ? " (its only tier is " + f.tiers[0].name +
                                                  "; fit on 2 or more nodes to project beyond)"
                                            : std::string()));
    }
    targets.push_back({f.name.empty() ? a.fabric_path : f.name, f});
  } else {
    for (const auto* p : parse_profiles(a.profiles, "--profile"))
      targets.push_back({p->key, model::site_fabric(*p, max_gpus, a.site)});
  }

  // The projection itself: closed form, no allocation inside.
  const std::size_t n_alg = algos.size(), n_size = sizes.size(), n_gpu = gpus.size();
  std::vector<double> times(targets.size() * n_alg * n_size * n_gpu);
  std::vector<model::ModelNet> nets;
  for (const auto& t : targets) nets.push_back(model::make_net(t.fabric));
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t idx = 0;
  for (std::size_t f = 0; f < targets.size(); ++f)
    for (std::size_t al = 0; al < n_alg; ++al)
      for (std::size_t s = 0; s < n_size; ++s)
        for (std::size_t g = 0; g < n_gpu; ++g)
          times[idx++] =
              model::predict_time(nets[f], algos[al], static_cast<double>(sizes[s]), gpus[g]);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto at = [&](std::size_t f, std::size_t al, std::size_t s, std::size_t g) {
    return times[((f * n_alg + al) * n_size + s) * n_gpu + g];
  };

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
  out["sizes"] = sizes;
  out["gpus"] = gpus;
  out["fabrics"] = json::array();
  out["points"] = json::array();
  out["best"] = json::array();
  out["projection_seconds"] = elapsed;
  for (std::size_t f = 0; f < targets.size(); ++f) {
    out["fabrics"].push_back(
        {{"label", targets[f].label}, {"fabric", model::fabric_to_json(targets[f].fabric)}});
    for (std::size_t al = 0; al < n_alg; ++al) {
      const auto& info = model::model_algorithm(algos[al]);
      for (std::size_t s = 0; s < n_size; ++s)
        for (std::size_t g = 0; g < n_gpu; ++g) {
          const double t = at(f, al, s, g);
          if (std::isnan(t)) continue;
          const double b = static_cast<double>(sizes[s]);
          out["points"].push_back(
              {{"fabric", targets[f].label},
               {"collective", std::string(collectives::collective_name(info.collective))},
               {"algorithm", std::string(info.name)},
               {"bytes", sizes[s]},
               {"gpus", gpus[g]},
               {"time_us", t * 1e6},
               {"algbw_gbps", model::algbw_gbps(b, t)},
               {"busbw_gbps", model::busbw_gbps(info.collective, b, gpus[g], t)}});
        }
    }
  }

  std::printf(
      "Projection: %zu fabrics x %zu algorithms x %zu sizes x %zu GPU counts = %zu points "
      "in %.3f ms\n",
      targets.size(), n_alg, n_size, n_gpu, times.size(), elapsed * 1e3);
  std::printf("Cells: busbw of the best algorithm (GB/s) and its code; sizes per rank.\n");
  const std::size_t every = n_size > 16 ? 2 : 1;
  if (every > 1) std::printf("Every 2nd size shown; --json has every point.\n");
  for (std::size_t f = 0; f < targets.size(); ++f) {
    for (Collective c : colls) {
      std::vector<std::string> head{"size"};
      for (auto g : gpus) head.push_back(commas(g));
      Table t(head);
      for (std::size_t s = 0; s < n_size; ++s) {
        std::vector<std::string> row{format_size(sizes[s])};
        for (std::size_t g = 0; g < n_gpu; ++g) {
          double best = NAN;
          std::size_t best_al = 0;
          for (std::size_t al = 0; al < n_alg; ++al) {
            if (model::model_algorithm(algos[al]).collective != c) continue;
            const double tt = at(f, al, s, g);
            if (std::isnan(tt)) continue;
            if (std::isnan(best) || tt < best) {
              best = tt;
              best_al = al;
            }
          }
          if (std::isnan(best)) {
            row.push_back("-");
            continue;
          }
          const double b = static_cast<double>(sizes[s]);
          const double bus = model::busbw_gbps(c, b, gpus[g], best);
          row.push_back(sig(bus) + " " + algo_code(algos[best_al]));
          out["best"].push_back(
              {{"fabric", targets[f].label},
               {"collective", std::string(collectives::collective_name(c))},
               {"bytes", sizes[s]},
               {"gpus", gpus[g]},
               {"algorithm", std::string(model::model_algorithm(algos[best_al]).name)},
               {"time_us", best * 1e6},
               {"busbw_gbps", bus}});
        }
        if (s % every == 0 || s + 1 == n_size) t.row(row);
      }
      std::printf("\n== %s, %s (columns: GPUs)\n%s", targets[f].label.c_str(),
                  std::string(collectives::collective_name(c)).c_str(), t.str().c_str());
    }
    std::printf("fabric %s:\n%s", targets[f].label.c_str(),
                fabric_table(targets[f].fabric).c_str());
  }
  std::printf(
      "\ncodes: R ring, RD recursive_doubling, RB rabenseifner, BN binomial, T "
      "double_binary_tree, H hierarchical, H3 hierarchical3, HL hierarchical_leader, NV "
      "in_switch; all-to-all: L linear, P pairwise, B bruck, H hierarchical\n");
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
  c->add_option("--json", a->json_path, "write every point as JSON (for the plotting script)");
  c->callback([&action, a, c] {
    a->profiles_given = c->count("--profile") > 0;
    action = [a] { return guarded("predict", [&] { return run_predict(*a); }); };
  });
}

}  // namespace collbench::bench::model_cli
