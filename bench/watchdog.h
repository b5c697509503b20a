// Ends a run whose collective does not finish in time, naming where it hung and which ranks
// had not arrived, instead of hanging until the job's wall-clock limit.
//
// Each rank publishes its progress through relaxed atomics (a few ns per iteration, no system
// call). A thread per rank polls them every 50 ms; when a rank's progress has not moved for
// `timeout` seconds while it is measuring, it reports its position to rank 0 over a TCP side
// channel set up at start-up (independent of MPI, which is what is stuck), and rank 0's thread
// acknowledges. Rank 0 collects the reports for a grace period of 0.3 x timeout, names the ranks
// that had not arrived (behind the others, or silent: a stopped or dead process cannot report),
// lets the caller save what was measured, and aborts the job: a hang is reported within
// 1.5 x timeout. When rank 0 itself is frozen or dead, nobody acknowledges; then a deputy (the
// lowest other rank on rank 0's host) names rank 0, lets the caller note the failure in the
// result file (on_orphan), and aborts the job.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "bench/watchdog_report.h"
#include "collectives/progress.h"

namespace collbench::bench {

using collectives::Phase;
using collectives::Progress;

class Watchdog {
 public:
  // Collective over `comm`. timeout_s <= 0 disables the watchdog (no thread, no socket).
  // on_fire runs on rank 0 (in the watchdog thread) with the report, before the abort; on_orphan
  // on the deputy when rank 0 did not answer.
  Watchdog(MPI_Comm comm, double timeout_s, std::function<void(const std::string&)> on_fire,
           std::function<void(const std::string&)> on_orphan = {});
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  Progress& progress() { return progress_; }
  // Names the step being measured ("allreduce ring 1M f32 sum out-of-place"); called outside
  // timed loops. Each call starts a new step (ranks compare step numbers to see who is behind).
  void begin_step(const std::string& description);
  void end_step();  // back to idle: the watchdog does not fire while idle
  // A step that is one collective call made at once: this rank has arrived as it begins (a rank
  // that waits inside it is not behind, even when a peer already left for the next step).
  void begin_call_step(const std::string& description);
  // A set-up step outside the measurement (creating, splitting or closing communicators, an
  // algorithm's prepare): armed like a step, in the set-up phase, so that a rank that does not
  // arrive is named instead of hanging the job. The caller marks its arrival at the step's
  // communication with progress().enter(0); a rank stuck before that is reported as behind.
  void begin_setup(const std::string& description);
  void end_setup();
  // Runs on every rank when the watchdog ends the run, before the job is aborted (bounded to
  // 5 s): a backend aborts its communicators here.
  void set_abort_hook(std::function<void(const std::string&)> hook);
  // From the main thread: a wait passed its deadline. Reports like a timeout and never returns.
  [[noreturn]] void fire_now(const std::string& reason);
  // "" or, when this process was recently stopped (SIGSTOP) or not scheduled for a long time,
  // "frozen for 3.1 s (...)" (for the reason of a signal that ends the run afterwards).
  std::string freeze_note() const;

 private:
  void thread_main();
  RankReport local_report(const std::string& reason = "") const;
  // Sends this rank's report to rank 0; true when rank 0's watchdog acknowledged it.
  bool send_report(const RankReport& report);
  void run_abort_hook();
  [[noreturn]] void collect_and_abort(const std::string& first_reason);
  // After this rank reported: waits for rank 0 to end the job, or, when rank 0 did not
  // acknowledge, names it (the deputy) and ends the job here.
  [[noreturn]] void after_report(bool acked, const std::string& reason);
  std::string frozen_text(double now) const;
  // A watchdog loop (50 ms) late by more than this means the process was frozen.
  double frozen_bound_s() const;

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  double timeout_s_;
  double grace_s_ = 1;  // how long rank 0 collects reports, and others wait for its answer
  std::function<void(const std::string&)> on_fire_;
  std::function<void(const std::string&)> on_orphan_;
  std::function<void(const std::string&)> abort_hook_;
  bool deputy_ = false;
  std::string rank0_host_;
  // When this process last found itself frozen (seconds on the steady clock) and for how long.
  std::atomic<double> frozen_at_{-1};
  std::atomic<double> frozen_for_{0};
  std::atomic<double> last_tick_s_{-1};  // when the watchdog thread last woke (steady clock)
  Progress progress_;
  mutable std::mutex mu_;
  std::string step_description_;
  std::int64_t step_ = 0;
  std::atomic<bool> armed_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> fired_{false};
  int listen_fd_ = -1;
  std::string rank0_addresses_;  // "ip,ip,...:port"
  std::string hostname_;
  std::thread thread_;
};

}  // namespace collbench::bench
