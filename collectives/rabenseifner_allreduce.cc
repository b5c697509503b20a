// All-reduce "rabenseifner": the recursive-halving reduce-scatter, then the recursive-doubling
// all-gather (Thakur, Rabenseifner & Gropp 2005, section 4.3), both from halving_steps.h, for
// long vectors on few ranks.
//
// Steps: non-powers of two first fold like recursive_doubling (ranks 0..2 rem-1: even ranks
//   hand their vector to the odd rank above and sit out). The pof2 participants split the vector
//   into pof2 ranges (uneven when count % pof2 != 0). Reduce-scatter, lg pof2 steps: at each
//   step a participant keeps the half of its current ranges on its side of the step's bit, sends
//   the other half to its partner and adds the half it receives. All-gather: the same partners
//   in reverse order, each sending the ranges it holds and receiving its partner's. Finally the
//   odd rank of each folded pair sends the whole result to its even partner.
// Bytes sent per rank: 2 (pof2-1)/pof2 n (+ n on each side of a fold when p is not a power of 2).
// Cost: 2 lg p α + 2 (p-1)/p n β + (p-1)/p n γ for a power of two; otherwise
//   (2 lg pof2 + 2) α + (2 (pof2-1)/pof2 + 2) n β + ((pof2-1)/pof2 + 1) n γ on folded ranks.
// Scratch: n bytes (the received half at the first step, the whole vector for a fold in place).
#include <vector>

#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/halving_steps.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class RabenseifnerAllreduce final : public algo::OwnAlgorithm {
 public:
  RabenseifnerAllreduce() : OwnAlgorithm(AlgorithmId::kRabenseifnerAllreduce) {}

 protected:
  void setup(const AlgorithmContext&, const CollectiveArgs&) override {
    fold_ = pt::fold(tr().rank(), tr().size());
    bounds_.assign(static_cast<std::size_t>(fold_.pof2) + 1, 0);
    const bool needs_scratch = tr().size() > 1 && fold_.role != pt::FoldRole::kSitOut;
    scratch_ = needs_scratch ? tr().allocate(max_bytes()) : Buffer();
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const bool in_place = a.in_place || send == recv;
    const void* input = in_place ? recv : send;
    const std::size_t n = a.count, bytes = a.bytes();
    if (t.size() == 1) {
      t.copy(recv, input, bytes);
      return Status::Ok();
    }
    constexpr int kTag = algo::kTagRabenseifner;

    if (fold_.role == pt::FoldRole::kSitOut) {
      t.isend(input, bytes, fold_.partner, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      t.irecv(recv, bytes, fold_.partner, kTag);
      return t.wait_all(deadline);
    }

    bool partial_in_recv = in_place;
    if (fold_.role == pt::FoldRole::kAbsorb) {
      // Out of place the partner's vector lands in recv and the input is added from send.
      void* landing = partial_in_recv ? scratch_.data() : recv;
      t.irecv(landing, bytes, fold_.partner, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      t.reduce(recv, partial_in_recv ? scratch_.data() : input, n, a.dtype, a.op);
      partial_in_recv = true;
    }

    for (int j = 0; j <= fold_.pof2; ++j)
      bounds_[static_cast<std::size_t>(j)] = pt::chunk_offset(n, fold_.pof2, j);
    algo::Halving h;
    h.dtype = a.dtype;
    h.op = a.op;
    h.bounds = bounds_;
    h.work = static_cast<std::byte*>(recv);
    h.input = partial_in_recv ? nullptr : input;
    h.scratch = scratch_.bytes();
    // Near ranks first: the halves of the whole vector stay on the lowest tiers of a fabric.
    h.near_first = true;
    h.tag = kTag;
    if (Status st = algo::halving_reduce_scatter(t, fold_, h, deadline); !st.ok()) return st;
    if (Status st = algo::doubling_allgather(t, fold_, bounds_, static_cast<std::byte*>(recv), es(),
                                             true, kTag, deadline);
        !st.ok())
      return st;

    if (fold_.role == pt::FoldRole::kAbsorb) {
      t.isend(recv, bytes, fold_.partner, kTag);
      return t.wait_all(deadline);
    }
    return Status::Ok();
  }

 private:
  pt::Fold fold_;
  std::vector<std::size_t> bounds_;  // sized in setup: run() allocates nothing
  Buffer scratch_;
};

}  // namespace

std::unique_ptr<Algorithm> make_rabenseifner_allreduce() {
  return std::make_unique<RabenseifnerAllreduce>();
}

}  // namespace collbench::collectives
