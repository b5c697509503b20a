#include "collectives/tick_clock.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

namespace collbench::collectives::tick_detail {

bool detect_tsc() {
#if defined(__x86_64__)
  // COLLBENCH_CLOCK=steady forces the portable clock (for comparisons, or a doubtful TSC).
  if (const char* env = std::getenv("COLLBENCH_CLOCK"); env && std::strcmp(env, "steady") == 0)
    return false;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    const auto has = [&](const char* flag) {
      return (" " + line + " ").find(std::string(" ") + flag + " ") != std::string::npos;
    };
    return has("constant_tsc") && has("nonstop_tsc");
  }
#endif
  return false;
}

double calibrate_seconds_per_tick(bool tsc) {
  if (!tsc) return 1e-9;  // steady_clock's nanoseconds
#if defined(__x86_64__)
  // The rate over 20 ms against steady_clock: 1e-4 relative accuracy, once per process.
  using Clock = std::chrono::steady_clock;
  const auto c0 = Clock::now();
  const std::uint64_t t0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto c1 = Clock::now();
  const std::uint64_t t1 = __rdtsc();
  const double secs = std::chrono::duration<double>(c1 - c0).count();
  if (t1 > t0 && secs > 0) return secs / static_cast<double>(t1 - t0);
#endif
  return 1e-9;
}

}  // namespace collbench::collectives::tick_detail
