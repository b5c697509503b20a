#include "collectives/nccl/comm_supervisor.h"

#include <algorithm>
#include <thread>

namespace collbench::collectives {
namespace {

using Clock = std::chrono::steady_clock;

// Spins briefly (a small collective finishes within microseconds), then sleeps so that a long
// wait does not take the core that a peer rank on the same node may need.
class Backoff {
 public:
  void pause() {
    using namespace std::chrono_literals;
    if (++polls_ < 1000) {
      std::this_thread::yield();
    } else if (Clock::now() - start_ < 100ms) {
      std::this_thread::sleep_for(20us);
    } else {
      std::this_thread::sleep_for(1ms);
    }
  }

 private:
  int polls_ = 0;
  Clock::time_point start_ = Clock::now();
};

}  // namespace

CommSupervisor::CommSupervisor(CommOps& ops, double timeout_s) : ops_(ops), timeout_s_(timeout_s) {}

CommSupervisor::~CommSupervisor() {
  std::lock_guard lock(mu_);
  if (!comms_.empty()) abort_all_locked("the communicators were not closed");
}

Status CommSupervisor::failure_locked() {
  if (!failed_ && abort_requested_.load()) {
    std::string why;
    {
      std::lock_guard g(reason_mu_);
      why = abort_reason_;
    }
    abort_all_locked(why.empty() ? "the run is being ended" : why);
  }
  return timed_out_ ? Status::Timeout(failure_) : Status::Failure(failure_);
}

void CommSupervisor::abort_all_locked(const std::string& why) {
  if (!failed_) {
    failed_ = true;
    failure_ = why;
  }
  // The reverse of creation order: every split before the communicator it was split from.
  for (auto it = comms_.rbegin(); it != comms_.rend(); ++it) (void)ops_.abort(it->comm);
  comms_.clear();
}

void CommSupervisor::abort_all(const std::string& why) {
  std::lock_guard lock(mu_);
  abort_all_locked(why);
}

void CommSupervisor::request_abort(const std::string& why) noexcept {
  try {
    {
      std::lock_guard g(reason_mu_);
      if (abort_reason_.empty()) abort_reason_ = why;
    }
    abort_requested_.store(true);
    // The owning thread takes the lock only around NCCL calls, never while it sleeps between
    // polls: this succeeds at once unless it is inside a call that does not return.
    if (mu_.try_lock_for(std::chrono::seconds(2))) {
      (void)failure_locked();
      mu_.unlock();
    }
  } catch (...) {
    // Ending the run must not throw; the process exit frees what is left.
  }
}

bool CommSupervisor::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

std::string CommSupervisor::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

std::size_t CommSupervisor::live() const {
  std::lock_guard lock(mu_);
  return comms_.size();
}

const CommSupervisor::Owned* CommSupervisor::find_locked(CommHandle comm) const {
  for (const Owned& o : comms_)
    if (o.comm == comm) return &o;
  return nullptr;
}

std::string CommSupervisor::label_locked(CommHandle comm) const {
  const Owned* o = find_locked(comm);
  return o ? o->label : std::string("a communicator");
}

void CommSupervisor::adopt(CommHandle comm, std::string label) {
  std::lock_guard lock(mu_);
  comms_.push_back({comm, nullptr, std::move(label)});
}

void CommSupervisor::finish_creation(CommHandle comm, CommHandle also, const std::string& what) {
  std::vector<CommHandle> comms;
  if (comm) comms.push_back(comm);
  if (also) comms.push_back(also);
  const Status st = settle(comms, Deadline::In(timeout_s_), what);
  if (!st.ok()) throw CommError(st.message, st.code == StatusCode::kTimeout);
}

CommHandle CommSupervisor::init(int nranks, const CommId& id, int rank) {
  const std::string label = "the communicator of " + std::to_string(nranks) + " ranks";
  CommHandle comm = nullptr;
  {
    std::lock_guard lock(mu_);
    if (!usable_locked()) {
      const Status st = failure_locked();
      throw CommError(st.message, st.code == StatusCode::kTimeout);
    }
    const CommResult r = ops_.init_rank(&comm, nranks, id, rank);
    if (comm) comms_.push_back({comm, nullptr, label});
    if (r.failed()) {
      abort_all_locked("ncclCommInitRank of " + label + " failed: " + r.text);
      throw CommError(failure_, false);
    }
  }
  finish_creation(comm, nullptr, "ncclCommInitRank of " + label);
  return comm;
}

CommHandle CommSupervisor::split(CommHandle parent, int color, int key) {
  CommHandle sub = nullptr;
  std::string label;
  {
    std::lock_guard lock(mu_);
    if (!usable_locked()) {
      const Status st = failure_locked();
      throw CommError(st.message, st.code == StatusCode::kTimeout);
    }
    label = "split " + std::to_string(++splits_) +
            (color < 0 ? std::string(" (no color)") : " (color " + std::to_string(color) + ")") +
            " of " + label_locked(parent);
    const CommResult r = ops_.split(parent, color, key, &sub);
    if (sub) comms_.push_back({sub, parent, label});
    if (r.failed()) {
      abort_all_locked("ncclCommSplit (" + label + ") failed: " + r.text);
      throw CommError(failure_, false);
    }
  }
  // The parent too: a rank that joins no group has only the parent to watch.
  finish_creation(parent, sub, "ncclCommSplit (" + label + ")");
  return sub;
}

Status CommSupervisor::group(CommHandle comm, std::span<const P2POp> ops, StreamHandle stream,
                             Deadline deadline) {
  return call(comm, "ncclGroupEnd of send/recv operations", deadline, [&] {
    const CommResult start = ops_.group_start();
    if (start.failed()) return start;
    CommResult first = CommResult::Ok();
    for (const P2POp& op : ops) {
      if (op.bytes == 0) continue;
      const CommResult r = op.send ? ops_.send(op.buf, op.bytes, op.peer, comm, stream)
                                   : ops_.recv(op.buf, op.bytes, op.peer, comm, stream);
      if (r.failed()) {
        first = r;
        break;
      }
    }
    // Closed in every case, even after a failed call inside the group.
    const CommResult end = ops_.group_end();
    return first.failed() ? first : end;
  });
}

Status CommSupervisor::settle(std::span<const CommHandle> comms, Deadline deadline,
                              std::string_view what) {
  return wait(
      [&]() {
        for (CommHandle c : comms) {
          const CommResult r = ops_.async_state(c);
          if (r.failed()) return CommResult::Error(label_locked(c) + ": " + r.text);
          if (!r.ok()) return r;
        }
        return CommResult::Ok();
      },
      deadline, what);
}

Status CommSupervisor::wait(const Probe& done, Deadline deadline, std::string_view what) {
  Backoff backoff;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (!usable_locked()) return failure_locked();
      const CommResult r = done();
      if (r.failed()) {
        abort_all_locked(std::string(what) + ": " + r.text);
        return failure_locked();
      }
      if (r.ok()) return Status::Ok();
      std::string broken;
      for (const Owned& o : comms_) {
        const CommResult s = ops_.async_state(o.comm);
        if (s.failed()) {
          broken = "NCCL reported an error on " + o.label + " during " + std::string(what) + ": " +
                   s.text;
          break;
        }
      }
      if (!broken.empty()) {
        abort_all_locked(broken);
        return failure_locked();
      }
      if (deadline.expired()) {
        if (!failed_) timed_out_ = true;
        abort_all_locked(std::string(what) +
                         " did not complete before its deadline (--timeout): a peer may not "
                         "have arrived");
        return failure_locked();
      }
    }
    backoff.pause();
  }
}

