// SIGINT, SIGTERM and SIGHUP end collbench with exit status 128 + the signal's number (130, 143,
// 129), leaving every file it writes whole: the previous version or the new one, never a partial
// or temporary file.
//
// The handler does only async-signal-safe work. While no SignalWatch exists it removes the
// temporary files of writes in flight and exits at once. While one exists (rank 0 of a benchmark
// run), the handler records the signal and wakes the watch's own thread through a pipe; that
// thread runs the watch's action (the result file marked incomplete with the reason, after the
// write in progress, which holds the same lock), then exits. A second signal while that runs
// exits at once, except what a launcher sends within two seconds of the first. While a watch
// exists SIGPIPE is ignored: a launcher ending the job closes the ranks' output before it
// signals them, and the table row printed then must not end rank 0 before the file is marked.
#pragma once

#include <functional>
#include <string>
#include <thread>

namespace collbench::bench {

// Installs the handlers; main() calls it first, and SignalWatch again after MPI_Init (which may
// have installed handlers of its own).
void install_signal_handlers();

// The first signal received, 0 while none.
int pending_signal();
const char* signal_name(int sig);  // "SIGTERM"
constexpr int signal_exit_code(int sig) { return 128 + sig; }

// For error paths that may be the echo of a signal (an MPI call failing because a peer rank
// was terminated): waits up to `seconds` for a signal to this process and, if one comes, lets it
// end the process (never returns then). Returns when none came.
void exit_if_signalled_within(double seconds);

class SignalWatch {
 public:
  // `action` gets "interrupted by SIGTERM" and runs on the watch's thread.
  explicit SignalWatch(std::function<void(const std::string& reason)> action);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  std::function<void(const std::string&)> action_;
  int pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace collbench::bench
