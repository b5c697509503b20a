// Input values whose exact collective result is known in closed form, in any reduction order,
// for every dtype: small integers (or powers of two for prod) chosen so that no partial result
// leaves the range the dtype represents exactly. Header-only and free of the standard library so
// that CUDA kernels (fill/check on the device) use the very same formulas.
//
// All-reduce, element i, rank r of p, seed s; h = mix(i, s), owner o = (h >> 7) mod p:
//   sum : v = (h + r) mod m + [r == o] * x, m = floor(E / (p + 1)) (E = exact limit of the
//         dtype), x = (h >> 29) mod m; if m < 2, indicators ((h + r) mod k == 0) plus a 0/1 x.
//   prod: v = 2^([(h + r) mod k == 0] + [r == o] * x), x in {0, 1}: the result is a power of 2.
//   min : the owner holds L = x mod m/2, every other rank a value in (L, m); max mirrored.
// All-to-all: block j sent by rank r, element e: v = mix(r * p + j, e ^ s) mod min(E + 1, 251).
// Reduce-scatter: the all-reduce values; rank r's output is block r of the all-reduce result.
// All-gather: rank r's block is the all-to-all block r sends to itself.
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define CB_HD __host__ __device__ inline
#else
#define CB_HD inline
#endif

namespace collbench::collectives::pattern {

CB_HD std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Parameters of one all-reduce check, fixed per (dtype limit, op, p).
//
// Every element i also has an owner rank o = mix(i, s) mod p that adds an element-specific term,
// so that the result depends on i and on the seed for every p (a pure (h + r) mod m cycle sums
// to a constant when m divides p, and a min or max over a full cycle is constant too).
struct AllReducePlan {
  int op;           // 0 sum, 1 prod, 2 min, 3 max (ReduceOp order)
  std::uint64_t p;  // ranks
  std::uint64_t m;  // modulus of the value cycle (sum/min/max)
  std::uint64_t k;  // indicator period (sum with m < 2, prod)
  bool indicator;   // sum: values are 0/1 indicators
};

CB_HD AllReducePlan make_allreduce_plan(int op, std::uint64_t p, double exact_limit) {
  AllReducePlan plan{op, p ? p : 1, 1, 1, false};
  p = plan.p;
  const std::uint64_t e =
      exact_limit > 1e18 ? 1000000000000000000ull : static_cast<std::uint64_t>(exact_limit);
  if (op == 0) {
    // Sum <= (p + 1)(m - 1) <= e: every rank's cycle value plus the owner's extra term.
    std::uint64_t m = e / (p + 1);
    if (m > 64) m = 64;  // small values keep f32 sums exact at any p
    if (m >= 2) {
      plan.m = m;
    } else {  // count of ones <= ceil(p / k) + 1 <= e
      plan.indicator = true;
      plan.k = (p + e - 2) / (e - 1);
      if (plan.k < 1) plan.k = 1;
    }
  } else if (op == 1) {
    std::uint64_t bits = 0;
    while ((2ull << bits) <= e && bits < 62) ++bits;  // 2^bits <= e
    if (bits < 2) bits = 2;
    plan.k = (p + bits - 2) / (bits - 1);  // factors of two <= ceil(p / k) + 1 <= bits
    if (plan.k == 0) plan.k = 1;
  } else {
    plan.m = e + 1 < 1024 ? e + 1 : 1024;
  }
  return plan;
}

CB_HD std::uint64_t owner_of(std::uint64_t h, std::uint64_t p) { return (h >> 7) % p; }
CB_HD std::uint64_t extra_term(std::uint64_t h, std::uint64_t range) { return (h >> 29) % range; }

CB_HD double allreduce_input(const AllReducePlan& pl, std::uint64_t i, std::uint64_t r,
                             std::uint64_t seed) {
  const std::uint64_t h = mix(i, seed);
  const bool owner = owner_of(h, pl.p) == r;
  if (pl.op == 0) {
    if (pl.indicator)
      return (((h + r) % pl.k == 0) ? 1.0 : 0.0) +
             (owner ? static_cast<double>(extra_term(h, 2)) : 0.0);
    return static_cast<double>((h + r) % pl.m + (owner ? extra_term(h, pl.m) : 0));
  }
  if (pl.op == 1) {
    const int twos =
        ((h + r) % pl.k == 0 ? 1 : 0) + (owner ? static_cast<int>(extra_term(h, 2)) : 0);
    return static_cast<double>(1u << twos);
  }
  // min: the owner holds L, everyone else more; max: the owner holds H, everyone else less.
  const std::uint64_t lo = extra_term(h, pl.m / 2 ? pl.m / 2 : 1);
  if (pl.op == 2) {
    if (owner) return static_cast<double>(lo);
    return static_cast<double>(lo + 1 + (h + r) % (pl.m - 1 - lo));
  }
  const std::uint64_t hi = pl.m - 1 - lo;
  if (owner) return static_cast<double>(hi);
  return static_cast<double>((h + r) % hi);
}

// Number of r in [0, p) with (h + r) mod k == 0.
CB_HD std::uint64_t count_hits(std::uint64_t h, std::uint64_t p, std::uint64_t k) {
  const std::uint64_t r0 = (k - h % k) % k;
  return r0 < p ? (p - 1 - r0) / k + 1 : 0;
}

CB_HD double allreduce_expected(const AllReducePlan& pl, std::uint64_t i, std::uint64_t seed) {
  const std::uint64_t h = mix(i, seed);
  const std::uint64_t p = pl.p;
  if (pl.op == 0) {
    if (pl.indicator) return static_cast<double>(count_hits(h, p, pl.k) + extra_term(h, 2));
    const std::uint64_t m = pl.m, c = h % m, q = p / m, rem = p % m;
    std::uint64_t s = q * (m * (m - 1) / 2);
    if (c + rem <= m) {
      s += rem * c + rem * (rem - 1) / 2;
    } else {
      const std::uint64_t t = m - c;  // c .. m-1, then 0 .. rem-t-1
      s += (c + m - 1) * t / 2 + (rem - t) * (rem - t - 1) / 2;
    }
    return static_cast<double>(s + extra_term(h, m));
  }
  if (pl.op == 1) {
    const std::uint64_t n = count_hits(h, p, pl.k) + extra_term(h, 2);
    return static_cast<double>(1ull << n);
  }
  const std::uint64_t lo = extra_term(h, pl.m / 2 ? pl.m / 2 : 1);
  if (pl.op == 2) return static_cast<double>(lo);
  return static_cast<double>(pl.m - 1 - lo);
}

CB_HD std::uint64_t alltoall_modulus(double exact_limit) {
  return exact_limit + 1 < 251 ? static_cast<std::uint64_t>(exact_limit) + 1 : 251;
}

// Value of element e of the block that rank `from` sends to rank `to`.
CB_HD double alltoall_value(std::uint64_t from, std::uint64_t to, std::uint64_t p, std::uint64_t e,
                            std::uint64_t seed, std::uint64_t modulus) {
  return static_cast<double>(mix(from * p + to, e ^ (seed * 0x100000001B3ull)) % modulus);
}

// Element e of rank `from`'s all-gather contribution (every rank receives it as block `from`).
CB_HD double allgather_value(std::uint64_t from, std::uint64_t p, std::uint64_t e,
                             std::uint64_t seed, std::uint64_t modulus) {
  return alltoall_value(from, from, p, e, seed, modulus);
}

}  // namespace collbench::collectives::pattern
