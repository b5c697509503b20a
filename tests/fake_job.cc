#include "tests/fake_job.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "bench/watchdog_report.h"

namespace collbench::fake {

using collectives::CommSupervisor;
using collectives::Phase;
using Clock = std::chrono::steady_clock;

struct RankState {
  collectives::Progress progress;
  std::int64_t step = 0;
  std::string description;
  bool armed = false, dead = false, done = false;
  std::vector<std::shared_ptr<CommSupervisor>> sups;
};

struct Job {
  FakeNccl& net;
  int size;
  double timeout_s;
  collectives::CommId id;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<RankState>> ranks;
  std::atomic<bool> ended{false};
  int exit_code = 0;
  std::string report;
  std::uint64_t wrong = 0;
  std::string first_wrong;
  int first_wrong_rank = 0;
  int done = 0;

  Job(FakeNccl& n, int s, double t) : net(n), size(s), timeout_s(t) {
    for (int r = 0; r < s; ++r) ranks.push_back(std::make_unique<RankState>());
  }

  bench::RankReport report_of(int r, const std::string& reason) {
    const RankState& s = *ranks[static_cast<std::size_t>(r)];
    bench::RankReport rep;
    rep.rank = r;
    rep.step = s.step;
    rep.phase = static_cast<int>(s.progress.phase());
    rep.iteration = s.progress.iteration();
    rep.inside = s.progress.inside() ? 1 : 0;
    rep.host = "fakehost";
    rep.description = s.description;
    rep.reason = reason;
    return rep;
  }

  // Watchdog::fire_now and the watchdog thread, in one: the report, then the aborts.
  void fire(int rank, const std::string& reason) {
    std::vector<std::shared_ptr<CommSupervisor>> sups;
    {
      std::lock_guard lock(mu);
      if (ended.exchange(true)) return;
      std::map<int, bench::RankReport> reports;
      for (int r = 0; r < size; ++r)
        if (!ranks[static_cast<std::size_t>(r)]->dead)
          reports[r] = report_of(r, r == rank ? reason : "");
      const bench::RankReport mine = report_of(rank, reason);
      report = bench::describe_stuck(reason, mine, reports, size);
      exit_code = 3;
      for (auto& s : ranks) sups.insert(sups.end(), s->sups.begin(), s->sups.end());
    }
    for (auto& s : sups) s->request_abort(report);
    cv.notify_all();
  }

