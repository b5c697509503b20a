// All-gather "ring": p-1 steps around a ring (ring_steps.h), each forwarding the block received
// last; rank r starts with its own block r.
//
// Steps: at step s rank r sends block r-s to r+1 and receives block r-s-1 from r-1. Out of place
//   the first step sends straight from the send buffer while the own block is copied into place.
// Bytes sent per rank: (p-1)/p n (n = output bytes, p blocks), the minimum.
// Cost: (p-1) α + (p-1)/p n β.
// Scratch: none.
#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/ring_steps.h"

namespace collbench::collectives {
namespace {

class RingAllgather final : public algo::OwnAlgorithm {
 public:
  RingAllgather() : OwnAlgorithm(AlgorithmId::kRingAllgather) {}

 protected:
  void setup(const AlgorithmContext&, const CollectiveArgs&) override {}

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    const bool in_place = a.in_place || send == recv;
    return algo::ring_allgather(tr(), static_cast<std::byte*>(recv), in_place ? nullptr : send,
                                a.count, es(), algo::kTagRingAllgather, deadline);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_ring_allgather() { return std::make_unique<RingAllgather>(); }

}  // namespace collbench::collectives
