// Where a rank is in a measurement, published for the watchdog (bench/watchdog.h) that names
// stuck ranks: two relaxed stores per collective call, no system call, so the timed loop of any
// backend can afford it.
#pragma once

#include <atomic>
#include <cstdint>

namespace collbench::collectives {

enum class Phase : int {
  kIdle = 0,
  kBarrier = 1,
  kWarmup = 2,
  kTimed = 3,
  kReduceStats = 4,
  kCheck = 5,
  kSetup = 6,      // creating, splitting or closing communicators; an algorithm's prepare
  kCheckCount = 7  // after the check: the wrong elements counted over ranks
};

// What the timed loop touches: two relaxed stores per iteration.
class Progress {
 public:
  void set(Phase phase, std::int64_t iteration) noexcept {
    phase_.store(static_cast<int>(phase), std::memory_order_relaxed);
    iteration_.store(iteration, std::memory_order_relaxed);
    seq_.fetch_add(1, std::memory_order_relaxed);
  }
  // Marks entry into / exit from one collective call (only the sequence number moves).
  void enter(std::int64_t iteration) noexcept {
    iteration_.store(iteration, std::memory_order_relaxed);
    inside_.store(true, std::memory_order_relaxed);
    seq_.fetch_add(1, std::memory_order_relaxed);
  }
  void leave() noexcept {
    inside_.store(false, std::memory_order_relaxed);
    seq_.fetch_add(1, std::memory_order_relaxed);
  }

  std::uint64_t seq() const noexcept { return seq_.load(std::memory_order_relaxed); }
  Phase phase() const noexcept {
    return static_cast<Phase>(phase_.load(std::memory_order_relaxed));
  }
  std::int64_t iteration() const noexcept { return iteration_.load(std::memory_order_relaxed); }
  bool inside() const noexcept { return inside_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> seq_{0};
  std::atomic<int> phase_{0};
  std::atomic<std::int64_t> iteration_{0};
  std::atomic<bool> inside_{false};
};

}  // namespace collbench::collectives
