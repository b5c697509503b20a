#include "topology/model/numeric.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace collbench::model {

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
  }
  return m;
}

bool solve_small(std::vector<double> a, std::vector<double> b, int q, std::vector<double>& x) {
  for (int col = 0; col < q; ++col) {
    int piv = col;
    for (int r = col + 1; r < q; ++r)
      if (std::fabs(a[r * q + col]) > std::fabs(a[piv * q + col])) piv = r;
    if (std::fabs(a[piv * q + col]) < 1e-14) return false;
    if (piv != col) {
      for (int c = 0; c < q; ++c) std::swap(a[col * q + c], a[piv * q + c]);
      std::swap(b[col], b[piv]);
    }
    for (int r = col + 1; r < q; ++r) {
      const double f = a[r * q + col] / a[col * q + col];
      for (int c = col; c < q; ++c) a[r * q + c] -= f * a[col * q + c];
      b[r] -= f * b[col];
    }
  }
  x.assign(q, 0);
  for (int r = q - 1; r >= 0; --r) {
    double s = b[r];
    for (int c = r + 1; c < q; ++c) s -= a[r * q + c] * x[c];
    x[r] = s / a[r * q + r];
  }
  return true;
}

void jacobi_eigen(std::vector<double> a, int q, std::vector<double>& values,
                  std::vector<double>& vectors) {
  vectors.assign(q * q, 0);
  for (int i = 0; i < q; ++i) vectors[i * q + i] = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int i = 0; i < q; ++i)
      for (int j = i + 1; j < q; ++j) off += a[i * q + j] * a[i * q + j];
    if (off < 1e-30) break;
    for (int p = 0; p < q; ++p) {
      for (int r = p + 1; r < q; ++r) {
        const double apr = a[p * q + r];
        if (std::fabs(apr) < 1e-300) continue;
        const double theta = (a[r * q + r] - a[p * q + p]) / (2 * apr);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < q; ++k) {
          const double akp = a[k * q + p], akr = a[k * q + r];
          a[k * q + p] = c * akp - s * akr;
          a[k * q + r] = s * akp + c * akr;
        }
        for (int k = 0; k < q; ++k) {
          const double apk = a[p * q + k], ark = a[r * q + k];
          a[p * q + k] = c * apk - s * ark;
          a[r * q + k] = s * apk + c * ark;
        }
        for (int k = 0; k < q; ++k) {
          const double vkp = vectors[k * q + p], vkr = vectors[k * q + r];
          vectors[k * q + p] = c * vkp - s * vkr;
          vectors[k * q + r] = s * vkp + c * vkr;
        }
      }
    }
  }
  values.resize(q);
  for (int i = 0; i < q; ++i) values[i] = a[i * q + i];
}

// The optimum is the unconstrained solution on its support, so trying every support finds it.
std::vector<double> nnls_small(const std::vector<double>& a, const std::vector<double>& y, int m,
                               int q) {
  std::vector<double> best(q, 0);
  double best_res = 0;
  for (int i = 0; i < m; ++i) best_res += y[i] * y[i];
  for (unsigned mask = 1; mask < (1u << q); ++mask) {
    std::vector<int> cols;
    for (int j = 0; j < q; ++j)
      if (mask & (1u << j)) cols.push_back(j);
    const int s = static_cast<int>(cols.size());
    std::vector<double> g(s * s, 0), b(s, 0), x;
    for (int i = 0; i < m; ++i) {
      const double* row = &a[static_cast<std::size_t>(i) * q];
      for (int u = 0; u < s; ++u) {
        b[u] += row[cols[u]] * y[i];
        for (int v = 0; v < s; ++v) g[u * s + v] += row[cols[u]] * row[cols[v]];
      }
    }
    if (!solve_small(g, b, s, x)) continue;
    bool feasible = true;
    for (double v : x) feasible = feasible && v >= 0;
    if (!feasible) continue;
    std::vector<double> full(q, 0);
    for (int u = 0; u < s; ++u) full[cols[u]] = x[u];
    double res = 0;
    for (int i = 0; i < m; ++i) {
      double r = -y[i];
      for (int j = 0; j < q; ++j) r += a[static_cast<std::size_t>(i) * q + j] * full[j];
      res += r * r;
    }
    if (res < best_res * (1 - 1e-12)) {
      best_res = res;
      best = full;
    }
  }
  return best;
}

}  // namespace collbench::model
