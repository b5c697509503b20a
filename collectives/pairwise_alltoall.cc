// All-to-all "pairwise": p-1 exchange steps, one peer in each direction per step.
//
// Steps: at step k = 1..p-1 rank r sends block (peer) to one rank and receives from one rank,
//   then waits; its own block is copied locally while the first exchange is in flight. For a power
//   of two both peers are r XOR k, so each step is a perfect matching of ranks; otherwise it sends
//   to r + k and receives from r - k.
// Bytes sent per rank: (p-1)/p n.
// Cost: (p-1) α + (p-1)/p n β; one message in flight per direction keeps receivers from being
//   flooded, which wins for long blocks on congested fabrics.
// Scratch: n bytes, used only in place.
#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class PairwiseAlltoall final : public algo::OwnAlgorithm {
 public:
  PairwiseAlltoall() : OwnAlgorithm(AlgorithmId::kPairwiseAlltoall) {}

 protected:
  void setup(const AlgorithmContext&, const CollectiveArgs&) override {
    scratch_ = tr().allocate(max_bytes());
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const int p = t.size(), r = t.rank();
    const bool in_place = a.in_place || send == recv;
    const std::size_t bb = a.bytes() / static_cast<std::size_t>(p);
    const void* src = send;
    if (in_place) {
      t.copy(scratch_.data(), recv, a.bytes());
      src = scratch_.data();
    }
    for (int k = 1; k < p; ++k) {
      const int to = pt::pairwise_send_peer(r, p, k), from = pt::pairwise_recv_peer(r, p, k);
      t.irecv(algo::at(recv, static_cast<std::size_t>(from), bb), bb, from, algo::kTagPairwise);
      t.isend(algo::at(src, static_cast<std::size_t>(to), bb), bb, to, algo::kTagPairwise);
      // The own block is copied while the first exchange is in flight.
      if (k == 1)
        t.copy(algo::at(recv, static_cast<std::size_t>(r), bb),
               algo::at(src, static_cast<std::size_t>(r), bb), bb);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
    }
    if (p == 1)
      t.copy(algo::at(recv, static_cast<std::size_t>(r), bb),
             algo::at(src, static_cast<std::size_t>(r), bb), bb);
    return Status::Ok();
  }

 private:
  Buffer scratch_;
};

}  // namespace

std::unique_ptr<Algorithm> make_pairwise_alltoall() { return std::make_unique<PairwiseAlltoall>(); }

}  // namespace collbench::collectives
