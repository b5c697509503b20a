// All-reduce "binomial": binomial-tree reduce to rank 0, then binomial-tree broadcast from it.
//
// Steps: reduce, ceil(lg p) rounds: a rank receives and adds the vectors of its children
//   (rank + 1, rank + 2, rank + 4 ... below its lowest set bit), smallest subtree first, then
//   sends its partial to its parent (rank with the lowest set bit cleared). Broadcast: the same
//   tree downwards, largest subtree first.
// Bytes sent per rank: n to the parent (every rank but 0) plus n to each child: leaves send n,
//   rank 0 sends n ceil(lg p); the root's links carry the whole vector lg p times each way.
// Cost: 2 ceil(lg p) α + 2 ceil(lg p) n β + ceil(lg p) n γ: simple and latency-optimal in
//   rounds, but bandwidth-poor for long vectors.
// Scratch: n bytes (one child's vector).
#include <array>

#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class BinomialAllreduce final : public algo::OwnAlgorithm {
 public:
  BinomialAllreduce() : OwnAlgorithm(AlgorithmId::kBinomialAllreduce) {}

 protected:
  void setup(const AlgorithmContext&, const CollectiveArgs&) override {
    const int p = tr().size(), r = tr().rank();
    parent_ = pt::binomial_parent(r, p, 0);
    nchildren_ = pt::binomial_children(r, p, 0, children_.data());
    scratch_ = nchildren_ > 0 ? tr().allocate(max_bytes()) : Buffer();
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const bool in_place = a.in_place || send == recv;
    const void* input = in_place ? recv : send;
    const std::size_t bytes = a.bytes();
    if (t.size() == 1) {
      t.copy(recv, input, bytes);
      return Status::Ok();
    }
    constexpr int kTag = algo::kTagBinomial;

    // Reduce. Out of place the first child's vector lands in recv and the input is added from
    // the send buffer, so the partial never needs an initial copy.
    bool partial_in_recv = in_place;
    for (int i = 0; i < nchildren_; ++i) {
      void* landing = partial_in_recv ? scratch_.data() : recv;
      t.irecv(landing, bytes, children_[static_cast<std::size_t>(i)], kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      t.reduce(recv, partial_in_recv ? scratch_.data() : input, a.count, a.dtype, a.op);
      partial_in_recv = true;
    }
    if (parent_ >= 0) {
      t.isend(partial_in_recv ? recv : input, bytes, parent_, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      t.irecv(recv, bytes, parent_, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
    }

    // Broadcast: all children at once, the largest subtree's send posted first.
    for (int i = nchildren_ - 1; i >= 0; --i)
      t.isend(recv, bytes, children_[static_cast<std::size_t>(i)], kTag);
    return t.wait_all(deadline);
  }

 private:
  int parent_ = -1;
  int nchildren_ = 0;
  std::array<int, 64> children_{};
  Buffer scratch_;
};

}  // namespace

std::unique_ptr<Algorithm> make_binomial_allreduce() {
  return std::make_unique<BinomialAllreduce>();
}

}  // namespace collbench::collectives
