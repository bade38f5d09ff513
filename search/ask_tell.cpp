#include "search/ask_tell.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include "core/error.hpp"
#include "search/policy.hpp"
#include "search/runner.hpp"

namespace flexnas {

nlohmann::json StudyDefinition::config() const {
  if (space.empty() && pool.empty()) throw InputError("give --space or --pool");
  if (objectives.empty()) throw InputError("give at least one --objective");
  nlohmann::json c;
  c["version"] = 1;
  c["space"] =
      space.empty() ? nlohmann::json() : nlohmann::json(DesignSpace::load(space).to_yaml());
  if (!pool.empty()) {
    nlohmann::json p = nlohmann::json::array();
    for (const auto& a : pool) p.push_back(nlohmann::json::parse(to_string(a)));
    c["pool"] = p;
  } else {
    c["pool"] = nullptr;
  }
  c["evaluators"] = evaluators;
  std::vector<std::string> objs;
  for (const auto& o : objectives) objs.push_back(Objective::parse(o).str());
  c["objectives"] = objs;
  std::vector<std::string> cons;
  for (const auto& k : constraints) cons.push_back(Constraint::parse(k).str());
  c["constraints"] = cons;
  c["policy"] = resolve_policy(policy, objs.size());
  c["budget"] = budget;
  c["batch"] = batch;
  c["seed"] = seed;
  std::vector<std::string> stops;
  for (const auto& k : stop_at) stops.push_back(Constraint::parse(k).str());
  c["stop_at"] = stops;
  c["patience"] = patience;
  return c;
}

StudySetup study_setup(const nlohmann::json& c) {
  StudySetup s;
  s.config = c;
  for (const auto& o : c.at("objectives"))
    s.objectives.push_back(Objective::parse(o.get<std::string>()));
  for (const auto& k : c.at("constraints"))
    s.constraints.push_back(Constraint::parse(k.get<std::string>()));
  if (c.contains("stop_at"))
    for (const auto& k : c.at("stop_at"))
      s.stop_at.push_back(Constraint::parse(k.get<std::string>()));
  std::optional<DesignSpace> space;
  if (!c.at("space").is_null())
    space = DesignSpace::from_yaml(c.at("space").get<std::string>(), "study space");
  const auto seed = c.at("seed").get<std::uint64_t>();
  if (!c.at("pool").is_null()) {
    std::vector<Architecture> pool;
    for (const auto& m : c.at("pool")) pool.push_back(architecture_from_json(m));
    s.domain = std::make_unique<SearchDomain>(std::move(pool), space, seed);
  } else {
    s.domain = std::make_unique<SearchDomain>(*space);
  }
  return s;
}

std::vector<std::string> told_value_names(const nlohmann::json& c,
                                          const EvaluatorRegistry& registry) {
  std::set<std::string> provided;
  for (const auto& e : c.at("evaluators"))
    for (const auto& v : registry.create(e.get<std::string>())->provides()) provided.insert(v.name);
  std::vector<std::string> out;
  auto add = [&](const std::string& name) {
    if (!provided.count(name) && std::find(out.begin(), out.end(), name) == out.end())
      out.push_back(name);
  };
  for (const auto& o : c.at("objectives")) add(Objective::parse(o.get<std::string>()).name);
  for (const auto& k : c.at("constraints")) add(Constraint::parse(k.get<std::string>()).name);
  if (c.contains("stop_at"))
    for (const auto& k : c.at("stop_at")) add(Constraint::parse(k.get<std::string>()).name);
  return out;
}

namespace {

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The lines trials.jsonl holds (after a kill it may lag the database by one trial).
std::size_t jsonl_lines(const std::string& dir) {
  std::FILE* f = std::fopen((dir + "/trials.jsonl").c_str(), "rb");
  if (!f) return 0;
  std::size_t n = 0;
  char buf[1 << 15];
  for (std::size_t r; (r = std::fread(buf, 1, sizeof buf, f)) > 0;)
    n += static_cast<std::size_t>(std::count(buf, buf + r, '\n'));
  std::fclose(f);
  return n;
}

}  // namespace

AskTell::~AskTell() = default;

std::unique_ptr<AskTell> AskTell::create(const std::string& dir, nlohmann::json config,
                                         double lease_seconds, const EvaluatorRegistry* registry) {
  if (!(lease_seconds >= 0)) throw InputError("the lease must be >= 0 seconds");
  config["ask_tell"] = {{"lease_s", lease_seconds}};
  std::unique_ptr<AskTell> at(new AskTell);
  at->registry_ = registry;
  if (!registry) {
    at->own_registry_ = std::make_unique<EvaluatorRegistry>();
    register_builtins(*at->own_registry_);
    at->registry_ = at->own_registry_.get();
  }
  {  // fail on a bad definition before creating the study directory
    auto s = study_setup(config);
    told_value_names(config, *at->registry_);  // unknown evaluators
    PolicyRegistry policies;
    register_builtin_policies(policies);
    policies.create(config.at("policy").get<std::string>(),
                    PolicyContext{s.domain.get(), s.objectives, s.constraints,
                                  config.at("seed").get<std::uint64_t>()});
  }
  at->study_ = Study::create(dir, config);
  at->load();
  return at;
}

std::unique_ptr<AskTell> AskTell::open(const std::string& dir, double wait_lock_s,
                                       const EvaluatorRegistry* registry) {
  std::unique_ptr<AskTell> at(new AskTell);
  at->registry_ = registry;
  if (!registry) {
    at->own_registry_ = std::make_unique<EvaluatorRegistry>();
    register_builtins(*at->own_registry_);
    at->registry_ = at->own_registry_.get();
  }
  at->study_ = Study::open(dir, true, wait_lock_s);
  at->load();
  return at;
}

void AskTell::load() {
  const auto& c = study_->config();
  setup_ = study_setup(c);
  lease_ = c.contains("ask_tell") ? c.at("ask_tell").value("lease_s", 0.0) : 0.0;
  all_ = study_->trials();
  retried_ = study_->retries();
  std::size_t finished = 0;
  for (const auto& t : all_) finished += t.finished();
  // A process killed inside tell may have left trials.jsonl (and the summaries) one trial
  // behind the database: rebuild them from the database.
  if (jsonl_lines(study_->dir()) != finished)
    study_->rewrite_exports(setup_.objectives, setup_.constraints);
}

std::vector<Trial> AskTell::batch_trials(std::int64_t batch) const {
  std::vector<Trial> out;
  for (const auto& t : all_)
    if (t.batch == batch) out.push_back(t);
  return out;
}

std::string AskTell::stop_reason(std::int64_t upto_batch) const {
  std::vector<std::function<std::string(const RunProgress&)>> rules;
  if (!setup_.stop_at.empty()) rules.push_back(stop_at_target(setup_.stop_at));
  const auto patience = setup_.config.value("patience", std::size_t{0});
  if (patience > 0) rules.push_back(stop_after_patience(patience));
  if (rules.empty()) return "";
  std::vector<Trial> upto;
  for (const auto& t : all_)
    if (t.batch <= upto_batch) upto.push_back(t);
  RunProgress p;
  for (const auto& t : upto)
    if (t.finished()) {
      ++p.finished;
      p.failed += t.state == TrialState::kFailed;
    }
  p.budget = budget_;
  p.best = best_trial(upto, setup_.objectives, setup_.constraints);
  p.trials = &upto;
  for (const auto& rule : rules)
    if (auto why = rule(p); !why.empty()) return why;
  return "";
}

void AskTell::replay() {
  const auto& c = study_->config();
  PolicyRegistry policies;
  register_builtin_policies(policies);
  PolicyContext ctx{setup_.domain.get(), setup_.objectives, setup_.constraints,
                    c.at("seed").get<std::uint64_t>()};
  policy_ = policies.create(c.at("policy").get<std::string>(), ctx);
  budget_ = c.at("budget").get<std::size_t>();
  for (const auto& [b, of] : retried_) budget_ += of.size();
  std::map<std::int64_t, std::vector<Trial>> batches;
  for (const auto& t : all_) batches[t.batch].push_back(t);
  asked_total_ = 0;
  open_batch_.reset();
  done_because_.clear();
  for (const auto& [b, trials] : batches) {
    if (open_batch_)
      throw InputError("study " + study_->dir() + " cannot be replayed: batch " +
                       std::to_string(b) + " follows the unfinished batch " +
                       std::to_string(*open_batch_));
    if (!retried_.count(b)) {  // a retry batch was proposed by no policy
      const auto again = policy_->ask(trials.size());
      bool same = again.size() == trials.size();
      for (std::size_t i = 0; same && i < again.size(); ++i)
        same = setup_.domain->key(again[i]) == trials[i].hash;
      if (!same)
        throw InputError("study " + study_->dir() + " cannot be replayed: batch " +
                         std::to_string(b) +
                         " differs from what the policy proposes now (written by another "
                         "flexnas version?)");
    }
    asked_total_ += trials.size();
    if (std::all_of(trials.begin(), trials.end(), [](const Trial& t) { return t.finished(); })) {
      policy_->tell(trials);
      done_because_ = stop_reason(b);
    } else {
      open_batch_ = b;
    }
  }
  next_batch_ = batches.empty() ? 0 : batches.rbegin()->first + 1;
}

AskResult AskTell::ask(bool reissue) {
  return ask(reissue, wall_now());
}

AskResult AskTell::ask(bool reissue, double now) {
  if (!policy_) replay();
  AskResult r;
  if (!open_batch_) {
    if (!done_because_.empty()) {
      r.done_because = done_because_;
      return r;
    }
    if (asked_total_ >= budget_) {
      r.done_because = "budget";
      return r;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t n =
        std::min(study_->config().at("batch").get<std::size_t>(), budget_ - asked_total_);
    const auto archs = policy_->ask(n);
    if (archs.empty()) {
      r.done_because = "exhausted";
      return r;
    }
    std::vector<std::string> hashes;
    for (const auto& a : archs) hashes.push_back(setup_.domain->key(a));
    const double policy_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (auto& t : study_->add_asked(next_batch_, archs, hashes, policy_s))
      all_.push_back(std::move(t));
    asked_total_ += archs.size();
    open_batch_ = next_batch_++;
  }
  const auto issued = study_->issued();
  const Trial* pick = nullptr;
  const Trial* oldest = nullptr;
  double oldest_at = 0;
  for (const auto& t : all_) {
    if (t.batch != *open_batch_ || t.finished()) continue;
    const auto it = issued.find(t.id);
    if (it == issued.end()) {
      pick = &t;  // never handed out: first in id order
      break;
    }
    r.out.emplace_back(t.id, it->second.at);
    if (!oldest || it->second.at < oldest_at) {
      oldest = &t;
      oldest_at = it->second.at;
    }
  }
  if (!pick && oldest && (reissue || (lease_ > 0 && oldest_at + lease_ <= now))) pick = oldest;
  if (!pick) {
    r.status = AskResult::Status::kWait;
    return r;
  }
  r.out.clear();
  study_->issue(pick->id, now);
  r.status = AskResult::Status::kTrial;
  r.trial = *pick;
  r.times_given = issued.count(pick->id) ? issued.at(pick->id).times + 1 : 1;
  return r;
}

const Trial& AskTell::checked_open(std::int64_t id) const {
  if (id < 0 || id >= static_cast<std::int64_t>(all_.size()))
    throw InputError("study " + study_->dir() + " has no trial " + std::to_string(id) +
                     (all_.empty()
                          ? std::string(" (no trial was asked yet)")
                          : " (its trials are 0 to " + std::to_string(all_.size() - 1) + ")"));
  const auto& t = all_[static_cast<std::size_t>(id)];
  if (t.finished())
    throw InputError("trial " + std::to_string(id) + " was already told (" + to_string(t.state) +
                     ")");
  if (!study_->issued().count(id))
    throw InputError("trial " + std::to_string(id) + " was not handed out by ask yet");
  return t;
}

Trial AskTell::tell(std::int64_t id, const Values& values) {
  return tell(id, values, wall_now());
}

Trial AskTell::tell(std::int64_t id, const Values& values, double now) {
  Trial t = checked_open(id);
  const auto& c = study_->config();
  std::vector<std::string> specs;
  for (const auto& e : c.at("evaluators")) specs.push_back(e.get<std::string>());
  Values all;
  if (!specs.empty()) {
    // The study's own evaluators (e.g. params for a constraint) add their values.
    EvaluatorSet evaluators(*registry_, specs, 1);
    evaluators.set_study_dir(study_->dir());
    Trial e = t;
    evaluate_trial(evaluators, 0, e, c.at("seed").get<std::uint64_t>());
    if (!e.ok()) return finish_failed(t, e.reason, now);
    all = e.values;
  }
  for (const auto& [k, v] : values) {
    if (all.count(k))
      throw InputError("value '" + k + "' comes from the study's evaluators; do not tell it");
    all[k] = v;
  }
  auto lacks = [&](const std::string& name, const std::string& what) {
    if (all.count(name)) return;
    throw InputError("the values lack " + what + " '" + name +
                     "' (told: " + nlohmann::json(values).dump() + ")");
  };
  for (const auto& o : setup_.objectives) lacks(o.name, "objective");
  for (const auto& k : setup_.constraints) lacks(k.name, "constraint");
  for (const auto& k : setup_.stop_at) lacks(k.name, "--stop-at value");
  t.values = std::move(all);
  t.state = TrialState::kOk;
  t.reason.clear();
  return finish(std::move(t), now);
}

Trial AskTell::tell_failed(std::int64_t id, const std::string& reason) {
  return tell_failed(id, reason, wall_now());
}

Trial AskTell::tell_failed(std::int64_t id, const std::string& reason, double now) {
  Trial t = checked_open(id);
  return finish_failed(t, reason, now);
}

Trial AskTell::finish_failed(Trial t, const std::string& reason, double now) {
  if (reason.empty()) throw InputError("a failed trial needs a reason");
  t.values.clear();
  t.state = TrialState::kFailed;
  t.reason = reason;
  return finish(std::move(t), now);
}

Trial AskTell::finish(Trial t, double now) {
  const auto issued = study_->issued();
  if (auto it = issued.find(t.id); it != issued.end())
    t.eval_seconds = std::max(0.0, now - it->second.at);
  study_->finish(t, setup_.objectives, setup_.constraints);
  all_[static_cast<std::size_t>(t.id)] = t;
  if (policy_ && open_batch_ && t.batch == *open_batch_) {
    auto batch = batch_trials(t.batch);
    if (std::all_of(batch.begin(), batch.end(), [](const Trial& x) { return x.finished(); })) {
      policy_->tell(batch);
      done_because_ = stop_reason(t.batch);
      open_batch_.reset();
    }
  }
  return t;
}

}  // namespace flexnas
