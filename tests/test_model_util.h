// Synthetic result files for the model tests: records whose times come from known α/β/γ through
// the model's own formulas, with deterministic noise and outliers.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "topology/model/cost_model.h"
#include "topology/model/fit.h"

namespace collbench::model_test {

struct TrueParams {
  double alpha_intra = 2e-6;   // s
  double bw_intra = 8e9;       // B/s per rank
  double alpha_inter = 30e-6;  // s
  double link_inter = 0.1e9;   // B/s per node link (800 Mbit/s)
  double reduce = 4e9;         // B/s
  double copy = 0;             // B/s of a local copy (δ = 1 / copy); 0 = free
  double flow_intra = 0;       // B/s of one flow inside a node when few send; 0 = bw_intra
  double eager = 0;            // bytes: intra-node messages at least this large pay `rendezvous`
  double rendezvous = 0;       // s
};

inline void fill_theta(const TrueParams& p, double* theta) {
  for (int i = 0; i < model::kNumParams; ++i) theta[i] = 0;
  theta[model::alpha_param(0)] = p.alpha_intra;
  theta[model::beta_param(0)] = 1 / p.bw_intra;
  theta[model::alpha_param(1)] = p.alpha_inter;
  theta[model::beta_param(1)] = 1 / p.link_inter;
  theta[model::gamma_param()] = 1 / p.reduce;
  theta[model::delta_param()] = p.copy > 0 ? 1 / p.copy : 0;
  theta[model::flow_beta0_param()] = 1 / (p.flow_intra > 0 ? p.flow_intra : p.bw_intra);
  theta[model::rendezvous0_param()] = p.rendezvous;
}

struct Placement {
  std::int64_t nodes;
  std::int64_t ranks_per_node;
};

struct SynthOptions {
  std::vector<Placement> placements{{1, 2}, {1, 3}, {1, 4}};
  std::vector<std::string> allreduce{"ring", "recursive_doubling", "rabenseifner", "binomial"};
  std::vector<std::string> alltoall{"linear", "pairwise", "bruck"};
  double min_bytes = 64;
  double max_bytes = 16 << 20;
  double factor = 4;          // between consecutive sizes
  double noise = 0.03;        // lognormal sigma
  double outlier_rate = 0.0;  // fraction of records multiplied by outlier_factor
  double outlier_factor = 3.0;
  bool add_native = true;  // MPI_Allreduce records (best-of + 10%)
  unsigned seed = 7;
};

// A result file (schema v1, the fields the model reads plus the required ones).
inline nlohmann::json synth_results(const TrueParams& tp, const SynthOptions& o) {
  using nlohmann::json;
  double theta[model::kNumParams];
  fill_theta(tp, theta);
  std::mt19937 rng(o.seed);
  std::normal_distribution<double> noise(0, o.noise);
  std::uniform_real_distribution<double> u(0, 1);
  json recs = json::array();
  auto add = [&](model::Collective c, const std::string& name, double t, const Placement& pl,
                 double bytes) {
    double f = std::exp(noise(rng));
    if (u(rng) < o.outlier_rate) f *= o.outlier_factor;
    const double us = t * f * 1e6;
    json r = {{"collective", c == model::Collective::kAllReduce ? "allreduce" : "alltoall"},
              {"algorithm", name},
              {"dtype", c == model::Collective::kAllReduce ? "f32" : "u8"},
              {"op", c == model::Collective::kAllReduce ? "sum" : "none"},
              {"placement", "out"},
              {"bytes", static_cast<std::int64_t>(bytes)},
              {"count", static_cast<std::int64_t>(bytes / 4)},
              {"ranks", pl.nodes * pl.ranks_per_node},
              {"nodes", pl.nodes},
              {"ranks_per_node", pl.ranks_per_node},
              {"iters", 10},
              {"time_us",
               {{"min", us},
                {"mean", us},
                {"p50", us},
                {"p95", us},
                {"p99", us},
                {"max", us},
                {"stdev", 0.0}}},
              {"algbw_gbps", bytes / us / 1e3},
              {"busbw_gbps", 0.0},
              {"wrong", 0},
              {"samples_us", json::array({us})}};
    recs.push_back(r);
  };
  for (const Placement& pl : o.placements) {
    const auto net = model::fit_net(pl.ranks_per_node, theta, model::ModelAlgo::kRingAllreduce,
                                    false, tp.flow_intra > 0, tp.eager);
    const std::int64_t p = pl.nodes * pl.ranks_per_node;
    for (double b = o.min_bytes; b <= o.max_bytes; b *= o.factor) {
      for (const auto& name : o.allreduce) {
        auto m = model::find_model_algorithm(model::Collective::kAllReduce, name);
        add(model::Collective::kAllReduce, name, model::predict_linear(net, *m, b, p).v, pl, b);
      }
      for (const auto& name : o.alltoall) {
        auto m = model::find_model_algorithm(model::Collective::kAllToAll, name);
        const double bb = std::ceil(b / p) * p;
        add(model::Collective::kAllToAll, name, model::predict_linear(net, *m, bb, p).v, pl, bb);
      }
      if (o.add_native) {
        double best = 1e30;
        for (const auto& a : model::model_algorithms())
          if (a.collective == model::Collective::kAllReduce) {
            const double t = model::predict_linear(net, a.algo, b, p).v;
            if (!std::isnan(t)) best = std::min(best, t);
          }
        add(model::Collective::kAllReduce, "MPI_Allreduce", best * 1.1, pl, b);
      }
    }
  }
  return {{"schema", "collbench.result"},
          {"schema_version", 1},
          {"complete", true},
          {"failure", nullptr},
          {"provenance",
           {{"collbench_version", "test"},
            {"git_sha", "test"},
            {"command_line", json::array()},
            {"start_time", "2025-01-01T00:00:00Z"},
            {"backend", "mpi"},
            {"ranks", 4},
            {"nodes", 1},
            {"hostnames", json::array()}}},
          {"options", {{"warmup", 1}, {"iters", 10}, {"check", 1}, {"rotate_buffers", true}}},
          {"records", recs}};
}

inline std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("collbench-model-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string write_file(const std::string& dir, const std::string& name,
                              const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace collbench::model_test
