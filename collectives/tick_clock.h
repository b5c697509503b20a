// The clock of the timed loops: the CPU's time-stamp counter where it is invariant (x86-64 with
// constant_tsc and nonstop_tsc: it ticks at one rate in every power state and on every core),
// converted to seconds with a rate measured against steady_clock; steady_clock elsewhere. A pair
// of counter reads costs a few nanoseconds where a pair of clock_gettime calls through a
// virtual machine's clock costs tens, and that difference is in every per-call sample.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace collbench::collectives {

namespace tick_detail {
bool detect_tsc();
double calibrate_seconds_per_tick(bool tsc);
// Decided once, before main: the timed loops read plain variables.
inline const bool kTsc = detect_tsc();
inline const double kSecondsPerTick = calibrate_seconds_per_tick(kTsc);
}  // namespace tick_detail

class TickClock {
 public:
  using Ticks = std::uint64_t;

  // Ticks now (a compiler barrier on each side keeps the timed call between the two reads).
  static Ticks now() noexcept {
#if defined(__x86_64__)
    if (tsc_usable()) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
      const Ticks t = __rdtsc();
      std::atomic_signal_fence(std::memory_order_seq_cst);
      return t;
    }
#endif
    return static_cast<Ticks>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count());
  }
  static double seconds(Ticks from, Ticks to) noexcept {
    return static_cast<double>(to - from) * seconds_per_tick();
  }
  // The source in use, for the provenance ("tsc" or "steady_clock").
  static const char* source() noexcept { return tsc_usable() ? "tsc" : "steady_clock"; }

  static bool tsc_usable() noexcept { return tick_detail::kTsc; }
  static double seconds_per_tick() noexcept { return tick_detail::kSecondsPerTick; }
};

}  // namespace collbench::collectives
