// Reduce-scatter "pairwise" (MPICH's pairwise exchange): p-1 steps; at step k each rank sends
// the block of one peer straight to it and adds the block another peer sends for it.
//
// Steps: at step k = 1..p-1 rank r sends block (to) of its input to rank `to` and receives that
//   peer's input of block r from rank `from` (XOR partners for a power of two, r+k / r-k
//   otherwise, as the pairwise all-to-all), then adds it to its block while the next step's
//   messages are already in flight (two arrival slots).
// Bytes sent per rank: (p-1)/p n, in p-1 messages of one block: no forwarding, so it suits long
//   blocks and any p.
// Cost: (p-1) α + (p-1)/p n β + (p-1)/p n γ.
// Scratch: two blocks.
#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class PairwiseReduceScatter final : public algo::OwnAlgorithm {
 public:
  PairwiseReduceScatter() : OwnAlgorithm(AlgorithmId::kPairwiseReduceScatter) {}

 protected:
  void setup(const AlgorithmContext&, const CollectiveArgs&) override {
    const int p = tr().size();
    slot_bytes_ = max_bytes() / static_cast<std::size_t>(p);
    slots_ = p > 1 && slot_bytes_ > 0 ? tr().allocate(2 * slot_bytes_) : Buffer();
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const int p = t.size(), r = t.rank();
    const bool in_place = a.in_place || send == recv;
    const std::size_t b = a.count / static_cast<std::size_t>(p), bb = b * es();
    const void* input = in_place ? recv : send;
    std::byte* acc = in_place ? algo::at(recv, static_cast<std::size_t>(r) * b, es())
                              : static_cast<std::byte*>(recv);
    const std::byte* mine = algo::at(input, static_cast<std::size_t>(r) * b, es());
    auto slot = [&](int k) {
      return slots_.bytes() + static_cast<std::size_t>(k % 2) * slot_bytes_;
    };
    auto post = [&](int k) {
      const int to = pt::pairwise_send_peer(r, p, k), from = pt::pairwise_recv_peer(r, p, k);
      t.irecv(slot(k), bb, from, algo::kTagPairwiseReduceScatter);
      t.isend(algo::at(input, static_cast<std::size_t>(to) * b, es()), bb, to,
              algo::kTagPairwiseReduceScatter);
    };
    if (p > 1) post(1);
    // Out of place the own block seeds the result while the first exchange is in flight.
    if (!in_place) t.copy(acc, mine, bb);
    for (int k = 1; k < p; ++k) {
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      if (k + 1 < p) post(k + 1);
      t.reduce(acc, slot(k), b, a.dtype, a.op);
    }
    return Status::Ok();
  }

 private:
  std::size_t slot_bytes_ = 0;
  Buffer slots_;
};

}  // namespace

std::unique_ptr<Algorithm> make_pairwise_reduce_scatter() {
  return std::make_unique<PairwiseReduceScatter>();
}

}  // namespace collbench::collectives
