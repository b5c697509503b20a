// All-reduce "ring": reduce-scatter then all-gather around a ring (Patarasuk & Yuan 2009).
//
// Steps: the vector is cut into p chunks (the first count % p one element longer). Reduce-
//   scatter, p-1 steps: at step s rank r sends its partial of chunk r-s to r+1 and adds the
//   partial of chunk r-s-1 from r-1 to its own; afterwards r owns chunk r+1 fully reduced.
//   All-gather, p-1 steps: forward the chunk received last (its own reduced chunk first).
//   Within a reduce-scatter step a chunk travels in segments of AlgorithmContext::segment_bytes;
//   the next segment is posted before the current one is reduced, so that a transport that
//   progresses in the background (NCCL, or MPI with a progress thread) overlaps the two.
// Bytes sent per rank: 2 (p-1)/p n (n = vector bytes), the minimum for any all-reduce.
// Cost: 2(p-1) α + 2 (p-1)/p n β + (p-1)/p n γ; with segments of S bytes the reduce-scatter
//   pays ceil(n / (p S)) α per step instead of one.
// Scratch: out of place none (partials are built in the receive buffer); in place one segment,
//   two when the chunk spans several segments (double buffering). At most n.
#include <algorithm>

#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class RingAllreduce final : public Algorithm {
 public:
  std::string_view name() const override { return "ring"; }
  Collective collective() const override { return Collective::kAllReduce; }

  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs& args) const override {
    return algo::check_common(name(), Collective::kAllReduce, ctx, args);
  }

  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max) override {
    if (auto why = supports(ctx, max)) throw Error(*why);
    t_ = ctx.transport;
    const int p = t_->size();
    es_ = dtype_size(max.dtype);
    max_bytes_ = max.bytes();
    seg_elems_ = ctx.segment_bytes ? std::max<std::size_t>(1, ctx.segment_bytes / es_) : 0;
    const std::size_t max_chunk = pt::max_chunk_size(max.count, p);
    const std::size_t slot = seg_elems_ ? std::min(seg_elems_, max_chunk) : max_chunk;
    const std::size_t slots = pt::segment_count(max_chunk, seg_elems_) > 1 ? 2 : 1;
    slot_bytes_ = slot * es_;
    scratch_ = p > 1 ? t_->allocate(slots * slot_bytes_) : Buffer();
    prepared_ = true;
  }

  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) override {
    if (Status st = algo::check_prepared(name(), a, max_bytes_, es_, prepared_); !st.ok())
      return st;
    if (a.count == 0) return Status::Ok();
    Transport& t = *t_;
    const int p = t.size(), r = t.rank();
    // In place the input is the receive buffer.
    const bool in_place = a.in_place || send == recv;
    const void* input = in_place ? recv : send;
    if (p == 1) {
      t.copy(recv, input, a.bytes());
      return Status::Ok();
    }
    const std::size_t n = a.count, es = es_;
    const int next = pt::ring_next(r, p), prev = pt::ring_prev(r, p);
    // Segment length of this call: the flag, or one whole (largest) chunk.
    const std::size_t seg = seg_elems_ ? seg_elems_ : pt::max_chunk_size(n, p);
    auto slot = [&](std::size_t j) { return scratch_.bytes() + (j % 2) * slot_bytes_; };

    for (int s = 0; s < p - 1; ++s) {
      const int sc = pt::ring_rs_send_chunk(r, p, s), rc = pt::ring_rs_recv_chunk(r, p, s);
      const std::size_t s_off = pt::chunk_offset(n, p, sc), s_len = pt::chunk_size(n, p, sc);
      const std::size_t r_off = pt::chunk_offset(n, p, rc), r_len = pt::chunk_size(n, p, rc);
      // Step 0 sends this rank's own input; later steps the partial reduced one step earlier.
      const void* src = s == 0 ? input : recv;
      const std::size_t nsend = pt::segment_count(s_len, seg),
                        nrecv = pt::segment_count(r_len, seg);
      const std::size_t nseg = std::max(nsend, nrecv);
      auto seg_len = [&](std::size_t len, std::size_t j) {
        return len == 0 ? 0 : std::min(seg, len - j * seg);
      };
      auto post = [&](std::size_t j) {
        if (j < nrecv) {
          void* dst = in_place ? static_cast<void*>(slot(j)) : algo::at(recv, r_off + j * seg, es);
          t.irecv(dst, seg_len(r_len, j) * es, prev, algo::kTagRing);
        }
        if (j < nsend)
          t.isend(algo::at(src, s_off + j * seg, es), seg_len(s_len, j) * es, next, algo::kTagRing);
      };
      post(0);
      for (std::size_t j = 0; j < nseg; ++j) {
        if (Status st = t.wait_all(deadline); !st.ok()) return st;
        if (j + 1 < nseg) post(j + 1);
        if (j < nrecv) {
          const std::size_t off = r_off + j * seg, len = seg_len(r_len, j);
          // Out of place the peer's partial landed in recv: add this rank's input to it.
          const void* mine = in_place ? static_cast<const void*>(slot(j)) : algo::at(send, off, es);
          t.reduce(algo::at(recv, off, es), mine, len, a.dtype, a.op);
        }
      }
    }

    for (int s = 0; s < p - 1; ++s) {
      const int sc = pt::ring_ag_send_chunk(r, p, s), rc = pt::ring_ag_recv_chunk(r, p, s);
      t.irecv(algo::at(recv, pt::chunk_offset(n, p, rc), es), pt::chunk_size(n, p, rc) * es, prev,
              algo::kTagRing);
      t.isend(algo::at(recv, pt::chunk_offset(n, p, sc), es), pt::chunk_size(n, p, sc) * es, next,
              algo::kTagRing);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
    }
    return Status::Ok();
  }

 private:
  Transport* t_ = nullptr;
  std::size_t es_ = 1;
  std::size_t max_bytes_ = 0;
  std::size_t seg_elems_ = 0;
  std::size_t slot_bytes_ = 0;
  Buffer scratch_;
  bool prepared_ = false;
};

}  // namespace

std::unique_ptr<Algorithm> make_ring_allreduce() { return std::make_unique<RingAllreduce>(); }

}  // namespace collbench::collectives
