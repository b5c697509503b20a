#include "topology/model/fit.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "collectives/error.h"
#include "collectives/input_file.h"
#include "collectives/registry.h"
#include "collectives/units.h"

namespace collbench::model {
namespace {

using nlohmann::json;

constexpr int kTiers = 2;  // intra-node, inter-node

const char* param_name(int i) {
  switch (i) {
    case alpha_param(0):
      return "alpha(intra-node)";
    case alpha_param(1):
      return "alpha(inter-node)";
    case beta_param(0):
      return "beta(intra-node)";
    case beta_param(1):
      return "beta(inter-node)";
    case gamma_param():
      return "gamma";
    case flow_beta0_param():
      return "beta(intra-node, one flow)";
    case delta_param():
      return "delta (local copy)";
    case rendezvous0_param():
      return "rendezvous(intra-node)";
    default:
      return "?";
  }
}

bool is_native_name(Collective c, const std::string& name) {
  const auto* info = collectives::find_algorithm(c, name);
  return info && info->native();
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
  }
  return m;
}

// Dense solve of a small symmetric positive system by Gaussian elimination with pivoting.
// Returns false when singular.
bool solve_small(std::vector<double> a, std::vector<double> b, int q, std::vector<double>& x) {
  for (int col = 0; col < q; ++col) {
    int piv = col;
    for (int r = col + 1; r < q; ++r)
      if (std::fabs(a[r * q + col]) > std::fabs(a[piv * q + col])) piv = r;
    if (std::fabs(a[piv * q + col]) < 1e-14) return false;
    if (piv != col) {
      for (int c = 0; c < q; ++c) std::swap(a[col * q + c], a[piv * q + c]);
      std::swap(b[col], b[piv]);
    }
    for (int r = col + 1; r < q; ++r) {
      const double f = a[r * q + col] / a[col * q + col];
      for (int c = col; c < q; ++c) a[r * q + c] -= f * a[col * q + c];
      b[r] -= f * b[col];
    }
  }
  x.assign(q, 0);
  for (int r = q - 1; r >= 0; --r) {
    double s = b[r];
    for (int c = r + 1; c < q; ++c) s -= a[r * q + c] * x[c];
    x[r] = s / a[r * q + r];
  }
  return true;
}

// Eigen-decomposition of a small symmetric matrix (cyclic Jacobi). Eigenvectors in columns.
void jacobi_eigen(std::vector<double> a, int q, std::vector<double>& values,
                  std::vector<double>& vectors) {
  vectors.assign(q * q, 0);
  for (int i = 0; i < q; ++i) vectors[i * q + i] = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int i = 0; i < q; ++i)
      for (int j = i + 1; j < q; ++j) off += a[i * q + j] * a[i * q + j];
    if (off < 1e-30) break;
    for (int p = 0; p < q; ++p) {
      for (int r = p + 1; r < q; ++r) {
        const double apr = a[p * q + r];
        if (std::fabs(apr) < 1e-300) continue;
        const double theta = (a[r * q + r] - a[p * q + p]) / (2 * apr);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < q; ++k) {
          const double akp = a[k * q + p], akr = a[k * q + r];
          a[k * q + p] = c * akp - s * akr;
          a[k * q + r] = s * akp + c * akr;
        }
        for (int k = 0; k < q; ++k) {
          const double apk = a[p * q + k], ark = a[r * q + k];
          a[p * q + k] = c * apk - s * ark;
          a[r * q + k] = s * apk + c * ark;
        }
        for (int k = 0; k < q; ++k) {
          const double vkp = vectors[k * q + p], vkr = vectors[k * q + r];
          vectors[k * q + p] = c * vkp - s * vkr;
          vectors[k * q + r] = s * vkp + c * vkr;
        }
      }
    }
  }
  values.resize(q);
  for (int i = 0; i < q; ++i) values[i] = a[i * q + i];
}

