#include "collectives/collective.h"

#include <algorithm>
#include <cctype>

namespace collbench::collectives {
namespace {

// clang-format off
constexpr CollectiveTraits kTraits[] = {
    {Collective::kAllReduce, "allreduce", "all-reduce", true, false,
     "bytes of each rank's vector",
     "the one buffer is the input and receives the reduced vector",
     "MPI_Allreduce", "ncclAllReduce"},
    {Collective::kAllToAll, "alltoall", "all-to-all", false, true,
     "total bytes each rank sends (p blocks; OSU and IMB print one block)",
     "the one buffer holds the p blocks to send and receives the p blocks sent to this rank",
     "MPI_Alltoall", "ncclAlltoAll"},
    {Collective::kReduceScatter, "reducescatter", "reduce-scatter", true, true,
     "bytes of each rank's input (p blocks); each rank receives one block",
     "the one buffer is the input; rank r's reduced block lands in block r of it (NCCL's layout)",
     "MPI_Reduce_scatter_block", "ncclReduceScatter"},
    {Collective::kAllGather, "allgather", "all-gather", false, true,
     "bytes of each rank's output (p blocks); each rank contributes one block",
     "the one buffer is the output; rank r's contribution is read from block r of it",
     "MPI_Allgather", "ncclAllGather"},
};
// clang-format on

std::string lower_without_separators(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '-' && c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

const CollectiveTraits& traits(Collective c) {
  for (const auto& t : kTraits)
    if (t.id == c) return t;
  return kTraits[0];  // unreachable: every value has a row (test_collective checks)
}

std::string_view collective_name(Collective c) { return traits(c).name; }

std::optional<Collective> parse_collective(std::string_view s) {
  const std::string key = lower_without_separators(s);
  for (const auto& t : kTraits)
    if (key == t.name) return t.id;
  return std::nullopt;
}

std::string collective_list() {
  std::string out;
  for (const auto& t : kTraits) out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

double busbw_factor(Collective c, long long ranks) {
  if (ranks <= 1) return 0.0;
  const double n = static_cast<double>(ranks);
  switch (c) {
    case Collective::kAllReduce:
      return 2.0 * (n - 1) / n;
    case Collective::kAllToAll:
    case Collective::kReduceScatter:
    case Collective::kAllGather:
      return (n - 1) / n;
  }
  return 0.0;
}

std::size_t block_count(Collective c, std::size_t count, int p) {
  const std::size_t n = p > 0 ? static_cast<std::size_t>(p) : 1;
  switch (c) {
    case Collective::kAllReduce:
      return count;
    case Collective::kAllToAll:
    case Collective::kReduceScatter:
    case Collective::kAllGather:
      return count / n;
  }
  return count;
}

std::size_t send_count(Collective c, std::size_t count, int p) {
  switch (c) {
    case Collective::kAllReduce:
    case Collective::kAllToAll:
    case Collective::kReduceScatter:
      return count;
    case Collective::kAllGather:
      return block_count(c, count, p);
  }
  return count;
}

std::size_t recv_count(Collective c, std::size_t count, int p) {
  switch (c) {
    case Collective::kAllReduce:
    case Collective::kAllToAll:
    case Collective::kAllGather:
      return count;
    case Collective::kReduceScatter:
      return block_count(c, count, p);
  }
  return count;
}

Span input_span(Collective c, std::size_t count, int rank, int p, bool in_place) {
  switch (c) {
    case Collective::kAllReduce:
    case Collective::kAllToAll:
    case Collective::kReduceScatter:
      return {0, count};
    case Collective::kAllGather: {
      const std::size_t b = block_count(c, count, p);
      return {in_place ? static_cast<std::size_t>(rank) * b : 0, b};
    }
  }
  return {0, count};
}

Span output_span(Collective c, std::size_t count, int rank, int p, bool in_place) {
  switch (c) {
    case Collective::kAllReduce:
    case Collective::kAllToAll:
    case Collective::kAllGather:
      return {0, count};
    case Collective::kReduceScatter: {
      const std::size_t b = block_count(c, count, p);
      return {in_place ? static_cast<std::size_t>(rank) * b : 0, b};
    }
  }
  return {0, count};
}

}  // namespace collbench::collectives
