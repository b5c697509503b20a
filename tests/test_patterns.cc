// The pattern math on its own: every schedule is simulated symbolically (which rank holds which
// contributions of which piece) and checked to deliver exactly what the collective promises.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "collectives/patterns.h"

namespace collbench::collectives::patterns {
namespace {

const int kSizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 31, 32, 33, 64, 100};

TEST(Patterns, PowersOfTwo) {
  EXPECT_EQ(floor_pow2(1), 1);
  EXPECT_EQ(floor_pow2(2), 2);
  EXPECT_EQ(floor_pow2(3), 2);
  EXPECT_EQ(floor_pow2(13), 8);
  EXPECT_EQ(floor_pow2(16), 16);
  EXPECT_EQ(floor_pow2(1 << 30), 1 << 30);
  EXPECT_EQ(ceil_log2(1), 0);
  EXPECT_EQ(ceil_log2(2), 1);
  EXPECT_EQ(ceil_log2(3), 2);
  EXPECT_EQ(ceil_log2(16), 4);
  EXPECT_EQ(ceil_log2(17), 5);
  EXPECT_TRUE(is_pow2(1));
  EXPECT_TRUE(is_pow2(64));
  EXPECT_FALSE(is_pow2(0));
  EXPECT_FALSE(is_pow2(12));
  EXPECT_EQ(mod(-1, 5), 4);
  EXPECT_EQ(mod(-11, 5), 4);
  EXPECT_EQ(mod(7, 5), 2);
}

TEST(Patterns, ChunksPartitionUnevenCounts) {
  for (std::size_t count : {0, 1, 2, 5, 7, 8, 99, 1000, 1001}) {
    for (int parts : kSizes) {
      std::size_t total = 0, smallest = count, largest = 0;
      for (int i = 0; i < parts; ++i) {
        ASSERT_EQ(chunk_offset(count, parts, i), total) << count << "/" << parts << " #" << i;
        const std::size_t s = chunk_size(count, parts, i);
        total += s;
        smallest = std::min(smallest, s);
        largest = std::max(largest, s);
        // Longer pieces come first.
        if (i > 0) {
          ASSERT_LE(s, chunk_size(count, parts, i - 1));
        }
      }
      EXPECT_EQ(total, count);
      EXPECT_EQ(chunk_offset(count, parts, parts), count);
      EXPECT_LE(largest - smallest, 1u);
      EXPECT_EQ(max_chunk_size(count, parts), largest);
    }
  }
  EXPECT_EQ(chunk_size(10, 4, 0), 3u);
  EXPECT_EQ(chunk_size(10, 4, 1), 3u);
  EXPECT_EQ(chunk_size(10, 4, 2), 2u);
  EXPECT_EQ(chunk_offset(10, 4, 3), 8u);
}

TEST(Patterns, Segments) {
  EXPECT_EQ(segment_count(0, 4), 1u);  // one empty message, matched on both sides
  EXPECT_EQ(segment_count(10, 0), 1u);
  EXPECT_EQ(segment_count(10, 10), 1u);
  EXPECT_EQ(segment_count(10, 11), 1u);
  EXPECT_EQ(segment_count(10, 3), 4u);
  EXPECT_EQ(segment_count(12, 3), 4u);
}

// Symbolic ring all-reduce: contrib[rank][chunk] = set of ranks whose input it includes.
TEST(Patterns, RingDeliversEveryContribution) {
  for (int p : kSizes) {
    if (p > 33) continue;  // the symbolic simulation is cubic in p
    std::vector<std::vector<std::set<int>>> have(p, std::vector<std::set<int>>(p));
    for (int r = 0; r < p; ++r)
      for (int c = 0; c < p; ++c) have[r][c] = {r};
    for (int s = 0; s < p - 1; ++s) {
      auto before = have;
      for (int r = 0; r < p; ++r) {
        const int to = ring_next(r, p);
        const int c = ring_rs_send_chunk(r, p, s);
        ASSERT_EQ(ring_rs_recv_chunk(to, p, s), c) << "p=" << p << " step " << s;
        if (s > 0) {  // forwards what it just got
          ASSERT_EQ(c, ring_rs_recv_chunk(r, p, s - 1));
        }
        for (int x : before[r][c]) have[to][c].insert(x);
      }
    }
    for (int r = 0; r < p; ++r)
      ASSERT_EQ(have[r][mod(r + 1, p)].size(), static_cast<std::size_t>(p)) << "p=" << p;
    // All-gather: everyone ends with every fully reduced chunk.
    std::vector<std::set<int>> full(p);
    for (int r = 0; r < p; ++r) full[r] = {mod(r + 1, p)};
    for (int s = 0; s < p - 1; ++s) {
      auto before = full;
      for (int r = 0; r < p; ++r) {
        const int to = ring_next(r, p), c = ring_ag_send_chunk(r, p, s);
        ASSERT_TRUE(before[r].count(c))
            << "p=" << p << " rank " << r << " forwards a chunk it lacks";
        ASSERT_EQ(ring_ag_recv_chunk(to, p, s), c);
        full[to].insert(c);
      }
    }
    for (int r = 0; r < p; ++r) ASSERT_EQ(full[r].size(), static_cast<std::size_t>(p));
    EXPECT_EQ(ring_prev(ring_next(0, p), p), 0);
  }
}

TEST(Patterns, FoldPairsAndRenumbers) {
  for (int p : kSizes) {
    std::set<int> newranks;
    int sitting_out = 0;
    for (int r = 0; r < p; ++r) {
      const Fold f = fold(r, p);
      EXPECT_EQ(f.pof2, floor_pow2(p));
      EXPECT_EQ(f.rem, p - f.pof2);
      if (f.role == FoldRole::kSitOut) {
        ++sitting_out;
        EXPECT_EQ(f.newrank, -1);
        const Fold g = fold(f.partner, p);
        EXPECT_EQ(g.role, FoldRole::kAbsorb);
        EXPECT_EQ(g.partner, r);
      } else {
        ASSERT_GE(f.newrank, 0);
        ASSERT_LT(f.newrank, f.pof2);
        EXPECT_TRUE(newranks.insert(f.newrank).second);
        EXPECT_EQ(fold_oldrank(f.newrank, p), r);
        if (f.role == FoldRole::kPlain) {
          EXPECT_EQ(f.partner, -1);
        }
      }
    }
    EXPECT_EQ(sitting_out, p - floor_pow2(p));
    EXPECT_EQ(newranks.size(), static_cast<std::size_t>(floor_pow2(p)));
  }
}

TEST(Patterns, RecursiveDoublingReachesEveryone) {
  for (int pof2 : {1, 2, 4, 8, 16, 64}) {
    std::vector<std::set<int>> have(pof2);
    for (int i = 0; i < pof2; ++i) have[i] = {i};
    for (int mask = 1; mask < pof2; mask <<= 1) {
      auto before = have;
      for (int i = 0; i < pof2; ++i) {
        const int j = doubling_partner(i, mask);
        ASSERT_EQ(doubling_partner(j, mask), i);
        for (int x : before[j]) have[i].insert(x);
      }
    }
    for (int i = 0; i < pof2; ++i) EXPECT_EQ(have[i].size(), static_cast<std::size_t>(pof2));
  }
}

// Symbolic recursive halving: contributions per (participant, block).
TEST(Patterns, HalvingReduceScatterAndAllgather) {
  for (int pof2 : {1, 2, 4, 8, 16, 32}) {
    std::vector<std::vector<HalvingStep>> sched(pof2);
    for (int i = 0; i < pof2; ++i) {
      sched[i] = halving_schedule(i, pof2);
      ASSERT_EQ(static_cast<int>(sched[i].size()), ceil_log2(pof2));
    }
    std::vector<std::vector<std::set<int>>> have(pof2, std::vector<std::set<int>>(pof2));
    for (int i = 0; i < pof2; ++i)
      for (int b = 0; b < pof2; ++b) have[i][b] = {i};
    const int steps = ceil_log2(pof2);
    for (int k = 0; k < steps; ++k) {
      auto before = have;
      for (int i = 0; i < pof2; ++i) {
        const HalvingStep& s = sched[i][k];
        const HalvingStep& t = sched[s.partner][k];
        ASSERT_EQ(t.partner, i);
        // The partner keeps exactly what this participant sends, and vice versa.
        ASSERT_EQ(s.send_lo, t.keep_lo);
        ASSERT_EQ(s.send_hi, t.keep_hi);
        ASSERT_EQ(s.keep_lo, t.send_lo);
        ASSERT_EQ(s.keep_hi, t.send_hi);
        ASSERT_EQ(s.keep_hi - s.keep_lo, pof2 >> (k + 1));
        for (int b = s.keep_lo; b < s.keep_hi; ++b)
          for (int x : before[s.partner][b]) have[i][b].insert(x);
      }
    }
    std::set<int> finals;
    for (int i = 0; i < pof2; ++i) {
      const int b = halving_final_block(i, pof2);
      if (steps > 0) {
        EXPECT_EQ(sched[i].back().keep_lo, b);
        EXPECT_EQ(sched[i].back().keep_hi, b + 1);
      }
      EXPECT_EQ(have[i][b].size(), static_cast<std::size_t>(pof2)) << "pof2 " << pof2;
      finals.insert(b);
    }
    EXPECT_EQ(finals.size(), static_cast<std::size_t>(pof2));
    // The all-gather replays the steps backwards; each participant must end with every block.
    std::vector<std::set<int>> blocks(pof2);
    for (int i = 0; i < pof2; ++i) blocks[i] = {halving_final_block(i, pof2)};
    for (int k = steps - 1; k >= 0; --k) {
      auto before = blocks;
      for (int i = 0; i < pof2; ++i) {
        const HalvingStep& s = sched[i][k];
        for (int b = s.keep_lo; b < s.keep_hi; ++b) ASSERT_TRUE(before[i].count(b));
        for (int b = s.send_lo; b < s.send_hi; ++b) {
          ASSERT_TRUE(before[s.partner].count(b));
          blocks[i].insert(b);
        }
      }
    }
    for (int i = 0; i < pof2; ++i) EXPECT_EQ(blocks[i].size(), static_cast<std::size_t>(pof2));
  }
  const auto s = halving_schedule(5, 8);  // 101b: upper half, lower quarter, upper eighth
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].partner, 4);
  EXPECT_EQ(s[0].keep_lo, 4);
  EXPECT_EQ(s[1].partner, 7);
  EXPECT_EQ(s[1].keep_lo, 4);
  EXPECT_EQ(s[1].keep_hi, 6);
  EXPECT_EQ(s[2].partner, 1);
  EXPECT_EQ(s[2].keep_lo, 5);
  EXPECT_EQ(halving_final_block(5, 8), 5);
  EXPECT_EQ(halving_final_block(1, 8), 4);
}

