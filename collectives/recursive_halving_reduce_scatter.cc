// Reduce-scatter "recursive_halving" (Thakur, Rabenseifner & Gropp 2005, section 4.4): lg p
// steps, each exchanging half of the remaining vector with a partner at half the distance.
//
// Steps: p not a power of two folds first: ranks 0..2 rem-1 pair up, the even rank sends its
//   whole input to the odd one (which adds it) and waits for its block. The pof2 participants
//   split the vector at their ranks' blocks (halving_steps.h) and halve, high bit first, so
//   that participant i ends with the blocks of the ranks it stands for; the odd rank of a pair
//   then sends its partner's block back.
// Bytes sent per rank: (pof2-1)/pof2 n (+ n from each sitting-out rank, + n/p back to it).
// Cost: lg p α + (p-1)/p n β + (p-1)/p n γ for a power of two; otherwise
//   (lg pof2 + 2) α + ((pof2-1)/pof2 + 1 + 1/p) n β + ((pof2-1)/pof2 + 1) n γ on folded ranks.
// Scratch: out of place n bytes (the partial, so the input stays untouched) plus half the
//   vector for arrivals; in place half the vector (n on a folded pair's odd rank).
#include <vector>

#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/fold_blocks.h"
#include "collectives/halving_steps.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class RecursiveHalvingReduceScatter final : public algo::OwnAlgorithm {
 public:
  RecursiveHalvingReduceScatter() : OwnAlgorithm(AlgorithmId::kRecursiveHalvingReduceScatter) {}

 protected:
  void setup(const AlgorithmContext&, const CollectiveArgs&) override {
    fold_ = pt::fold(tr().rank(), tr().size());
    bounds_.assign(static_cast<std::size_t>(fold_.pof2) + 1, 0);
    if (tr().size() == 1 || fold_.role == pt::FoldRole::kSitOut) return;
    work_ = tr().allocate(max_bytes());
    arrivals_ = tr().allocate(max_bytes());
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const int p = t.size(), r = t.rank();
    const bool in_place = a.in_place || send == recv;
    const std::size_t b = a.count / static_cast<std::size_t>(p), bb = b * es();
    const void* input = in_place ? recv : send;
    // Where this rank's block goes: block r of the one buffer in place, recv otherwise.
    std::byte* out = in_place ? algo::at(recv, static_cast<std::size_t>(r) * b, es())
                              : static_cast<std::byte*>(recv);
    if (p == 1) {
      if (!in_place) t.copy(recv, send, bb);
      return Status::Ok();
    }
    constexpr int kTag = algo::kTagRecursiveHalving;

    if (fold_.role == pt::FoldRole::kSitOut) {
      // In place the block to receive is part of the input being sent: one after the other.
      t.isend(input, a.bytes(), fold_.partner, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      t.irecv(out, bb, fold_.partner, kTag);
      return t.wait_all(deadline);
    }

    // In place the partial lives in the buffer itself; out of place in work, so that the input
    // stays untouched.
    std::byte* work = in_place ? static_cast<std::byte*>(recv) : work_.bytes();
    bool partial_in_work = in_place;
    if (fold_.role == pt::FoldRole::kAbsorb) {
      void* landing = partial_in_work ? arrivals_.data() : work;
      t.irecv(landing, a.bytes(), fold_.partner, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      t.reduce(work, partial_in_work ? arrivals_.data() : input, a.count, a.dtype, a.op);
      partial_in_work = true;
    }

    algo::fold_block_bounds(fold_, b, bounds_);
    algo::Halving h;
    h.dtype = a.dtype;
    h.op = a.op;
    h.bounds = bounds_;
    h.work = work;
    h.input = partial_in_work ? nullptr : input;
    h.scratch = arrivals_.bytes();
    // A participant standing for itself alone ends with exactly its block: out of place the
    // last step reduces straight into the output.
    const bool alone = fold_.role == pt::FoldRole::kPlain;
    h.last_dst = alone && !in_place ? out : nullptr;
    h.tag = kTag;
    if (Status st = algo::halving_reduce_scatter(t, fold_, h, deadline); !st.ok()) return st;

    if (fold_.role == pt::FoldRole::kAbsorb) {
      t.isend(algo::at(work, static_cast<std::size_t>(fold_.partner) * b, es()), bb, fold_.partner,
              kTag);
      if (!in_place) t.copy(out, algo::at(work, static_cast<std::size_t>(r) * b, es()), bb);
      return t.wait_all(deadline);
    }
    if (!in_place && !h.last_dst)
      t.copy(out, algo::at(work, static_cast<std::size_t>(r) * b, es()), bb);
    return Status::Ok();
  }

 private:
  pt::Fold fold_;
  std::vector<std::size_t> bounds_;
  Buffer work_, arrivals_;
};

}  // namespace

std::unique_ptr<Algorithm> make_recursive_halving_reduce_scatter() {
  return std::make_unique<RecursiveHalvingReduceScatter>();
}

}  // namespace collbench::collectives
