// Per-collective facts the harness needs: element counts from byte sizes, the bus-bandwidth
// factor, and host-side input fill and exact output check (see check_pattern.h for the values).
#pragma once

#include <cstddef>
#include <cstdint>

#include "collectives/dtype.h"

namespace collbench::collectives {

// Elements in each rank's buffer for a requested size in bytes. All-reduce: bytes / elem.
// All-to-all: the largest multiple of `ranks` elements that fits (every peer gets a whole block).
std::size_t count_for_bytes(Collective c, std::size_t bytes, DType t, int ranks);

// busbw = algbw * factor: 2(n-1)/n for all-reduce, (n-1)/n for all-to-all (nccl-tests'
// convention; 0 for one rank, where no data crosses a link).
double busbw_factor(Collective c, int ranks);

// Fill `count` elements of this rank's input for check round `seed`.
void fill_input(void* buf, std::size_t count, DType t, ReduceOp op, Collective c, int rank,
                int ranks, std::uint64_t seed);

// Fill with a value that no correct result contains in a way the check would miss (NaN for
// floats, 0xA5.. bytes for integers), so that untouched output elements are counted wrong.
void fill_sentinel(void* buf, std::size_t count, DType t);

struct CheckResult {
  std::uint64_t wrong = 0;
  std::int64_t first_wrong = -1;  // element index, -1 if none
  double first_expected = 0;
  double first_actual = 0;
};

CheckResult check_output(const void* buf, std::size_t count, DType t, ReduceOp op, Collective c,
                         int rank, int ranks, std::uint64_t seed);

// Reads element i of a typed buffer as double (for messages and tests).
double element_as_double(const void* buf, std::size_t i, DType t);
void store_from_double(void* buf, std::size_t i, DType t, double v);

}  // namespace collbench::collectives