  // The watchdog thread: a rank armed in a step whose progress has not moved for the timeout.
  void monitor() {
    std::vector<std::uint64_t> seq(static_cast<std::size_t>(size), 0);
    std::vector<Clock::time_point> changed(static_cast<std::size_t>(size), Clock::now());
    std::unique_lock lock(mu);
    while (done < size && !ended.load()) {
      cv.wait_for(lock, std::chrono::milliseconds(10));
      const auto now = Clock::now();
      for (int r = 0; r < size; ++r) {
        RankState& s = *ranks[static_cast<std::size_t>(r)];
        const std::uint64_t q = s.progress.seq();
        if (q != seq[static_cast<std::size_t>(r)] || !s.armed || s.done || s.dead) {
          seq[static_cast<std::size_t>(r)] = q;
          changed[static_cast<std::size_t>(r)] = now;
          continue;
        }
        if (std::chrono::duration<double>(now - changed[static_cast<std::size_t>(r)]).count() >
            timeout_s) {
          char why[96];
          std::snprintf(why, sizeof why, "no progress for %.1f s on rank %d", timeout_s, r);
          lock.unlock();
          fire(r, why);
          return;
        }
      }
    }
  }
};

int RankEnv::size() const { return job_.size; }
double RankEnv::timeout_s() const { return job_.timeout_s; }
FakeNccl& RankEnv::net() { return job_.net; }
const collectives::CommId& RankEnv::id() const { return job_.id; }

void RankEnv::setup(const std::string& what) {
  step(what);
  progress().set(Phase::kSetup, 0);
  progress().enter(0);  // arrived, as the runner marks it
}

void RankEnv::step(const std::string& what) {
  {
    std::lock_guard lock(job_.mu);
    RankState& s = *job_.ranks[static_cast<std::size_t>(rank_)];
    s.description = what;
    ++s.step;
    s.armed = true;
  }
  progress().set(Phase::kIdle, 0);
}

void RankEnv::idle() {
  std::lock_guard lock(job_.mu);
  RankState& s = *job_.ranks[static_cast<std::size_t>(rank_)];
  s.armed = false;
  s.progress.leave();
  s.progress.set(Phase::kIdle, 0);
}

collectives::Progress& RankEnv::progress() {
  return job_.ranks[static_cast<std::size_t>(rank_)]->progress;
}

void RankEnv::watch(std::shared_ptr<CommSupervisor> sup) {
  bool ended = false;
  {
    std::lock_guard lock(job_.mu);
    job_.ranks[static_cast<std::size_t>(rank_)]->sups.push_back(sup);
    ended = job_.ended.load();
  }
  if (ended) sup->request_abort(job_.report);
}

void RankEnv::stall() {
  std::unique_lock lock(job_.mu);
  job_.cv.wait(lock, [&] { return job_.ended.load(); });
}

bool RankEnv::ended() const { return job_.ended.load(); }

// As the runner names it: the lowest rank with a wrong element.
void RankEnv::wrong(std::uint64_t count, std::int64_t first_index) {
  if (count == 0) return;
  std::lock_guard lock(job_.mu);
  if (job_.wrong == 0 || rank_ < job_.first_wrong_rank) {
    job_.first_wrong_rank = rank_;
    job_.first_wrong = "wrong result: rank " + std::to_string(rank_) + ", first wrong element " +
                       std::to_string(first_index);
  }
  job_.wrong += count;
}

JobResult run_job(FakeNccl& net, int ranks, double timeout_s,
                  const std::function<Status(RankEnv&)>& body) {
  Job job(net, ranks, timeout_s);
  (void)net.comm_ops(-1)->unique_id(&job.id);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&job, &body, r] {
      RankEnv env(job, r);
      Status st;
      bool died = false;
      try {
        st = body(env);
      } catch (const RankDied&) {
        died = true;
      } catch (const CommError& e) {
        st = e.timed_out() ? Status::Timeout(e.what()) : Status::Failure(e.what());
      } catch (const std::exception& e) {
        st = Status::Failure(e.what());
      }
      // As the watchdog reports a rank's own failure: named.
      if (!died && !st.ok())
        job.fire(r, "rank " + std::to_string(r) + " on fakehost: " + st.message);
      std::lock_guard lock(job.mu);
      RankState& s = *job.ranks[static_cast<std::size_t>(r)];
      (died ? s.dead : s.done) = true;
      ++job.done;
      job.cv.notify_all();
    });
  }
  std::thread monitor([&job] { job.monitor(); });
  {
    // Everything must end well within the timeout after the run is ended: a rank still running
    // then is the hang these tests exist to catch, and joining it would hang the test.
    std::unique_lock lock(job.mu);
    const auto limit = std::chrono::duration<double>(4 * timeout_s + 10);
    if (!job.cv.wait_for(lock, limit, [&] { return job.done == ranks; })) {
      std::fprintf(stderr, "FAIL: %d of %d ranks still running %.0f s after the start: a hang\n",
                   ranks - job.done, ranks, limit.count());
      std::_Exit(1);
    }
  }
  for (auto& t : threads) t.join();
  job.cv.notify_all();
  monitor.join();
  JobResult out;
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  out.exit_code = job.exit_code;
  out.report = job.report;
  if (out.exit_code == 0 && job.wrong > 0) {
    out.exit_code = 1;
    out.report = job.first_wrong;
  }
  return out;
}

}  // namespace collbench::fake
