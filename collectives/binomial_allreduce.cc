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

class BinomialAllreduce final : public Algorithm {
 public:
  std::string_view name() const override { return "binomial"; }
  Collective collective() const override { return Collective::kAllReduce; }

  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs& args) const override {
    return algo::check_common(name(), Collective::kAllReduce, ctx, args);
  }

  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max) override {
    if (auto why = supports(ctx, max)) throw Error(*why);
    t_ = ctx.transport;
    es_ = dtype_size(max.dtype);
    max_bytes_ = max.bytes();
    const int p = t_->size(), r = t_->rank();
    parent_ = pt::binomial_parent(r, p, 0);
    nchildren_ = pt::binomial_children(r, p, 0, children_.data());
    scratch_ = nchildren_ > 0 ? t_->allocate(max_bytes_) : Buffer();
    prepared_ = true;
  }

  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) override {
    if (Status st = algo::check_prepared(name(), a, max_bytes_, es_, prepared_); !st.ok())
      return st;
    if (a.count == 0) return Status::Ok();
    Transport& t = *t_;
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
  Transport* t_ = nullptr;
  std::size_t es_ = 1;
  std::size_t max_bytes_ = 0;
  int parent_ = -1;
  int nchildren_ = 0;
  std::array<int, 64> children_{};
  Buffer scratch_;
  bool prepared_ = false;
};

}  // namespace

std::unique_ptr<Algorithm> make_binomial_allreduce() {
  return std::make_unique<BinomialAllreduce>();
}

}  // namespace collbench::collectives
