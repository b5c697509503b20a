#include "collectives/halving_steps.h"

namespace collbench::collectives::algo {

namespace pt = patterns;

Status halving_reduce_scatter(Transport& t, const pt::Fold& fold, const Halving& h,
                              Deadline deadline) {
  const int p = t.size(), nr = fold.newrank, pof2 = fold.pof2;
  const std::size_t es = dtype_size(h.dtype);
  auto byte_at = [&](const void* base, int range) {
    return static_cast<const std::byte*>(base) + h.bounds[static_cast<std::size_t>(range)] * es;
  };
  bool partial_in_work = h.input == nullptr;
  int lo = 0, hi = pof2;
  const int first = h.near_first ? 1 : pof2 / 2, last_mask = h.near_first ? pof2 / 2 : 1;
  for (int mask = first; mask >= 1 && mask < pof2; mask = h.near_first ? mask * 2 : mask / 2) {
    const int mid = lo + (hi - lo) / 2;
    const bool upper = (nr & mask) != 0;
    const int keep_lo = upper ? mid : lo, keep_hi = upper ? hi : mid;
    const int send_lo = upper ? lo : mid, send_hi = upper ? mid : hi;
    const int peer = pt::fold_oldrank(nr ^ mask, p);
    const std::size_t keep_len = h.bounds[keep_hi] - h.bounds[keep_lo];
    const std::size_t send_len = h.bounds[send_hi] - h.bounds[send_lo];
    std::byte* keep = h.work + h.bounds[keep_lo] * es;
    const bool last = mask == last_mask;
    // Where the reduced kept range goes: the output itself at the last step when given.
    std::byte* target = last && h.last_dst ? static_cast<std::byte*>(h.last_dst) : keep;
    // Out of place the partner's half lands in the target and this rank's input is added from
    // the input buffer; once the partial is in work, arrivals go to the scratch.
    const bool land_in_target = !partial_in_work || target != keep;
    std::byte* landing = land_in_target ? target : h.scratch;
    t.irecv(landing, keep_len * es, peer, h.tag);
    t.isend(byte_at(partial_in_work ? h.work : h.input, send_lo), send_len * es, peer, h.tag);
    if (Status st = t.wait_all(deadline); !st.ok()) return st;
    const std::byte* mine = partial_in_work ? keep : byte_at(h.input, keep_lo);
    t.reduce(target, land_in_target ? mine : h.scratch, keep_len, h.dtype, h.op);
    partial_in_work = true;
    lo = keep_lo;
    hi = keep_hi;
  }
  return Status::Ok();
}

int halving_range(int newrank, int pof2, bool near_first) {
  return near_first ? pt::halving_final_block(newrank, pof2) : newrank;
}

Status doubling_allgather(Transport& t, const pt::Fold& fold, std::span<const std::size_t> bounds,
                          std::byte* buf, std::size_t es, bool far_first, int tag,
                          Deadline deadline) {
  const int p = t.size(), nr = fold.newrank, pof2 = fold.pof2;
  int lo = halving_range(nr, pof2, far_first), hi = lo + 1;
  const int first = far_first ? pof2 / 2 : 1;
  for (int mask = first; mask >= 1 && mask < pof2; mask = far_first ? mask / 2 : mask * 2) {
    const int size = hi - lo;
    const bool upper = (nr & mask) != 0;
    const int other_lo = upper ? lo - size : hi, other_hi = other_lo + size;
    const int peer = pt::fold_oldrank(nr ^ mask, p);
    t.irecv(buf + bounds[other_lo] * es, (bounds[other_hi] - bounds[other_lo]) * es, peer, tag);
    t.isend(buf + bounds[lo] * es, (bounds[hi] - bounds[lo]) * es, peer, tag);
    if (Status st = t.wait_all(deadline); !st.ok()) return st;
    lo = std::min(lo, other_lo);
    hi = std::max(hi, other_hi);
  }
  return Status::Ok();
}

}  // namespace collbench::collectives::algo
