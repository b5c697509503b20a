// All-to-all "linear": every send and receive posted at once, in a staggered order.
//
// Steps: one round. Rank r posts the receive from r - k and the send to r + k for k = 1..p-1
//   (all receives first), copies its own block locally while the messages move, then waits
//   once. The stagger makes every rank start with a different peer, so no rank is the first
//   target of all the others.
// Bytes sent per rank: (p-1)/p n (n = bytes each rank sends in total, blocks of n/p).
// Cost: (p-1) α + (p-1)/p n β with all messages in flight together (the transport and the
//   fabric decide how well they overlap); no reduction.
// Scratch: n bytes, used only in place (the input is copied aside before blocks land on it).
#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class LinearAlltoall final : public algo::OwnAlgorithm {
 public:
  LinearAlltoall() : OwnAlgorithm(AlgorithmId::kLinearAlltoall) {}

 protected:
  void setup(const AlgorithmContext&, const CollectiveArgs&) override {
    scratch_ = tr().allocate(max_bytes());
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const int p = t.size(), r = t.rank();
    const bool in_place = a.in_place || send == recv;
    const std::size_t bb = a.bytes() / static_cast<std::size_t>(p);  // block bytes
    const void* src = send;
    if (in_place) {
      t.copy(scratch_.data(), recv, a.bytes());
      src = scratch_.data();
    }
    for (int k = 1; k < p; ++k) {
      const int from = pt::linear_recv_peer(r, p, k);
      t.irecv(algo::at(recv, static_cast<std::size_t>(from), bb), bb, from, algo::kTagLinear);
    }
    for (int k = 1; k < p; ++k) {
      const int to = pt::linear_send_peer(r, p, k);
      t.isend(algo::at(src, static_cast<std::size_t>(to), bb), bb, to, algo::kTagLinear);
    }
    // The own block is copied after posting, while peers already pull their blocks.
    t.copy(algo::at(recv, static_cast<std::size_t>(r), bb),
           algo::at(src, static_cast<std::size_t>(r), bb), bb);
    return t.wait_all(deadline);
  }

 private:
  Buffer scratch_;
};

}  // namespace

std::unique_ptr<Algorithm> make_linear_alltoall() { return std::make_unique<LinearAlltoall>(); }

}  // namespace collbench::collectives
