// All-reduce "ring": the ring reduce-scatter, then the ring all-gather (Patarasuk & Yuan 2009),
// both from ring_steps.h, on the same p pieces of the vector.
//
// Steps: the vector is cut into p pieces (the first count % p one element longer). p-1
//   reduce-scatter steps leave rank r with piece r reduced; p-1 all-gather steps forward it.
//   Pieces travel in segments of AlgorithmContext::segment_bytes (pipelining, see ring_steps.h).
// Bytes sent per rank: 2 (p-1)/p n (n = vector bytes), the minimum for any all-reduce.
// Cost: 2(p-1) α + 2 (p-1)/p n β + (p-1)/p n γ; with segments of S bytes the reduce-scatter
//   pays ceil(n / (p S)) α per step instead of one.
// Scratch: out of place none (partials are built in the receive buffer); in place one segment,
//   two when a piece spans several segments (double buffering). At most n.
#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/ring_steps.h"

namespace collbench::collectives {
namespace {

class RingAllreduce final : public algo::OwnAlgorithm {
 public:
  RingAllreduce() : OwnAlgorithm(AlgorithmId::kRingAllreduce) {}

 protected:
  void setup(const AlgorithmContext& ctx, const CollectiveArgs& max) override {
    const int p = tr().size();
    seg_elems_ = ctx.segment_bytes ? std::max<std::size_t>(1, ctx.segment_bytes / es()) : 0;
    slot_bytes_ = algo::ring_slot_elems(max.count, p, seg_elems_) * es();
    scratch_ = p > 1 ? tr().allocate(algo::ring_slot_count(max.count, p, seg_elems_) * slot_bytes_)
                     : Buffer();
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const bool in_place = a.in_place || send == recv;
    const void* input = in_place ? recv : send;
    if (t.size() == 1) {
      t.copy(recv, input, a.bytes());
      return Status::Ok();
    }
    algo::RingReduceScatter rs;
    rs.n = a.count;
    rs.dtype = a.dtype;
    rs.op = a.op;
    rs.input = input;
    rs.work = static_cast<std::byte*>(recv);
    rs.input_is_work = in_place;
    rs.seg_elems = seg_elems_;
    rs.slots = scratch_.bytes();
    rs.slot_bytes = slot_bytes_;
    rs.tag = algo::kTagRing;
    if (Status st = algo::ring_reduce_scatter(t, rs, deadline); !st.ok()) return st;
    return algo::ring_allgather(t, static_cast<std::byte*>(recv), nullptr, a.count, es(),
                                algo::kTagRing, deadline);
  }

 private:
  std::size_t seg_elems_ = 0;
  std::size_t slot_bytes_ = 0;
  Buffer scratch_;
};

}  // namespace

std::unique_ptr<Algorithm> make_ring_allreduce() { return std::make_unique<RingAllreduce>(); }

}  // namespace collbench::collectives
