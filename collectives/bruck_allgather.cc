// All-gather "bruck" (Bruck et al. 1997; Thakur, Rabenseifner & Gropp 2005, section 4.1):
// ceil(lg p) steps for any p, then one local rotation.
//
// Steps: rank r keeps a working vector W whose entry i is the block of rank r + i; it starts
//   with its own block. At step k it sends its first min(2^k, p - 2^k) entries to rank r - 2^k
//   and appends as many from rank r + 2^k. Afterwards recv[(r + i) mod p] = W[i]: two copies.
// Bytes sent per rank: (p-1)/p n, in ceil(lg p) messages: the fewest messages for any p.
// Cost: ceil(lg p) α + (p-1)/p n β, plus n of local copies (the rotation).
// Scratch: n bytes (W).
#include <algorithm>

#include "collectives/algorithm_util.h"
#include "collectives/algorithms.h"
#include "collectives/patterns.h"

namespace collbench::collectives {
namespace {

namespace pt = patterns;

class BruckAllgather final : public algo::OwnAlgorithm {
 public:
  BruckAllgather() : OwnAlgorithm(AlgorithmId::kBruckAllgather) {}

 protected:
  void setup(const AlgorithmContext&, const CollectiveArgs&) override {
    work_ = tr().size() > 1 ? tr().allocate(max_bytes()) : Buffer();
  }

  Status execute(const void* send, void* recv, const CollectiveArgs& a,
                 Deadline deadline) override {
    Transport& t = tr();
    const int p = t.size(), r = t.rank();
    const bool in_place = a.in_place || send == recv;
    const std::size_t b = a.count / static_cast<std::size_t>(p), bb = b * es();
    const void* own = in_place ? algo::at(recv, static_cast<std::size_t>(r) * b, es()) : send;
    if (p == 1) {
      if (!in_place) t.copy(recv, send, bb);
      return Status::Ok();
    }
    std::byte* w = work_.bytes();
    t.copy(w, own, bb);
    int held = 1;
    for (int k = 0; (1 << k) < p; ++k) {
      const int dist = 1 << k, cnt = std::min(dist, p - dist);
      t.irecv(w + static_cast<std::size_t>(held) * bb, static_cast<std::size_t>(cnt) * bb,
              pt::mod(r + dist, p), algo::kTagBruckAllgather);
      t.isend(w, static_cast<std::size_t>(cnt) * bb, pt::mod(r - dist, p),
              algo::kTagBruckAllgather);
      if (Status st = t.wait_all(deadline); !st.ok()) return st;
      held += cnt;
    }
    // W[i] is rank r + i's block: W[0, p-r) -> recv[r, p), W[p-r, p) -> recv[0, r).
    const auto head = static_cast<std::size_t>(p - r), tail = static_cast<std::size_t>(r);
    t.copy(algo::at(recv, tail * b, es()), w, head * bb);
    if (tail) t.copy(recv, w + head * bb, tail * bb);
    return Status::Ok();
  }

 private:
  Buffer work_;
};

}  // namespace

std::unique_ptr<Algorithm> make_bruck_allgather() { return std::make_unique<BruckAllgather>(); }

}  // namespace collbench::collectives
