#pragma once
// A child process for external cost models: `/bin/sh -c CMD` in its own process group with
// pipes on stdin, stdout and stderr, driven with poll() against a deadline. Plain POSIX
// (posix_spawn, poll, waitid): a hang is bounded by the deadline, the whole group is killed
// with SIGKILL, and the leader is always reaped (no zombies). Not thread-safe: one owner.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace flexnas {

class Subprocess {
 public:
  using Clock = std::chrono::steady_clock;
  // Starts the command with the current environment plus `env` ("NAME=value" entries).
  // Throws std::runtime_error when the shell cannot be started.
  Subprocess(const std::string& command, const std::vector<std::string>& env);
  ~Subprocess();  // kills the process group and reaps the leader
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  enum class Io {
    kDone,      // `done(stdout so far)` returned true
    kEof,       // stdout closed, or the leader exited, before `done` was satisfied
    kTimeout,   // the deadline passed
    kOverflow,  // stdout passed kStdoutLimit bytes (a runaway program; kill it)
  };
  // stdout kept at most (an answer is one line of values); stderr keeps its last 8 KiB.
  static constexpr std::size_t kStdoutLimit = 4 << 20;
  // Writes `input` to stdin (closing stdin afterwards when `close_stdin`), reads stdout
  // into out() and stderr into the stderr tail until `done(out())` holds, stdout ends,
  // or the deadline passes. A child that stops reading stdin is not an error here.
  Io exchange(const std::string& input, bool close_stdin,
              const std::function<bool(const std::string&)>& done, Clock::time_point deadline);

  // Waits until the leader exits or the deadline passes; returns false on timeout. After a
  // true return the group is killed (leftover background children) and the leader reaped.
  bool wait(Clock::time_point deadline);
  // SIGKILL to the whole group, then reap the leader. Idempotent.
  void kill();

  bool running();  // the leader has not exited (does not reap)
  std::string& out() { return out_; }
  std::string stderr_tail() const;  // last non-empty stderr line, at most 200 characters
  // "exit status 3", "killed by signal 9 (Killed)"; only after wait() or kill().
  std::string status_text() const;
  bool exited_ok() const;  // reaped with exit status 0
  bool stdout_overflowed() const { return out_overflow_; }
  pid_t pid() const { return pid_; }

 private:
  void close_fd(int& fd);
  void drain();  // reads what is available on stdout and stderr without blocking
  void read_some(int& fd, std::string& into, bool is_stderr);

  pid_t pid_ = -1;
  bool reaped_ = false;
  bool out_overflow_ = false;
  int status_ = 0;
  int in_ = -1, out_fd_ = -1, err_ = -1;
  std::string out_, err_text_;
};

}  // namespace flexnas
