// The collectives collbench measures, and one description of each that every layer reads: its
// name, how a size maps to element counts, what in place means, which buffer holds what, and the
// bus-bandwidth factor. Adding a collective: a value here, its row in collective.cc, its check
// pattern (spec.cc, check_pattern.h), its algorithms, a docs row. Every other branch on the
// collective is a `switch`, so the compiler lists the places a new value must be handled.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace collbench::collectives {

enum class Collective { kAllReduce, kAllToAll, kReduceScatter, kAllGather };
inline constexpr std::array<Collective, 4> kAllCollectives = {
    Collective::kAllReduce, Collective::kAllToAll, Collective::kReduceScatter,
    Collective::kAllGather};

// The size convention is nccl-tests' (its doc/PERFORMANCE.md): `bytes` of a measured point is the
// all-reduce vector, the total an all-to-all rank sends, the reduce-scatter input (p blocks) and
// the all-gather output (p blocks). `count` is that size in elements.
struct CollectiveTraits {
  Collective id;
  std::string_view name;          // "allreduce": subcommands, JSON, file names
  std::string_view title;         // "all-reduce": prose
  bool reduces;                   // takes a reduction operator
  bool blocks;                    // count is p blocks of count/p: a multiple of the rank count
  std::string_view size_meaning;  // what `bytes` is, for help and docs
  // What in place means: the single buffer holds the input and the output at these places.
  std::string_view in_place_meaning;
  // The collectives the MPI library and NCCL call it (the native algorithms' names).
  std::string_view mpi_call;
  std::string_view nccl_call;
};

const CollectiveTraits& traits(Collective c);
std::string_view collective_name(Collective c);
// "allreduce", "all-reduce", "all_reduce", "reducescatter", "reduce_scatter", ...
std::optional<Collective> parse_collective(std::string_view s);
std::string collective_list();  // "allreduce, alltoall, reducescatter, allgather"

// busbw = algbw * factor (nccl-tests): 2(n-1)/n for all-reduce, (n-1)/n for the others; 0 for
// one rank, where no data crosses a link. See docs/methodology.md for where it misleads.
double busbw_factor(Collective c, long long ranks);

// Elements of each buffer for a point of `count` elements on p ranks (count a multiple of p where
// the collective has blocks): the send buffer, the receive buffer, and one block.
std::size_t send_count(Collective c, std::size_t count, int p);
std::size_t recv_count(Collective c, std::size_t count, int p);
std::size_t block_count(Collective c, std::size_t count, int p);

// Where a rank's input and output lie, in elements: from the start of the send buffer (out of
// place) or of the one buffer (in place), and from the start of the receive buffer.
struct Span {
  std::size_t offset = 0;
  std::size_t count = 0;
};
Span input_span(Collective c, std::size_t count, int rank, int p, bool in_place);
Span output_span(Collective c, std::size_t count, int rank, int p, bool in_place);

}  // namespace collbench::collectives
