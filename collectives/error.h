// Errors a user can act on. Setup code throws collbench::Error; hot paths return Status.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace collbench {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Bad user input (flags, files, sizes): the CLI exits with code 2 for these.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
};

// A communicator that could not be created, split or closed: a peer that did not arrive within the
// timeout, or the communication library's error. Thrown during set-up; the run then ends like a
// timeout of a collective (the watchdog names the ranks that had not arrived, exit code 3).
class CommError : public Error {
 public:
  CommError(const std::string& what, bool timed_out) : Error(what), timed_out_(timed_out) {}
  bool timed_out() const { return timed_out_; }

 private:
  bool timed_out_;
};

enum class StatusCode { kOk, kTimeout, kError };

struct Status {
  StatusCode code = StatusCode::kOk;
  std::string message;

  bool ok() const { return code == StatusCode::kOk; }
  static Status Ok() { return {}; }
  static Status Timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status Failure(std::string m) { return {StatusCode::kError, std::move(m)}; }
};

// A point in time after which a wait gives up. Every wait in the project takes one, so a bug
// fails instead of hanging.
struct Deadline {
  std::chrono::steady_clock::time_point at = std::chrono::steady_clock::time_point::max();

  static Deadline Never() { return {}; }
  static Deadline In(double seconds) {
    // Beyond 10^9 s (32 years) is "never": longer would overflow the clock's nanoseconds.
    if (!(seconds > 0) || seconds > 1e9) return Never();
    return {std::chrono::steady_clock::now() +
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::duration<double>(seconds))};
  }
  bool expired() const { return std::chrono::steady_clock::now() >= at; }
};

}  // namespace collbench
