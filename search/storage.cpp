#include "search/storage.hpp"

#include <algorithm>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "search/study_config.hpp"
#include "space/file_io.hpp"

namespace flexnas {
namespace fs = std::filesystem;

const char* to_string(TrialState s) {
  switch (s) {
    case TrialState::kAsked:
      return "asked";
    case TrialState::kOk:
      return "ok";
    case TrialState::kFailed:
      return "failed";
  }
  return "?";
}

namespace {

TrialState parse_state(const std::string& s) {
  if (s == "ok") return TrialState::kOk;
  if (s == "failed") return TrialState::kFailed;
  return TrialState::kAsked;
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  void text(int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void integer(int i, std::int64_t v) { sqlite3_bind_int64(s, i, v); }
  void real(int i, double v) { sqlite3_bind_double(s, i, v); }
  int step() { return sqlite3_step(s); }
  std::string col_text(int i) const {
    auto p = sqlite3_column_text(s, i);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
};

int take_lock(const std::string& dir, double wait_s = 0) {
  const auto path = dir + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw InputError("cannot open " + path);
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  while (flock(fd, LOCK_EX | LOCK_NB) != 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw InputError("study " + dir + " is in use by another flexnas process (it holds " + path +
                     ")");
  }
  return fd;
}

}  // namespace

Study::Study(std::string dir, sqlite3* db, int lock_fd)
    : dir_(std::move(dir)), db_(db), lock_fd_(lock_fd) {}

Study::~Study() {
  if (db_) sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void Study::exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown";
    sqlite3_free(err);
    throw std::runtime_error("sqlite: " + m);
  }
}

std::unique_ptr<Study> Study::create(const std::string& dir, const nlohmann::json& config) {
  std::error_code ec;
  if (fs::exists(fs::path(dir) / "study.sqlite", ec))
    throw InputError("'" + dir +
                     "' already holds a study (continue it with: flexnas resume --study " + dir +
                     ", or choose another --out)");
  fs::create_directories(dir, ec);
  if (ec) throw InputError("cannot create study directory '" + dir + "': " + ec.message());
  ::chmod(dir.c_str(), 0700);
  const int fd = take_lock(dir);
  sqlite3* db = nullptr;
  const auto path = dir + "/study.sqlite";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    sqlite3_close(db);
    ::close(fd);
    throw InputError("cannot create " + path);
  }
  ::chmod(path.c_str(), 0600);
  std::unique_ptr<Study> s(new Study(dir, db, fd));
  s->exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE trials(id INTEGER PRIMARY KEY, batch INTEGER NOT NULL, model TEXT NOT NULL, "
      "hash TEXT NOT NULL,"
      " state TEXT NOT NULL, vals TEXT NOT NULL DEFAULT '{}', reason TEXT NOT NULL DEFAULT '',"
      " eval_seconds REAL NOT NULL DEFAULT 0, policy_seconds REAL NOT NULL DEFAULT 0, finished_seq "
      "INTEGER);");
  Stmt st(db, "INSERT INTO meta(key, value) VALUES('config', ?1)");
  st.text(1, config.dump());
  if (st.step() != SQLITE_DONE)
    throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db));
  s->config_ = config;
  write_file_atomic((fs::path(dir) / "trials.jsonl").string(), "");
  return s;
}

std::unique_ptr<Study> Study::open(const std::string& dir, bool lock, double wait_lock_s) {
  const auto path = dir + "/study.sqlite";
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError("'" + dir + "' holds no study (no study.sqlite)");
  const int fd = lock ? take_lock(dir, wait_lock_s) : -1;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, lock ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY,
                      nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    if (fd >= 0) ::close(fd);
    throw InputError("cannot open " + path);
  }
  std::unique_ptr<Study> s(new Study(dir, db, fd));
  // A corrupt file or another program's database is bad input, whatever touches it first.
  try {
    if (lock) s->exec("PRAGMA synchronous=FULL;");
    Stmt st(db, "SELECT value FROM meta WHERE key='config'");
    if (st.step() != SQLITE_ROW) throw InputError("it has no search definition");
    s->config_ = parse_json(st.col_text(0), "its search definition");
    check_study_config(s->config_);  // strict numbers, types and names before any use
    Stmt cols(db,
              "SELECT id, batch, model, hash, state, vals, reason, eval_seconds, policy_seconds, "
              "finished_seq FROM trials LIMIT 0");
    cols.step();
  } catch (const std::exception& e) {
    throw InputError(path + " is not a flexnas study: " + e.what());
  }
  return s;
}

std::vector<Trial> Study::trials() const {
  Stmt st(db_,
          "SELECT id, batch, model, hash, state, vals, reason, eval_seconds, policy_seconds FROM "
          "trials ORDER BY id");
  std::vector<Trial> out;
  while (st.step() == SQLITE_ROW) {
    Trial t;
    t.id = sqlite3_column_int64(st.s, 0);
    t.batch = sqlite3_column_int64(st.s, 1);
    t.arch = architecture_from_string(st.col_text(2));
    t.hash = st.col_text(3);
    t.state = parse_state(st.col_text(4));
    const auto vals = nlohmann::json::parse(st.col_text(5));  // must outlive items()
    for (const auto& [k, v] : vals.items()) t.values[k] = v.get<double>();
    t.reason = st.col_text(6);
    t.eval_seconds = sqlite3_column_double(st.s, 7);
    t.policy_seconds = sqlite3_column_double(st.s, 8);
    out.push_back(std::move(t));
  }
  return out;
}

