// All-to-all "bruck": ceil(lg p) rounds of packed messages (Bruck et al. 1997), for short
// blocks where the number of messages, not the bytes, sets the time.
//
// Steps: rotate the blocks so that W[i] = send[(r + i) mod p]. Round k = 0..ceil(lg p)-1: pack
//   every W[i] whose index has bit k set, send the pack to r + 2^k, receive the same number of
//   blocks from r - 2^k and unpack them into the same positions. Afterwards W[i] is the block
//   rank r - i sent to r; the final rotation-and-reversal writes recv[j] = W[(r - j) mod p].
// Bytes sent per rank: at most (n/2) ceil(lg p) (each round moves the blocks with one index
//   bit set: floor(p/2) blocks or fewer).
// Cost: ceil(lg p) α + (n/2) ceil(lg p) β, plus local copies of about (n + 2 (n/2) lg p) bytes
//   (rotations, packing): fewer messages than linear/pairwise, more bytes.
// Scratch: n bytes (W); the pack and unpack areas are the receive buffer itself, which the
//   final step overwrites (each holds at most floor(p/2) blocks, so both fit).
#include <algorithm>

#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class BruckAlltoall final : public algo::OwnAlgorithm {
 public:
  BruckAlltoall() : OwnAlgorithm(AlgorithmId::kBruckAlltoall) {}

 protected:
  void setup(const AlgorithmContext&, const CollectiveArgs&) override {
    scratch_ = tr().size() > 1 ? tr().allocate(max_bytes()) : Buffer();
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const int p = t.size(), r = t.rank();
    const bool in_place = a.in_place || send == recv;
    const void* input = in_place ? recv : send;
    if (p == 1) {
      t.copy(recv, input, a.bytes());
      return Status::Ok();
    }
    const auto up = static_cast<std::size_t>(p), ur = static_cast<std::size_t>(r);
    const std::size_t bb = a.bytes() / up;
    std::byte* w = scratch_.bytes();
    // W[i] = input[(r + i) mod p]: two contiguous pieces.
    t.copy(w, algo::at(input, ur, bb), (up - ur) * bb);
    t.copy(algo::at(w, up - ur, bb), input, ur * bb);

    std::byte* pack = static_cast<std::byte*>(recv);
    std::byte* unpack = algo::at(recv, up / 2, bb);
    for (int k = 0; k < pt::bruck_rounds(p); ++k) {
      const std::size_t run = std::size_t{1} << k;  // blocks with bit k set come in runs
      const std::size_t nb = static_cast<std::size_t>(pt::bruck_blocks_in_round(p, k));
      std::size_t packed = 0;
      for (std::size_t i = run; i < up; i += 2 * run) {
        const std::size_t len = std::min(run, up - i);
        t.copy(algo::at(pack, packed, bb), algo::at(w, i, bb), len * bb);
        packed += len;
      }
      t.irecv(unpack, nb * bb, pt::bruck_recv_peer(r, p, k), algo::kTagBruck);
      t.isend(pack, nb * bb, pt::bruck_send_peer(r, p, k), algo::kTagBruck);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      packed = 0;
      for (std::size_t i = run; i < up; i += 2 * run) {
        const std::size_t len = std::min(run, up - i);
        t.copy(algo::at(w, i, bb), algo::at(unpack, packed, bb), len * bb);
        packed += len;
      }
    }

    for (int j = 0; j < p; ++j)
      t.copy(algo::at(recv, static_cast<std::size_t>(j), bb),
             algo::at(w, static_cast<std::size_t>(pt::bruck_final_source(r, p, j)), bb), bb);
    return Status::Ok();
  }

 private:
  Buffer scratch_;
};

}  // namespace

std::unique_ptr<Algorithm> make_bruck_alltoall() { return std::make_unique<BruckAlltoall>(); }

}  // namespace collbench::collectives
