#include "bench/faults.h"

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "bench/sizes.h"
#include "collectives/error.h"

namespace collbench::bench {

Faults Faults::from_env() {
  Faults f;
  const char* env = std::getenv("COLLBENCH_FAULT");
  if (!env || !*env) return f;
  std::istringstream in(env);
  std::string item;
  while (std::getline(in, item, ',')) {
    Fault x;
    const auto a = item.find(':'), b = item.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos)
      throw UsageError("COLLBENCH_FAULT item '" + item + "' is not kind:rank:arg");
    x.kind = item.substr(0, a);
    const std::string rank = item.substr(a + 1, b - a - 1);
    if (rank.empty() || rank.size() > 9 || rank.find_first_not_of("0123456789") != rank.npos)
      throw UsageError("COLLBENCH_FAULT item '" + item + "': rank '" + rank +
                       "' is not a rank number");
    x.rank = std::stoi(rank);
    x.arg = parse_size(item.substr(b + 1), "COLLBENCH_FAULT argument");
    if (x.kind != "stall" && x.kind != "kill" && x.kind != "corrupt" && x.kind != "slow" &&
        x.kind != "stallinit" && x.kind != "stallsplit" && x.kind != "stallset" &&
        x.kind != "stallend")
      throw UsageError(
          "COLLBENCH_FAULT kind '" + x.kind +
          "' is not stall, kill, corrupt, slow, stallinit, stallsplit, stallset or stallend");
    f.list.push_back(x);
  }
  return f;
}

void Faults::check(int world_size, std::size_t max_bytes) const {
  for (const auto& x : list) {
    const std::string item = x.kind + ":" + std::to_string(x.rank) + ":" + std::to_string(x.arg);
    if (x.rank >= world_size)
      throw UsageError("COLLBENCH_FAULT " + item + ": rank " + std::to_string(x.rank) +
                       " does not exist (" + std::to_string(world_size) + " ranks)");
    // stall/kill act at a size, corrupt at an element; slow counts calls and the set-up hooks
    // act before the first group whatever their argument.
    if ((x.kind == "stall" || x.kind == "kill") && x.arg > max_bytes)
      throw UsageError("COLLBENCH_FAULT " + item + ": no size of the sweep reaches " +
                       format_size(x.arg) + " (--max-bytes " + format_size(max_bytes) + ")");
    if (x.kind == "stallend" && x.rank == 0)
      throw UsageError("COLLBENCH_FAULT " + item +
                       ": acts on a rank other than 0 (rank 0 writes the results)");
    if (x.kind == "corrupt" && x.arg >= max_bytes)
      throw UsageError("COLLBENCH_FAULT " + item + ": element " + std::to_string(x.arg) +
                       " is beyond every buffer of the sweep (--max-bytes " +
                       format_size(max_bytes) + ")");
  }
}

void stall_forever() {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

const Faults::Fault* Faults::find(const std::string& kind, int rank) const {
  for (const auto& x : list)
    if (x.kind == kind && x.rank == rank) return &x;
  return nullptr;
}

}  // namespace collbench::bench
