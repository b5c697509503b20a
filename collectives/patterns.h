// Pure index math of the classic collective patterns: who talks to whom at which step, and which
// part of the vector moves. No communication, no allocation on the paths algorithms use in run():
// every function is O(1) or O(log p) and unit-tested on its own (tests/test_patterns.cc).
//
// Conventions: ranks are 0..size-1; "mod" is the mathematical modulo (never negative); a chunk or
// block index names one of `parts` consecutive pieces of a vector of `count` elements, split as
// evenly as possible with the first count % parts pieces one element longer.
#pragma once

#include <cstddef>
#include <vector>

namespace collbench::collectives::patterns {

// --- helpers ----------------------------------------------------------------------------------

constexpr int mod(long long a, int n) { return static_cast<int>(((a % n) + n) % n); }
constexpr bool is_pow2(int n) { return n > 0 && (n & (n - 1)) == 0; }
// Largest power of two <= n (n >= 1).
int floor_pow2(int n);
// Smallest k with 2^k >= n (0 for n <= 1).
int ceil_log2(int n);

// --- uneven split of a vector -----------------------------------------------------------------

// Offset (in elements) of piece i of `parts`; piece `parts` starts at `count` (one past the end).
std::size_t chunk_offset(std::size_t count, int parts, int i);
std::size_t chunk_size(std::size_t count, int parts, int i);
// Largest piece: ceil(count / parts).
std::size_t max_chunk_size(std::size_t count, int parts);
// Segments of at most seg_elems elements covering n elements; one (empty) segment when n == 0 so
// that both ends of an empty transfer agree on one message. seg_elems == 0 means one segment.
std::size_t segment_count(std::size_t n, std::size_t seg_elems);

// --- ring -------------------------------------------------------------------------------------

constexpr int ring_next(int rank, int size) { return (rank + 1) % size; }
constexpr int ring_prev(int rank, int size) { return (rank + size - 1) % size; }
// Reduce-scatter step s (0..size-2): send the partial of chunk (rank - s), receive the partial of
// chunk (rank - s - 1) from ring_prev. After the last step rank owns chunk (rank + 1) reduced.
constexpr int ring_rs_send_chunk(int rank, int size, int step) { return mod(rank - step, size); }
constexpr int ring_rs_recv_chunk(int rank, int size, int step) {
  return mod(rank - step - 1, size);
}
// All-gather step s (0..size-2): forward chunk (rank + 1 - s), receive chunk (rank - s).
constexpr int ring_ag_send_chunk(int rank, int size, int step) {
  return mod(rank + 1 - step, size);
}
constexpr int ring_ag_recv_chunk(int rank, int size, int step) { return mod(rank - step, size); }

// --- non-power-of-two fold (Thakur, Rabenseifner & Gropp 2005) ---------------------------------
//
// With pof2 = floor_pow2(size) and rem = size - pof2, the first 2*rem ranks pair up: the even
// rank of each pair hands its vector to the odd one and sits out; the odd rank continues as
// new rank rank/2. Ranks >= 2*rem continue as rank - rem. The sitting-out ranks receive the
// result from their odd neighbour at the end.
enum class FoldRole { kPlain, kSitOut, kAbsorb };
struct Fold {
  int pof2 = 1;
  int rem = 0;
  FoldRole role = FoldRole::kPlain;
  int partner = -1;  // the other rank of the pair (kSitOut / kAbsorb), else -1
  int newrank = -1;  // rank among the pof2 participants, -1 when sitting out
};
Fold fold(int rank, int size);
// Old rank of participant `newrank` (inverse of Fold::newrank).
int fold_oldrank(int newrank, int size);

// --- recursive doubling / halving -------------------------------------------------------------

// Step k (mask = 2^k) of recursive doubling among pof2 participants: the partner's new rank.
constexpr int doubling_partner(int newrank, int mask) { return newrank ^ mask; }

// Recursive halving of [0, pof2) blocks (mask 1, 2, 4, ...): at each step a participant keeps
// the half of its current block range on its side of bit `mask` and sends the other half to
// newrank ^ mask, whose current range is the same. The recursive-doubling all-gather replays the
// steps in reverse order, sending the kept range and receiving the sent one.
struct HalvingStep {
  int partner;           // new rank of the partner
  int send_lo, send_hi;  // blocks [send_lo, send_hi) leave this rank
  int keep_lo, keep_hi;  // blocks [keep_lo, keep_hi) stay and get reduced
};
std::vector<HalvingStep> halving_schedule(int newrank, int pof2);
// Block a participant owns after the halving (the bit reversal of newrank over lg pof2 bits).
int halving_final_block(int newrank, int pof2);

// --- binomial tree ----------------------------------------------------------------------------
//
// Relative rank v = (rank - root) mod size. Parent of v != 0 is v with its lowest set bit cleared;
// children are v + 2^k for 2^k below v's lowest set bit (every 2^k < size for the root).

int binomial_parent(int rank, int size, int root);  // -1 for the root
// Children in increasing subtree size (reduce order: the smallest subtree finishes first).
std::vector<int> binomial_children(int rank, int size, int root);
// Same, written into out (capacity >= ceil_log2(size)); returns how many. For run()-time use.
int binomial_children(int rank, int size, int root, int* out);

// --- all-to-all -------------------------------------------------------------------------------

// Linear: at position k (0..size-1) send to rank + k and receive from rank - k, so that every
// rank starts with a different peer and no rank is hit by all senders at once.
constexpr int linear_send_peer(int rank, int size, int k) { return mod(rank + k, size); }
constexpr int linear_recv_peer(int rank, int size, int k) { return mod(rank - k, size); }

// Pairwise exchange, step k (1..size-1): for a power of two both directions go to rank XOR k (a
// perfect matching per step); otherwise send to rank + k and receive from rank - k.
int pairwise_send_peer(int rank, int size, int step);
int pairwise_recv_peer(int rank, int size, int step);

// Bruck. Before the rounds each rank rotates its blocks: W[i] = send[(rank + i) mod size]. Round
// k (0..ceil_log2(size)-1) sends every W[i] with bit k of i set to rank + 2^k and replaces them by
// those received from rank - 2^k. Afterwards W[i] is the block from rank - i, so
// recv[j] = W[(rank - j) mod size].
constexpr int bruck_rounds(int size) {
  int k = 0;
  while ((1 << k) < size) ++k;
  return k;
}
constexpr int bruck_send_peer(int rank, int size, int round) {
  return mod(static_cast<long long>(rank) + (1LL << round), size);
}
constexpr int bruck_recv_peer(int rank, int size, int round) {
  return mod(static_cast<long long>(rank) - (1LL << round), size);
}
constexpr bool bruck_moves(int block, int round) { return (block >> round) & 1; }
// Number of blocks in [0, size) with bit `round` set (at most size / 2).
int bruck_blocks_in_round(int size, int round);
constexpr int bruck_rotated_source(int rank, int size, int i) { return mod(rank + i, size); }
constexpr int bruck_final_source(int rank, int size, int j) { return mod(rank - j, size); }

}  // namespace collbench::collectives::patterns
