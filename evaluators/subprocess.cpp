#include "evaluators/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "evaluators/interrupt.hpp"

extern char** environ;

namespace flexnas {
namespace {

constexpr std::size_t kStderrKeep = 8192;

// write() without SIGPIPE killing the process when the child closed its stdin: SIGPIPE is
// blocked in this thread for the call and a pending one is consumed.
ssize_t write_no_sigpipe(int fd, const char* p, std::size_t n) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  const ssize_t r = ::write(fd, p, n);
  const int e = errno;
  if (r < 0 && e == EPIPE) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      const timespec zero{0, 0};
      sigtimedwait(&pipe_set, nullptr, &zero);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = e;
  return r;
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

Subprocess::Subprocess(const std::string& command, const std::vector<std::string>& env) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  // The pipe ends carry O_CLOEXEC, so children of other workers never inherit them (an
  // inherited write end would keep our stdout from ever reaching EOF); dup2 onto 0/1/2
  // clears the flag for this child only.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group (so a timeout kills the shell and everything it started), an empty
  // signal mask and default SIGPIPE whatever this thread has.
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, def;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &def);

  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    const std::string s = *e;
    const auto name = s.substr(0, s.find('='));
    const bool overridden = std::any_of(env.begin(), env.end(), [&](const std::string& x) {
      return x.substr(0, x.find('=')) == name;
    });
    if (!overridden) env_strings.push_back(s);
  }
  for (const auto& s : env) env_strings.push_back(s);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  const int rc = posix_spawn(&pid_, "/bin/sh", &fa, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_ = in[1];
  out_fd_ = out[0];
  err_ = err[0];
  if (rc != 0) {
    pid_ = -1;
    reaped_ = true;
    close_fd(in_);
    close_fd(out_fd_);
    close_fd(err_);
    throw std::runtime_error(std::string("cannot start /bin/sh: ") + std::strerror(rc));
  }
  register_process_group(pid_);
  set_nonblocking(in_);
  set_nonblocking(out_fd_);
  set_nonblocking(err_);
}

Subprocess::~Subprocess() {
  kill();
  close_fd(in_);
  close_fd(out_fd_);
  close_fd(err_);
}

void Subprocess::close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void Subprocess::read_some(int& fd, std::string& into, bool is_stderr) {
  char buf[4096];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r > 0) {
      into.append(buf, static_cast<std::size_t>(r));
      if (is_stderr && into.size() > 2 * kStderrKeep) into.erase(0, into.size() - kStderrKeep);
      if (!is_stderr && into.size() > kStdoutLimit) {
        // A runaway writer: stop reading (it blocks on a full pipe until killed).
        out_overflow_ = true;
        close_fd(fd);
        return;
      }
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    close_fd(fd);  // EOF or error
    return;
  }
}

void Subprocess::drain() {
  if (out_fd_ >= 0) read_some(out_fd_, out_, false);
  if (err_ >= 0) read_some(err_, err_text_, true);
}

bool Subprocess::running() {
  if (reaped_) return false;
  siginfo_t info{};
  info.si_pid = 0;
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
    return false;
  return info.si_pid == 0;
}

Subprocess::Io Subprocess::exchange(const std::string& input, bool close_stdin,
                                    const std::function<bool(const std::string&)>& done,
                                    Clock::time_point deadline) {
  std::size_t written = 0;
  bool writing = in_ >= 0 && !input.empty();
  if (!writing && close_stdin) close_fd(in_);
  for (;;) {
    if (out_overflow_) return Io::kOverflow;
    if (done(out_)) return Io::kDone;
    if (out_fd_ < 0) {
      if (err_ >= 0) read_some(err_, err_text_, true);
      return Io::kEof;
    }
    const auto now = Clock::now();
    if (now >= deadline) return Io::kTimeout;
    pollfd fds[3];
    nfds_t n = 0;
    int out_at = -1, err_at = -1, in_at = -1;
    out_at = static_cast<int>(n);
    fds[n++] = {out_fd_, POLLIN, 0};
    if (err_ >= 0) {
      err_at = static_cast<int>(n);
      fds[n++] = {err_, POLLIN, 0};
    }
    if (writing) {
      in_at = static_cast<int>(n);
      fds[n++] = {in_, POLLOUT, 0};
    }
    // Wake up at least every 100 ms to notice a leader that exited while a background
    // child it left behind still holds stdout open.
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    const int pr = ::poll(fds, n, static_cast<int>(std::min<long long>(left, 100)));
    if (pr < 0 && errno != EINTR) return Io::kEof;
    if (pr <= 0) {
      if (!running()) {
        drain();
        if (out_overflow_) return Io::kOverflow;
        return done(out_) ? Io::kDone : Io::kEof;
      }
      continue;
    }
    if (in_at >= 0 && fds[in_at].revents) {
      const ssize_t w = write_no_sigpipe(in_, input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) {  // EPIPE: the child does not read stdin
        writing = false;
        close_fd(in_);
      }
      if (writing && written == input.size()) {
        writing = false;
        if (close_stdin) close_fd(in_);
      }
    }
    if (err_at >= 0 && fds[err_at].revents) read_some(err_, err_text_, true);
    if (fds[out_at].revents) read_some(out_fd_, out_, false);
  }
}

bool Subprocess::wait(Clock::time_point deadline) {
  // Polls with a backoff from 50 us to 5 ms: a program usually exits right after closing
  // stdout, and a fixed 5 ms step would dominate the cost of a fast one-shot evaluation.
  auto step = std::chrono::microseconds(50);
  while (running()) {
    if (Clock::now() >= deadline) return false;
    drain();
    std::this_thread::sleep_for(step);
    step = std::min<std::chrono::microseconds>(step * 2, std::chrono::milliseconds(5));
  }
  drain();
  kill();  // the leader is a zombie until reaped, so the group id cannot have been reused
  return true;
}

void Subprocess::kill() {
  if (reaped_ || pid_ <= 0) return;
  unregister_process_group(pid_);  // before the reap, while the group id is still ours
  ::kill(-pid_, SIGKILL);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  status_ = st;
  reaped_ = true;
}

bool Subprocess::exited_ok() const {
  return reaped_ && WIFEXITED(status_) && WEXITSTATUS(status_) == 0;
}

std::string Subprocess::status_text() const {
  if (!reaped_) return "still running";
  if (WIFEXITED(status_)) return "exit status " + std::to_string(WEXITSTATUS(status_));
  if (WIFSIGNALED(status_)) {
    const int s = WTERMSIG(status_);
    const char* d = sigdescr_np(s);
    return "killed by signal " + std::to_string(s) +
           (d ? std::string(" (") + d + ")" : std::string());
  }
  return "ended with wait status " + std::to_string(status_);
}

std::string Subprocess::stderr_tail() const {
  std::size_t end = err_text_.size();
  while (end > 0) {
    const auto start = err_text_.rfind('\n', end - 1);
    const std::size_t b = start == std::string::npos ? 0 : start + 1;
    std::string line = err_text_.substr(b, end - b);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (!line.empty()) return line.size() > 200 ? line.substr(0, 200) + "..." : line;
    if (start == std::string::npos) break;
    end = start;
  }
  return "";
}

}  // namespace flexnas
