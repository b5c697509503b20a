// Recursive halving (reduce-scatter) and recursive doubling (all-gather) among the pof2
// participants of a fold (patterns::fold: with p not a power of two, the first 2·rem ranks pair
// up and one of each pair sits out). Written once for the reduce-scatter, all-gather and
// Rabenseifner all-reduce algorithms (Thakur, Rabenseifner & Gropp 2005).
//
// The vector is cut into pof2 ranges at bounds[0..pof2] (elements).
// Halving: at each step a participant and its partner i XOR mask share a current span of
//   ranges; each keeps the half on its side of the mask bit, sends the other half and adds the
//   half it receives. Masks near first (1, 2, ..., pof2/2: the big messages stay between near
//   ranks, on the low tiers of a fabric) leave participant i with range bitrev(i); masks far
//   first (pof2/2, ..., 1) leave it with range i, which a reduce-scatter needs.
// Doubling: each step sends everything held to i XOR mask and receives the partner's, so the
//   held span doubles until every participant holds all; it replays a halving in reverse.
// Bytes sent per participant: (pof2-1)/pof2 of the vector in each (for even ranges).
#pragma once

#include <cstddef>
#include <span>

#include "collectives/dtype.h"
#include "collectives/error.h"
#include "collectives/patterns.h"
#include "collectives/transport.h"

namespace collbench::collectives::algo {

struct Halving {
  DType dtype = DType::kF32;
  ReduceOp op = ReduceOp::kSum;
  std::span<const std::size_t> bounds;  // pof2 + 1 offsets, in elements
  std::byte* work = nullptr;            // where the partial of the whole vector lives
  // This participant's contribution when it is not yet in work (out of place): the first step
  // adds it from here instead of copying it into work first. nullptr: the partial is in work.
  const void* input = nullptr;
  std::byte* scratch = nullptr;  // half the vector: what the first step receives
  // The reduced range of the last step goes here instead of into work when not null (an
  // out-of-place output that is exactly this participant's range).
  void* last_dst = nullptr;
  bool near_first = false;
  int tag = 0;
};

// The range participant `newrank` holds after a halving (bit reversal when near first).
int halving_range(int newrank, int pof2, bool near_first);

Status halving_reduce_scatter(Transport& t, const patterns::Fold& fold, const Halving& h,
                              Deadline deadline);

// buf holds the vector; this participant's range halving_range(i, pof2, !far_first) is in place.
// far_first replays a near-first halving (masks pof2/2 first). Afterwards every participant holds
// every range.
Status doubling_allgather(Transport& t, const patterns::Fold& fold,
                          std::span<const std::size_t> bounds, std::byte* buf,
                          std::size_t elem_size, bool far_first, int tag, Deadline deadline);

}  // namespace collbench::collectives::algo
