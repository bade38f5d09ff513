// Built-in policies: random, regularised evolution (Real et al. 2019), NSGA-II (Deb et
// al. 2002) with constrained domination.
#include <algorithm>
#include <deque>
#include <limits>

#include "core/error.hpp"
#include "evaluators/evaluator.hpp"
#include "search/policy.hpp"

namespace flexnas {

std::unique_ptr<Policy> PolicyRegistry::create(const std::string& text,
                                               const PolicyContext& ctx) const {
  const auto spec = EvaluatorSpec::parse(text, "policy");  // same "name:key=value" syntax
  const Entry& e = find(spec.name);
  if (ctx.objectives.size() > 1 && !e.extra.multi_objective)
    throw InputError("policy " + e.name + " takes one objective; use nsga2 for several");
  const bool takes_surrogate =
      std::any_of(e.options.begin(), e.options.end(),
                  [](const OptionSpec& o) { return o.name == "surrogate"; });
  return e.make(ctx, options(e, spec.options,
                             takes_surrogate ? std::vector<std::string>{"surrogate."}
                                             : std::vector<std::string>{}));
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

}  // namespace

void register_classic_policies(PolicyRegistry& r) {
  constexpr long long kMany = std::numeric_limits<long long>::max();
  r.add({"random",
         "uniform random search over the space or pool",
         {},
         [](const PolicyContext& c, const Options&) { return std::make_unique<RandomPolicy>(c); },
         {.multi_objective = true}});
  r.add({"evolution",
         "regularised (aging) evolution, Real et al. 2019",
         {OptionSpec::integer("population", 50, 1, kMany, "architectures alive at a time"),
          OptionSpec::integer("sample", 10, 1, kMany, "tournament size")},
         [](const PolicyContext& c, const Options& o) {
           return std::make_unique<EvolutionPolicy>(c, o.integer_as<std::size_t>("population"),
                                                    o.integer_as<std::size_t>("sample"));
         }});
  r.add({"nsga2",
         "NSGA-II with constrained domination, Deb et al. 2002",
         {OptionSpec::integer("population", 50, 1, kMany, "parents per generation"),
          OptionSpec::real("crossover", 0.9, 0, 1, "probability of crossover per child")},
         [](const PolicyContext& c, const Options& o) {
           return std::make_unique<Nsga2Policy>(c, o.integer_as<std::size_t>("population"),
                                                o.real("crossover"));
         },
         {.multi_objective = true}});
}

std::string resolve_policy(const std::string& spec, std::size_t objectives) {
  if (spec != "auto") return spec;
  return objectives > 1 ? "nsga2" : "evolution";
}

}  // namespace flexnas