std::int64_t Study::next_id() const {
  Stmt st(db_, "SELECT COALESCE(MAX(id) + 1, 0) FROM trials");
  st.step();
  return sqlite3_column_int64(st.s, 0);
}

std::int64_t Study::next_batch() const {
  Stmt st(db_, "SELECT COALESCE(MAX(batch) + 1, 0) FROM trials");
  st.step();
  return sqlite3_column_int64(st.s, 0);
}

void Study::insert_asked(const Trial& t) {
  Stmt st(db_,
          "INSERT INTO trials(id, batch, model, hash, state, policy_seconds) VALUES(?1, ?2, ?3, "
          "?4, 'asked', ?5)");
  st.integer(1, t.id);
  st.integer(2, t.batch);
  st.text(3, to_string(t.arch));
  st.text(4, t.hash);
  st.real(5, t.policy_seconds);
  if (st.step() != SQLITE_DONE)
    throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
}

std::vector<Trial> Study::add_asked(std::int64_t batch, const std::vector<Architecture>& archs,
                                    const std::vector<std::string>& hashes, double policy_seconds) {
  std::vector<Trial> out;
  exec("BEGIN IMMEDIATE");
  try {
    std::int64_t id = next_id();
    for (std::size_t i = 0; i < archs.size(); ++i) {
      Trial t;
      t.id = id++;
      t.batch = batch;
      t.arch = archs[i];
      t.hash = hashes[i];
      t.policy_seconds = archs.empty() ? 0 : policy_seconds / static_cast<double>(archs.size());
      insert_asked(t);
      out.push_back(std::move(t));
    }
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
  return out;
}

std::vector<Trial> Study::add_retry(std::int64_t batch, const std::vector<Trial>& failed) {
  std::vector<Trial> out;
  auto all = retries();
  exec("BEGIN IMMEDIATE");
  try {
    std::int64_t id = next_id();
    auto& of = all[batch];
    for (const auto& f : failed) {
      Trial t;
      t.id = id++;
      t.batch = batch;
      t.arch = f.arch;
      t.hash = f.hash;
      insert_asked(t);
      of.push_back(f.id);
      out.push_back(std::move(t));
    }
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [b, ids] : all) j[std::to_string(b)] = ids;
    Stmt st(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('retries', ?1)");
    st.text(1, j.dump());
    if (st.step() != SQLITE_DONE)
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
  return out;
}

std::map<std::int64_t, std::vector<std::int64_t>> Study::retries() const {
  std::map<std::int64_t, std::vector<std::int64_t>> out;
  Stmt st(db_, "SELECT value FROM meta WHERE key='retries'");
  if (st.step() != SQLITE_ROW) return out;
  const auto j = nlohmann::json::parse(st.col_text(0));
  for (const auto& [b, ids] : j.items())
    out[parse_integer<std::int64_t>(b, "retries")] = ids.get<std::vector<std::int64_t>>();
  return out;
}

void Study::issue(std::int64_t id, double at) {
  exec(
      "CREATE TABLE IF NOT EXISTS issued(trial INTEGER PRIMARY KEY, at REAL NOT NULL, times "
      "INTEGER NOT NULL)");
  Stmt st(db_,
          "INSERT INTO issued(trial, at, times) VALUES(?1, ?2, 1) ON CONFLICT(trial) DO UPDATE "
          "SET at=?2, times=times+1");
  st.integer(1, id);
  st.real(2, at);
  if (st.step() != SQLITE_DONE)
    throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
}

std::map<std::int64_t, Study::Issue> Study::issued() const {
  std::map<std::int64_t, Issue> out;
  {
    Stmt has(db_, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='issued'");
    if (has.step() != SQLITE_ROW) return out;
  }
  Stmt st(db_, "SELECT trial, at, times FROM issued");
  while (st.step() == SQLITE_ROW)
    out[sqlite3_column_int64(st.s, 0)] = {sqlite3_column_double(st.s, 1),
                                          static_cast<int>(sqlite3_column_int64(st.s, 2))};
  return out;
}

std::vector<Constraint> Study::constraints() const {
  std::vector<Constraint> out;
  if (config_.contains("constraints"))
    for (const auto& k : config_.at("constraints"))
      out.push_back(Constraint::parse(k.get<std::string>()));
  return out;
}

nlohmann::ordered_json Study::trial_json(const Trial& t,
                                         const std::vector<Constraint>& constraints) {
  nlohmann::ordered_json j;
  j["id"] = t.id;
  j["model"] = to_json(t.arch);
  j["hash"] = t.hash;
  j["values"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : t.values) j["values"][k] = v;
  j["status"] = t.state == TrialState::kOk ? "ok" : "failed";
  j["feasible"] = t.state == TrialState::kOk && total_violation(t.values, constraints) == 0;
  j["violations"] = nlohmann::ordered_json::object();
  for (const auto& k : constraints) j["violations"][k.str()] = k.violation(t.values);
  j["reason"] = t.reason;
  j["eval_seconds"] = t.eval_seconds;
  j["policy_seconds"] = t.policy_seconds;
  return j;
}

void Study::finish(const Trial& t, const std::vector<Objective>& objectives,
                   const std::vector<Constraint>& constraints) {
  nlohmann::json vals = nlohmann::json::object();
  for (const auto& [k, v] : t.values) vals[k] = v;
  {
    Stmt st(db_,
            "UPDATE trials SET state=?2, vals=?3, reason=?4, eval_seconds=?5,"
            " finished_seq=(SELECT COALESCE(MAX(finished_seq) + 1, 0) FROM trials) WHERE id=?1 AND "
            "state='asked'");
    st.integer(1, t.id);
    st.text(2, to_string(t.state));
    st.text(3, vals.dump());
    st.text(4, t.reason);
    st.real(5, t.eval_seconds);
    if (st.step() != SQLITE_DONE)
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  {
    std::ofstream out(fs::path(dir_) / "trials.jsonl", std::ios::app);
    out << trial_json(t, constraints).dump() << "\n";
  }
  if (!summaries_ready_) {
    const auto all = trials();
    front_ = pareto_set(all, objectives, constraints);
    best_ = best_trial(all, objectives, constraints);
    summaries_ready_ = true;
  } else if (t.ok()) {
    // The same answers as over all trials: candidates in id order, lowest id first on ties.
    auto by_id = [](const Trial& a, const Trial& b) { return a.id < b.id; };
    auto cand = front_;
    cand.push_back(t);
    std::sort(cand.begin(), cand.end(), by_id);
    front_ = pareto_set(cand, objectives, constraints);
    std::vector<Trial> b{t};
    if (best_) b.push_back(*best_);
    std::sort(b.begin(), b.end(), by_id);
    best_ = best_trial(b, objectives, constraints);
  }
  write_summaries();
}

void Study::rewrite_exports(const std::vector<Objective>& objectives,
                            const std::vector<Constraint>& constraints) {
  Stmt st(db_, "SELECT id FROM trials WHERE state != 'asked' ORDER BY finished_seq");
  const auto all = trials();
  std::string text;
  while (st.step() == SQLITE_ROW) {
    const auto id = sqlite3_column_int64(st.s, 0);
    text += trial_json(all[static_cast<std::size_t>(id)], constraints).dump() + "\n";
  }
  write_file_atomic((fs::path(dir_) / "trials.jsonl").string(), text);
  front_ = pareto_set(all, objectives, constraints);
  best_ = best_trial(all, objectives, constraints);
  summaries_ready_ = true;
  write_summaries();
}

void Study::write_summaries() const {
  const auto cons = constraints();
  nlohmann::ordered_json p = nlohmann::ordered_json::array();
  for (const auto& t : front_) p.push_back(trial_json(t, cons));
  write_file_atomic((fs::path(dir_) / "pareto.json").string(), p.dump(2) + "\n");
  write_file_atomic((fs::path(dir_) / "best.json").string(),
                    (best_ ? trial_json(*best_, cons).dump(2) : std::string("null")) + "\n");
}

std::vector<Trial> pareto_set(const std::vector<Trial>& trials,
                              const std::vector<Objective>& objectives,
                              const std::vector<Constraint>& constraints) {
  // One pass keeping the points no earlier point dominates (constrained domination is a
  // strict partial order, so a dominated point never returns): O(N x front) time and
  // O(front) memory, where full non-dominated sorting needs O(N^2) memory.
  struct Kept {
    std::size_t index;
    std::vector<double> point;
    double violation;
  };
  std::vector<Kept> front;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const auto& t = trials[i];
    if (!t.ok()) continue;
    Kept k{i, to_minimise(t.values, objectives), total_violation(t.values, constraints)};
    bool dominated = false;
    for (const auto& f : front)
      if (constrained_dominates(f.point, f.violation, k.point, k.violation)) {
        dominated = true;
        break;
      }
    if (dominated) continue;
    std::erase_if(front, [&](const Kept& f) {
      return constrained_dominates(k.point, k.violation, f.point, f.violation);
    });
    front.push_back(std::move(k));
  }
  std::sort(front.begin(), front.end(),
            [](const Kept& a, const Kept& b) { return a.index < b.index; });
  std::vector<Trial> out;
  for (const auto& f : front) out.push_back(trials[f.index]);
  return out;
}

std::optional<Trial> best_trial(const std::vector<Trial>& trials,
                                const std::vector<Objective>& objectives,
                                const std::vector<Constraint>& constraints) {
  std::optional<Trial> best;
  double best_x = std::numeric_limits<double>::infinity();
  for (const auto& t : trials) {
    if (!t.ok() || total_violation(t.values, constraints) > 0) continue;
    const double x = to_minimise(t.values, {objectives.at(0)})[0];
    if (x < best_x) {
      best_x = x;
      best = t;
    }
  }
  return best;
}

}  // namespace flexnas
