// Ranks as threads over one FakeNccl, with what the runner and the watchdog do around them: each
// rank publishes its step and phase; the first rank whose wait fails ends the run as
// Watchdog::fire_now does, and a rank whose progress stops for the timeout ends it as the
// watchdog thread does. Ending the run takes every live rank's position, names the ranks that had
// not arrived with the watchdog's own message (bench::describe_stuck), aborts every rank's
// communicators from the ending thread (CommSupervisor::request_abort, as the watchdog's abort
// hook does) and gives exit code 3. Wrong elements reported by the ranks give exit code 1.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "collectives/nccl/comm_supervisor.h"
#include "collectives/progress.h"
#include "tests/fake_nccl.h"

namespace collbench::fake {

struct Job;

class RankEnv {
 public:
  RankEnv(Job& job, int rank) : job_(job), rank_(rank) {}
  int rank() const { return rank_; }
  int size() const;
  double timeout_s() const;
  FakeNccl& net();
  // The unique id of the job's first communicator (made before the ranks start).
  const collectives::CommId& id() const;

  // As the runner calls the watchdog: a set-up step (creating, splitting, closing
  // communicators), a measured step, then back to idle.
  void setup(const std::string& what);
  void step(const std::string& what);
  void idle();
  collectives::Progress& progress();
  // The rank's communicators, for the job to abort when it ends the run.
  void watch(std::shared_ptr<collectives::CommSupervisor> sup);
  // Stops until the job is ended: a rank that never arrives (its watchdog still reports).
  void stall();
  bool ended() const;
  // Wrong elements of this rank's check (summed over ranks: exit code 1 when any).
  void wrong(std::uint64_t count, std::int64_t first_index);

 private:
  Job& job_;
  int rank_;
};

struct JobResult {
  int exit_code = 0;
  std::string report;  // the watchdog's message, or the first wrong element
  double seconds = 0;  // from the start to the last rank's return
};

// Runs body on `ranks` threads. A body returns the status of its measurement (failure: it ends
// the run); CommError and RankDied thrown out of it are a failure and a dead rank.
JobResult run_job(FakeNccl& net, int ranks, double timeout_s,
                  const std::function<Status(RankEnv&)>& body);

}  // namespace collbench::fake
