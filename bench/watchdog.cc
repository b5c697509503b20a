#include "bench/watchdog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

#include "bench/watchdog_report.h"
#include "collectives/error.h"

namespace collbench::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> local_ipv4_addresses() {
  std::vector<std::string> out, loop;
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return {"127.0.0.1"};
  for (ifaddrs* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP)) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
    ((i->ifa_flags & IFF_LOOPBACK) ? loop : out).emplace_back(buf);
  }
  freeifaddrs(ifs);
  out.insert(out.end(), loop.begin(), loop.end());
  if (out.empty()) out.emplace_back("127.0.0.1");
  return out;
}

bool connect_with_timeout(int fd, const sockaddr_in& addr, int timeout_ms) {
  const int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno != EINPROGRESS) return false;
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return false;
  }
  fcntl(fd, F_SETFL, flags);
  return true;
}

}  // namespace

Watchdog::Watchdog(MPI_Comm comm, double timeout_s, std::function<void(const std::string&)> on_fire,
                   std::function<void(const std::string&)> on_orphan)
    : comm_(comm),
      timeout_s_(timeout_s),
      on_fire_(std::move(on_fire)),
      on_orphan_(std::move(on_orphan)) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  hostname_ = host;
  if (timeout_s_ <= 0) return;
  // Rank 0 collects for 0.3 x timeout, so that a hang is reported within 1.5 x timeout with room
  // for scheduling delays; at least 0.5 s for the reports to cross a network, at most 10 s.
  grace_s_ = std::clamp(0.3 * timeout_s_, 0.5, 10.0);

  // The deputy for a silent rank 0: the lowest other rank on rank 0's host, which can write
  // where rank 0 writes.
  std::vector<char> names(static_cast<std::size_t>(size_) * 256);
  MPI_Allgather(host, 256, MPI_CHAR, names.data(), 256, MPI_CHAR, comm_);
  rank0_host_ = std::string(names.data());
  for (int r = 1; r < size_; ++r) {
    if (rank0_host_ == std::string(names.data() + static_cast<std::size_t>(r) * 256)) {
      deputy_ = r == rank_;
      break;
    }
  }

  std::string addr;
  if (rank_ == 0) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(listen_fd_, 1024) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::fprintf(stderr,
                   "collbench: warning: watchdog side channel unavailable (%s); a timeout "
                   "will not name the ranks that had not arrived\n",
                   std::strerror(errno));
      if (listen_fd_ >= 0) close(listen_fd_);
      listen_fd_ = -1;
    } else {
      for (const auto& ip : local_ipv4_addresses()) addr += (addr.empty() ? "" : ",") + ip;
      addr += ':';
      addr += std::to_string(ntohs(a.sin_port));
    }
  }
  int n = static_cast<int>(addr.size());
  MPI_Bcast(&n, 1, MPI_INT, 0, comm_);
  addr.resize(static_cast<std::size_t>(n));
  MPI_Bcast(addr.data(), n, MPI_CHAR, 0, comm_);
  rank0_addresses_ = addr;
  thread_ = std::thread([this] { thread_main(); });
}

Watchdog::~Watchdog() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
}

void Watchdog::begin_step(const std::string& description) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    step_description_ = description;
    ++step_;
  }
  progress_.leave();  // not arrived anywhere in the new step yet
  progress_.set(Phase::kIdle, 0);
  armed_.store(true);
}

void Watchdog::begin_call_step(const std::string& description) {
  begin_step(description);
  progress_.enter(0);
}

void Watchdog::end_step() {
  armed_.store(false);
  progress_.set(Phase::kIdle, 0);
}

void Watchdog::begin_setup(const std::string& description) {
  begin_step(description);
  progress_.set(Phase::kSetup, 0);
}

void Watchdog::end_setup() {
  progress_.leave();
  end_step();
}

void Watchdog::set_abort_hook(std::function<void(const std::string&)> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  abort_hook_ = std::move(hook);
}

