// All-reduce "rabenseifner": recursive-halving reduce-scatter, then recursive-doubling
// all-gather (Thakur, Rabenseifner & Gropp 2005, section 4.3), for long vectors on few ranks.
//
// Steps: non-powers of two first fold like recursive_doubling (ranks 0..2 rem-1: even ranks
//   hand their vector to the odd rank above and sit out). The pof2 participants split the vector
//   into pof2 blocks (uneven when count % pof2 != 0). Reduce-scatter, lg pof2 steps: at step k
//   (mask 2^k) a participant keeps the half of its current block range on its side of bit k,
//   sends the other half to participant i XOR 2^k and adds the half it receives. All-gather:
//   the same steps in reverse, each sending the range it holds and receiving its partner's.
//   Finally the odd rank of each folded pair sends the whole result to its even partner.
// Bytes sent per rank: 2 (pof2-1)/pof2 n (+ n on each side of a fold when p is not a power of 2).
// Cost: 2 lg p α + 2 (p-1)/p n β + (p-1)/p n γ for a power of two; otherwise
//   (2 lg pof2 + 2) α + (2 (pof2-1)/pof2 + 2) n β + ((pof2-1)/pof2 + 1) n γ on folded ranks.
// Scratch: n bytes (the received half at the first step, the whole vector for a fold in place).
#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class RabenseifnerAllreduce final : public Algorithm {
 public:
  std::string_view name() const override { return "rabenseifner"; }
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
    fold_ = pt::fold(t_->rank(), t_->size());
    steps_.clear();
    if (fold_.newrank >= 0) steps_ = pt::halving_schedule(fold_.newrank, fold_.pof2);
    const bool needs_scratch = t_->size() > 1 && fold_.role != pt::FoldRole::kSitOut;
    scratch_ = needs_scratch ? t_->allocate(max_bytes_) : Buffer();
    prepared_ = true;
  }

  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) override {
    if (Status st = algo::check_prepared(name(), a, max_bytes_, es_, prepared_); !st.ok())
      return st;
    if (a.count == 0) return Status::Ok();
    Transport& t = *t_;
    const int p = t.size();
    const bool in_place = a.in_place || send == recv;
    const void* input = in_place ? recv : send;
    const std::size_t n = a.count, es = es_, bytes = a.bytes();
    if (p == 1) {
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

    // Out of place, the first data to arrive lands in recv and the rank's own input is added
    // from the send buffer; afterwards the partial lives in recv and arrivals go to scratch.
    bool partial_in_recv = in_place;
    if (fold_.role == pt::FoldRole::kAbsorb) {
      void* landing = partial_in_recv ? scratch_.data() : recv;
      t.irecv(landing, bytes, fold_.partner, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      t.reduce(recv, partial_in_recv ? scratch_.data() : input, n, a.dtype, a.op);
      partial_in_recv = true;
    }

    const int pof2 = fold_.pof2;
    auto off = [&](int block) { return pt::chunk_offset(n, pof2, block); };
    for (const auto& s : steps_) {
      const int peer = pt::fold_oldrank(s.partner, p);
      const std::size_t keep_off = off(s.keep_lo), keep_len = off(s.keep_hi) - keep_off;
      const std::size_t send_off = off(s.send_lo), send_len = off(s.send_hi) - send_off;
      void* landing = partial_in_recv ? scratch_.data() : algo::at(recv, keep_off, es);
      t.irecv(landing, keep_len * es, peer, kTag);
      t.isend(algo::at(partial_in_recv ? recv : input, send_off, es), send_len * es, peer, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      const void* other = partial_in_recv ? scratch_.data() : algo::at(input, keep_off, es);
      t.reduce(algo::at(recv, keep_off, es), other, keep_len, a.dtype, a.op);
      partial_in_recv = true;
    }

    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
      const int peer = pt::fold_oldrank(it->partner, p);
      const std::size_t keep_off = off(it->keep_lo), keep_len = off(it->keep_hi) - keep_off;
      const std::size_t send_off = off(it->send_lo), send_len = off(it->send_hi) - send_off;
      t.irecv(algo::at(recv, send_off, es), send_len * es, peer, kTag);
      t.isend(algo::at(recv, keep_off, es), keep_len * es, peer, kTag);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
    }

    if (fold_.role == pt::FoldRole::kAbsorb) {
      t.isend(recv, bytes, fold_.partner, kTag);
      return t.wait_all(deadline);
    }
    return Status::Ok();
  }

 private:
  Transport* t_ = nullptr;
  std::size_t es_ = 1;
  std::size_t max_bytes_ = 0;
  pt::Fold fold_;
  std::vector<pt::HalvingStep> steps_;
  Buffer scratch_;
  bool prepared_ = false;
};

}  // namespace

std::unique_ptr<Algorithm> make_rabenseifner_allreduce() {
  return std::make_unique<RabenseifnerAllreduce>();
}

}  // namespace collbench::collectives
