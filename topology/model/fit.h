// Fitting α, β per tier and γ to measured result records, and held-out validation.
//
// Every modelled algorithm's time is linear in the parameters once the branch of each max() in
// its formula is fixed (cost_model.h). The fit alternates: fix the branches at the current
// parameters, solve a non-negative weighted least-squares problem on the relative error
// (rows scaled by 1/t), reweight with Tukey's bisquare on the residuals (robust to outliers),
// until the parameters settle.
//
// Tiers of a measured run: "intra-node" (ranks of one node, group = ranks per node) and
// "inter-node" (between nodes). Ranks of a node are assumed to share one link to the network
// (a CPU cluster, or the emulated one): the fitted inter-node figure is that link's rate, and
// the fabric written gives it per rank (link / ranks per node) with flow_gbps = the whole link.
//
// Native library collectives (MPI_Allreduce, MPI_Alltoall, nccl) hide which algorithm they run:
// the fit skips them; validation predicts them as the best modelled algorithm, for information.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "topology/model/cost_model.h"
#include "topology/model/fabric.h"

namespace collbench::model {

struct FitRecord {
  Collective collective = Collective::kAllReduce;
  std::string algorithm;           // as in the result file
  std::optional<ModelAlgo> model;  // empty for native collectives
  double bytes = 0;
  std::int64_t ranks = 0;
  std::int64_t nodes = 1;
  std::int64_t ranks_per_node = 0;
  double time_s = 0;  // the chosen statistic (p50 by default)
  // Hierarchical algorithms: the inter-node algorithm (of the same collective; kCount: unknown).
  ModelAlgo inner = ModelAlgo::kCount;
  std::string dtype;      // element type of the run ("f32", ...); reductions cost per byte of it
  bool in_place = false;  // placement "in": the local copies counted differ (copied_bytes)
  std::string file;
  int measurements = 1;  // records merged into this one (merge_repeats)
};

struct LoadedRecords {
  std::vector<FitRecord> records;    // modelled and native, ready to use
  std::vector<std::string> skipped;  // "12 records: wrong results", one line per reason
  std::vector<std::string> files;
};

// Reads result files (results/schema/result-v1.schema.json). `stat` is "p50", "mean" or "min".
// Throws UsageError naming the file and field on malformed input.
LoadedRecords load_result_files(const std::vector<std::string>& paths,
                                const std::string& stat = "p50");

// Repeated measurements of one point (`--repeat`, or the same sweep in several files: same
// collective, algorithm, inter-node algorithm, element type, placement, size, ranks and nodes)
// become one record whose time is the median of theirs, so that one slow or fast repeat weighs as
// noise, not as a point of its own. Keeps the first occurrence's order; returns how many records
// were folded into others.
std::size_t merge_repeats(std::vector<FitRecord>& records);

enum class TierChoice { kAuto, kIntra, kIntraInter };

struct FitOptions {
  TierChoice tiers = TierChoice::kAuto;
  // All-reduce records of other element types are left out (γ is per byte of one type); empty:
  // the most common type among the all-reduce records.
  std::string dtype;
  std::optional<double> gamma_fixed;  // s/byte; set when the data cannot separate γ from β
  // Fit δ (local copies) and the intra-node single-flow β where the records determine them;
  // false: the plain α-β-γ model (δ = 0, one β per tier).
  bool local_terms = true;
  // Open MPI's eager limit inside a node in bytes (shared memory: 4 KiB): > 0 fits the extra
  // latency of intra-node messages at or above it (rendezvous0_param()); 0 = one α for all.
  double eager_limit = 0;
  int max_iterations = 30;
  double bisquare_c = 4.685;  // Tukey's constant, in units of the robust scale
};

struct FitQuality {
  std::string collective;
  std::string algorithm;
  std::string tier;  // "intra-node" or "inter-node": the highest tier the records span
  int records = 0;
  int outliers = 0;  // records the robust weights dropped (weight 0)
  double median_rel_err = 0;
  double worst_rel_err = 0;
};

struct FitResult {
  Fabric fabric;
  double theta[kNumParams] = {};  // seconds and seconds per byte
  bool fitted[kNumParams] = {};
  std::vector<FitQuality> quality;
  std::vector<std::string> notes;  // what was skipped, which tiers were not determined and why
  int records_used = 0;
  int outliers = 0;
  int iterations = 0;
  std::int64_t ranks_per_node = 0;  // intra-node group of the fitted fabric
  double node_link_gbps = 0;        // fitted inter-node link rate (0 when not fitted)
  bool separate_flow = false;       // flow_beta0_param() fitted (else tied to beta_param(0))
  double eager_limit = 0;           // intra-node eager limit of the fit (rendezvous fitted), or 0
};

// Throws UsageError with the reason when the records cannot determine a parameter (no record on
// more than one node when the inter-node tier is requested, β and γ moving together, ...).
FitResult fit_records(const std::vector<FitRecord>& records, const FitOptions& options = {});

// The net a fit evaluates a record on: tier 0 = ranks_per_node ranks, tier 1 = the network,
// parameters at `theta`.
// δ is theta[delta_param()]; the single-flow β of tier 0 is theta[flow_beta0_param()] when
// `separate_flow`, else the same parameter as tier 0's β.
// Messages inside a node of at least `eager0` bytes (> 0) add theta[rendezvous0_param()].
NetT<LinearTime> fit_net(std::int64_t ranks_per_node, const double* theta,
                         ModelAlgo inner = ModelAlgo::kRingAllreduce, bool in_place = false,
                         bool separate_flow = false, double eager0 = 0);

// Predicted seconds of a record with fitted parameters (native: best modelled algorithm).
double predict_record(const FitResult& fit, const FitRecord& r);

struct ValidationRow {
  std::string band;  // "" for the whole range, else "4K-8M" (ValidationOptions::bands)
  std::string collective;
  std::string algorithm;
  int train = 0;
  int test = 0;
  double median_rel_err = 0;
  double worst_rel_err = 0;
  bool native = false;  // predicted as best-of, not part of the verdict
  bool pass = false;
};

struct ValidationOptions {
  int holdout_every = 3;  // hold out every n-th size (by rank within each algorithm's sizes)
  bool holdout_max_ranks = true;  // hold out the largest rank count when there are several
  double target = 0.15;
  // Message-size band edges in bytes (ascending): each band is fitted and validated on its own
  // (a single host changes regime at the MPI protocol switch and when the buffers outgrow the
  // caches; the fabric a site projection needs is the top band's). Empty: one band.
  std::vector<double> bands;
  FitOptions fit;
};

struct BandFit {
  double lo = 0, hi = 0;  // bytes in [lo, hi); hi = 0: unbounded
  std::string label;
  FitResult fit;
  int train = 0, test = 0;
};

struct ValidationResult {
  FitResult fit;                    // on the training part (of the top band when there are bands)
  std::vector<BandFit> bands;       // one per band, lowest first (one entry when no bands)
  std::vector<ValidationRow> rows;  // per algorithm, over every band
  std::vector<ValidationRow> band_rows;  // per band and algorithm (only with bands)
  std::int64_t held_out_ranks = 0;       // 0 when no rank count was held out
  int train_records = 0;
  int test_records = 0;
  bool pass = false;  // every modelled algorithm's median within target
};

ValidationResult validate_records(const std::vector<FitRecord>& records,
                                  const ValidationOptions& options = {});

}  // namespace collbench::model
