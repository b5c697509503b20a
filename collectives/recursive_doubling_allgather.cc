// All-gather "recursive_doubling" (Thakur, Rabenseifner & Gropp 2005, section 4.1): lg p steps,
// each exchanging everything gathered so far with a partner at twice the distance.
//
// Steps: p not a power of two folds first: ranks 0..2 rem-1 pair up, the even rank sends its
//   block to the odd one and waits for the whole result. The pof2 participants then double
//   (halving_steps.h): at step k each sends the blocks it holds to participant i XOR 2^k and
//   receives as many. Finally the odd rank of each pair sends the whole vector to its partner.
// Bytes sent per rank: (pof2-1)/pof2 n (+ n to each sitting-out rank).
// Cost: lg p α + (p-1)/p n β for a power of two; otherwise (lg pof2 + 2) α + (2 - 1/pof2) n β
//   on folded ranks.
// Scratch: none.
#include <vector>

#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/fold_blocks.h"
#include "collectives/halving_steps.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class RecursiveDoublingAllgather final : public algo::OwnAlgorithm {
 public:
  RecursiveDoublingAllgather() : OwnAlgorithm(AlgorithmId::kRecursiveDoublingAllgather) {}

 protected:
  void setup(const AlgorithmContext&, const CollectiveArgs&) override {
    fold_ = pt::fold(tr().rank(), tr().size());
    bounds_.assign(static_cast<std::size_t>(fold_.pof2) + 1, 0);
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const int p = t.size(), r = t.rank();
    const bool in_place = a.in_place || send == recv;
    const std::size_t b = a.count / static_cast<std::size_t>(p), bb = b * es();
    std::byte* buf = static_cast<std::byte*>(recv);
    std::byte* own = algo::at(recv, static_cast<std::size_t>(r) * b, es());
    if (!in_place) t.copy(own, send, bb);
    if (p == 1) return Status::Ok();
    constexpr int kTag = algo::kTagDoublingAllgather;

    if (fold_.role == pt::FoldRole::kSitOut) {
      t.isend(own, bb, fold_.partner, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      t.irecv(buf, a.bytes(), fold_.partner, kTag);
      return t.wait_all(deadline);
    }
    if (fold_.role == pt::FoldRole::kAbsorb) {
      t.irecv(algo::at(recv, static_cast<std::size_t>(fold_.partner) * b, es()), bb, fold_.partner,
              kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
    }
    algo::fold_block_bounds(fold_, b, bounds_);
    if (Status st = algo::doubling_allgather(t, fold_, bounds_, buf, es(), false, kTag, deadline);
        !st.ok())
      return st;
    if (fold_.role == pt::FoldRole::kAbsorb) {
      t.isend(buf, a.bytes(), fold_.partner, kTag);
      return t.wait_all(deadline);
    }
    return Status::Ok();
  }

 private:
  pt::Fold fold_;
  std::vector<std::size_t> bounds_;
};

}  // namespace

std::unique_ptr<Algorithm> make_recursive_doubling_allgather() {
  return std::make_unique<RecursiveDoublingAllgather>();
}

}  // namespace collbench::collectives
