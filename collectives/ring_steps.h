// The two halves of every ring algorithm, written once: the ring reduce-scatter and the ring
// all-gather over the p pieces of a vector (patterns::chunk_offset: uneven when n % p != 0).
// The ring reduce-scatter, all-gather and all-reduce algorithms and the hierarchical ones call
// them on whatever transport (a node, a rail) and buffers they need.
//
// Reduce-scatter, step s = 0..p-2: rank r sends the partial of piece r-s-1 to r+1 and receives
//   the partial of piece r-s-2 from r-1, adding its own input of that piece. After the last step
//   rank r holds piece r fully reduced. Within a step a piece travels in segments of seg_elems;
//   the next segment is posted before the current one is reduced, so that a transport that
//   progresses in the background overlaps the two.
// All-gather, step s = 0..p-2: rank r forwards piece r-s to r+1 and receives piece r-s-1.
// Bytes sent per rank: (p-1)/p n for each half.
#pragma once

#include <cstddef>

#include "collectives/dtype.h"
#include "collectives/error.h"
#include "collectives/transport.h"

namespace collbench::collectives::algo {

struct RingReduceScatter {
  std::size_t n = 0;  // elements of the whole vector (all p pieces)
  DType dtype = DType::kF32;
  ReduceOp op = ReduceOp::kSum;
  const void* input = nullptr;  // this rank's n elements
  // Where piece c's partial accumulates: work + chunk_offset(n, p, c) elements. Piece r (the one
  // this rank completes) goes to owned instead when owned is not null (out of place only).
  std::byte* work = nullptr;
  void* owned = nullptr;
  // The input pieces are the work pieces (in place): arrivals land in slots, then get added.
  // Otherwise arrivals land in work and this rank's input is added from `input`.
  bool input_is_work = false;
  std::size_t seg_elems = 0;   // 0: one message per piece
  std::byte* slots = nullptr;  // input_is_work: slot_count(...) slots of slot_bytes
  std::size_t slot_bytes = 0;
  int tag = 0;
};

// Slots of scratch ring_reduce_scatter needs for the largest call (0 when out of place): one
// segment, or two when a piece spans several segments (double buffering).
std::size_t ring_slot_elems(std::size_t max_n, int p, std::size_t seg_elems);
std::size_t ring_slot_count(std::size_t max_n, int p, std::size_t seg_elems);

Status ring_reduce_scatter(Transport& t, const RingReduceScatter& rs, Deadline deadline);

// buf holds n elements; piece r is in place already, or is read from own (one piece) when own
// is not null (it is copied into place while the first step is in flight).
Status ring_allgather(Transport& t, std::byte* buf, const void* own, std::size_t n,
                      std::size_t elem_size, int tag, Deadline deadline);

}  // namespace collbench::collectives::algo