TEST(Patterns, BinomialTreeSpansAllRanks) {
  for (int p : kSizes) {
    for (int root : {0, 1, p - 1, p / 2}) {
      if (root < 0 || root >= p) continue;
      int edges = 0, max_depth = 0;
      for (int r = 0; r < p; ++r) {
        const int parent = binomial_parent(r, p, root);
        if (r == root) {
          EXPECT_EQ(parent, -1);
        } else {
          ASSERT_GE(parent, 0);
          const auto siblings = binomial_children(parent, p, root);
          EXPECT_EQ(std::count(siblings.begin(), siblings.end(), r), 1)
              << "p=" << p << " root " << root << " rank " << r;
        }
        const auto kids = binomial_children(r, p, root);
        edges += static_cast<int>(kids.size());
        for (std::size_t i = 0; i < kids.size(); ++i) {
          EXPECT_EQ(binomial_parent(kids[i], p, root), r);
          // Increasing subtree size = increasing distance 2^i.
          EXPECT_EQ(mod(kids[i] - r, p), 1 << i);
        }
        int depth = 0;
        for (int x = r; x != root; x = binomial_parent(x, p, root)) ++depth;
        max_depth = std::max(max_depth, depth);
      }
      EXPECT_EQ(edges, p - 1);
      EXPECT_LE(max_depth, ceil_log2(p));
      EXPECT_EQ(static_cast<int>(binomial_children(root, p, root).size()), ceil_log2(p));
    }
  }
  EXPECT_EQ(binomial_children(4, 13, 0), (std::vector<int>{5, 6}));
  EXPECT_EQ(binomial_children(0, 13, 0), (std::vector<int>{1, 2, 4, 8}));
  EXPECT_EQ(binomial_parent(6, 13, 0), 4);
  EXPECT_EQ(binomial_parent(12, 13, 0), 8);
}