// Non-negative least squares min ||A x - y||, A given column-major by rows (m x q, row-major).
// q is small (<= 7): the optimum is the unconstrained solution on its support, so every support
// is tried and the best feasible one kept.
std::vector<double> nnls_small(const std::vector<double>& a, const std::vector<double>& y, int m,
                               int q) {
  std::vector<double> best(q, 0);
  double best_res = 0;
  for (int i = 0; i < m; ++i) best_res += y[i] * y[i];
  for (unsigned mask = 1; mask < (1u << q); ++mask) {
    std::vector<int> cols;
    for (int j = 0; j < q; ++j)
      if (mask & (1u << j)) cols.push_back(j);
    const int s = static_cast<int>(cols.size());
    std::vector<double> g(s * s, 0), b(s, 0), x;
    for (int i = 0; i < m; ++i) {
      const double* row = &a[static_cast<std::size_t>(i) * q];
      for (int u = 0; u < s; ++u) {
        b[u] += row[cols[u]] * y[i];
        for (int v = 0; v < s; ++v) g[u * s + v] += row[cols[u]] * row[cols[v]];
      }
    }
    if (!solve_small(g, b, s, x)) continue;
    bool feasible = true;
    for (double v : x) feasible = feasible && v >= 0;
    if (!feasible) continue;
    std::vector<double> full(q, 0);
    for (int u = 0; u < s; ++u) full[cols[u]] = x[u];
    double res = 0;
    for (int i = 0; i < m; ++i) {
      double r = -y[i];
      for (int j = 0; j < q; ++j) r += a[static_cast<std::size_t>(i) * q + j] * full[j];
      res += r * r;
    }
    if (res < best_res * (1 - 1e-12)) {
      best_res = res;
      best = full;
    }
  }
  return best;
}

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", v * 100);
  return buf;
}

std::string gbps_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g GB/s", v);
  return buf;
}

double record_stat(const json& rec, const std::string& stat, const std::string& where) {
  auto t = rec.find("time_us");
  if (t == rec.end() || !t->is_object()) throw UsageError(where + "time_us: missing (an object)");
  auto v = t->find(stat);
  if (v == t->end() || !v->is_number())
    throw UsageError(where + "time_us." + stat + ": missing (a number)");
  return v->get<double>();
}

std::int64_t record_int(const json& rec, const char* key, const std::string& where,
                        std::int64_t fallback, bool required) {
  auto it = rec.find(key);
  if (it == rec.end() || it->is_null()) {
    if (required) throw UsageError(where + key + ": missing (an integer)");
    return fallback;
  }
  if (!it->is_number_integer()) throw UsageError(where + key + ": must be an integer");
  return it->get<std::int64_t>();
}

}  // namespace

LoadedRecords load_result_files(const std::vector<std::string>& paths, const std::string& stat) {
  if (stat != "p50" && stat != "mean" && stat != "min")
    throw UsageError("--stat " + stat + ": must be p50, mean or min");
  if (paths.empty()) throw UsageError("results: at least one result file is required");
  LoadedRecords out;
  std::map<std::string, int> skipped;
  for (const std::string& path : paths) {
    const json j = read_input_json(path, "result file");
    if (!j.is_object() || !j.contains("schema") || j["schema"] != "collbench.result")
      throw UsageError(path +
                       ": schema: not a collbench result file (expected \"collbench.result\")");
    if (!j.contains("schema_version") || j["schema_version"] != 1)
      throw UsageError(path + ": schema_version: this collbench reads version 1");
    if (!j.contains("records") || !j["records"].is_array())
      throw UsageError(path + ": records: missing (an array)");
    out.files.push_back(path);
    // Hierarchical algorithms run this flat algorithm between nodes (--inter-node-algo).
    std::string inner_name = "ring";
    if (auto o = j.find("options"); o != j.end() && o->is_object()) {
      if (auto a = o->find("inter_node_algorithm"); a != o->end() && a->is_string())
        inner_name = a->get<std::string>();
    }
    const json& recs = j["records"];
    for (std::size_t i = 0; i < recs.size(); ++i) {
      const json& r = recs[i];
      const std::string where = path + ": records[" + std::to_string(i) + "].";
      if (!r.is_object()) throw UsageError(where.substr(0, where.size() - 1) + ": not an object");
      auto coll_it = r.find("collective");
      if (coll_it == r.end() || !coll_it->is_string())
        throw UsageError(where + "collective: missing (a string)");
      auto coll = collectives::parse_collective(coll_it->get<std::string>());
      if (!coll) {
        ++skipped["collective " + coll_it->get<std::string>() + " has no model"];
        continue;
      }
      auto alg_it = r.find("algorithm");
      if (alg_it == r.end() || !alg_it->is_string())
        throw UsageError(where + "algorithm: missing (a string)");
      FitRecord fr;
      fr.collective = *coll;
      fr.algorithm = alg_it->get<std::string>();
      fr.file = path;
      fr.inner = find_model_algorithm(fr.collective, inner_name).value_or(ModelAlgo::kCount);
      fr.bytes = static_cast<double>(record_int(r, "bytes", where, 0, true));
      fr.ranks = record_int(r, "ranks", where, 0, true);
      fr.nodes = record_int(r, "nodes", where, 1, false);
      if (fr.ranks < 1) throw UsageError(where + "ranks: must be >= 1");
      if (fr.nodes < 1) throw UsageError(where + "nodes: must be >= 1");
      fr.ranks_per_node = record_int(r, "ranks_per_node", where, 0, false);
      if (auto d = r.find("dtype"); d != r.end() && d->is_string())
        fr.dtype = d->get<std::string>();
      if (auto pl = r.find("placement"); pl != r.end() && pl->is_string())
        fr.in_place = *pl == "in";
      const std::int64_t wrong = record_int(r, "wrong", where, 0, false);
      fr.time_s = record_stat(r, stat, where) * 1e-6;
      if (wrong > 0) {
        ++skipped["wrong results"];
        continue;
      }
      if (fr.ranks < 2) {
        ++skipped["one rank (nothing crosses a link)"];
        continue;
      }
      if (fr.bytes <= 0) {
        ++skipped["0 bytes"];
        continue;
      }
      if (fr.ranks_per_node <= 0) {
        if (fr.ranks % fr.nodes != 0) {
          ++skipped["uneven ranks per node"];
          continue;
        }
        fr.ranks_per_node = fr.ranks / fr.nodes;
      }
      if (!(fr.time_s > 0)) {
        ++skipped["time 0 or negative"];
        continue;
      }
      if (!is_native_name(fr.collective, fr.algorithm)) {
        fr.model = find_model_algorithm(fr.collective, fr.algorithm);
        if (!fr.model) {
          ++skipped["algorithm '" + fr.algorithm + "' has no model"];
          continue;
        }
      }
      out.records.push_back(std::move(fr));
    }
  }
  for (auto& [why, n] : skipped) out.skipped.push_back(std::to_string(n) + " records: " + why);
  return out;
}

