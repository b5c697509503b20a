#include "collectives/hierarchical_util.h"

#include "collectives/registry.h"

namespace collbench::collectives::algo {
namespace {

bool is_hierarchical(std::string_view name) { return name.rfind("hierarchical", 0) == 0; }

}  // namespace

std::optional<std::string> check_hierarchical(std::string_view name, const AlgorithmContext& ctx,
                                              bool need_uniform, Collective collective) {
  std::string why;
  const auto map = make_node_map(ctx.node_of_rank, ctx.transport->size(), &why);
  if (!map) return std::string(name) + ": " + why;
  if (need_uniform && map->per_node == 0)
    return std::string(name) + " needs the same number of ranks on every node (ranks per node: " +
           ranks_per_node_list(*map) + ")" +
           (collective == Collective::kAllReduce ? "; use hierarchical_leader" : "");
  const AlgorithmInfo* inner = find_algorithm(collective, ctx.inter_node_algorithm);
  if (!inner || inner->kind != AlgorithmKind::kOwn)
    return std::string(name) + ": '" + ctx.inter_node_algorithm + "' is not one of collbench's " +
           std::string(traits(collective).title) + " algorithms (--inter-node-algo)";
  if (is_hierarchical(inner->name))
    return std::string(name) + ": the inter-node algorithm must be a flat one, not '" +
           ctx.inter_node_algorithm + "'";
  return std::nullopt;
}

std::unique_ptr<Algorithm> prepare_inner(std::string_view outer, const AlgorithmContext& ctx,
                                         Collective collective, Transport* sub, std::size_t count,
                                         const CollectiveArgs& max) {
  const AlgorithmInfo* info = find_algorithm(collective, ctx.inter_node_algorithm);
  auto inner = make_own_algorithm(info->id);
  AlgorithmContext ic;
  ic.transport = sub;
  ic.segment_bytes = ctx.segment_bytes;
  ic.inter_node_algorithm = "ring";
  for (int i = 0; i < sub->size(); ++i) ic.node_of_rank.push_back(i);
  const CollectiveArgs args{collective, count, max.dtype, max.op, true};
  if (auto why = inner->supports(ic, args))
    throw Error(std::string(outer) + ": inter-node algorithm '" + ctx.inter_node_algorithm +
                "' cannot run between nodes: " + *why);
  inner->prepare(ic, args);
  return inner;
}

}  // namespace collbench::collectives::algo
