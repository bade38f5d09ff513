// Built-in policies: random, regularised evolution (Real et al. 2019), NSGA-II (Deb et
// al. 2002) with constrained domination.
#include <algorithm>
#include <deque>
#include <limits>

#include "evaluators/evaluator.hpp"
#include "search/policy.hpp"
#include "space/error.hpp"
#include "space/numbers.hpp"

namespace flexnas {

void PolicyRegistry::add(Entry e) {
  for (const auto& x : entries_)
    if (x.name == e.name) throw InputError("policy '" + e.name + "' is registered twice");
  entries_.push_back(std::move(e));
}

std::vector<std::string> PolicyRegistry::names() const {
  std::vector<std::string> n;
  for (const auto& e : entries_) n.push_back(e.name);
  return n;
}

std::unique_ptr<Policy> PolicyRegistry::create(const std::string& text,
                                               const PolicyContext& ctx) const {
  const auto spec = EvaluatorSpec::parse(text, "policy");  // same "name:key=value" syntax
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.name == spec.name; });
  if (it == entries_.end()) {
    std::string names;
    for (const auto& e : entries_) names += (names.empty() ? "" : ", ") + e.name;
    throw InputError("unknown policy '" + spec.name + "' (valid: " + names + ")");
  }
  if (ctx.objectives.size() > 1 && !it->multi_objective)
    throw InputError("policy " + it->name + " takes one objective; use nsga2 for several");
  std::map<std::string, std::string> opts;
  std::string bad_number;  // a numeric option given something else (numbers.hpp)
  for (const auto& [k, v] : it->options) opts[k] = v;
  const bool takes_surrogate = opts.count("surrogate") > 0;
  for (const auto& [k, v] : spec.options) {
    // surrogate.KEY=VALUE goes to the policy's surrogate, which checks it.
    if (takes_surrogate && k.rfind("surrogate.", 0) == 0 && k.size() > 10) {
      opts[k] = v;
      continue;
    }
    if (!opts.count(k)) {
      std::string known;
      for (const auto& o : it->options) known += (known.empty() ? "" : ", ") + o.first;
      throw InputError("policy " + it->name + ": unknown option '" + k +
                       "' (known: " + (known.empty() ? "none" : known) + ")");
    }
    if (bad_number.empty()) bad_number = numeric_option_error("policy " + it->name, k, opts[k], v);
    opts[k] = v;
  }
  auto made = it->make(ctx, opts);
  if (!bad_number.empty()) throw InputError(bad_number);
  return made;
}

double scalar_loss(const Trial& t, const PolicyContext& ctx) {
  if (!t.ok()) return std::numeric_limits<double>::infinity();
  const double v = total_violation(t.values, ctx.constraints);
  const double x = to_minimise(t.values, {ctx.objectives.at(0)})[0];
  constexpr double kInfeasible = 1e200;  // behind every feasible value, ordered by violation
  return v > 0 ? kInfeasible + v : x;
}

namespace {

class RandomPolicy : public Policy {
 public:
  explicit RandomPolicy(const PolicyContext& ctx) : ctx_(ctx), rng_(ctx.seed) {}
  std::string name() const override { return "random"; }
  std::vector<Architecture> ask(std::size_t n) override {
    std::vector<Architecture> out;
    while (out.size() < n) {
      auto a = ctx_.domain->sample(rng_);
      if (!a) break;
      if (ctx_.domain->claim(*a)) out.push_back(std::move(*a));
    }
    return out;
  }
  void tell(const std::vector<Trial>&) override {}

 private:
  PolicyContext ctx_;
  Rng rng_;
};

// Regularised (aging) evolution: tournament of `sample` from the last `population`
// finished trials, mutate the winner, the oldest leaves.
class EvolutionPolicy : public Policy {
 public:
  EvolutionPolicy(const PolicyContext& ctx, std::size_t population, std::size_t sample)
      : ctx_(ctx), rng_(ctx.seed), population_(population), sample_(sample) {}
  std::string name() const override { return "evolution"; }
  std::size_t random_start() const override { return population_; }
  std::vector<Architecture> ask(std::size_t n) override {
    std::vector<Architecture> out;
    for (int guard = 0; out.size() < n && guard < 100000; ++guard) {
      std::optional<Architecture> a;
      if (pop_.size() + pending_ < population_) {
        a = ctx_.domain->sample(rng_);
      } else if (!pop_.empty()) {
        const Trial* best = nullptr;
        for (std::size_t k = 0; k < sample_; ++k) {
          const Trial& t =
              pop_[std::uniform_int_distribution<std::size_t>(0, pop_.size() - 1)(rng_)];
          if (!best || scalar_loss(t, ctx_) < scalar_loss(*best, ctx_)) best = &t;
        }
        a = ctx_.domain->mutate(best->arch, rng_);
      } else {
        a = ctx_.domain->sample(rng_);
      }
      if (!a) break;
      if (ctx_.domain->claim(*a)) out.push_back(std::move(*a));
    }
    pending_ += out.size();
    return out;
  }
  void tell(const std::vector<Trial>& trials) override {
    for (const auto& t : trials) {
      pending_ -= std::min<std::size_t>(pending_, 1);
      if (!t.ok()) continue;
      pop_.push_back(t);
      if (pop_.size() > population_) pop_.pop_front();
    }
  }