std::size_t merge_repeats(std::vector<FitRecord>& records) {
  using Key = std::tuple<int, std::string, int, std::string, bool, double, std::int64_t,
                         std::int64_t, std::int64_t>;
  std::map<Key, std::size_t> slot;
  std::vector<FitRecord> out;
  std::vector<std::vector<double>> times;
  for (FitRecord& r : records) {
    Key k{static_cast<int>(r.collective),
          r.algorithm,
          static_cast<int>(r.inner),
          r.dtype,
          r.in_place,
          r.bytes,
          r.ranks,
          r.nodes,
          r.ranks_per_node};
    auto [it, fresh] = slot.try_emplace(k, out.size());
    if (fresh) {
      times.push_back({r.time_s});
      out.push_back(std::move(r));
    } else {
      times[it->second].push_back(r.time_s);
    }
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].measurements = static_cast<int>(times[i].size());
    out[i].time_s = median_of(std::move(times[i]));
  }
  const std::size_t folded = records.size() - out.size();
  records = std::move(out);
  return folded;
}

NetT<LinearTime> fit_net(std::int64_t ranks_per_node, const double* theta, ModelAlgo inner,
                         bool in_place, bool separate_flow, double eager0) {
  NetT<LinearTime> n;
  const std::int64_t g = std::max<std::int64_t>(1, ranks_per_node);
  n.tiers = kTiers;
  n.group[0] = g;
  n.group[1] = kUnbounded;
  n.alpha[0] = LinearTime::param(alpha_param(0), theta[alpha_param(0)]);
  n.beta[0] = LinearTime::param(beta_param(0), theta[beta_param(0)]);
  n.flow_beta[0] =
      separate_flow ? LinearTime::param(flow_beta0_param(), theta[flow_beta0_param()]) : n.beta[0];
  n.alpha[1] = LinearTime::param(alpha_param(1), theta[alpha_param(1)]);
  // The parameter is the node link's inverse rate; one rank's share is g times that.
  n.flow_beta[1] = LinearTime::param(beta_param(1), theta[beta_param(1)]);
  n.beta[1] = n.flow_beta[1] * static_cast<double>(g);
  n.taper[0] = n.taper[1] = 1;
  n.in_switch_eff[0] = n.in_switch_eff[1] = 1;
  n.channels = g;
  n.gamma = LinearTime::param(gamma_param(), theta[gamma_param()]);
  n.delta = LinearTime::param(delta_param(), theta[delta_param()]);
  n.eager[0] = eager0;
  n.rndv[0] = LinearTime::param(rendezvous0_param(), theta[rendezvous0_param()]);
  n.in_place = in_place;
  n.inner = inner;
  return n;
}

