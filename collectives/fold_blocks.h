// Ranges of a block collective (reduce-scatter, all-gather) for the participants of a fold: the
// participant with new rank i stands for the old ranks it represents (two for the odd rank of a
// folded pair, which absorbed its even partner; one otherwise), and those ranks' blocks are
// consecutive, so participant i's range is the blocks [first(i), first(i + 1)).
#pragma once

#include <cstddef>
#include <vector>

#include "collectives/patterns.h"

namespace collbench::collectives::algo {

// First old rank participant i represents (i in [0, pof2]; pof2 gives p).
inline int fold_first_rank(int i, const patterns::Fold& f) { return i < f.rem ? 2 * i : i + f.rem; }

// bounds[i] = fold_first_rank(i) * block elements, i = 0..pof2 (bounds must hold pof2 + 1).
inline void fold_block_bounds(const patterns::Fold& f, std::size_t block,
                              std::vector<std::size_t>& bounds) {
  for (int i = 0; i <= f.pof2; ++i)
    bounds[static_cast<std::size_t>(i)] = static_cast<std::size_t>(fold_first_rank(i, f)) * block;
}

}  // namespace collbench::collectives::algo