// Each step of a one-to-one all-to-all schedule is a permutation matched by the receivers, and
// over all steps every rank sends to every other rank exactly once.
template <typename SendPeer, typename RecvPeer>
void check_exchange_schedule(int p, int first, int last, SendPeer send_peer, RecvPeer recv_peer) {
  std::vector<std::set<int>> sent(p), got(p);
  for (int k = first; k <= last; ++k) {
    std::set<int> targets;
    for (int r = 0; r < p; ++r) {
      const int to = send_peer(r, p, k);
      ASSERT_GE(to, 0);
      ASSERT_LT(to, p);
      targets.insert(to);
      ASSERT_EQ(recv_peer(to, p, k), r) << "p=" << p << " step " << k;
      EXPECT_TRUE(sent[r].insert(to).second);
      EXPECT_TRUE(got[to].insert(r).second);
    }
    EXPECT_EQ(targets.size(), static_cast<std::size_t>(p));
  }
  for (int r = 0; r < p; ++r) EXPECT_EQ(sent[r].size(), static_cast<std::size_t>(last - first + 1));
}

TEST(Patterns, PairwiseAndLinearSchedules) {
  for (int p : kSizes) {
    check_exchange_schedule(p, 1, p - 1, pairwise_send_peer, pairwise_recv_peer);
    check_exchange_schedule(p, 0, p - 1, linear_send_peer, linear_recv_peer);
    if (is_pow2(p)) {
      for (int k = 1; k < p; ++k)
        for (int r = 0; r < p; ++r) EXPECT_EQ(pairwise_send_peer(r, p, k), r ^ k);
    }
  }
  EXPECT_EQ(pairwise_send_peer(1, 5, 2), 3);  // shifted
  EXPECT_EQ(pairwise_recv_peer(1, 5, 2), 4);
  EXPECT_EQ(linear_send_peer(2, 5, 0), 2);  // position 0 is the rank itself
  // Staggered: at each position every rank targets a different peer.
  for (int k = 0; k < 7; ++k) {
    std::set<int> t;
    for (int r = 0; r < 7; ++r) t.insert(linear_send_peer(r, 7, k));
    EXPECT_EQ(t.size(), 7u);
  }
}