// On a thread of its own and bounded: a communication library's abort can itself hang, and the
// run must still end.
void Watchdog::run_abort_hook() {
  std::function<void(const std::string&)> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hook = abort_hook_;
  }
  if (!hook) return;
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread([hook, done] {
    hook("the run is being ended by the watchdog");
    done->store(true);
  }).detach();
  for (int i = 0; i < 100 && !done->load(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

RankReport Watchdog::local_report(const std::string& reason) const {
  std::lock_guard<std::mutex> lock(mu_);
  RankReport r;
  r.rank = rank_;
  r.step = step_;
  r.phase = static_cast<int>(progress_.phase());
  r.iteration = progress_.iteration();
  r.inside = progress_.inside() ? 1 : 0;
  r.host = hostname_;
  r.description = step_description_;
  r.reason = reason;
  return r;
}

bool Watchdog::send_report(const RankReport& report) {
  const std::string line = format_report(report);
  const auto colon = rank0_addresses_.rfind(':');
  if (colon == std::string::npos) return false;
  const int port = std::atoi(rank0_addresses_.c_str() + colon + 1);
  std::istringstream ips(rank0_addresses_.substr(0, colon));
  std::string ip;
  const int wait_ms = static_cast<int>(grace_s_ * 1000);
  while (std::getline(ips, ip, ',')) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) == 1 && connect_with_timeout(fd, a, 1000)) {
      // The kernel accepts the connection and the bytes even while rank 0 is stopped; only the
      // answer of rank 0's watchdog thread says that rank 0 is alive.
      const std::string msg = line + "\n";
      ssize_t off = 0;
      while (off < static_cast<ssize_t>(msg.size())) {
        const ssize_t w =
            send(fd, msg.data() + off, msg.size() - static_cast<std::size_t>(off), MSG_NOSIGNAL);
        if (w <= 0) break;
        off += w;
      }
      bool acked = false;
      pollfd p{fd, POLLIN, 0};
      const auto until = Clock::now() + std::chrono::milliseconds(wait_ms);
      while (!acked && Clock::now() < until) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
        if (poll(&p, 1, static_cast<int>(std::max<long long>(1, left.count()))) <= 0) continue;
        char c = 0;
        acked = read(fd, &c, 1) == 1;
        if (!acked) break;  // closed without an answer
      }
      close(fd);
      return acked;
    }
    close(fd);
  }
  return false;
}

void Watchdog::collect_and_abort(const std::string& first_reason) {
  std::map<int, RankReport> reports;
  const RankReport mine = local_report(first_reason);
  reports[mine.rank] = mine;
  std::map<int, std::string> partial;  // fd -> buffered text
  std::vector<int> fds;
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(grace_s_));
  while (static_cast<int>(reports.size()) < size_ && Clock::now() < until && listen_fd_ >= 0) {
    std::vector<pollfd> p{{listen_fd_, POLLIN, 0}};
    for (int fd : fds) p.push_back({fd, POLLIN, 0});
    if (poll(p.data(), p.size(), 50) <= 0) continue;
    if (p[0].revents & POLLIN) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) fds.push_back(fd);
    }
    for (std::size_t i = 1; i < p.size(); ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[4096];
      const ssize_t n = read(p[i].fd, buf, sizeof buf);
      if (n > 0) partial[p[i].fd].append(buf, static_cast<std::size_t>(n));
      const std::string& text = partial[p[i].fd];
      const bool line = text.find('\n') != std::string::npos;
      if (n > 0 && !line) continue;
      RankReport r;
      if (line && parse_report(text.substr(0, text.find('\n')), r) && r.rank >= 0 &&
          r.rank < size_) {
        reports[r.rank] = r;
        // The answer; MSG_NOSIGNAL: the rank may have given up and closed (no SIGPIPE).
        [[maybe_unused]] const ssize_t w = send(p[i].fd, "k", 1, MSG_NOSIGNAL);
      }
      partial.erase(p[i].fd);  // the next connection may get the same descriptor
      close(p[i].fd);
      fds.erase(std::find(fds.begin(), fds.end(), p[i].fd));
      break;  // fds changed: rebuild the poll set
    }
  }
  for (int fd : fds) close(fd);

  // A rank 0 that was frozen is the one that did not arrive, wherever its counters stand.
  const std::string text =
      describe_stuck(first_reason, mine, reports, size_, grace_s_, freeze_note());
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
  if (on_fire_) on_fire_(text);
  run_abort_hook();
  MPI_Abort(MPI_COMM_WORLD, 3);
  _exit(3);
}

namespace {
double now_s() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

std::string frozen_for_text(double seconds) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "frozen for %.1f s (stopped, e.g. SIGSTOP, or not scheduled), so it could not "
                "answer",
                seconds);
  return buf;
}
}  // namespace

double Watchdog::frozen_bound_s() const { return std::max(1.0, timeout_s_ / 2); }

std::string Watchdog::frozen_text(double now) const {
  const double at = frozen_at_.load();
  if (at >= 0 && now - at <= 2 * timeout_s_ + 10) return frozen_for_text(frozen_for_.load());
  // Continued (SIGCONT) and at once signalled again (the launcher's SIGTERM): the watchdog thread
  // may not have run since (or the main thread, whose wait passed its deadline as it resumed,
  // stopped it), but its last tick, as late as the freeze was long, says the same. A thread
  // stopped by a timeout ticks no more either, but rank 0 then writes the timeout within the
  // grace period, shorter than the bound, and the first failure written wins.
  const double tick = last_tick_s_.load();
  if (tick >= 0 && now - tick > frozen_bound_s()) return frozen_for_text(now - tick);
  return "";
}

