// The one table of algorithms: every algorithm's identity (shared with the cost model, which
// keys its formulas by the same AlgorithmId), its collective, name and description, and how it is
// made. Adding an algorithm: its file, one value in AlgorithmId, one row in registry.cc, one line
// in collectives/CMakeLists.txt, one row in docs/algorithms.md.
//
// Three kinds:
//   own       collbench's implementation over a Transport (collectives/*.cc), made by the row;
//   native    a library's collective (MPI_Allreduce, ncclAllReduce ...), made by the backend
//             that owns the library (collectives/mpi, collectives/nccl): it needs that backend;
//   modelled  an algorithm the cost model prices but collbench does not run itself (NCCL's
//             double binary tree, in-switch reduction): what native libraries pick at scale.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "collectives/algorithm.h"
#include "collectives/collective.h"

namespace collbench::collectives {

enum class AlgorithmId : int {
  // Native collectives of the MPI library and of NCCL.
  kMpiAllreduce,
  kMpiAlltoall,
  kMpiReduceScatter,
  kMpiAllgather,
  kNcclAllreduce,
  kNcclAlltoall,
  kNcclReduceScatter,
  kNcclAllgather,
  // All-reduce.
  kRingAllreduce,
  kRecursiveDoublingAllreduce,
  kRabenseifnerAllreduce,
  kBinomialAllreduce,
  kHierarchicalAllreduce,
  kHierarchicalLeaderAllreduce,
  kDoubleBinaryTreeAllreduce,  // modelled
  kHierarchical3Allreduce,     // modelled
  kInSwitchAllreduce,          // modelled
  // All-to-all.
  kLinearAlltoall,
  kPairwiseAlltoall,
  kBruckAlltoall,
  kHierarchicalAlltoall,
  // Reduce-scatter.
  kRingReduceScatter,
  kRecursiveHalvingReduceScatter,
  kPairwiseReduceScatter,
  kHierarchicalReduceScatter,
  // All-gather.
  kRingAllgather,
  kRecursiveDoublingAllgather,
  kBruckAllgather,
  kHierarchicalAllgather,
  kCount
};
inline constexpr int kNumAlgorithmIds = static_cast<int>(AlgorithmId::kCount);

enum class AlgorithmKind { kOwn, kNative, kModelled };

struct AlgorithmInfo {
  AlgorithmId id;
  Collective collective;
  std::string_view name;         // unique per collective; what --algo takes
  std::string_view description;  // one line, for `collbench --list`
  AlgorithmKind kind;
  std::string_view backend;  // native: the backend that makes it ("mpi", "nccl"); else ""
  std::unique_ptr<Algorithm> (*make)();  // own: the factory; else nullptr

  bool native() const { return kind == AlgorithmKind::kNative; }
  bool measurable() const { return kind != AlgorithmKind::kModelled; }
};

// Every row, in AlgorithmId order (modelled ones included; `measurable()` filters them).
std::span<const AlgorithmInfo> algorithm_registry();
const AlgorithmInfo& algorithm_info(AlgorithmId id);
// The row of that collective and name, modelled ones included; nullptr when there is none.
const AlgorithmInfo* find_algorithm(Collective c, std::string_view name);
// An own algorithm, ready for prepare(); throws Error for a native or modelled id.
std::unique_ptr<Algorithm> make_own_algorithm(AlgorithmId id);
// Whether this build has the backend a native algorithm needs (nccl only with NCCL).
bool backend_built(std::string_view backend);

}  // namespace collbench::collectives
