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
  if (!traits(c).blocks) return elems;
  const std::size_t n = ranks > 0 ? static_cast<std::size_t>(ranks) : 1;
  return elems / n * n;
}

double element_as_double(const void* buf, std::size_t i, DType t) {
  switch (t) {
    case DType::kI8:
      return static_cast<const std::int8_t*>(buf)[i];
    case DType::kU8:
      return static_cast<const std::uint8_t*>(buf)[i];
    case DType::kI32:
      return static_cast<const std::int32_t*>(buf)[i];
    case DType::kU32:
      return static_cast<const std::uint32_t*>(buf)[i];
    case DType::kI64:
      return static_cast<double>(static_cast<const std::int64_t*>(buf)[i]);
    case DType::kU64:
      return static_cast<double>(static_cast<const std::uint64_t*>(buf)[i]);
    case DType::kF16:
      return half_to_float(static_cast<const std::uint16_t*>(buf)[i]);
    case DType::kBF16:
      return bf16_to_float(static_cast<const std::uint16_t*>(buf)[i]);
    case DType::kF32:
      return static_cast<const float*>(buf)[i];
    case DType::kF64:
      return static_cast<const double*>(buf)[i];
    case DType::kF8E4M3:
    case DType::kF8E5M2:
      return fp8_to_float(static_cast<const std::uint8_t*>(buf)[i], t);
  }
  return 0;
}

void store_from_double(void* buf, std::size_t i, DType t, double v) {
  switch (t) {
    case DType::kI8:
      static_cast<std::int8_t*>(buf)[i] = static_cast<std::int8_t>(v);
      return;
    case DType::kU8:
      static_cast<std::uint8_t*>(buf)[i] = static_cast<std::uint8_t>(v);
      return;
    case DType::kI32:
      static_cast<std::int32_t*>(buf)[i] = static_cast<std::int32_t>(v);
      return;
    case DType::kU32:
      static_cast<std::uint32_t*>(buf)[i] = static_cast<std::uint32_t>(v);
      return;
    case DType::kI64:
      static_cast<std::int64_t*>(buf)[i] = static_cast<std::int64_t>(v);
      return;
    case DType::kU64:
      static_cast<std::uint64_t*>(buf)[i] = static_cast<std::uint64_t>(v);
      return;
    case DType::kF16:
      static_cast<std::uint16_t*>(buf)[i] = float_to_half(static_cast<float>(v));
      return;
    case DType::kBF16:
      static_cast<std::uint16_t*>(buf)[i] = float_to_bf16(static_cast<float>(v));
      return;
    case DType::kF32:
      static_cast<float*>(buf)[i] = static_cast<float>(v);
      return;
    case DType::kF64:
      static_cast<double*>(buf)[i] = v;
      return;
    case DType::kF8E4M3:
    case DType::kF8E5M2:
      static_cast<std::uint8_t*>(buf)[i] = float_to_fp8(static_cast<float>(v), t);
      return;
  }
}

void fill_input(void* buf, const CollectiveArgs& a, int rank, int ranks, std::uint64_t seed) {
  const DType t = a.dtype;
  const double limit = dtype_exact_limit(t);
  const Span in = input_span(a.collective, a.count, rank, ranks, a.in_place);
  const std::size_t block = block_count(a.collective, a.count, ranks);
  const auto r = static_cast<std::uint64_t>(rank), p = static_cast<std::uint64_t>(ranks);
  auto store = [&](std::size_t i, double v) { store_from_double(buf, in.offset + i, t, v); };
  switch (a.collective) {
    case Collective::kAllReduce:
    case Collective::kReduceScatter: {
      const auto plan = pattern::make_allreduce_plan(op_index(a.op), p, limit);
      for (std::size_t i = 0; i < in.count; ++i)
        store(i, pattern::allreduce_input(plan, i, r, seed));
      return;
    }
    case Collective::kAllToAll: {
      const auto mod = pattern::alltoall_modulus(limit);
      for (std::size_t j = 0; j < p; ++j)
        for (std::size_t e = 0; e < block; ++e)
          store(j * block + e, pattern::alltoall_value(r, j, p, e, seed, mod));
      return;
    }
    case Collective::kAllGather: {
      const auto mod = pattern::alltoall_modulus(limit);
      for (std::size_t e = 0; e < in.count; ++e)
        store(e, pattern::allgather_value(r, p, e, seed, mod));
      return;
    }
  }
}

void fill_sentinel(void* buf, const CollectiveArgs& a, int rank, int ranks) {
  const Span out = output_span(a.collective, a.count, rank, ranks, a.in_place);
  if (dtype_is_float(a.dtype)) {
    for (std::size_t i = 0; i < out.count; ++i)
      store_from_double(buf, out.offset + i, a.dtype, std::nan(""));
  } else {
    std::memset(static_cast<std::byte*>(buf) + out.offset * dtype_size(a.dtype), 0xA5,
                out.count * dtype_size(a.dtype));
  }
}

CheckResult check_output(const void* buf, const CollectiveArgs& a, int rank, int ranks,
                         std::uint64_t seed) {
  CheckResult res;
  const DType t = a.dtype;
  const double limit = dtype_exact_limit(t);
  const Span out = output_span(a.collective, a.count, rank, ranks, a.in_place);
  const std::size_t block = block_count(a.collective, a.count, ranks);
  const auto r = static_cast<std::uint64_t>(rank), p = static_cast<std::uint64_t>(ranks);
  auto note = [&](std::size_t i, double expected) {
    const double actual = element_as_double(buf, out.offset + i, t);
    // NaN never compares equal, so a sentinel left in place counts as wrong.
    if (actual == expected) return;
    if (res.wrong++ == 0) {
      res.first_wrong = static_cast<std::int64_t>(i);
      res.first_expected = expected;
      res.first_actual = actual;
    }
  };
  switch (a.collective) {
    case Collective::kAllReduce:
    case Collective::kReduceScatter: {
      // Reduce-scatter: rank r's output is block r of the all-reduce of the inputs.
      const std::size_t first = a.collective == Collective::kReduceScatter ? r * block : 0;
      const auto plan = pattern::make_allreduce_plan(op_index(a.op), p, limit);
      for (std::size_t i = 0; i < out.count; ++i)
        note(i, pattern::allreduce_expected(plan, first + i, seed));
      break;
    }
    case Collective::kAllToAll: {
      const auto mod = pattern::alltoall_modulus(limit);
      for (std::size_t j = 0; j < p; ++j)
        for (std::size_t e = 0; e < block; ++e)
          note(j * block + e, pattern::alltoall_value(j, r, p, e, seed, mod));
      break;
    }
    case Collective::kAllGather: {
      const auto mod = pattern::alltoall_modulus(limit);
      for (std::size_t j = 0; j < p; ++j)
        for (std::size_t e = 0; e < block; ++e)
          note(j * block + e, pattern::allgather_value(j, p, e, seed, mod));
      break;
    }
  }
  return res;
}

std::optional<std::size_t> output_element_offset(const CollectiveArgs& a, int rank, int ranks,
                                                 std::size_t index) {
  const Span out = output_span(a.collective, a.count, rank, ranks, a.in_place);
  if (index >= out.count) return std::nullopt;
  return (out.offset + index) * dtype_size(a.dtype);
}

}  // namespace collbench::collectives
