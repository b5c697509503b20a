// Owns every NCCL communicator of one rank set on this rank -- the parent and all its splits --
// and the rules that keep a broken communicator from hanging the job:
//   - no call blocks inside NCCL: communicators are non-blocking, and every wait (creation,
//     split, group issue, stream completion, finalize) polls until its deadline;
//   - every poll also reads the asynchronous state of every communicator owned, so an error on
//     any of them (a split's network rail, say) ends whatever wait is running, at once;
//   - on the first error or timeout every communicator is aborted (splits before their parent)
//     and the supervisor stays failed: later calls return that first failure without touching
//     NCCL again;
//   - only close() on the success path finalizes (finalize, poll until quiescent, destroy); a
//     supervisor destroyed without it aborts, since finalizing would wait for peers that may be
//     gone.
// Another thread (the watchdog, ending the run) may ask for the abort at any time.
//
// Written against CommOps only, so the same code runs over NCCL and over the in-process fake.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/error.h"
#include "collectives/nccl/comm_ops.h"

namespace collbench::collectives {

// One point-to-point operation of a group.
struct P2POp {
  bool send = false;
  void* buf = nullptr;
  std::size_t bytes = 0;
  int peer = 0;
};

class CommSupervisor {
 public:
  // timeout_s bounds each set-up step (creation, split, finalize); <= 0: no bound.
  CommSupervisor(CommOps& ops, double timeout_s);
  ~CommSupervisor();
  CommSupervisor(const CommSupervisor&) = delete;
  CommSupervisor& operator=(const CommSupervisor&) = delete;

  CommOps& ops() { return ops_; }
  double timeout_s() const { return timeout_s_; }

  // This rank's part of a new communicator of `nranks` (ncclCommInitRankConfig), waited for.
  // Throws CommError (after aborting everything) on an error or when the peers do not all
  // arrive within the timeout.
  CommHandle init(int nranks, const CommId& id, int rank);
  // Takes over a communicator created elsewhere (tests: one per thread).
  void adopt(CommHandle comm, std::string label);
  // ncclCommSplit of `parent`, waited for; nullptr for color < 0. Throws CommError like init.
  CommHandle split(CommHandle parent, int color, int key);

  // One NCCL call on `comm` (f returns its CommResult), made under the supervisor's lock; when it
  // returns kInProgress, waits until `comm` leaves that state. An error aborts everything, unless
  // `fatal` is false (a query whose failure leaves the communicator as it was).
  template <class F>
  Status call(CommHandle comm, std::string_view what, Deadline deadline, F&& f, bool fatal = true) {
    CommResult r;
    {
      std::unique_lock lock(mu_);
      if (!usable_locked()) return failure_locked();
      r = f();
      if (r.failed()) {
        const std::string why = std::string(what) + " failed: " + r.text;
        if (!fatal) return Status::Failure(why);
        abort_all_locked(why);
        return failure_locked();
      }
    }
    if (r.ok()) return Status::Ok();
    const CommHandle comms[] = {comm};
    return settle(comms, deadline, what);
  }
  // The operations as one group on `comm` (zero-byte ones are skipped on both sides), issued on
  // `stream` and waited for until issued (not until complete).
  Status group(CommHandle comm, std::span<const P2POp> ops, StreamHandle stream, Deadline deadline);

  // Polls `done` (called under the lock: kOk finished, kInProgress not yet, kError failed) and
  // the state of every communicator owned until done finishes, something fails, an abort is
  // requested or the deadline passes. Anything but success aborts everything; the status says
  // what (`what` names the wait).
  using Probe = std::function<CommResult()>;
  Status wait(const Probe& done, Deadline deadline, std::string_view what);

  // The success path for one split (its owner is done with it): finalize, wait, destroy, after
  // any splits of it. A no-op once failed (everything is aborted already).
  Status release(CommHandle comm, Deadline deadline);
  // The success path for everything left, splits first. Afterwards nothing is owned.
  Status close(Deadline deadline);
  // Aborts every communicator owned, splits before their parent; idempotent. The first reason
  // is kept as the failure.
  void abort_all(const std::string& why);
  // From any thread: the next poll aborts everything and fails with `why`. Also aborts at once
  // when the owning thread is not inside an NCCL call (waits up to 2 s for it to leave one).
  void request_abort(const std::string& why) noexcept;

  bool failed() const;
  std::string failure() const;
  std::size_t live() const;  // communicators owned and not yet released

 private:
  struct Owned {
    CommHandle comm = nullptr;
    CommHandle parent = nullptr;
    std::string label;
  };

  bool usable_locked() const { return !failed_ && !abort_requested_.load(); }
  Status failure_locked();
  void abort_all_locked(const std::string& why);
  Status settle(std::span<const CommHandle> comms, Deadline deadline, std::string_view what);
  Status finalize_one(CommHandle comm, Deadline deadline);
  const Owned* find_locked(CommHandle comm) const;
  std::string label_locked(CommHandle comm) const;
  void finish_creation(CommHandle comm, CommHandle also, const std::string& label);

  CommOps& ops_;
  double timeout_s_;
  mutable std::timed_mutex mu_;
  std::vector<Owned> comms_;  // in creation order: a split after its parent
  bool failed_ = false;
  bool timed_out_ = false;
  std::string failure_;
  std::atomic<bool> abort_requested_{false};
  std::mutex reason_mu_;
  std::string abort_reason_;
  int splits_ = 0;
};

}  // namespace collbench::collectives
