#include "bench/faults.h"

#include <cstdlib>
#include <sstream>

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
    x.rank = std::atoi(item.substr(a + 1, b - a - 1).c_str());
    x.arg = parse_size(item.substr(b + 1), "COLLBENCH_FAULT argument");
    if (x.kind != "stall" && x.kind != "kill" && x.kind != "corrupt" && x.kind != "slow" &&
        x.kind != "stallinit" && x.kind != "stallsplit")
      throw UsageError("COLLBENCH_FAULT kind '" + x.kind +
                       "' is not stall, kill, corrupt, slow, stallinit or stallsplit");
    f.list.push_back(x);
  }
  return f;
}

const Faults::Fault* Faults::find(const std::string& kind, int rank) const {
  for (const auto& x : list)
    if (x.kind == kind && x.rank == rank) return &x;
  return nullptr;
}

}  // namespace collbench::bench