 private:
  PolicyContext ctx_;
  Rng rng_;
  std::size_t population_, sample_;
  std::size_t pending_ = 0;
  std::deque<Trial> pop_;
};

// NSGA-II: parents chosen by binary tournament on (front, crowding), children by
// crossover then mutation; after every `population` finished children, parents and
// children are reduced to `population` by non-dominated sorting and crowding distance.
class Nsga2Policy : public Policy {
 public:
  Nsga2Policy(const PolicyContext& ctx, std::size_t population, double crossover_prob)
      : ctx_(ctx), rng_(ctx.seed), population_(population), crossover_prob_(crossover_prob) {}
  std::string name() const override { return "nsga2"; }
  std::size_t random_start() const override { return population_; }

  std::vector<Architecture> ask(std::size_t n) override {
    std::vector<Architecture> out;
    for (int guard = 0; out.size() < n && guard < 100000; ++guard) {
      std::optional<Architecture> a;
      if (generation_ == 0 && initial_asked_ < population_) {
        a = ctx_.domain->sample(rng_);
        if (a && !ctx_.domain->seen(ctx_.domain->key(*a))) ++initial_asked_;
      } else if (parents_.empty()) {
        a = ctx_.domain->sample(rng_);
      } else {
        const Trial& p1 = tournament();
        const Trial& p2 = tournament();
        Architecture child = p1.arch;
        if (std::bernoulli_distribution(crossover_prob_)(rng_)) {
          auto c = ctx_.domain->crossover(p1.arch, p2.arch, rng_);
          if (c) child = *c;
        }
        a = ctx_.domain->mutate(child, rng_);
      }
      if (!a) break;
      if (ctx_.domain->claim(*a)) out.push_back(std::move(*a));
    }
    return out;
  }

  void tell(const std::vector<Trial>& trials) override {
    for (const auto& t : trials)
      if (t.ok()) children_.push_back(t);
    if (generation_ == 0) {
      // The initial population: every finished trial is a parent until it is complete.
      if (children_.size() < population_) {
        parents_ = select(children_);
        return;
      }
      parents_ = select(children_);
    } else {
      if (children_.size() < population_) return;
      auto all = parents_;
      all.insert(all.end(), children_.begin(), children_.end());
      parents_ = select(all);
    }
    children_.clear();
    ++generation_;
  }

 private:
  void rank(const std::vector<Trial>& trials) {
    std::vector<std::vector<double>> pts;
    std::vector<double> viol;
    for (const auto& t : trials) {
      pts.push_back(to_minimise(t.values, ctx_.objectives));
      viol.push_back(total_violation(t.values, ctx_.constraints));
    }
    ranks_ = nsga2_ranks(pts, viol);
  }

  // The first `population_` of `all` (in id order) by front and crowding.
  std::vector<Trial> select(std::vector<Trial> all) {
    std::sort(all.begin(), all.end(), [](const Trial& a, const Trial& b) { return a.id < b.id; });
    rank(all);
    std::vector<Trial> next;
    for (std::size_t i : nsga2_order(ranks_)) {
      if (next.size() == population_) break;
      next.push_back(all[i]);
    }
    rank(next);
    return next;
  }

  const Trial& tournament() {
    auto pick = [&] {
      return std::uniform_int_distribution<std::size_t>(0, parents_.size() - 1)(rng_);
    };
    const std::size_t a = pick(), b = pick();
    const auto& ra = ranks_[a];
    const auto& rb = ranks_[b];
    if (ra.front != rb.front) return parents_[ra.front < rb.front ? a : b];
    return parents_[ra.crowding >= rb.crowding ? a : b];
  }

  PolicyContext ctx_;
  Rng rng_;
  std::size_t population_;
  double crossover_prob_;
  int generation_ = 0;
  std::size_t initial_asked_ = 0;
  std::vector<Trial> parents_, children_;
  std::vector<NsgaRank> ranks_;  // of parents_
};

std::size_t size_option(const std::map<std::string, std::string>& o, const std::string& policy,
                        const std::string& key) {
  return parse_integer<std::size_t>(o.at(key), "policy " + policy + ": option " + key, 1);
}

}  // namespace

void register_boshnas_policy(PolicyRegistry& r);       // search/boshnas_policy.cpp
void register_sa_nsga2_policy(PolicyRegistry& r);      // search/sa_nsga2_policy.cpp
void register_hierarchical_policy(PolicyRegistry& r);  // search/hierarchical_policy.cpp

std::string resolve_policy(const std::string& spec, std::size_t objectives) {
  if (spec != "auto") return spec;
  return objectives > 1 ? "nsga2" : "evolution";
}

void register_builtin_policies(PolicyRegistry& r) {
  r.add({"random",
         "uniform random search over the space or pool",
         {},
         true,
         [](const PolicyContext& c, const auto&) { return std::make_unique<RandomPolicy>(c); }});
  r.add({"evolution",
         "regularised (aging) evolution, Real et al. 2019",
         {{"population", "50"}, {"sample", "10"}},
         false,
         [](const PolicyContext& c, const auto& o) {
           return std::make_unique<EvolutionPolicy>(c, size_option(o, "evolution", "population"),
                                                    size_option(o, "evolution", "sample"));
         }});
  r.add({"nsga2",
         "NSGA-II with constrained domination, Deb et al. 2002",
         {{"population", "50"}, {"crossover", "0.9"}},
         true,
         [](const PolicyContext& c, const auto& o) {
           const double p = parse_real(o.at("crossover"), "policy nsga2: option crossover", 0, 1);
           return std::make_unique<Nsga2Policy>(c, size_option(o, "nsga2", "population"), p);
         }});
  register_boshnas_policy(r);
  register_sa_nsga2_policy(r);
  register_hierarchical_policy(r);
}

}  // namespace flexnas
