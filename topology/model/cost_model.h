// Closed-form α-β-γ cost of every modelled collective algorithm on a tiered fabric.
//
// Hockney model per message: α (latency of the tier crossed) + bytes·β (inverse bandwidth) and
// γ per reduced byte. On a fabric with several tiers each step of an algorithm is charged at the
// tier its partners cross; a step whose pairs cross several tiers takes the slowest. Formulas
// (Thakur, Rabenseifner & Gropp 2005 on one tier; docs/model.md gives all of them):
//
//   ring                 2(p-1) hops, each at the tier of its ring edge; 2(p-1)/p·n per rank
//   recursive doubling   lg p steps of n at distance 2^s (+2 fold steps if p != 2^k)
//   rabenseifner         lg p halving + lg p doubling steps of n/2^(s+1) (+2 fold steps of n)
//   binomial             ceil(lg p) reduce steps of n, then as many broadcast steps
//   double_binary_tree   2(g-1) intra hops + 2·lg N hops between domains; 2n per domain link
//   hierarchical         intra ring reduce-scatter, all-reduce of n/g per rail, intra all-gather
//   hierarchical3        the same with one more reduce-scatter level across the tier-1 block
//   hierarchical_leader  intra binomial reduce, leaders' all-reduce of n, intra binomial bcast
//   in_switch            NVLS / SHARP: every rank moves n(1+1/g) through the switch
//   linear / pairwise    p-1 messages; bytes leaving each tier block go at that tier's rate
//   bruck                ceil(lg p) steps of about n/2 at distance 2^s
//   hierarchical (a2a)   intra exchange by destination rail, then N-1 messages per rail
//
// Local copies on the critical path cost δ per byte (copied_bytes() gives the count of each
// implementation in collectives/). Inside tier 0 a step in which only a fraction f of the
// members send runs at max(flow β, f·β): on one host the senders share the memory bandwidth.
//
// Bandwidth at tier k (k >= 1) when a fraction f of the ranks of a tier-(k-1) block send across
// it at once: min(flow_k, b_k / (f · oversubscription_k · ... · oversubscription_1)). That is how
// oversubscription shows: all-to-all and recursive doubling put every rank across the top tier,
// a ring only one edge per block. Traffic crossing a tier from a scale-up domain is spread over
// the domain's links (as NCCL spreads rings over channels).
//
// The formulas are templates over the time type: `double` for prediction (no allocation, a few
// hundred operations per point), `LinearTime` for fitting (the same formula gives the coefficient
// of every parameter, choosing the branch of each max() at the current parameters).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>

#include "collectives/collective.h"
#include "collectives/dtype.h"
#include "collectives/registry.h"
#include "topology/model/fabric.h"

namespace collbench::model {

using collectives::Collective;

inline constexpr int kMaxTiers = 6;
// Parameters of a fit: α_k (index k), β_k (index kMaxTiers + k), γ (index 2·kMaxTiers), the β of
// one flow inside tier 0 when only some of its members send (binomial trees on one host share
// the memory bandwidth with fewer peers), δ, the cost of a byte copied locally, and the extra
// latency of a tier-0 message at or above the eager limit (rendezvous).
inline constexpr int kNumParams = 2 * kMaxTiers + 4;
constexpr int alpha_param(int tier) { return tier; }
constexpr int beta_param(int tier) { return kMaxTiers + tier; }
constexpr int gamma_param() { return 2 * kMaxTiers; }
constexpr int flow_beta0_param() { return 2 * kMaxTiers + 1; }
constexpr int delta_param() { return 2 * kMaxTiers + 2; }
constexpr int rendezvous0_param() { return 2 * kMaxTiers + 3; }
inline constexpr std::int64_t kUnbounded = std::int64_t{1} << 60;

// The model keys its formulas by the registry's algorithm identity (collectives/registry.h), so
// a measured record and its formula can never disagree on a name; the registry's "modelled"
// rows are the algorithms priced here that collbench does not run itself.
using ModelAlgo = collectives::AlgorithmId;

struct ModelAlgoInfo {
  ModelAlgo algo;
  Collective collective;     // the registry's
  std::string_view name;     // the registry's
  std::string_view summary;  // one line on what the formula assumes
};
// Every algorithm with a formula, in registry order. Natives are not here: a library's
// collective is predicted as the best modelled algorithm of its collective.
std::span<const ModelAlgoInfo> model_algorithms();
const ModelAlgoInfo& model_algorithm(ModelAlgo a);
std::optional<ModelAlgo> find_model_algorithm(Collective c, std::string_view name);

// A time that is linear in the parameters: value at the current parameters, constant part, and
// the coefficient of each parameter.
struct LinearTime {
  double v = 0;
  double k = 0;
  double c[kNumParams] = {};

