// The exact check of every collective: element counts from byte sizes, host-side input fill and
// exact output check (check_pattern.h has the values; collective.h which buffer holds what).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "collectives/algorithm.h"
#include "collectives/collective.h"
#include "collectives/dtype.h"

namespace collbench::collectives {

// Elements of a point for a requested size in bytes: bytes / element size, and for collectives
// with blocks the largest multiple of `ranks` elements that fits (every rank a whole block).
std::size_t count_for_bytes(Collective c, std::size_t bytes, DType t, int ranks);

// This rank's input for check round `seed`, written where the algorithm reads it: buf is the
// send buffer out of place and the one buffer in place (collective.h: input_span).
void fill_input(void* buf, const CollectiveArgs& a, int rank, int ranks, std::uint64_t seed);

// The receive buffer's output span filled with a value that no correct result contains in a way
// the check would miss (NaN for floats, 0xA5.. bytes for integers).
void fill_sentinel(void* buf, const CollectiveArgs& a, int rank, int ranks);

struct CheckResult {
  std::uint64_t wrong = 0;
  std::int64_t first_wrong = -1;  // element index, -1 if none
  double first_expected = 0;
  double first_actual = 0;
};

// Every element of this rank's output span of the receive buffer against its exact value;
// first_wrong is an index into the output span.
CheckResult check_output(const void* buf, const CollectiveArgs& a, int rank, int ranks,
                         std::uint64_t seed);

// The element a corrupt fault hook overwrites: output element `index`, as a byte offset into the
// receive buffer; nullopt when the output has fewer elements.
std::optional<std::size_t> output_element_offset(const CollectiveArgs& a, int rank, int ranks,
                                                 std::size_t index);

// Reads element i of a typed buffer as double (for messages and tests).
double element_as_double(const void* buf, std::size_t i, DType t);
void store_from_double(void* buf, std::size_t i, DType t, double v);

}  // namespace collbench::collectives
