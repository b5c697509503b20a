#include "collectives/ring_steps.h"

#include <algorithm>

#include "collectives/algorithm_util.h"
#include "collectives/patterns.h"

namespace collbench::collectives::algo {
namespace {

namespace pt = patterns;

}  // namespace

std::size_t ring_slot_elems(std::size_t max_n, int p, std::size_t seg_elems) {
  const std::size_t piece = pt::max_chunk_size(max_n, p);
  return seg_elems ? std::min(seg_elems, piece) : piece;
}

std::size_t ring_slot_count(std::size_t max_n, int p, std::size_t seg_elems) {
  return pt::segment_count(pt::max_chunk_size(max_n, p), seg_elems) > 1 ? 2 : 1;
}

Status ring_reduce_scatter(Transport& t, const RingReduceScatter& rs, Deadline deadline) {
  const int p = t.size(), r = t.rank();
  const std::size_t n = rs.n, es = dtype_size(rs.dtype);
  const int next = pt::ring_next(r, p), prev = pt::ring_prev(r, p);
  const std::size_t seg = rs.seg_elems ? rs.seg_elems : pt::max_chunk_size(n, p);
  auto work = [&](int c) -> std::byte* {
    if (c == r && rs.owned) return static_cast<std::byte*>(rs.owned);
    return rs.work + pt::chunk_offset(n, p, c) * es;
  };
  auto slot = [&](std::size_t j) { return rs.slots + (j % 2) * rs.slot_bytes; };
  auto seg_len = [&](std::size_t len, std::size_t j) {
    return len == 0 ? 0 : std::min(seg, len - j * seg);
  };

  for (int s = 0; s < p - 1; ++s) {
    const int sc = pt::mod(r - s - 1, p), rc = pt::mod(r - s - 2, p);
    const std::size_t s_len = pt::chunk_size(n, p, sc), r_len = pt::chunk_size(n, p, rc);
    // Step 0 sends this rank's own input; later steps the partial completed one step earlier.
    const std::byte* src =
        s == 0 ? static_cast<const std::byte*>(rs.input) + pt::chunk_offset(n, p, sc) * es
               : work(sc);
    const std::byte* mine =
        static_cast<const std::byte*>(rs.input) + pt::chunk_offset(n, p, rc) * es;
    std::byte* dst = work(rc);
    // Out of place `dst` receives and `mine` is added to it; in place they are the same piece,
    // so arrivals go through the slots.
    const bool via_slots = rs.input_is_work;
    const std::size_t nsend = pt::segment_count(s_len, seg), nrecv = pt::segment_count(r_len, seg);
    const std::size_t nseg = std::max(nsend, nrecv);
    auto post = [&](std::size_t j) {
      if (j < nrecv) {
        std::byte* land = via_slots ? slot(j) : dst + j * seg * es;
        t.irecv(land, seg_len(r_len, j) * es, prev, rs.tag);
      }
      if (j < nsend) t.isend(src + j * seg * es, seg_len(s_len, j) * es, next, rs.tag);
    };
    post(0);
    for (std::size_t j = 0; j < nseg; ++j) {
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      if (j + 1 < nseg) post(j + 1);
      if (j < nrecv) {
        const std::size_t len = seg_len(r_len, j);
        std::byte* out = dst + j * seg * es;
        if (via_slots) {
          t.reduce(out, slot(j), len, rs.dtype, rs.op);
        } else {
          t.reduce(out, mine + j * seg * es, len, rs.dtype, rs.op);
        }
      }
    }
  }
  return Status::Ok();
}

Status ring_allgather(Transport& t, std::byte* buf, const void* own, std::size_t n, std::size_t es,
                      int tag, Deadline deadline) {
  const int p = t.size(), r = t.rank();
  const int next = pt::ring_next(r, p), prev = pt::ring_prev(r, p);
  for (int s = 0; s < p - 1; ++s) {
    const int sc = pt::mod(r - s, p), rc = pt::mod(r - s - 1, p);
    t.irecv(buf + pt::chunk_offset(n, p, rc) * es, pt::chunk_size(n, p, rc) * es, prev, tag);
    const std::byte* src =
        s == 0 && own ? static_cast<const std::byte*>(own) : buf + pt::chunk_offset(n, p, sc) * es;
    t.isend(src, pt::chunk_size(n, p, sc) * es, next, tag);
    // The own piece is copied into place while the first step is in flight.
    if (s == 0 && own)
      t.copy(buf + pt::chunk_offset(n, p, r) * es, own, pt::chunk_size(n, p, r) * es);
    if (Status st = t.wait_all(deadline); !st.ok()) return st;
  }
  if (p == 1 && own) t.copy(buf, own, n * es);
  return Status::Ok();
}

}  // namespace collbench::collectives::algo
