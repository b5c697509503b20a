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
#include "collectives/registry.h"
#include "topology/model/numeric.h"

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

}  // namespace

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

namespace {

// The records a fit uses and what they span.
struct Selection {
  std::vector<const FitRecord*> recs;
  std::string dtype;  // of the all-reduce records kept
  bool has_intra = false, has_inter = false, has_allreduce = false;
  std::int64_t rpn_max = 1, ranks_max = 0;
};

// Modelled records only, of one element type for the all-reduces, on the tiers asked for.
Selection select_records(const std::vector<FitRecord>& all, const FitOptions& options,
                         std::vector<std::string>& notes) {
  Selection sel;
  std::map<std::string, int> dtype_count;
  for (const auto& r : all)
    if (r.model && r.collective == Collective::kAllReduce) ++dtype_count[r.dtype];
  sel.dtype = options.dtype;
  if (sel.dtype.empty() && !dtype_count.empty()) {
    sel.dtype = std::max_element(dtype_count.begin(), dtype_count.end(), [](auto& a, auto& b) {
                  return a.second < b.second;
                })->first;
  }
  int native = 0, other_dtype = 0;
  for (const auto& r : all) {
    if (!r.model) {
      ++native;
      continue;
    }
    if (r.collective == Collective::kAllReduce && r.dtype != sel.dtype) {
      ++other_dtype;
      continue;
    }
    sel.recs.push_back(&r);
  }
  if (native > 0)
    notes.push_back(std::to_string(native) +
                    " records of native collectives (MPI_*, nccl) not fitted: their internal "
                    "algorithm is unknown");
  if (other_dtype > 0)
    notes.push_back(std::to_string(other_dtype) +
                    " all-reduce records of other element types "
                    "than " +
                    sel.dtype + " left out (gamma is per byte of one type)");
  if (sel.recs.empty())
    throw UsageError("results: no record of a modelled algorithm with 2 or more ranks to fit");

  for (const FitRecord* r : sel.recs) {
    sel.has_intra = sel.has_intra || r->ranks_per_node >= 2;
    sel.has_inter = sel.has_inter || r->nodes >= 2;
    sel.has_allreduce = sel.has_allreduce || r->collective == Collective::kAllReduce;
    sel.rpn_max = std::max(sel.rpn_max, r->ranks_per_node);
    sel.ranks_max = std::max(sel.ranks_max, r->ranks);
  }
  if (options.tiers == TierChoice::kIntraInter && !sel.has_inter)
    throw UsageError(
        "tier inter-node: every record has nodes = 1, so nothing determines the inter-node alpha "
        "and beta; measure on 2 or more nodes, or fit the intra-node tier only (--tiers intra)");
  if (options.tiers == TierChoice::kIntra && !sel.has_intra)
    throw UsageError("tier intra-node: no record has 2 or more ranks on one node");
  if (options.tiers == TierChoice::kIntra && sel.has_inter) {
    // Keep the single-node records only.
    std::vector<const FitRecord*> kept;
    for (const FitRecord* r : sel.recs)
      if (r->nodes == 1) kept.push_back(r);
    notes.push_back(std::to_string(sel.recs.size() - kept.size()) +
                    " multi-node records left out (--tiers intra)");
    sel.recs.swap(kept);
    sel.has_inter = false;
  }
  if (!sel.has_inter)
    notes.push_back(
        "inter-node tier not determined: every record has nodes = 1 (measure on 2 or more nodes "
        "to fit it); the fabric written has the intra-node tier only");
  return sel;
}

bool is_optional(int p) {
  return p == flow_beta0_param() || p == delta_param() || p == rendezvous0_param();
}

// The state of the alternating solve: which parameters are fitted, their values, the robust
// weights and relative residuals of the records.
struct Solver {
  Solver(const Selection& s, const FitOptions& o, FitResult& r) : sel(s), options(o), res(r) {}
  const Selection& sel;
  const FitOptions& options;
  FitResult& res;
  bool use_flow = false, use_delta = false, use_rndv = false, fit_gamma = false;
  double start[kNumParams] = {};
  double theta[kNumParams] = {};
  std::vector<int> active;
  std::vector<double> weights, rel;
  std::vector<double> a, y, scale;  // rows (records) x active columns, unit-norm columns
  int iterations = 0;

  int m() const { return static_cast<int>(sel.recs.size()); }
  int q() const { return static_cast<int>(active.size()); }
  bool is_active(int p) const { return std::find(active.begin(), active.end(), p) != active.end(); }
  double& at(int i, int j) { return a[static_cast<std::size_t>(i) * q() + j]; }

