#include "evaluators/interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace flexnas {
namespace {

std::mutex groups_mu;
std::set<pid_t>& groups() {
  static std::set<pid_t> g;
  return g;
}
std::atomic<bool> interrupted{false};

}  // namespace

void register_process_group(pid_t pgid) {
  std::lock_guard lock(groups_mu);
  groups().insert(pgid);
  if (interrupted.load()) ::kill(-pgid, SIGKILL);
}

void unregister_process_group(pid_t pgid) {
  std::lock_guard lock(groups_mu);
  groups().erase(pgid);
}

int signal_process_groups(int sig) {
  std::lock_guard lock(groups_mu);
  for (pid_t g : groups()) ::kill(-g, sig);
  return static_cast<int>(groups().size());
}

bool interrupt_requested() {
  return interrupted.load();
}
void request_interrupt() {
  interrupted.store(true);
}
void clear_interrupt() {
  interrupted.store(false);
}

struct InterruptGuard::Impl {
  sigset_t set{}, old{};
  std::atomic<bool> stop{false};
  std::thread waiter;
};

InterruptGuard::InterruptGuard(std::function<void()> on_kill, std::chrono::milliseconds grace)
    : impl_(std::make_unique<Impl>()) {
  clear_interrupt();
  sigemptyset(&impl_->set);
  sigaddset(&impl_->set, SIGINT);
  sigaddset(&impl_->set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &impl_->set, &impl_->old);
  impl_->waiter = std::thread([impl = impl_.get(), on_kill = std::move(on_kill), grace] {
    using Clock = std::chrono::steady_clock;
    std::optional<Clock::time_point> first;
    bool escalated = false;
    while (!impl->stop.load()) {
      const timespec step{0, 50 * 1000 * 1000};
      const int sig = sigtimedwait(&impl->set, nullptr, &step);
      if (sig > 0 && !first) {
        first = Clock::now();
        request_interrupt();
        signal_process_groups(SIGTERM);
      } else if (sig > 0) {
        // The second signal: no more waiting for anything.
        signal_process_groups(SIGKILL);
        if (on_kill) on_kill();
        ::_exit(130);
      }
      if (first && !escalated && Clock::now() - *first >= grace) {
        signal_process_groups(SIGKILL);
        escalated = true;
      }
      if (first && escalated) signal_process_groups(SIGKILL);  // groups that linger or arrive
    }
  });
}

InterruptGuard::~InterruptGuard() {
  impl_->stop.store(true);
  impl_->waiter.join();
  pthread_sigmask(SIG_SETMASK, &impl_->old, nullptr);
}

}  // namespace flexnas
