// All-reduce "recursive_doubling": lg p exchanges of the whole vector (Thakur, Rabenseifner &
// Gropp 2005, section 4.1), for short vectors where latency dominates.
//
// Steps: with pof2 = largest power of two <= p and rem = p - pof2, ranks 0..2 rem-1 first fold
//   in pairs: each even rank sends its vector to the odd rank above it, which adds it and takes
//   part as one of the pof2 participants; the even rank sits out. Then lg pof2 steps: at step k
//   participant i swaps its whole partial with participant i XOR 2^k and adds. Finally every odd
//   rank of a folded pair sends the result to its even partner.
// Bytes sent per rank: n lg pof2 (+ n for the fold when p is not a power of two).
// Cost: lg p α + n lg p β + n lg p γ for a power of two; otherwise (lg pof2 + 2) α +
//   n (lg pof2 + 2) β + n (lg pof2 + 1) γ on the folded ranks.
// Scratch: n bytes (the partner's vector); none on ranks that sit out.
#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class RecursiveDoublingAllreduce final : public algo::OwnAlgorithm {
 public:
  RecursiveDoublingAllreduce() : OwnAlgorithm(AlgorithmId::kRecursiveDoublingAllreduce) {}

 protected:
  void setup(const AlgorithmContext&, const CollectiveArgs&) override {
    fold_ = pt::fold(tr().rank(), tr().size());
    const bool needs_scratch = tr().size() > 1 && fold_.role != pt::FoldRole::kSitOut;
    scratch_ = needs_scratch ? tr().allocate(max_bytes()) : Buffer();
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const int p = t.size();
    const bool in_place = a.in_place || send == recv;
    const void* input = in_place ? recv : send;
    const std::size_t bytes = a.bytes();
    if (p == 1) {
      t.copy(recv, input, bytes);
      return Status::Ok();
    }
    constexpr int kTag = algo::kTagRecursiveDoubling;

    if (fold_.role == pt::FoldRole::kSitOut) {
      t.isend(input, bytes, fold_.partner, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      t.irecv(recv, bytes, fold_.partner, kTag);
      return t.wait_all(deadline);
    }

    // Out of place the first incoming vector lands in recv and this rank's input is added from
    // the send buffer, so no initial copy is needed; from then on the partial lives in recv.
    bool partial_in_recv = in_place;
    auto combine = [&](int peer, bool also_send) -> Status {
      void* landing = partial_in_recv ? scratch_.data() : recv;
      t.irecv(landing, bytes, peer, kTag);
      if (also_send) t.isend(partial_in_recv ? recv : input, bytes, peer, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      t.reduce(recv, partial_in_recv ? scratch_.data() : input, a.count, a.dtype, a.op);
      partial_in_recv = true;
      return Status::Ok();
    };

    if (fold_.role == pt::FoldRole::kAbsorb)
      if (Status st = combine(fold_.partner, false); !st.ok()) return st;
    for (int mask = 1; mask < fold_.pof2; mask <<= 1) {
      const int peer = pt::fold_oldrank(pt::doubling_partner(fold_.newrank, mask), p);
      if (Status st = combine(peer, true); !st.ok()) return st;
    }
    if (fold_.role == pt::FoldRole::kAbsorb) {
      t.isend(recv, bytes, fold_.partner, kTag);
      return t.wait_all(deadline);
    }
    return Status::Ok();
  }

 private:
  pt::Fold fold_;
  Buffer scratch_;
};

}  // namespace

std::unique_ptr<Algorithm> make_recursive_doubling_allreduce() {
  return std::make_unique<RecursiveDoublingAllreduce>();
}

}  // namespace collbench::collectives
