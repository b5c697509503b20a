#include "collectives/algorithm_util.h"

namespace collbench::collectives::algo {

std::optional<std::string> check_common(std::string_view name, Collective want,
                                        const AlgorithmContext& ctx, const CollectiveArgs& args) {
  const std::string who(name);
  if (!ctx.transport) return who + ": no transport given";
  if (args.collective != want)
    return who + " implements " + std::string(collective_name(want)) + ", not " +
           std::string(collective_name(args.collective));
  if (args.count > std::numeric_limits<std::size_t>::max() / dtype_size(args.dtype))
    return who + ": " + std::to_string(args.count) + " elements overflow the byte size";
  if (traits(want).blocks) {
    const auto p = static_cast<std::size_t>(ctx.transport->size());
    if (args.count % p != 0)
      return who + ": " + std::string(traits(want).title) + " count " + std::to_string(args.count) +
             " is not a multiple of the " + std::to_string(p) +
             " ranks (every rank needs a whole block)";
  }
  return std::nullopt;
}

Status check_prepared(std::string_view name, const CollectiveArgs& args, std::size_t prepared_bytes,
                      std::size_t prepared_elem_size, bool prepared) {
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

std::optional<std::string> OwnAlgorithm::supports(const AlgorithmContext& ctx,
                                                  const CollectiveArgs& args) const {
  if (auto why = check_common(name(), collective(), ctx, args)) return why;
  return refuse(ctx, args);
}

void OwnAlgorithm::prepare(const AlgorithmContext& ctx, const CollectiveArgs& max) {
  if (auto why = supports(ctx, max)) throw Error(*why);
  t_ = ctx.transport;
  es_ = dtype_size(max.dtype);
  max_bytes_ = max.bytes();
  setup(ctx, max);
  prepared_ = true;
}

Status OwnAlgorithm::run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) {
  if (Status st = check_prepared(name(), a, max_bytes_, es_, prepared_); !st.ok()) return st;
  if (a.count == 0) return Status::Ok();
  return execute(send, recv, a, deadline);
}

}  // namespace collbench::collectives::algo
