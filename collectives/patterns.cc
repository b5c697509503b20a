#include "collectives/patterns.h"

namespace collbench::collectives::patterns {

int floor_pow2(int n) {
  int p = 1;
  while (p <= n / 2) p *= 2;
  return p;
}

int ceil_log2(int n) {
  int k = 0;
  while ((1LL << k) < n) ++k;
  return k;
}

std::size_t chunk_offset(std::size_t count, int parts, int i) {
  const std::size_t p = static_cast<std::size_t>(parts);
  const std::size_t idx = static_cast<std::size_t>(i);
  const std::size_t base = count / p, extra = count % p;
  return idx * base + (idx < extra ? idx : extra);
}

std::size_t chunk_size(std::size_t count, int parts, int i) {
  const std::size_t p = static_cast<std::size_t>(parts);
  return count / p + (static_cast<std::size_t>(i) < count % p ? 1 : 0);
}

std::size_t max_chunk_size(std::size_t count, int parts) {
  const std::size_t p = static_cast<std::size_t>(parts);
  return count / p + (count % p ? 1 : 0);
}

std::size_t segment_count(std::size_t n, std::size_t seg_elems) {
  if (n == 0 || seg_elems == 0 || seg_elems >= n) return 1;
  return (n + seg_elems - 1) / seg_elems;
}

Fold fold(int rank, int size) {
  Fold f;
  f.pof2 = floor_pow2(size);
  f.rem = size - f.pof2;
  if (rank < 2 * f.rem) {
    if (rank % 2 == 0) {
      f.role = FoldRole::kSitOut;
      f.partner = rank + 1;
      f.newrank = -1;
    } else {
      f.role = FoldRole::kAbsorb;
      f.partner = rank - 1;
      f.newrank = rank / 2;
    }
  } else {
    f.newrank = rank - f.rem;
  }
  return f;
}

int fold_oldrank(int newrank, int size) {
  const int rem = size - floor_pow2(size);
  return newrank < rem ? newrank * 2 + 1 : newrank + rem;
}

std::vector<HalvingStep> halving_schedule(int newrank, int pof2) {
  std::vector<HalvingStep> steps;
  int lo = 0, hi = pof2;
  for (int mask = 1; mask < pof2; mask <<= 1) {
    const int mid = lo + (hi - lo) / 2;
    HalvingStep s;
    s.partner = newrank ^ mask;
    if ((newrank & mask) == 0) {
      s.keep_lo = lo, s.keep_hi = mid, s.send_lo = mid, s.send_hi = hi;
    } else {
      s.keep_lo = mid, s.keep_hi = hi, s.send_lo = lo, s.send_hi = mid;
    }
    steps.push_back(s);
    lo = s.keep_lo;
    hi = s.keep_hi;
  }
  return steps;
}

int halving_final_block(int newrank, int pof2) {
  int block = 0;
  for (int mask = 1, half = pof2 / 2; mask < pof2; mask <<= 1, half /= 2)
    if (newrank & mask) block += half;
  return block;
}

int binomial_parent(int rank, int size, int root) {
  const int v = mod(rank - root, size);
  if (v == 0) return -1;
  return mod((v & (v - 1)) + root, size);
}

int binomial_children(int rank, int size, int root, int* out) {
  const int v = mod(rank - root, size);
  const long long limit = v == 0 ? (1LL << 62) : (v & -v);  // lowest set bit of v
  int n = 0;
  for (long long m = 1; m < limit && v + m < size; m <<= 1) out[n++] = mod(v + m + root, size);
  return n;
}

std::vector<int> binomial_children(int rank, int size, int root) {
  std::vector<int> out(static_cast<std::size_t>(ceil_log2(size) + 1));
  out.resize(static_cast<std::size_t>(binomial_children(rank, size, root, out.data())));
  return out;
}

int pairwise_send_peer(int rank, int size, int step) {
  return is_pow2(size) ? (rank ^ step) : mod(rank + step, size);
}

int pairwise_recv_peer(int rank, int size, int step) {
  return is_pow2(size) ? (rank ^ step) : mod(rank - step, size);
}

int bruck_blocks_in_round(int size, int round) {
  const long long bit = 1LL << round, period = bit * 2;
  const long long full = size / period, rest = size % period;
  return static_cast<int>(full * bit + (rest > bit ? rest - bit : 0));
}

}  // namespace collbench::collectives::patterns