  static LinearTime param(int index, double value) {
    LinearTime t;
    t.v = value;
    t.c[index] = 1;
    return t;
  }
  static LinearTime constant(double value) {
    LinearTime t;
    t.v = value;
    t.k = value;
    return t;
  }
  LinearTime& operator+=(const LinearTime& o) {
    v += o.v;
    k += o.k;
    for (int i = 0; i < kNumParams; ++i) c[i] += o.c[i];
    return *this;
  }
  LinearTime& operator*=(double s) {
    v *= s;
    k *= s;
    for (int i = 0; i < kNumParams; ++i) c[i] *= s;
    return *this;
  }
  friend LinearTime operator+(LinearTime a, const LinearTime& b) { return a += b; }
  friend LinearTime operator*(LinearTime a, double s) { return a *= s; }
  friend LinearTime operator*(double s, LinearTime a) { return a *= s; }
};
inline double value_of(double t) { return t; }
inline double value_of(const LinearTime& t) { return t.v; }
inline double max_of(double a, double b) { return a >= b ? a : b; }
inline LinearTime max_of(const LinearTime& a, const LinearTime& b) { return a.v >= b.v ? a : b; }

// The fabric in the form the formulas read: per tier the members of one block, α, β (s/byte per
// rank), the β of one flow, and the cumulative oversubscription.
template <class T>
struct NetT {
  int tiers = 0;
  std::int64_t group[kMaxTiers] = {};  // members per block of tier k; the top is unbounded
  T alpha[kMaxTiers] = {};
  T beta[kMaxTiers] = {};
  T flow_beta[kMaxTiers] = {};
  double taper[kMaxTiers] = {};  // oversubscription accumulated from tier 1 up to tier k
  bool in_switch[kMaxTiers] = {};
  double in_switch_eff[kMaxTiers] = {};
  std::int64_t channels = 1;     // members sharing a scale-up domain (they spread crossing traffic)
  std::int64_t channel_cap = 0;  // most channels the library spreads it over; 0 = one per member
  // Tier 0 is a network tier whose links (the NIC) also carry the traffic of the tiers above;
  // true in the view of a group with one member per scale-up domain.
  bool shared_tier0 = false;
  double active = 1;  // fraction of all ranks that run this pattern at the same time
  T gamma = {};
  // Seconds per byte copied inside a rank's memory (the out-of-place copy of a tree's root,
  // Bruck's rotations and packing, an all-to-all's own block). 0 on the built-in GPU profiles,
  // where such copies run at HBM speed beside links 10-100x slower; on one host it is as large
  // as the "link" itself, which is a memory copy too.
  T delta = {};
  // LogGPS's S: a message of at least eager[k] bytes (0 = no limit) on tier k goes by rendezvous
  // (a handshake before the data) and costs rndv[k] on top of α_k. MPI libraries switch at an
  // eager limit (Open MPI's shared memory: 4 KiB, TCP: 64 KiB), NCCL between its protocols.
  double eager[kMaxTiers] = {};
  T rndv[kMaxTiers] = {};
  bool in_place = false;  // the copies counted are those of an in-place call
  double call_overhead_s = 0;
  // The library's tuning (fabric.h Tuning): constants, never fitted.
  double tree_eff = 1, tree_shared_eff = 1;
  double in_switch_alpha = 0;       // s; 0: 2 α₀
  double in_switch_tree_alpha = 0;  // s per network level; 0: the tier's α
  double in_switch_full = 0;        // GPUs beyond which in-switch busbw stops growing; 0: none
  double in_switch_fill = 0;        // bytes per domain GPU before the in-switch pipeline streams
  double in_switch_serial = 0;      // non-overlapping fraction of the shorter in-switch stage
  double p2p_eff = 1;               // all-to-all's fraction of tier 0's rate
  double message_gap = -1;          // s per message posted at once; < 0: a latency per message
  // Of the call: copies of each byte entering a domain that its scale-up links deliver to
  // members (MoE dispatch forwarding one network copy to the experts of a node); 1 = none.
  double fanout = 1;
  // Algorithm between the domains of the hierarchical algorithms (a flat algorithm of the same
  // collective), or kCount for the best (all-reduce: of ring, rabenseifner and
  // double_binary_tree). A fit sets what the measured implementation runs (the harness's
  // --inter-node-algo, ring by default).
  ModelAlgo inner = ModelAlgo::kCount;
};
using ModelNet = NetT<double>;

ModelNet make_net(const Fabric& f);

// The net seen by one of the groups made of every `stride`-th rank (a data-parallel group beside
// its tensor-parallel peers, the rails of a hierarchical algorithm), all such groups running at
// once. `active_scale` < 1 when only some ranks take part (node leaders: 1/g).
template <class T>
NetT<T> strided_net(const NetT<T>& net, std::int64_t stride, double active_scale = 1.0);

// Seconds for one call on `ranks` consecutive members of `net`, `bytes` per rank (all-to-all:
// total bytes each rank sends). NaN when the algorithm does not apply (in-switch reduction on a
// fabric without it, three levels on fewer than three tiers). 0 ranks or 1 rank cost nothing.
double predict_time(const ModelNet& net, ModelAlgo algo, double bytes, std::int64_t ranks);
LinearTime predict_linear(const NetT<LinearTime>& net, ModelAlgo algo, double bytes,
                          std::int64_t ranks);

// Bytes one rank copies locally on the critical path of one call of the project's own
// implementation (collectives/), out of place or in place.
double copied_bytes(ModelAlgo algo, double bytes, std::int64_t ranks, std::int64_t per_domain,
                    bool in_place);

// One message of `bytes` between ranks `distance` apart (pipeline-parallel send), all ranks
// sending at once.
double predict_p2p(const ModelNet& net, std::int64_t distance, double bytes);

struct BestChoice {
  ModelAlgo algo = ModelAlgo::kRingAllreduce;
  double time_s = std::numeric_limits<double>::quiet_NaN();
};
BestChoice best_algorithm(const ModelNet& net, Collective c, double bytes, std::int64_t ranks);

// nccl-tests conventions (collectives::busbw_factor): algbw = bytes / time, busbw = algbw x
// factor. GB/s decimal.
inline double algbw_gbps(double bytes, double time_s) { return bytes / time_s / 1e9; }
inline double busbw_gbps(Collective c, double bytes, std::int64_t ranks, double time_s) {
  return algbw_gbps(bytes, time_s) * collectives::busbw_factor(c, ranks);
}

}  // namespace collbench::model