  // Drops an optional parameter that the records cannot determine (δ = 0; the single flow back
  // to tier 0's β; no rendezvous), to fit again without it.
  void drop(int p, const std::string& why) {
    (p == delta_param() ? use_delta : p == rendezvous0_param() ? use_rndv : use_flow) = false;
    res.notes.push_back(std::string(param_name(p)) + " not fitted: " + why);
  }
};

// Optional terms: δ where some record copies locally, and tier 0's single-flow β where some
// record has steps in which only part of a node's ranks send. Either is dropped later, with a
// note, when the records cannot tell it from the other parameters. The starting point of every
// attempt: the single flow starts below β₀ so that the tree steps (fewer senders) choose it and
// the others do not.
void choose_terms(Solver& s) {
  const FitOptions& options = s.options;
  s.start[alpha_param(0)] = 1e-6;
  s.start[beta_param(0)] = 1e-10;
  s.start[flow_beta0_param()] = 0.5e-10;
  s.start[alpha_param(1)] = 1e-5;
  s.start[beta_param(1)] = 1e-9;
  s.start[gamma_param()] = options.gamma_fixed ? *options.gamma_fixed : 1e-10;
  s.start[delta_param()] = 1e-10;
  s.start[rendezvous0_param()] = 1e-6;
  for (const FitRecord* r : s.sel.recs) {
    const LinearTime lt = linear_of(*r, s.start, true, options.eager_limit);
    if (options.local_terms) {
      s.use_flow = s.use_flow || (s.sel.has_intra && lt.c[flow_beta0_param()] != 0);
      s.use_delta = s.use_delta || lt.c[delta_param()] != 0;
    }
    s.use_rndv = s.use_rndv || (s.sel.has_intra && lt.c[rendezvous0_param()] != 0);
  }
  if (options.eager_limit > 0 && !s.use_rndv)
    s.res.notes.push_back(std::string(param_name(rendezvous0_param())) +
                          " not fitted: no intra-node message reaches the eager limit");
  s.fit_gamma = s.sel.has_allreduce && !options.gamma_fixed;
}

void set_active(Solver& s) {
  s.active.clear();
  if (s.sel.has_intra) {
    s.active.push_back(alpha_param(0));
    s.active.push_back(beta_param(0));
    if (s.use_flow) s.active.push_back(flow_beta0_param());
  }
  if (s.sel.has_inter) {
    s.active.push_back(alpha_param(1));
    s.active.push_back(beta_param(1));
  }
  if (s.fit_gamma) s.active.push_back(gamma_param());
  if (s.use_delta) s.active.push_back(delta_param());
  if (s.use_rndv) s.active.push_back(rendezvous0_param());
}

// Rows at the current branches: coefficients / t (relative error), target 1 minus the part that
// is not fitted; columns to unit norm, so that seconds and seconds-per-byte compare. Returns
// false (and drops a term) when an optional column is empty: fit again without it.
bool build_rows(Solver& s) {
  const int m = s.m(), q = s.q();
  for (int i = 0; i < m; ++i) {
    const FitRecord& r = *s.sel.recs[i];
    const LinearTime lt = linear_of(r, s.theta, s.use_flow, s.options.eager_limit);
    double fixed = lt.k;
    for (int p = 0; p < kNumParams; ++p)
      if (!s.is_active(p)) fixed += lt.c[p] * s.theta[p];
    for (int j = 0; j < q; ++j) s.at(i, j) = lt.c[s.active[j]] / r.time_s;
    s.y[i] = 1.0 - fixed / r.time_s;
  }
  for (int j = 0; j < q; ++j) {
    double sum = 0;
    for (int i = 0; i < m; ++i) sum += s.at(i, j) * s.at(i, j);
    s.scale[j] = std::sqrt(sum);
    if (s.scale[j] == 0) {
      const int p = s.active[j];
      if (is_optional(p)) {
        s.drop(p, "no record's time depends on it at the fitted parameters");
        return false;
      }
      if (p == beta_param(0) && s.use_flow) {
        // One flow came out slower than a rank's share with every peer sending: the two
        // cannot be told apart in these records.
        s.drop(flow_beta0_param(), "the records cannot tell it from beta(intra-node)");
        return false;
      }
      std::string why = p == gamma_param() ? "no all-reduce record reduces data"
                        : (p == alpha_param(1) || p == beta_param(1))
                            ? "no record sends between nodes"
                            : "no record sends between ranks of one node";
      throw UsageError(std::string("cannot determine ") + param_name(p) + ": " + why);
    }
    for (int i = 0; i < m; ++i) s.at(i, j) /= s.scale[j];
  }
  return true;
}

// Identifiability: a near-zero eigenvalue of the normalised Gram matrix means some combination of
// parameters leaves every prediction unchanged. An optional term involved is dropped (returns
// false: fit again); otherwise the records cannot be fitted and the error says what to measure.
bool check_identifiable(Solver& s) {
  const int m = s.m(), q = s.q();
  std::vector<double> gram(q * q, 0);
  for (int i = 0; i < m; ++i)
    for (int u = 0; u < q; ++u)
      for (int v = 0; v < q; ++v) gram[u * q + v] += s.at(i, u) * s.at(i, v);
  std::vector<double> vals, vecs;
  jacobi_eigen(gram, q, vals, vecs);
  const int imin = static_cast<int>(std::min_element(vals.begin(), vals.end()) - vals.begin());
  const double vmax = *std::max_element(vals.begin(), vals.end());
  if (!(vals[imin] < 1e-9 * vmax || m < q)) return true;
  std::string names;
  bool involves_gamma = false, involves_alpha = false;
  int optional_involved = -1;
  for (int u = 0; u < q; ++u) {
    if (std::fabs(vecs[u * q + imin]) > 0.2 || m < q) {
      if (!names.empty()) names += " and ";
      names += param_name(s.active[u]);
      involves_gamma = involves_gamma || s.active[u] == gamma_param();
      involves_alpha =
          involves_alpha || s.active[u] == alpha_param(0) || s.active[u] == alpha_param(1);
      if (is_optional(s.active[u])) optional_involved = s.active[u];
    }
  }
  if (optional_involved >= 0) {
    s.drop(optional_involved, "the records cannot separate " + names);
    return false;
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

// One weighted, non-negative solve; then the residuals at the new parameters (branches may
// change) and Tukey bisquare weights. Returns true once parameters and weights have settled.
bool solve_and_reweight(Solver& s, int it) {
  const int m = s.m(), q = s.q();
  std::vector<double> aw(s.a.size()), yw(m);
  for (int i = 0; i < m; ++i) {
    const double w = std::sqrt(s.weights[i]);
    for (int j = 0; j < q; ++j) aw[static_cast<std::size_t>(i) * q + j] = s.at(i, j) * w;
    yw[i] = s.y[i] * w;
  }
  std::vector<double> x = nnls_small(aw, yw, m, q);
  double change = 0;
  for (int j = 0; j < q; ++j) {
    const double v = x[j] / s.scale[j];
    const double old = s.theta[s.active[j]];
    change = std::max(change, std::fabs(v - old) / std::max(std::fabs(old), 1e-30));
    s.theta[s.active[j]] = v;
  }
  for (int i = 0; i < m; ++i) {
    const FitRecord& r = *s.sel.recs[i];
    const double pred = linear_of(r, s.theta, s.use_flow, s.options.eager_limit).v;
    s.rel[i] = (pred - r.time_s) / r.time_s;
  }
  std::vector<double> absr(m);
  for (int i = 0; i < m; ++i) absr[i] = std::fabs(s.rel[i]);
  // A floor of 1% keeps consistent data from losing good points to a tiny scale.
  const double scale = std::max(1.4826 * median_of(absr), 0.01);
  std::vector<double> next(m);
  for (int i = 0; i < m; ++i) {
    const double u = s.rel[i] / (s.options.bisquare_c * scale);
    next[i] = it < 2 ? 1.0 : (std::fabs(u) < 1 ? (1 - u * u) * (1 - u * u) : 0.0);
  }
  double wchange = 0;
  for (int i = 0; i < m; ++i) wchange = std::max(wchange, std::fabs(next[i] - s.weights[i]));
  s.weights.swap(next);
  return it >= 3 && change < 1e-7 && wchange < 1e-6;
}

// The alternating solve, started again without a term whenever one is dropped.
void solve(Solver& s) {
  const int m = s.m();
  int it = 0;
  for (bool restart = true; restart;) {
    restart = false;
    set_active(s);
    std::copy(s.start, s.start + kNumParams, s.theta);
    if (!s.use_delta) s.theta[delta_param()] = 0;
    if (!s.use_rndv) s.theta[rendezvous0_param()] = 0;
    s.weights.assign(m, 1.0);
    s.rel.assign(m, 0);
    s.a.assign(static_cast<std::size_t>(m) * s.q(), 0);
    s.y.assign(m, 0);
    s.scale.assign(s.q(), 0);
    bool checked = false;
    for (it = 0; it < s.options.max_iterations; ++it) {
      if (!build_rows(s) || (!checked && !check_identifiable(s))) {
        restart = true;
        break;
      }
      checked = true;
      if (solve_and_reweight(s, it)) break;
    }
    if (!restart)
      for (int p : s.active) s.res.fitted[p] = true;
  }
  if (it >= s.options.max_iterations) it = s.options.max_iterations - 1;
  s.iterations = it + 1;
}

// Fit quality per collective, algorithm and tier.
void fill_quality(const Solver& s) {
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<int>> groups;
  for (int i = 0; i < s.m(); ++i) {
    const FitRecord& r = *s.sel.recs[i];
    groups[{std::string(collectives::collective_name(r.collective)), r.algorithm, tier_label(r)}]
        .push_back(i);
  }
  for (auto& [key, idx] : groups) {
    FitQuality fq;
    std::tie(fq.collective, fq.algorithm, fq.tier) = key;
    std::vector<double> errs;
    for (int i : idx) {
      errs.push_back(std::fabs(s.rel[i]));
      if (s.weights[i] == 0) ++fq.outliers;
    }
    fq.records = static_cast<int>(idx.size());
    fq.median_rel_err = median_of(errs);
    fq.worst_rel_err = *std::max_element(errs.begin(), errs.end());
    s.res.outliers += fq.outliers;
    s.res.quality.push_back(fq);
  }
}

// The fitted fabric: intra-node and inter-node tiers, γ, δ, each with its source.
void fill_fabric(const Solver& s) {
  FitResult& res = s.res;
  const Selection& sel = s.sel;
  const double* theta = res.theta;
  std::vector<double> all_errs;
  for (double r : s.rel) all_errs.push_back(std::fabs(r));
  const std::string quality_note = "fitted by collbench model fit from " + std::to_string(s.m()) +
                                   " records, median relative error " + pct(median_of(all_errs));
  Fabric& f = res.fabric;
  f.name = "fitted";
  f.description = quality_note;
  if (sel.has_intra) {
    Tier t;
    t.name = "intra-node";
    t.group_size = sel.has_inter ? sel.rpn_max : 0;
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
  if (sel.has_inter) {
    Tier t;
    t.name = "inter-node";
    t.group_size = 0;
    t.alpha_us = theta[alpha_param(1)] * 1e6;
    const double link = theta[beta_param(1)] > 0 ? 1.0 / theta[beta_param(1)] / 1e9 : 1e6;
    res.node_link_gbps = link;
    const double g = static_cast<double>(sel.has_intra ? sel.rpn_max : 1);
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
  if (!sel.has_inter) f.gpus = sel.ranks_max;
  const double gamma = theta[gamma_param()];
  f.reduce_gbps = gamma > 0 ? 1.0 / gamma / 1e9 : 0;
  f.sources["reduce_gbps"] = s.options.gamma_fixed ? std::string("fixed with --gamma-gbps")
                             : s.fit_gamma         ? quality_note
                                           : std::string("no all-reduce records: not fitted");
  const double delta = theta[delta_param()];
  f.copy_gbps = delta > 0 ? 1.0 / delta / 1e9 : 0;
  if (s.use_delta) f.sources["copy_gbps"] = quality_note;
  f.sources["records"] = "dtype " + (sel.dtype.empty() ? std::string("-") : sel.dtype);
  f.validate();
}

}  // namespace

FitResult fit_records(const std::vector<FitRecord>& all, const FitOptions& options) {
  FitResult res;
  const Selection sel = select_records(all, options, res.notes);
  Solver s(sel, options, res);
  choose_terms(s);
  solve(s);
  res.iterations = s.iterations;
  res.separate_flow = s.use_flow;
  res.eager_limit = s.use_rndv ? options.eager_limit : 0;
  if (!s.use_flow) s.theta[flow_beta0_param()] = s.theta[beta_param(0)];
  std::copy(s.theta, s.theta + kNumParams, res.theta);
  if (options.gamma_fixed) res.fitted[gamma_param()] = false;
  res.records_used = s.m();
  res.ranks_per_node = sel.rpn_max;
  fill_quality(s);
  fill_fabric(s);
  return res;
}

}  // namespace collbench::model
