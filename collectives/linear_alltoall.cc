// All-to-all "linear": every send and receive posted at once, in a staggered order.
//
// Steps: one round. Rank r posts the receive from r - k and the send to r + k for k = 1..p-1
//   (all receives first), copies its own block locally while the messages move, then waits
//   once. The stagger makes every rank start with a different peer, so no rank is the first
//   target of all the others.
// Bytes sent per rank: (p-1)/p n (n = bytes each rank sends in total, blocks of n/p).
// Cost: (p-1) α + (p-1)/p n β with all messages in flight together (the transport and the
//   fabric decide how well they overlap); no reduction.
// Scratch: n bytes, used only in place (the input is copied aside before blocks land on it).
#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class LinearAlltoall final : public Algorithm {
 public:
  std::string_view name() const override { return "linear"; }
  Collective collective() const override { return Collective::kAllToAll; }

  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs& args) const override {
    return algo::check_common(name(), Collective::kAllToAll, ctx, args);
  }

  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max) override {
    if (auto why = supports(ctx, max)) throw Error(*why);
    t_ = ctx.transport;
    es_ = dtype_size(max.dtype);
    max_bytes_ = max.bytes();
    scratch_ = t_->allocate(max_bytes_);
    prepared_ = true;
  }

  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) override {
    if (Status st = algo::check_prepared(name(), a, max_bytes_, es_, prepared_); !st.ok())
      return st;
    if (a.count == 0) return Status::Ok();
    Transport& t = *t_;
    const int p = t.size(), r = t.rank();
    const bool in_place = a.in_place || send == recv;
    const std::size_t bb = a.bytes() / static_cast<std::size_t>(p);  // block bytes
    const void* src = send;
    if (in_place) {
      t.copy(scratch_.data(), recv, a.bytes());
      src = scratch_.data();
    }
    for (int k = 1; k < p; ++k) {
      const int from = pt::linear_recv_peer(r, p, k);
      t.irecv(algo::at(recv, static_cast<std::size_t>(from), bb), bb, from, algo::kTagLinear);
    }
    for (int k = 1; k < p; ++k) {
      const int to = pt::linear_send_peer(r, p, k);
      t.isend(algo::at(src, static_cast<std::size_t>(to), bb), bb, to, algo::kTagLinear);
    }
    // The own block is copied after posting, while peers already pull their blocks.
    t.copy(algo::at(recv, static_cast<std::size_t>(r), bb),
           algo::at(src, static_cast<std::size_t>(r), bb), bb);
    return t.wait_all(deadline);
  }

 private:
  Transport* t_ = nullptr;
  std::size_t es_ = 1;
  std::size_t max_bytes_ = 0;
  Buffer scratch_;
  bool prepared_ = false;
};

}  // namespace

std::unique_ptr<Algorithm> make_linear_alltoall() { return std::make_unique<LinearAlltoall>(); }

}  // namespace collbench::collectives
