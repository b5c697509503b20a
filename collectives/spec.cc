#include "collectives/spec.h"

#include <cmath>
#include <cstring>

#include "collectives/check_pattern.h"

namespace collbench::collectives {
namespace {

int op_index(ReduceOp op) { return static_cast<int>(op); }

}  // namespace

std::size_t count_for_bytes(Collective c, std::size_t bytes, DType t, int ranks) {
  const std::size_t elems = bytes / dtype_size(t);
  if (c == Collective::kAllToAll) {
    const std::size_t n = ranks > 0 ? static_cast<std::size_t>(ranks) : 1;
    return elems / n * n;
  }
  return elems;
}

double busbw_factor(Collective c, int ranks) {
  if (ranks <= 1) return 0.0;
  const double n = ranks;
  return c == Collective::kAllReduce ? 2.0 * (n - 1) / n : (n - 1) / n;
}

double element_as_double(const void* buf, std::size_t i, DType t) {
  switch (t) {
    case DType::kI8: return static_cast<const std::int8_t*>(buf)[i];
    case DType::kU8: return static_cast<const std::uint8_t*>(buf)[i];
    case DType::kI32: return static_cast<const std::int32_t*>(buf)[i];
    case DType::kU32: return static_cast<const std::uint32_t*>(buf)[i];
    case DType::kI64: return static_cast<double>(static_cast<const std::int64_t*>(buf)[i]);
    case DType::kU64: return static_cast<double>(static_cast<const std::uint64_t*>(buf)[i]);
    case DType::kF16: return half_to_float(static_cast<const std::uint16_t*>(buf)[i]);
    case DType::kBF16: return bf16_to_float(static_cast<const std::uint16_t*>(buf)[i]);
    case DType::kF32: return static_cast<const float*>(buf)[i];
    case DType::kF64: return static_cast<const double*>(buf)[i];
    case DType::kF8E4M3:
    case DType::kF8E5M2: return fp8_to_float(static_cast<const std::uint8_t*>(buf)[i], t);
  }
  return 0;
}

void store_from_double(void* buf, std::size_t i, DType t, double v) {
  switch (t) {
    case DType::kI8: static_cast<std::int8_t*>(buf)[i] = static_cast<std::int8_t>(v); return;
    case DType::kU8: static_cast<std::uint8_t*>(buf)[i] = static_cast<std::uint8_t>(v); return;
    case DType::kI32: static_cast<std::int32_t*>(buf)[i] = static_cast<std::int32_t>(v); return;
    case DType::kU32: static_cast<std::uint32_t*>(buf)[i] = static_cast<std::uint32_t>(v); return;
    case DType::kI64: static_cast<std::int64_t*>(buf)[i] = static_cast<std::int64_t>(v); return;
    case DType::kU64: static_cast<std::uint64_t*>(buf)[i] = static_cast<std::uint64_t>(v); return;
    case DType::kF16:
      static_cast<std::uint16_t*>(buf)[i] = float_to_half(static_cast<float>(v));
      return;
    case DType::kBF16:
      static_cast<std::uint16_t*>(buf)[i] = float_to_bf16(static_cast<float>(v));
      return;
    case DType::kF32: static_cast<float*>(buf)[i] = static_cast<float>(v); return;
    case DType::kF64: static_cast<double*>(buf)[i] = v; return;
    case DType::kF8E4M3:
    case DType::kF8E5M2:
      static_cast<std::uint8_t*>(buf)[i] = float_to_fp8(static_cast<float>(v), t);
      return;
  }
}

void fill_input(void* buf, std::size_t count, DType t, ReduceOp op, Collective c, int rank,
                int ranks, std::uint64_t seed) {
  const double limit = dtype_exact_limit(t);
  if (c == Collective::kAllReduce) {
    const auto plan = pattern::make_allreduce_plan(op_index(op), ranks, limit);
    for (std::size_t i = 0; i < count; ++i)
      store_from_double(buf, i, t, pattern::allreduce_input(plan, i, rank, seed));
  } else {
    const std::size_t block = ranks > 0 ? count / ranks : 0;
    const auto mod = pattern::alltoall_modulus(limit);
    for (std::size_t j = 0; j < static_cast<std::size_t>(ranks); ++j)
      for (std::size_t e = 0; e < block; ++e)
        store_from_double(buf, j * block + e, t,
                          pattern::alltoall_value(rank, j, ranks, e, seed, mod));
  }
}

void fill_sentinel(void* buf, std::size_t count, DType t) {
  if (dtype_is_float(t)) {
    for (std::size_t i = 0; i < count; ++i) store_from_double(buf, i, t, std::nan(""));
  } else {
    std::memset(buf, 0xA5, count * dtype_size(t));
  }
}

CheckResult check_output(const void* buf, std::size_t count, DType t, ReduceOp op, Collective c,
                         int rank, int ranks, std::uint64_t seed) {
  CheckResult res;
  const double limit = dtype_exact_limit(t);
  auto note = [&](std::size_t i, double expected, double actual) {
    // NaN never compares equal, so a sentinel left in place counts as wrong.
    if (actual == expected) return;
    if (res.wrong++ == 0) {
      res.first_wrong = static_cast<std::int64_t>(i);
      res.first_expected = expected;
      res.first_actual = actual;
    }
  };
  if (c == Collective::kAllReduce) {
    const auto plan = pattern::make_allreduce_plan(op_index(op), ranks, limit);
    for (std::size_t i = 0; i < count; ++i)
      note(i, pattern::allreduce_expected(plan, i, seed), element_as_double(buf, i, t));
  } else {
    const std::size_t block = ranks > 0 ? count / ranks : 0;
    const auto mod = pattern::alltoall_modulus(limit);
    for (std::size_t j = 0; j < static_cast<std::size_t>(ranks); ++j)
      for (std::size_t e = 0; e < block; ++e)
        note(j * block + e, pattern::alltoall_value(j, rank, ranks, e, seed, mod),
             element_as_double(buf, j * block + e, t));
  }
  return res;
}

}  // namespace collbench::collectives