Status CommSupervisor::release(CommHandle comm, Deadline deadline) {
  std::vector<CommHandle> order;
  {
    std::lock_guard lock(mu_);
    if (failed_) return failure_locked();
    if (!find_locked(comm)) return Status::Ok();
    // The communicator and everything split from it, most recent first (leaves before roots).
    std::vector<CommHandle> family{comm};
    for (const Owned& o : comms_)
      if (std::find(family.begin(), family.end(), o.parent) != family.end())
        family.push_back(o.comm);
    for (auto it = comms_.rbegin(); it != comms_.rend(); ++it)
      if (std::find(family.begin(), family.end(), it->comm) != family.end())
        order.push_back(it->comm);
  }
  for (CommHandle c : order)
    if (Status st = finalize_one(c, deadline); !st.ok()) return st;
  return Status::Ok();
}

Status CommSupervisor::close(Deadline deadline) {
  for (;;) {
    CommHandle c = nullptr;
    {
      std::lock_guard lock(mu_);
      if (!usable_locked()) return failure_locked();
      if (comms_.empty()) return Status::Ok();
      c = comms_.back().comm;  // the newest: never the parent of a communicator still owned
    }
    if (Status st = finalize_one(c, deadline); !st.ok()) return st;
  }
}

Status CommSupervisor::finalize_one(CommHandle comm, Deadline deadline) {
  std::string what;
  {
    std::lock_guard lock(mu_);
    if (!usable_locked()) return failure_locked();
    what = "ncclCommFinalize of " + label_locked(comm);
    const CommResult r = ops_.finalize(comm);
    if (r.failed()) {
      abort_all_locked(what + " failed: " + r.text);
      return failure_locked();
    }
  }
  const CommHandle one[] = {comm};
  if (Status st = settle(one, deadline, what); !st.ok()) return st;
  std::lock_guard lock(mu_);
  if (!usable_locked()) return failure_locked();
  const CommResult r = ops_.destroy(comm);
  comms_.erase(
      std::remove_if(comms_.begin(), comms_.end(), [&](const Owned& o) { return o.comm == comm; }),
      comms_.end());
  if (r.failed()) {
    abort_all_locked("ncclCommDestroy after " + what + " failed: " + r.text);
    return failure_locked();
  }
  return Status::Ok();
}

}  // namespace collbench::collectives
