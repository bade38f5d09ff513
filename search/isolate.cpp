#include "search/isolate.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "evaluators/interrupt.hpp"

namespace flexnas {
namespace {

using Clock = std::chrono::steady_clock;

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t w = ::write(fd, s.data() + done, s.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    done += static_cast<std::size_t>(w);
  }
}

// Reads what is available without blocking; returns false at EOF or error.
bool read_some(int fd, std::string& into, std::size_t keep) {
  char buf[4096];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r > 0) {
      into.append(buf, static_cast<std::size_t>(r));
      if (keep && into.size() > 2 * keep) into.erase(0, into.size() - keep);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

// The last non-empty line, cut to `max` characters (0: whole).
std::string tail_line(const std::string& text, std::size_t max) {
  std::size_t end = text.size();
  while (end > 0) {
    const auto nl = text.rfind('\n', end - 1);
    const std::size_t b = nl == std::string::npos ? 0 : nl + 1;
    std::string line = text.substr(b, end - b);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) return max && line.size() > max ? line.substr(0, max) + "..." : line;
    if (nl == std::string::npos) break;
    end = nl;
  }
  return "";
}

std::string signal_text(int s) {
  const char* abbrev = sigabbrev_np(s);
  const char* descr = sigdescr_np(s);
  std::string t = abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(s);
  if (descr) t += std::string(" (") + descr + ")";
  return t;
}

EvalResult failed(std::string why) {
  return {EvalStatus::kFailed, {}, std::move(why)};
}

[[noreturn]] void child_main(const std::function<EvalResult()>& fn, const IsolateOptions& opt,
                             int out_fd, int err_fd) {
  // stdout is the result channel (the last line is the answer; lines an evaluator prints
  // before it are ignored), stderr goes to the parent for the failure reason.
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  ::setpgid(0, 0);  // a timeout kills whatever the evaluation started, too
  sigset_t none;    // SIGINT and SIGTERM are blocked in a search's threads: not here
  sigemptyset(&none);
  ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
  if (opt.memory_mb > 0) {
    // On top of what the child already maps (the driver's libraries, heap, thread stacks).
    rlim_t base = 0;
    const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[64] = {};
      if (::read(fd, buf, sizeof buf - 1) > 0)
        base = static_cast<rlim_t>(std::strtoull(buf, nullptr, 10)) *
               static_cast<rlim_t>(::sysconf(_SC_PAGESIZE));
      ::close(fd);
    }
    const rlim_t bytes = base + static_cast<rlim_t>(opt.memory_mb) * 1024 * 1024;
    rlimit lim{bytes, bytes};
    ::setrlimit(RLIMIT_AS, &lim);
  }
  EvalResult r;
  try {
    r = fn();
  } catch (const std::bad_alloc&) {
    r = failed("out of memory (std::bad_alloc" +
               (opt.memory_mb ? ", limit " + std::to_string(opt.memory_mb) + " MB)" : ")"));
  } catch (const std::exception& e) {
    r = failed(std::string("exception: ") + e.what());
  } catch (...) {
    r = failed("unknown exception");
  }
  try {
    std::fflush(stdout);
    write_all(1, "\n" + eval_result_to_json(r) + "\n");
  } catch (...) {
    ::_exit(3);
  }
  ::_exit(0);
}

}  // namespace

std::string eval_result_to_json(const EvalResult& r) {
  nlohmann::json j;
  j["ok"] = r.status == EvalStatus::kOk;
  j["message"] = r.message;
  nlohmann::json v = nlohmann::json::object();
  for (const auto& [k, x] : r.values) {
    if (std::isfinite(x))
      v[k] = x;
    else
      v[k] = std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
  }
  j["values"] = v;
  return j.dump();
}

EvalResult eval_result_from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception&) {
    throw std::runtime_error("not JSON");
  }
  if (!j.is_object() || !j.contains("ok") || !j["ok"].is_boolean() || !j.contains("values") ||
      !j["values"].is_object())
    throw std::runtime_error("not a result object");
  EvalResult r;
  r.status = j["ok"].get<bool>() ? EvalStatus::kOk : EvalStatus::kFailed;
  if (j.contains("message") && j["message"].is_string()) r.message = j["message"];
  for (const auto& [k, x] : j["values"].items()) {
    if (x.is_number()) {
      r.values[k] = x.get<double>();
    } else if (x.is_string() && (x == "nan" || x == "inf" || x == "-inf")) {
      const std::string s = x;
      r.values[k] = s == "nan" ? NAN : (s == "inf" ? INFINITY : -INFINITY);
    } else {
      throw std::runtime_error("value '" + k + "' is not a number");
    }
  }
  return r;
}

EvalResult run_isolated(const std::function<EvalResult()>& fn, const IsolateOptions& opt) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return failed(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]), ::close(out[1]);
    return failed(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    ::close(err[0]);
    child_main(fn, opt, out[1], err[1]);
  }
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    ::close(out[0]), ::close(err[0]);
    return failed(std::string("fork: ") + std::strerror(errno));
  }
  ::setpgid(pid, pid);  // also from here, so the group exists before any kill
  register_process_group(pid);
  ::fcntl(out[0], F_SETFL, ::fcntl(out[0], F_GETFL) | O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, ::fcntl(err[0], F_GETFL) | O_NONBLOCK);

  // Other workers' children may have inherited our write ends (fork copies every fd), so EOF
  // is not a reliable end signal: read until the child itself has exited, then drain.
  const bool has_deadline = opt.timeout_seconds > 0;
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(has_deadline ? opt.timeout_seconds : 0));
  std::string answer, errtext;
  bool timed_out = false;
  int status = 0;
  int step_ms = 1;
  for (;;) {
    // WNOWAIT: the child stays a zombie, so its group id cannot be reused before the kill
    // below takes down whatever it left behind.
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (info.si_pid == pid) break;
    const auto now = Clock::now();
    if (has_deadline && now >= deadline) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int wait_ms = step_ms;
    if (has_deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      wait_ms = static_cast<int>(std::min<long long>(wait_ms, left.count() + 1));
    }
    if (::poll(fds, 2, wait_ms) > 0) {
      if (fds[0].revents) read_some(out[0], answer, 1 << 20);
      if (fds[1].revents) read_some(err[0], errtext, 8192);
    }
    step_ms = std::min(step_ms * 2, 20);
  }
  unregister_process_group(pid);  // the child is not reaped yet: the group id is still ours
  ::kill(-pid, SIGKILL);          // on timeout the child; always anything it left in its group
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  read_some(out[0], answer, 1 << 20);
  read_some(err[0], errtext, 8192);
  ::close(out[0]);
  ::close(err[0]);

  const auto tail = tail_line(errtext, 200);
  const auto with_tail = [&](std::string why) {
    return failed(tail.empty() ? why : why + "; stderr: " + tail);
  };
  if (timed_out) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", opt.timeout_seconds);
    return with_tail(std::string("timed out after ") + buf + " s");
  }
  if (WIFSIGNALED(status)) {
    const int s = WTERMSIG(status);
    std::string why = "crashed: " + signal_text(s);
    if (s == SIGKILL && opt.memory_mb) why += ", possibly out of memory";
    return with_tail(why);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return with_tail("evaluation process ended with exit status " +
                     std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  const auto last = tail_line(answer, 0);
  if (last.empty()) return with_tail("evaluation process wrote no result");
  try {
    return eval_result_from_json(last);
  } catch (const std::exception& e) {
    return with_tail(std::string("unreadable result from the evaluation process (") + e.what() +
                     ")");
  }
}

}  // namespace flexnas
