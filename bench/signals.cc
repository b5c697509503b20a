#include "bench/signals.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>

#include "bench/output_file.h"

namespace collbench::bench {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

volatile std::sig_atomic_t g_signal = 0;
std::atomic<int> g_watch_fd{-1};
std::atomic<long long> g_first_ns{0};  // CLOCK_MONOTONIC of the first signal
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<long long>::is_always_lock_free,
              "used inside a signal handler");

long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // async-signal-safe
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

void on_signal(int sig) {
  const int saved_errno = errno;
  const long long now = now_ns();
  long long first = 0;
  if (g_first_ns.compare_exchange_strong(first, now)) {
    g_signal = sig;
    const int fd = g_watch_fd.load();
    if (fd >= 0) {
      const char c = static_cast<char>(sig);
      [[maybe_unused]] const ssize_t n = write(fd, &c, 1);
      errno = saved_errno;
      return;
    }
  } else if (g_watch_fd.load() >= 0 && now - first < 2000000000LL) {
    // Another signal within two seconds: a launcher's (Ctrl-C reaches mpirun and its ranks;
    // mpirun forwards SIGINT, then terminates with SIGTERM), not a user insisting. The watch
    // finishes in milliseconds.
    errno = saved_errno;
    return;
  }
  remove_temp_files_in_flight();
  _exit(signal_exit_code(g_signal ? g_signal : sig));
}

}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int s : kSignals) sigaddset(&sa.sa_mask, s);
  sa.sa_flags = SA_RESTART;
  for (int s : kSignals) sigaction(s, &sa, nullptr);
}

int pending_signal() { return g_signal; }

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "a signal";
  }
}

void exit_if_signalled_within(double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (g_signal != 0) {
      // The handler or the watch's thread ends the process; give it time, then end it here.
      std::this_thread::sleep_for(std::chrono::seconds(10));
      remove_temp_files_in_flight();
      _exit(signal_exit_code(g_signal));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

SignalWatch::SignalWatch(std::function<void(const std::string&)> action)
    : action_(std::move(action)) {
  if (pipe2(pipe_, O_CLOEXEC) != 0) return;  // then signals end the process at once
  thread_ = std::thread([this] {
    char c = 0;
    ssize_t n;
    do {
      n = read(pipe_[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    const int sig = g_signal;
    if (sig == 0) return;  // woken by the destructor
    try {
      action_(std::string("interrupted by ") + signal_name(sig));
    } catch (...) {
    }
    remove_temp_files_in_flight();
    _exit(signal_exit_code(sig));
  });
  install_signal_handlers();
  // A launcher that is ending the job closes the pipes of the ranks' output first: a row printed
  // then would kill this process with SIGPIPE before the watch marks the file. Ignored, the write
  // fails (EPIPE) and the signal that follows decides.
  ::signal(SIGPIPE, SIG_IGN);
  g_watch_fd.store(pipe_[1]);
}

SignalWatch::~SignalWatch() {
  g_watch_fd.store(-1);
  if (thread_.joinable()) {
    if (g_signal == 0) {
      const char c = 0;
      [[maybe_unused]] const ssize_t n = write(pipe_[1], &c, 1);
    }
    thread_.join();
  }
  for (int fd : pipe_)
    if (fd >= 0) close(fd);
}

}  // namespace collbench::bench
