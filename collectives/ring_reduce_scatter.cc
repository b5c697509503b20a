// Reduce-scatter "ring": p-1 steps around a ring (ring_steps.h), each adding this rank's block
// to the partial passing by; rank r ends with block r reduced.
//
// Steps: at step s rank r sends the partial of block r-s-1 to r+1 and receives the partial of
//   block r-s-2 from r-1, adding its own input of it. Blocks travel in segments of
//   AlgorithmContext::segment_bytes.
// Bytes sent per rank: (p-1)/p n (n = input bytes, p blocks), the minimum.
// Cost: (p-1) α + (p-1)/p n β + (p-1)/p n γ.
// Scratch: out of place n bytes (the partials of the blocks other ranks complete, so the input
//   stays untouched); in place one or two segments, as the ring all-reduce.
#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/ring_steps.h"

namespace collbench::collectives {
namespace {

class RingReduceScatter final : public algo::OwnAlgorithm {
 public:
  RingReduceScatter() : OwnAlgorithm(AlgorithmId::kRingReduceScatter) {}

 protected:
  void setup(const AlgorithmContext& ctx, const CollectiveArgs& max) override {
    const int p = tr().size();
    seg_elems_ = ctx.segment_bytes ? std::max<std::size_t>(1, ctx.segment_bytes / es()) : 0;
    slot_bytes_ = algo::ring_slot_elems(max.count, p, seg_elems_) * es();
    if (p == 1) return;
    slots_ = tr().allocate(algo::ring_slot_count(max.count, p, seg_elems_) * slot_bytes_);
    work_ = tr().allocate(max.bytes());
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const bool in_place = a.in_place || send == recv;
    if (t.size() == 1) {
      if (!in_place) t.copy(recv, send, a.bytes());
      return Status::Ok();
    }
    algo::RingReduceScatter rs;
    rs.n = a.count;
    rs.dtype = a.dtype;
    rs.op = a.op;
    rs.input = in_place ? recv : send;
    rs.work = in_place ? static_cast<std::byte*>(recv) : work_.bytes();
    rs.owned = in_place ? nullptr : recv;
    rs.input_is_work = in_place;
    rs.seg_elems = seg_elems_;
    rs.slots = slots_.bytes();
    rs.slot_bytes = slot_bytes_;
    rs.tag = algo::kTagRingReduceScatter;
    return algo::ring_reduce_scatter(t, rs, deadline);
  }

 private:
  std::size_t seg_elems_ = 0;
  std::size_t slot_bytes_ = 0;
  Buffer slots_, work_;
};

}  // namespace

std::unique_ptr<Algorithm> make_ring_reduce_scatter() {
  return std::make_unique<RingReduceScatter>();
}

}  // namespace collbench::collectives
