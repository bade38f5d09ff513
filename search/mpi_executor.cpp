#include "search/mpi_executor.hpp"

#include <mpi.h>
#include <unistd.h>

#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace flexnas {
namespace {

enum Tag : int { kSetup = 1, kTask = 2, kResult = 3, kStop = 4, kAlive = 5 };

// Set on rank 0 once a worker was dropped: MPI_Finalize may then hang in Open MPI 4.1 (it
// waits for the dead rank), so every surviving rank leaves without it (see docs/cluster.md).
bool g_lost_rank = false;

// Doubles travel as their bit patterns: exact, and NaN/inf survive (JSON has neither).
std::uint64_t bits(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}
double from_bits(std::uint64_t b) {
  double v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

// A receive that never blocks: the message from `src` with `tag` if one has arrived.
// Returns false with `failed` set when MPI reports an error (a dead peer, where detected).
bool try_recv(int src, int tag, std::string& out, bool& failed) {
  int flag = 0;
  MPI_Status st;
  if (MPI_Iprobe(src, tag, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS) {
    failed = true;
    return false;
  }
  if (!flag) return false;
  int n = 0;
  MPI_Get_count(&st, MPI_CHAR, &n);
  out.assign(static_cast<std::size_t>(n), '\0');
  if (MPI_Recv(out.data(), n, MPI_CHAR, src, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE) !=
      MPI_SUCCESS) {
    failed = true;
    return false;
  }
  return true;
}

std::string blocking_recv(int src, int& tag) {
  MPI_Status st;
  if (MPI_Probe(src, MPI_ANY_TAG, MPI_COMM_WORLD, &st) != MPI_SUCCESS) return {};
  int n = 0;
  MPI_Get_count(&st, MPI_CHAR, &n);
  std::string out(static_cast<std::size_t>(n), '\0');
  tag = st.MPI_TAG;
  MPI_Recv(out.data(), n, MPI_CHAR, src, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return out;
}

}  // namespace

struct MpiSession::Impl {
  // Funneled: only the main thread calls MPI (workers evaluate on a second thread).
  boost::mpi::environment env{boost::mpi::threading::funneled, false};
  boost::mpi::communicator world;
};

MpiSession::MpiSession() : impl_(std::make_unique<Impl>()) {
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}
MpiSession::~MpiSession() {
  // Rank 0 tells every worker to stop (also after an error on rank 0, so that no worker waits
  // for ever); a worker busy with an abandoned trial reads it afterwards. Sends to dead or
  // hung ranks are given up after a few seconds.
  if (rank() != 0) return;
  std::vector<MPI_Request> reqs;
  char lost = g_lost_rank ? 1 : 0;
  for (int r = 1; r < size(); ++r) {
    MPI_Request q;
    if (MPI_Isend(&lost, 1, MPI_CHAR, r, kStop, MPI_COMM_WORLD, &q) == MPI_SUCCESS)
      reqs.push_back(q);
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (;;) {
    int done = 0;
    if (MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &done, MPI_STATUSES_IGNORE) !=
            MPI_SUCCESS ||
        done || std::chrono::steady_clock::now() > until)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (g_lost_rank) {
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(ok_ ? 0 : 1);
  }
}
int MpiSession::rank() const {
  return impl_->world.rank();
}
int MpiSession::size() const {
  return impl_->world.size();
}

void mpi_worker_loop(const MpiSession& session, const EvaluatorRegistry& registry) {
  if (const char* f = std::getenv("FLEXNAS_MPI_PIDFILE")) {
    std::ofstream(std::string(f) + "." + std::to_string(session.rank())) << getpid() << "\n";
  }
  std::unique_ptr<EvaluatorSet> set;
  std::uint64_t seed = 0;
  for (;;) {
    int tag = 0;
    const auto msg = blocking_recv(0, tag);
    if (tag == kStop || tag == 0) {
      if (msg == std::string(1, '\1')) {  // a rank was lost: leave without MPI_Finalize
        std::fflush(stdout);
        std::fflush(stderr);
        std::_Exit(0);
      }
      return;
    }
    if (tag == kSetup) {
      const auto j = nlohmann::json::parse(msg);
      seed = j.at("seed").get<std::uint64_t>();
      set = std::make_unique<EvaluatorSet>(registry,
                                           j.at("evaluators").get<std::vector<std::string>>(), 1);
      set->set_study_dir(j.value("study_dir", std::string()));
      continue;
    }
    const auto j = nlohmann::json::parse(msg);
    Trial t;
    t.id = j.at("id").get<std::int64_t>();
    t.batch = j.value("batch", std::int64_t{-1});
    nlohmann::json r;
    r["id"] = t.id;
    try {
      if (!set) throw std::runtime_error("no evaluators received");
      t.arch = architecture_from_json(j.at("model"));
      // Evaluate on a second thread; this one tells rank 0 every second that we are alive.
      auto job = std::async(std::launch::async, [&] { evaluate_trial(*set, 0, t, seed); });
      while (job.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
        char beat = 0;
        MPI_Send(&beat, 1, MPI_CHAR, 0, kAlive, MPI_COMM_WORLD);
      }
      job.get();
    } catch (const std::exception& e) {
      t.state = TrialState::kFailed;
      t.reason = std::string("rank ") + std::to_string(session.rank()) + ": " + e.what();
    }
    r["ok"] = t.ok();
    r["reason"] = t.reason;
    r["eval_seconds"] = t.eval_seconds;
    nlohmann::json vals = nlohmann::json::array();
    for (const auto& [k, v] : t.values) vals.push_back({k, bits(v)});
    r["values"] = vals;
    const auto text = r.dump();
    MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, 0, kResult, MPI_COMM_WORLD);
  }
}

struct MpiExecutor::Impl {
  using Clock = std::chrono::steady_clock;
  struct Send {
    MPI_Request req;
    std::shared_ptr<std::string> buf;
  };
  struct Worker {
    int rank = 0;
    bool alive = true;
    Trial* trial = nullptr;       // the trial it is evaluating
    Clock::time_point last_seen;  // its last message (result or heartbeat)
    std::deque<Send> sends;       // in flight; the buffers live until done
  };
  std::vector<Worker> workers;
  double timeout = 0;
  std::uint64_t seed = 0;
  EvaluatorSet* local = nullptr;

  bool send(Worker& w, int tag, std::string text) {
    Send s{MPI_REQUEST_NULL, std::make_shared<std::string>(std::move(text))};
    if (MPI_Isend(s.buf->data(), static_cast<int>(s.buf->size()), MPI_CHAR, w.rank, tag,
                  MPI_COMM_WORLD, &s.req) != MPI_SUCCESS)
      return false;
    w.sends.push_back(std::move(s));
    return true;
  }
  // Completes finished sends; false on an MPI error.
  bool progress_sends(Worker& w) {
    while (!w.sends.empty()) {
      int done = 0;
      if (MPI_Test(&w.sends.front().req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return false;
      if (!done) break;
      w.sends.pop_front();
    }
    return true;
  }
};

MpiExecutor::MpiExecutor(const MpiSession& session, const std::vector<std::string>& specs,
                         std::uint64_t seed, double rank_timeout_seconds, EvaluatorSet& local)
    : impl_(std::make_unique<Impl>()) {
  impl_->timeout = rank_timeout_seconds;
  impl_->seed = seed;
  impl_->local = &local;
  nlohmann::json setup;
  setup["evaluators"] = specs;
  setup["seed"] = seed;
  setup["study_dir"] = local.study_dir();  // a shared file system on clusters
  for (int r = 1; r < session.size(); ++r) {
    Impl::Worker w;
    w.rank = r;
    impl_->workers.push_back(std::move(w));
  }
  for (auto& w : impl_->workers) w.alive = impl_->send(w, kSetup, setup.dump());
}

MpiExecutor::~MpiExecutor() = default;

std::size_t MpiExecutor::live_workers() const {
  std::size_t n = 0;
  for (const auto& w : impl_->workers) n += w.alive;
  return n;
}

void MpiExecutor::run_batch(const std::vector<Trial*>& todo,
                            const std::function<void(Trial&)>& finished) {
  auto& m = *impl_;
  std::deque<Trial*> queue(todo.begin(), todo.end());
  std::size_t left = todo.size();
  auto drop = [&](Impl::Worker& w, const char* why) {
    w.alive = false;
    g_lost_rank = true;
    std::fprintf(stderr, "flexnas: MPI rank %d %s; trial %lld re-queued\n", w.rank, why,
                 w.trial ? static_cast<long long>(w.trial->id) : -1LL);
    if (w.trial) queue.push_front(w.trial);
    w.trial = nullptr;
  };
  while (left > 0) {
    if (live_workers() == 0) {  // nobody left: rank 0 evaluates the rest itself
      while (!queue.empty()) {
        Trial* t = queue.front();
        queue.pop_front();
        evaluate_trial(*m.local, 0, *t, m.seed);
        finished(*t);
        --left;
      }
      break;
    }
    bool idle_step = true;
    for (auto& w : m.workers) {
      if (!w.alive) continue;
      if (!m.progress_sends(w)) {
        drop(w, "failed (send error)");
        continue;
      }
      if (!w.trial && !queue.empty()) {
        w.trial = queue.front();
        queue.pop_front();
        nlohmann::json task;
        task["id"] = w.trial->id;
        task["batch"] = w.trial->batch;
        task["model"] = nlohmann::json::parse(to_string(w.trial->arch));
        w.last_seen = Impl::Clock::now();
        if (!m.send(w, kTask, task.dump())) drop(w, "failed (send error)");
        idle_step = false;
        continue;
      }
      if (!w.trial) continue;
      std::string msg;
      bool failed = false;
      while (try_recv(w.rank, kAlive, msg, failed)) w.last_seen = Impl::Clock::now();
      if (try_recv(w.rank, kResult, msg, failed)) {
        const auto r = nlohmann::json::parse(msg);
        Trial& t = *w.trial;
        if (r.at("id").get<std::int64_t>() != t.id) continue;  // a stale answer
        t.values.clear();
        for (const auto& kv : r.at("values"))
          t.values[kv.at(0).get<std::string>()] = from_bits(kv.at(1).get<std::uint64_t>());
        t.state = r.at("ok").get<bool>() ? TrialState::kOk : TrialState::kFailed;
        t.reason = r.at("reason").get<std::string>();
        t.eval_seconds = r.at("eval_seconds").get<double>();
        w.trial = nullptr;
        finished(t);
        --left;
        idle_step = false;
      } else if (failed) {
        drop(w, "failed (receive error)");
      } else if (std::chrono::duration<double>(Impl::Clock::now() - w.last_seen).count() >
                 m.timeout) {
        drop(w, "silent for --rank-timeout seconds");
      }
    }
    if (idle_step) std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

}  // namespace flexnas