namespace {

LinearTime linear_of(const FitRecord& r, const double* theta, bool separate_flow, double eager0) {
  const NetT<LinearTime> net =
      fit_net(r.ranks_per_node, theta, r.inner, r.in_place, separate_flow, eager0);
  if (r.model) return predict_linear(net, *r.model, r.bytes, r.ranks);
  LinearTime best;
  best.v = std::numeric_limits<double>::quiet_NaN();
  for (const auto& a : model_algorithms()) {
    if (a.collective != r.collective) continue;
    LinearTime t = predict_linear(net, a.algo, r.bytes, r.ranks);
    if (std::isnan(t.v)) continue;
    if (std::isnan(best.v) || t.v < best.v) best = t;
  }
  return best;
}

std::string tier_label(const FitRecord& r) { return r.nodes > 1 ? "inter-node" : "intra-node"; }

}  // namespace

double predict_record(const FitResult& fit, const FitRecord& r) {
  return linear_of(r, fit.theta, fit.separate_flow, fit.eager_limit).v;
}

FitResult fit_records(const std::vector<FitRecord>& all, const FitOptions& options) {
  FitResult res;
  // Modelled records only, of one element type for the all-reduces.
  std::map<std::string, int> dtype_count;
  for (const auto& r : all)
    if (r.model && r.collective == Collective::kAllReduce) ++dtype_count[r.dtype];
  std::string dtype = options.dtype;
  if (dtype.empty() && !dtype_count.empty()) {
    dtype = std::max_element(dtype_count.begin(), dtype_count.end(), [](auto& a, auto& b) {
              return a.second < b.second;
            })->first;
  }
  std::vector<const FitRecord*> recs;
  int native = 0, other_dtype = 0;
  for (const auto& r : all) {
    if (!r.model) {
      ++native;
      continue;
    }
    if (r.collective == Collective::kAllReduce && r.dtype != dtype) {
      ++other_dtype;
      continue;
    }
    recs.push_back(&r);
  }
  if (native > 0)
    res.notes.push_back(std::to_string(native) +
                        " records of native collectives (MPI_*, nccl) not fitted: their internal "
                        "algorithm is unknown");
  if (other_dtype > 0)
    res.notes.push_back(std::to_string(other_dtype) +
                        " all-reduce records of other element types "
                        "than " +
                        dtype + " left out (gamma is per byte of one type)");
  if (recs.empty())
    throw UsageError("results: no record of a modelled algorithm with 2 or more ranks to fit");

  bool has_intra = false, has_inter = false, has_allreduce = false;
  std::int64_t rpn_max = 1, ranks_max = 0;
  for (const FitRecord* r : recs) {
    has_intra = has_intra || r->ranks_per_node >= 2;
    has_inter = has_inter || r->nodes >= 2;
    has_allreduce = has_allreduce || r->collective == Collective::kAllReduce;
    rpn_max = std::max(rpn_max, r->ranks_per_node);
    ranks_max = std::max(ranks_max, r->ranks);
  }
  if (options.tiers == TierChoice::kIntraInter && !has_inter)
    throw UsageError(
        "tier inter-node: every record has nodes = 1, so nothing determines the inter-node alpha "
        "and beta; measure on 2 or more nodes, or fit the intra-node tier only (--tiers intra)");
  if (options.tiers == TierChoice::kIntra && !has_intra)
    throw UsageError("tier intra-node: no record has 2 or more ranks on one node");
  if (options.tiers == TierChoice::kIntra && has_inter) {
    // Keep the single-node records only.
    std::vector<const FitRecord*> kept;
    for (const FitRecord* r : recs)
      if (r->nodes == 1) kept.push_back(r);
    res.notes.push_back(std::to_string(recs.size() - kept.size()) +
                        " multi-node records left out (--tiers intra)");
    recs.swap(kept);
    has_inter = false;
  }
  if (!has_inter)
    res.notes.push_back(
        "inter-node tier not determined: every record has nodes = 1 (measure on 2 or more nodes "
        "to fit it); the fabric written has the intra-node tier only");

  // Optional terms: δ where some record copies locally, and tier 0's single-flow β where some
  // record has steps in which only part of a node's ranks send. Either is dropped, with a note,
  // when the records cannot tell it from the other parameters.
  // Starting point of every attempt; the single flow starts below β₀ so that the tree steps
  // (fewer senders) choose it and the others do not.
  double start[kNumParams] = {};
  start[alpha_param(0)] = 1e-6;
  start[beta_param(0)] = 1e-10;
  start[flow_beta0_param()] = 0.5e-10;
  start[alpha_param(1)] = 1e-5;
  start[beta_param(1)] = 1e-9;
  start[gamma_param()] = options.gamma_fixed ? *options.gamma_fixed : 1e-10;
  start[delta_param()] = 1e-10;
  start[rendezvous0_param()] = 1e-6;
  bool use_flow = false, use_delta = false, use_rndv = false;
  for (const FitRecord* r : recs) {
    const LinearTime lt = linear_of(*r, start, true, options.eager_limit);
    if (options.local_terms) {
      use_flow = use_flow || (has_intra && lt.c[flow_beta0_param()] != 0);
      use_delta = use_delta || lt.c[delta_param()] != 0;
    }
    use_rndv = use_rndv || (has_intra && lt.c[rendezvous0_param()] != 0);
  }
  if (options.eager_limit > 0 && !use_rndv)
    res.notes.push_back(std::string(param_name(rendezvous0_param())) +
                        " not fitted: no intra-node message reaches the eager limit");
  const bool fit_gamma = has_allreduce && !options.gamma_fixed;
  const int m = static_cast<int>(recs.size());
  double theta[kNumParams] = {};
  std::vector<double> weights, rel;
  int it = 0;
  for (bool restart = true; restart;) {
    restart = false;
    std::vector<int> active;
    if (has_intra) {
      active.push_back(alpha_param(0));
      active.push_back(beta_param(0));
      if (use_flow) active.push_back(flow_beta0_param());
    }
    if (has_inter) {
      active.push_back(alpha_param(1));
      active.push_back(beta_param(1));
    }
    if (fit_gamma) active.push_back(gamma_param());
    if (use_delta) active.push_back(delta_param());
    if (use_rndv) active.push_back(rendezvous0_param());
    const int q = static_cast<int>(active.size());
    auto is_active = [&](int p) {
      return std::find(active.begin(), active.end(), p) != active.end();
    };
    auto optional = [](int p) {
      return p == flow_beta0_param() || p == delta_param() || p == rendezvous0_param();
    };
    // Drops an optional parameter that the records cannot determine (δ = 0; the single flow
    // back to tier 0's β; no rendezvous) and fits again.
    auto drop = [&](int p, const std::string& why) {
      (p == delta_param() ? use_delta : p == rendezvous0_param() ? use_rndv : use_flow) = false;
      res.notes.push_back(std::string(param_name(p)) + " not fitted: " + why);
    };

    std::copy(start, start + kNumParams, theta);
    if (!use_delta) theta[delta_param()] = 0;
    if (!use_rndv) theta[rendezvous0_param()] = 0;

    weights.assign(m, 1.0);
    rel.assign(m, 0);
    std::vector<double> a(static_cast<std::size_t>(m) * q), y(m), scale(q);
    bool checked = false;
    for (it = 0; it < options.max_iterations; ++it) {
      // Rows: coefficients / t (relative error), target 1 minus the part that is not fitted.
      for (int i = 0; i < m; ++i) {
        const FitRecord& r = *recs[i];
        const LinearTime lt = linear_of(r, theta, use_flow, options.eager_limit);
        double fixed = lt.k;
        for (int p = 0; p < kNumParams; ++p)
          if (!is_active(p)) fixed += lt.c[p] * theta[p];
        for (int j = 0; j < q; ++j)
          a[static_cast<std::size_t>(i) * q + j] = lt.c[active[j]] / r.time_s;
        y[i] = 1.0 - fixed / r.time_s;
      }
      // Columns to unit norm, so that seconds and seconds-per-byte compare.
      for (int j = 0; j < q; ++j) {
        double s = 0;
        for (int i = 0; i < m; ++i)
          s += a[static_cast<std::size_t>(i) * q + j] * a[static_cast<std::size_t>(i) * q + j];
        scale[j] = std::sqrt(s);
        if (scale[j] == 0) {
          const int p = active[j];
          if (optional(p)) {
            drop(p, "no record's time depends on it at the fitted parameters");
            restart = true;
            break;
          }
          if (p == beta_param(0) && use_flow) {
            // One flow came out slower than a rank's share with every peer sending: the two
            // cannot be told apart in these records.
            drop(flow_beta0_param(), "the records cannot tell it from beta(intra-node)");
            restart = true;
            break;
          }
          std::string why = p == gamma_param() ? "no all-reduce record reduces data"
                            : (p == alpha_param(1) || p == beta_param(1))
                                ? "no record sends between nodes"
                                : "no record sends between ranks of one node";
          throw UsageError(std::string("cannot determine ") + param_name(p) + ": " + why);
        }
        for (int i = 0; i < m; ++i) a[static_cast<std::size_t>(i) * q + j] /= scale[j];
      }
      if (restart) break;
      if (!checked) {
        // Identifiability: a near-zero eigenvalue of the normalised Gram matrix means some
        // combination of parameters leaves every prediction unchanged.
        std::vector<double> gram(q * q, 0);
        for (int i = 0; i < m; ++i)
          for (int u = 0; u < q; ++u)
            for (int v = 0; v < q; ++v)
              gram[u * q + v] +=
                  a[static_cast<std::size_t>(i) * q + u] * a[static_cast<std::size_t>(i) * q + v];
        std::vector<double> vals, vecs;
        jacobi_eigen(gram, q, vals, vecs);
        const int imin =
            static_cast<int>(std::min_element(vals.begin(), vals.end()) - vals.begin());
        const double vmax = *std::max_element(vals.begin(), vals.end());
        if (vals[imin] < 1e-9 * vmax || m < q) {
          std::string names;
          bool involves_gamma = false, involves_alpha = false;
          int optional_involved = -1;
          for (int u = 0; u < q; ++u) {
            if (std::fabs(vecs[u * q + imin]) > 0.2 || m < q) {
              if (!names.empty()) names += " and ";
              names += param_name(active[u]);
              involves_gamma = involves_gamma || active[u] == gamma_param();
              involves_alpha =
                  involves_alpha || active[u] == alpha_param(0) || active[u] == alpha_param(1);
              if (optional(active[u])) optional_involved = active[u];
            }
          }
          if (optional_involved >= 0) {
            drop(optional_involved, "the records cannot separate " + names);
            restart = true;
            break;
          }
          std::string hint;
          if (involves_gamma)
            hint =
                "add records of another all-reduce algorithm (--algo all) or all-to-all records, "
                "or fix gamma with --gamma-gbps";
          else if (involves_alpha)
            hint = "measure several message sizes, small and large";
          else
            hint = "measure more sizes, rank counts or algorithms";
          throw UsageError("the records cannot determine " + names +
                           " separately (they move together in every record); " + hint);
        }
        checked = true;
      }
      // Weighted, non-negative solve.
      std::vector<double> aw(a.size()), yw(m);
      for (int i = 0; i < m; ++i) {
        const double w = std::sqrt(weights[i]);
        for (int j = 0; j < q; ++j)
          aw[static_cast<std::size_t>(i) * q + j] = a[static_cast<std::size_t>(i) * q + j] * w;
        yw[i] = y[i] * w;
      }
      std::vector<double> x = nnls_small(aw, yw, m, q);
      double change = 0;
      for (int j = 0; j < q; ++j) {
        const double v = x[j] / scale[j];
        const double old = theta[active[j]];
        change = std::max(change, std::fabs(v - old) / std::max(std::fabs(old), 1e-30));
        theta[active[j]] = v;
      }
      // Residuals at the new parameters (branches may change) and Tukey bisquare weights.
      for (int i = 0; i < m; ++i) {
        const double pred = linear_of(*recs[i], theta, use_flow, options.eager_limit).v;
        rel[i] = (pred - recs[i]->time_s) / recs[i]->time_s;
      }
      std::vector<double> absr(m);
      for (int i = 0; i < m; ++i) absr[i] = std::fabs(rel[i]);
      // A floor of 1% keeps consistent data from losing good points to a tiny scale.
      const double s = std::max(1.4826 * median_of(absr), 0.01);
      std::vector<double> next(m);
      for (int i = 0; i < m; ++i) {
        const double u = rel[i] / (options.bisquare_c * s);
        next[i] = it < 2 ? 1.0 : (std::fabs(u) < 1 ? (1 - u * u) * (1 - u * u) : 0.0);
      }
      double wchange = 0;
      for (int i = 0; i < m; ++i) wchange = std::max(wchange, std::fabs(next[i] - weights[i]));
      weights.swap(next);
      if (it >= 3 && change < 1e-7 && wchange < 1e-6) break;
    }
    if (!restart)
      for (int p : active) res.fitted[p] = true;
  }
  if (it >= options.max_iterations) it = options.max_iterations - 1;
  res.iterations = it + 1;
  res.separate_flow = use_flow;
  res.eager_limit = use_rndv ? options.eager_limit : 0;
  if (!use_flow) theta[flow_beta0_param()] = theta[beta_param(0)];
  std::copy(theta, theta + kNumParams, res.theta);
  if (options.gamma_fixed) res.fitted[gamma_param()] = false;
  res.records_used = m;
  res.ranks_per_node = rpn_max;

  // Quality per collective, algorithm and tier.
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<int>> groups;
  for (int i = 0; i < m; ++i) {
    const FitRecord& r = *recs[i];
    groups[{std::string(collectives::collective_name(r.collective)), r.algorithm, tier_label(r)}]
        .push_back(i);
  }
  for (auto& [key, idx] : groups) {
    FitQuality fq;
    std::tie(fq.collective, fq.algorithm, fq.tier) = key;
    std::vector<double> errs;
    for (int i : idx) {
      errs.push_back(std::fabs(rel[i]));
      if (weights[i] == 0) ++fq.outliers;
    }
    fq.records = static_cast<int>(idx.size());
    fq.median_rel_err = median_of(errs);
    fq.worst_rel_err = *std::max_element(errs.begin(), errs.end());
    res.outliers += fq.outliers;
    res.quality.push_back(fq);
  }

  // The fabric.
  std::vector<double> all_errs;
  for (double r : rel) all_errs.push_back(std::fabs(r));
  const std::string quality_note = "fitted by collbench model fit from " + std::to_string(m) +
                                   " records, median relative error " + pct(median_of(all_errs));
  Fabric& f = res.fabric;
  f.name = "fitted";
  f.description = quality_note;
  if (has_intra) {
    Tier t;
    t.name = "intra-node";
    t.group_size = has_inter ? rpn_max : 0;
    t.alpha_us = theta[alpha_param(0)] * 1e6;
    t.bandwidth_gbps = theta[beta_param(0)] > 0 ? 1.0 / theta[beta_param(0)] / 1e9 : 1e6;
    t.sources = {{"group_size", "largest ranks per node in the records"},
                 {"alpha_us", quality_note},
                 {"bandwidth_gbps", quality_note}};
    if (res.separate_flow && theta[flow_beta0_param()] > 0) {
      const double flow = 1.0 / theta[flow_beta0_param()] / 1e9;
      t.flow_gbps = std::max(flow, t.bandwidth_gbps);
      t.sources["flow_gbps"] =
          flow >= t.bandwidth_gbps
              ? "one flow when only some ranks of the node send; " + quality_note
              : "fitted " + gbps_text(flow) + " is below bandwidth_gbps: raised to it";
    }
    if (res.eager_limit > 0) {
      t.eager_limit_bytes = res.eager_limit;
      t.rendezvous_us = theta[rendezvous0_param()] * 1e6;
      t.sources["eager_limit_bytes"] = "given with --eager-limit";
      t.sources["rendezvous_us"] = quality_note;
    }
    f.tiers.push_back(t);
  }
  if (has_inter) {
    Tier t;
    t.name = "inter-node";
    t.group_size = 0;
    t.alpha_us = theta[alpha_param(1)] * 1e6;
    const double link = theta[beta_param(1)] > 0 ? 1.0 / theta[beta_param(1)] / 1e9 : 1e6;
    res.node_link_gbps = link;
    const double g = static_cast<double>(has_intra ? rpn_max : 1);
    t.bandwidth_gbps = link / g;
    t.flow_gbps = link;
    t.sources = {
        {"alpha_us", quality_note},
        {"bandwidth_gbps", "node link " + gbps_text(link) + " shared by " +
                               std::to_string(static_cast<int>(g)) + " ranks; " + quality_note},
        {"flow_gbps", "one flow can use the whole node link (assumption)"}};
    f.tiers.push_back(t);
  }
  if (f.tiers.empty()) throw UsageError("results: no record determines any tier");
  if (!has_inter) f.gpus = ranks_max;
  const double gamma = theta[gamma_param()];
  f.reduce_gbps = gamma > 0 ? 1.0 / gamma / 1e9 : 0;
  f.sources["reduce_gbps"] = options.gamma_fixed ? std::string("fixed with --gamma-gbps")
                             : fit_gamma         ? quality_note
                                                 : std::string("no all-reduce records: not fitted");
  const double delta = theta[delta_param()];
  f.copy_gbps = delta > 0 ? 1.0 / delta / 1e9 : 0;
  if (use_delta) f.sources["copy_gbps"] = quality_note;
  f.sources["records"] = "dtype " + (dtype.empty() ? std::string("-") : dtype);
  f.validate();
  return res;
}

