#pragma once
// Stopping a search on SIGINT/SIGTERM. Every evaluator process group this process starts
// (external programs, --isolate children) is registered here while it may be running, so a
// signal can reach the whole group, not just flexnas: the terminal sends Ctrl-C to the
// foreground group only, and evaluators run in groups of their own.
//
// InterruptGuard (one per command) blocks SIGINT and SIGTERM in the calling thread, and so in
// every thread started after it, and waits for them on a thread of its own. On the first
// signal, interrupt_requested() turns true and each registered group gets SIGTERM, then
// SIGKILL after `grace`; the search stops starting trials and ends at the batch in flight.
// A second signal kills every group at once and ends the process with exit status 130,
// after `on_kill` (which prints what to do next).
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>

namespace flexnas {

// Register a group before it can be signalled and unregister it before reaping its leader
// (a zombie leader keeps the group id from being reused). A group registered after an
// interrupt is killed at once.
void register_process_group(pid_t pgid);
void unregister_process_group(pid_t pgid);
// Sends `sig` to every registered group; returns how many there were.
int signal_process_groups(int sig);

bool interrupt_requested();
// For tests and for the guard: set or clear the interrupted state without a signal.
void request_interrupt();
void clear_interrupt();

class InterruptGuard {
 public:
  explicit InterruptGuard(std::function<void()> on_kill = nullptr,
                          std::chrono::milliseconds grace = std::chrono::seconds(2));
  ~InterruptGuard();  // stops the waiting thread and restores the signal mask
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flexnas