// Symbolic Bruck: W[r][i] holds (source rank, destination rank) of a block.
TEST(Patterns, BruckDeliversEveryBlock) {
  for (int p : kSizes) {
    using Block = std::pair<int, int>;
    std::vector<std::vector<Block>> w(p, std::vector<Block>(p));
    for (int r = 0; r < p; ++r)
      for (int i = 0; i < p; ++i) w[r][i] = {r, bruck_rotated_source(r, p, i)};
    EXPECT_EQ(bruck_rounds(p), ceil_log2(p));
    for (int k = 0; k < bruck_rounds(p); ++k) {
      int moving = 0;
      for (int i = 0; i < p; ++i) moving += bruck_moves(i, k);
      EXPECT_EQ(bruck_blocks_in_round(p, k), moving);
      EXPECT_LE(moving, p / 2);
      auto before = w;
      for (int r = 0; r < p; ++r) {
        const int to = bruck_send_peer(r, p, k);
        ASSERT_EQ(bruck_recv_peer(to, p, k), r);
        for (int i = 0; i < p; ++i)
          if (bruck_moves(i, k)) w[to][i] = before[r][i];
      }
    }
    for (int r = 0; r < p; ++r)
      for (int j = 0; j < p; ++j) {
        const Block b = w[r][bruck_final_source(r, p, j)];
        ASSERT_EQ(b.first, j) << "p=" << p << " rank " << r << " slot " << j;
        ASSERT_EQ(b.second, r);
      }
  }
}

}  // namespace
}  // namespace collbench::collectives::patterns