ValidationResult validate_records(const std::vector<FitRecord>& records,
                                  const ValidationOptions& options) {
  if (options.holdout_every < 2)
    throw UsageError("--holdout-every " + std::to_string(options.holdout_every) + ": must be >= 2");
  ValidationResult out;
  std::set<std::int64_t> rank_counts;
  for (const auto& r : records)
    if (r.model) rank_counts.insert(r.ranks);
  if (options.holdout_max_ranks && rank_counts.size() >= 2)
    out.held_out_ranks = *rank_counts.rbegin();

  // Sizes held out per (collective, algorithm): every n-th of the sorted distinct sizes, offset
  // so that the smallest and largest stay in training where possible.
  std::map<std::pair<int, std::string>, std::set<double>> sizes;
  for (const auto& r : records)
    sizes[{static_cast<int>(r.collective), r.algorithm}].insert(r.bytes);
  std::map<std::pair<int, std::string>, std::set<double>> held;
  for (auto& [key, set] : sizes) {
    int i = 0;
    for (double b : set) {
      if (i % options.holdout_every == options.holdout_every / 2) held[key].insert(b);
      ++i;
    }
  }
  // Bands of message sizes, each fitted on its own.
  std::vector<double> edges = options.bands;
  for (std::size_t k = 0; k < edges.size(); ++k)
    if (!(edges[k] > 0) || (k > 0 && !(edges[k] > edges[k - 1])))
      throw UsageError("--bands: edges must be positive and ascending");
  auto band_of = [&](double bytes) {
    return static_cast<int>(std::upper_bound(edges.begin(), edges.end(), bytes) - edges.begin());
  };
  const int nbands = static_cast<int>(edges.size()) + 1;
  auto size_text = [](double b) { return collectives::human_bytes(static_cast<std::int64_t>(b)); };

  std::vector<std::vector<FitRecord>> train(nbands), test(nbands);
  for (const auto& r : records) {
    const auto key = std::make_pair(static_cast<int>(r.collective), r.algorithm);
    const bool out_size = held[key].count(r.bytes) > 0;
    const bool out_ranks = out.held_out_ranks != 0 && r.ranks == out.held_out_ranks;
    (out_size || out_ranks ? test : train)[band_of(r.bytes)].push_back(r);
  }
  for (int b = 0; b < nbands; ++b) {
    out.train_records += static_cast<int>(train[b].size());
    out.test_records += static_cast<int>(test[b].size());
  }
  if (out.test_records == 0) throw UsageError("results: nothing left to hold out (too few sizes)");

  using Key = std::pair<std::string, std::string>;
  std::map<Key, ValidationRow> rows;
  std::map<Key, std::vector<double>> errs;
  std::map<std::pair<int, Key>, ValidationRow> band_rows;
  std::map<std::pair<int, Key>, std::vector<double>> band_errs;
  auto key_of = [](const FitRecord& r) {
    return std::make_pair(std::string(collectives::collective_name(r.collective)), r.algorithm);
  };
  std::vector<std::string> labels(nbands);
  for (int b = 0; b < nbands; ++b) {
    if (train[b].empty() && test[b].empty()) continue;
    BandFit bf;
    bf.lo = b == 0 ? 0 : edges[b - 1];
    bf.hi = b + 1 < nbands ? edges[b] : 0;
    bf.label = nbands == 1       ? std::string()
               : b == 0          ? "< " + size_text(bf.hi)
               : b + 1 == nbands ? ">= " + size_text(bf.lo)
                                 : size_text(bf.lo) + "-" + size_text(bf.hi);
    labels[b] = bf.label;
    bf.train = static_cast<int>(train[b].size());
    bf.test = static_cast<int>(test[b].size());
    try {
      bf.fit = fit_records(train[b], options.fit);
    } catch (const UsageError& e) {
      if (nbands == 1) throw;
      throw UsageError("band " + bf.label + ": " + e.what());
    }
    for (const auto& r : train[b]) {
      rows[key_of(r)].train++;
      if (nbands > 1) band_rows[{b, key_of(r)}].train++;
    }
    for (const auto& r : test[b]) {
      const double pred = predict_record(bf.fit, r);
      const double e = std::fabs(pred - r.time_s) / r.time_s;
      ValidationRow& row = rows[key_of(r)];
      row.test++;
      row.native = !r.model;
      errs[key_of(r)].push_back(e);
      if (nbands > 1) {
        ValidationRow& br = band_rows[{b, key_of(r)}];
        br.test++;
        br.native = !r.model;
        band_errs[{b, key_of(r)}].push_back(e);
      }
    }
    out.bands.push_back(std::move(bf));
  }
  out.fit = out.bands.back().fit;

  auto finish = [&](ValidationRow& row, const std::vector<double>& e) {
    if (e.empty()) return;
    row.median_rel_err = median_of(e);
    row.worst_rel_err = *std::max_element(e.begin(), e.end());
    row.pass = row.median_rel_err <= options.target;
  };
  out.pass = true;
  bool any = false;
  for (auto& [key, row] : rows) {
    row.collective = key.first;
    row.algorithm = key.second;
    finish(row, errs[key]);
    if (!errs[key].empty() && !row.native) {
      out.pass = out.pass && row.pass;
      any = true;
    }
    out.rows.push_back(row);
  }
  for (auto& [key, row] : band_rows) {
    row.collective = key.second.first;
    row.algorithm = key.second.second;
    row.band = labels[key.first];
    finish(row, band_errs[key]);
    out.band_rows.push_back(row);
  }
  out.pass = out.pass && any;
  return out;
}

}  // namespace collbench::model
