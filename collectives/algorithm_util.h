// Small helpers shared by the algorithm files (not part of the public interface).
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "collectives/algorithm.h"

namespace collbench::collectives::algo {

// One tag per algorithm: consecutive collectives of different algorithms on the same transport
// can never match each other's messages.
enum Tag : int {
  kTagRing = 0x100,
  kTagRecursiveDoubling = 0x110,
  kTagRabenseifner = 0x120,
  kTagBinomial = 0x130,
  kTagLinear = 0x140,
  kTagPairwise = 0x150,
  kTagBruck = 0x160,
};

inline std::byte* at(void* base, std::size_t elems, std::size_t elem_size) {
  return static_cast<std::byte*>(base) + elems * elem_size;
}
inline const std::byte* at(const void* base, std::size_t elems, std::size_t elem_size) {
  return static_cast<const std::byte*>(base) + elems * elem_size;
}

// The checks every own algorithm makes before anything else.
inline std::optional<std::string> check_common(std::string_view name, Collective want,
                                               const AlgorithmContext& ctx,
                                               const CollectiveArgs& args) {
  const std::string who(name);
  if (!ctx.transport) return who + ": no transport given";
  if (args.collective != want)
    return who + " implements " + std::string(collective_name(want)) + ", not " +
           std::string(collective_name(args.collective));
  if (args.count > std::numeric_limits<std::size_t>::max() / dtype_size(args.dtype))
    return who + ": " + std::to_string(args.count) + " elements overflow the byte size";
  if (want == Collective::kAllToAll) {
    const auto p = static_cast<std::size_t>(ctx.transport->size());
    if (args.count % p != 0)
      return who + ": all-to-all count " + std::to_string(args.count) +
             " is not a multiple of the " + std::to_string(p) + " ranks";
  }
  return std::nullopt;
}

// run() against what prepare() sized: a larger count or element would overrun the scratch.
inline Status check_prepared(std::string_view name, const CollectiveArgs& args,
                             std::size_t prepared_bytes, std::size_t prepared_elem_size,
                             bool prepared) {
  if (!prepared) return Status::Failure(std::string(name) + ": run() before prepare()");
  if (dtype_size(args.dtype) != prepared_elem_size)
    return Status::Failure(std::string(name) + ": run() with " +
                           std::string(dtype_name(args.dtype)) +
                           " elements, prepared for a different element size");
  if (args.bytes() > prepared_bytes)
    return Status::Failure(std::string(name) + ": run() with " + std::to_string(args.bytes()) +
                           " bytes, prepared for " + std::to_string(prepared_bytes));
  return Status::Ok();
}

}  // namespace collbench::collectives::algo
