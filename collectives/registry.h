// The one table of algorithms. Adding an algorithm: its file, one row in registry.cc, one line
// in collectives/CMakeLists.txt, one row in docs/algorithms.md.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "collectives/algorithm.h"

namespace collbench::collectives {

struct AlgorithmInfo {
  std::string_view name;
  Collective collective;
  std::string_view description;  // one line, for `collbench --list`
  bool native;                   // a library's own collective (MPI_Allreduce, ncclAllReduce ...)
  std::function<std::unique_ptr<Algorithm>()> make;
};

std::span<const AlgorithmInfo> algorithm_registry();
// nullptr when no algorithm of that collective has that name.
const AlgorithmInfo* find_algorithm(Collective c, std::string_view name);

}  // namespace collbench::collectives
