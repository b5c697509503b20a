// Small numerical pieces the fit and the calibration share: the median, a dense solve, the
// eigen-decomposition that checks which parameters records determine, and non-negative least
// squares over a handful of parameters.
#pragma once

#include <vector>

namespace collbench::model {

// Median of the values (the mean of the middle two for an even count); 0 for none.
double median_of(std::vector<double> v);

// Dense solve of a small symmetric positive system by Gaussian elimination with pivoting.
// Returns false when singular.
bool solve_small(std::vector<double> a, std::vector<double> b, int q, std::vector<double>& x);

// Eigen-decomposition of a small symmetric matrix (cyclic Jacobi). Eigenvectors in columns.
void jacobi_eigen(std::vector<double> a, int q, std::vector<double>& values,
                  std::vector<double>& vectors);

// Non-negative least squares min ||A x - y||, A row-major (m x q). q is small (<= 7): every
// support is tried and the best feasible one kept.
std::vector<double> nnls_small(const std::vector<double>& a, const std::vector<double>& y, int m,
                               int q);

}  // namespace collbench::model