std::string Watchdog::freeze_note() const { return frozen_text(now_s()); }

void Watchdog::after_report(bool acked, const std::string& reason) {
  if (acked) {
    // Rank 0 aborts the job; if it cannot (it died after answering), end it from here.
    for (int i = 0; i < 100 * (grace_s_ + 30) && !stop_.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    MPI_Abort(MPI_COMM_WORLD, 3);
    _exit(3);
  }
  if (deputy_) {
    const RankReport mine = local_report();
    char text[1024];
    std::snprintf(
        text, sizeof text,
        "collbench: timeout: %s; stuck in %s. Ranks that had not arrived: 0 (rank 0 on "
        "%s: did not answer within %.1f s: stopped, dead or unreachable). Rank %d "
        "waiting in the collective.",
        reason.c_str(),
        mine.description.empty() ? "set-up, before the first step" : mine.description.c_str(),
        rank0_host_.c_str(), grace_s_, rank_);
    std::fprintf(stderr, "%s\n", text);
    std::fflush(stderr);
    if (on_orphan_) on_orphan_(text);
    MPI_Abort(MPI_COMM_WORLD, 3);
    _exit(3);
  }
  // Give the deputy time to speak first; then end the job from here.
  std::this_thread::sleep_for(std::chrono::duration<double>(2 * grace_s_ + 2));
  MPI_Abort(MPI_COMM_WORLD, 3);
  _exit(3);
}

void Watchdog::fire_now(const std::string& reason) {
  if (timeout_s_ <= 0) {
    std::fprintf(stderr, "collbench: rank %d: %s\n", rank_, reason.c_str());
    if (on_fire_ && rank_ == 0) on_fire_(reason);
    run_abort_hook();
    MPI_Abort(MPI_COMM_WORLD, 3);
    _exit(3);
  }
  if (rank_ == 0) {
    if (!fired_.exchange(true)) {
      stop_.store(true);
      if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
      // Named like the reasons other ranks send (describe_stuck leads with those).
      collect_and_abort("rank 0 on " + hostname_ + ": " + reason);
    }
  } else if (!fired_.exchange(true)) {
    // The reason travels with the report; printed here only when rank 0 cannot be reached (and
    // this rank is not the deputy, which names rank 0 itself).
    const bool acked = send_report(local_report(reason));
    if (!acked && !deputy_)
      std::fprintf(stderr, "collbench: rank %d on %s: %s\n", rank_, hostname_.c_str(),
                   reason.c_str());
    run_abort_hook();
    after_report(acked, reason);
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(timeout_s_ + 15));
  MPI_Abort(MPI_COMM_WORLD, 3);
  _exit(3);
}

void Watchdog::thread_main() {
  std::uint64_t last_seq = progress_.seq();
  auto last_change = Clock::now();
  auto last_tick = last_change;
  const auto timeout = std::chrono::duration<double>(timeout_s_);
  // A loop of 50 ms that took this long means the whole process was stopped (SIGSTOP) or not
  // scheduled: its own progress did not move for a reason that is not a hang of the collective.
  const auto frozen = std::chrono::duration<double>(frozen_bound_s());
  while (!stop_.load()) {
    last_tick_s_.store(now_s());
    bool incoming = false;
    if (rank_ == 0 && listen_fd_ >= 0) {
      pollfd p{listen_fd_, POLLIN, 0};
      incoming = poll(&p, 1, 50) > 0 && (p.revents & POLLIN);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const std::uint64_t seq = progress_.seq();
    const auto now = Clock::now();
    if (now - last_tick > frozen) {
      frozen_for_.store(std::chrono::duration<double>(now - last_tick).count());
      frozen_at_.store(std::chrono::duration<double>(now.time_since_epoch()).count());
      last_change = now;  // the main thread gets a full timeout after the freeze
    }
    last_tick = now;
    if (seq != last_seq || !armed_.load()) {
      last_seq = seq;
      last_change = now;
    }
    const bool stale = armed_.load() && now - last_change > timeout;
    if (!stale && !incoming) continue;
    if (fired_.exchange(true)) return;
    char reason[160];
    std::snprintf(reason, sizeof reason, "no progress for %.1f s on rank %d", timeout_s_, rank_);
    if (rank_ == 0) {
      // Woken by another rank's report: describe_stuck leads with the reason it carries.
      collect_and_abort(stale ? reason : "");
    }
    const bool acked = send_report(local_report());  // a position, not a failure of its own
    run_abort_hook();
    after_report(acked, reason);
  }
}

}  // namespace collbench::bench
