// Surrogate-assisted NSGA-II (as in DyNAS-T / LINAS): each ask fits one cheap surrogate
// per objective and per constrained value on the finished trials, runs `generations`
// generations of NSGA-II on PREDICTED values (optimistic: mean - kappa * std on the
// minimised objective), starting from the best real trials, and proposes the best
// predicted children for real evaluation. In a pool, every unproposed member is predicted
// and ranked at once instead (see ask_pool). Real evaluations are spent only on candidates
// the models rank on or near the predicted front.
#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "search/encoder.hpp"
#include "search/policy.hpp"
#include "surrogate/surrogate.hpp"

namespace flexnas {
namespace {

struct SaNsga2Options {
  std::size_t population = 32;
  std::size_t generations = 10;
  std::size_t init = 16;  // random trials before the surrogates are used
  std::string surrogate = "gp";
  std::string encoding = "embedding";
  double kappa = 1;
  std::map<std::string, std::string> surrogate_options;  // surrogate.KEY=VALUE, passed on
};

// One member of a predicted generation: an architecture and its (real or predicted)
// minimised objectives and constraint violation.
struct Member {
  Architecture arch;
  std::string key;
  std::vector<double> point;
  double violation = 0;
  bool real = false;
};

class SaNsga2Policy : public Policy {
  std::map<std::string, std::string> with_seed(std::uint64_t seed) const {
    auto o = opt_.surrogate_options;
    o["seed"] = std::to_string(seed % (1ULL << 62));
    return o;
  }

 public:
  SaNsga2Policy(const PolicyContext& ctx, SaNsga2Options opt)
      : ctx_(ctx),
        opt_(std::move(opt)),
        rng_(ctx.seed),
        encoder_(*ctx.domain, opt_.encoding, ctx.seed, "policy sa-nsga2") {
    SurrogateRegistry reg;
    register_builtins(reg);
    try {
      reg.create(opt_.surrogate, with_seed(1));
    } catch (const std::exception& e) {
      throw InputError(std::string("policy sa-nsga2: ") + e.what());
    }
  }
  std::string name() const override { return "sa-nsga2"; }
  std::size_t random_start() const override { return opt_.init; }
  std::string random_start_option() const override { return "init"; }

  std::vector<Architecture> ask(std::size_t n) override {
    std::vector<Architecture> out;
    auto take_random = [&] {
      auto a = ctx_.domain->sample(rng_);
      if (a && ctx_.domain->claim(*a)) out.push_back(std::move(*a));
      return a.has_value();
    };
    if (ok_.size() < opt_.init) {
      for (int guard = 0; out.size() < n && guard < 1000; ++guard)
        if (!take_random()) break;
      return out;
    }
    fit_models();
    if (ctx_.domain->is_pool()) return ask_pool(n);

    // Generation 0: the best real trials.
    std::vector<Member> pop;
    {
      std::vector<Member> real;
      for (const auto& t : ok_)
        real.push_back({t.arch, t.hash, to_minimise(t.values, ctx_.objectives),
                        total_violation(t.values, ctx_.constraints), true});
      pop = select(std::move(real));
    }
    std::set<std::string> in_play;
    for (const auto& m : pop) in_play.insert(m.key);
    std::vector<Member> last_children;
    for (std::size_t g = 0; g < opt_.generations; ++g) {
      const auto ranks = ranks_of(pop);
      std::vector<Architecture> kids;
      std::vector<std::string> keys;
      for (std::size_t tries = 0; kids.size() < opt_.population && tries < 20 * opt_.population;
           ++tries) {
        const Member& p1 = tournament(pop, ranks);
        const Member& p2 = tournament(pop, ranks);
        Architecture child = p1.arch;
        if (std::bernoulli_distribution(0.9)(rng_))
          if (auto c = ctx_.domain->crossover(p1.arch, p2.arch, rng_)) child = *c;
        auto a = ctx_.domain->mutate(child, rng_);
        if (!a) break;
        auto k = ctx_.domain->key(*a);
        if (ctx_.domain->seen(k) || !in_play.insert(k).second) continue;
        kids.push_back(std::move(*a));
        keys.push_back(std::move(k));
      }
      if (kids.empty()) break;
      auto children = predict(kids, keys, encoder_.encode(kids));
      auto all = pop;
      all.insert(all.end(), children.begin(), children.end());
      pop = select(std::move(all));
      last_children = std::move(children);
    }
    // Propose the predicted members of the final population, best first; then the rest
    // of the last generation's children; then random.
    std::vector<Member> ranked;
    for (auto& m : pop)
      if (!m.real) ranked.push_back(m);
    for (auto& m : select_all(std::move(last_children))) ranked.push_back(std::move(m));
    for (auto& m : ranked) {
      if (out.size() >= n) break;
      if (ctx_.domain->claim(m.arch)) out.push_back(m.arch);
    }
    for (int guard = 0; out.size() < n && guard < 1000; ++guard)
      if (!take_random()) break;
    return out;
  }

  void tell(const std::vector<Trial>& trials) override {
    for (const auto& t : trials) {
      if (!t.ok()) continue;
      ok_.push_back(t);
      encoder_.append(t.arch, done_x_);
    }
  }

 private:
  // A pool is finite: instead of predicted generations (which only reach pool members by
  // snapping, an out-of-sample embedding each), every unproposed member is predicted at
  // once and ranked together with the real trials, which is what many predicted
  // generations converge to.
  std::vector<Architecture> ask_pool(std::size_t n) {
    const auto members = ctx_.domain->unseen_pool_members();
    std::vector<Architecture> cands;
    std::vector<std::string> keys;
    for (std::size_t i : members) {
      cands.push_back(ctx_.domain->pool()[i]);
      keys.push_back(ctx_.domain->pool_keys()[i]);
    }
    std::vector<Member> all;
    for (const auto& t : ok_)
      all.push_back({t.arch, t.hash, to_minimise(t.values, ctx_.objectives),
                     total_violation(t.values, ctx_.constraints), true});
    for (auto& m : predict(cands, keys, encoder_.encode_pool(members))) all.push_back(std::move(m));
    std::vector<Architecture> out;
    for (auto& m : select_all(std::move(all))) {
      if (out.size() >= n) break;
      if (!m.real && ctx_.domain->claim(m.arch)) out.push_back(m.arch);
    }
    return out;
  }

  // One model per minimised objective, then one per constrained value.
  void fit_models() {
    const Eigen::MatrixXd& x = done_x_;  // rows of ok_, encoded once in tell()
    SurrogateRegistry reg;
    register_builtins(reg);
    models_.clear();
    const std::size_t m = ctx_.objectives.size();
    for (std::size_t k = 0; k < m + ctx_.constraints.size(); ++k) {
      Eigen::VectorXd y(x.rows());
      for (std::size_t i = 0; i < ok_.size(); ++i) {
        double v = 0;
        if (k < m) {
          v = to_minimise(ok_[i].values, {ctx_.objectives[k]})[0];
        } else {  // a missing constrained value counts as on the bound (Constraint: not violated)
          const auto& c = ctx_.constraints[k - m];
          auto it = ok_[i].values.find(c.name);
          v = it == ok_[i].values.end() ? c.bound : it->second;
        }
        y(static_cast<Eigen::Index>(i)) = v;
      }
      auto model = reg.create(opt_.surrogate, with_seed(ctx_.seed + 7919 * fits_ + k));
      model->fit(x, y);
      models_.push_back(std::move(model));
    }
    ++fits_;
  }

  // `x`: the encodings of `archs`, one row each.
  std::vector<Member> predict(const std::vector<Architecture>& archs,
                              const std::vector<std::string>& keys, const Eigen::MatrixXd& x) {
    const std::size_t m = ctx_.objectives.size();
    std::vector<Member> out(archs.size());
    for (std::size_t i = 0; i < archs.size(); ++i) {
      out[i].arch = archs[i];
      out[i].key = keys[i];
      out[i].point.resize(m);
    }
    std::vector<std::map<std::string, double>> cvals(archs.size());
    for (std::size_t k = 0; k < models_.size(); ++k) {
      const auto p = models_[k]->predict(x);
      for (std::size_t i = 0; i < archs.size(); ++i) {
        const auto r = static_cast<Eigen::Index>(i);
        if (k < m)
          out[i].point[k] = p.mean(r) - opt_.kappa * p.epistemic(r);
        else
          cvals[i][ctx_.constraints[k - m].name] = p.mean(r);
      }
    }
    for (std::size_t i = 0; i < archs.size(); ++i)
      out[i].violation = total_violation(cvals[i], ctx_.constraints);
    return out;
  }

  static std::vector<NsgaRank> ranks_of(const std::vector<Member>& v) {
    std::vector<std::vector<double>> pts;
    std::vector<double> viol;
    for (const auto& m : v) {
      pts.push_back(m.point);
      viol.push_back(m.violation);
    }
    return nsga2_ranks(pts, viol);
  }

  std::vector<Member> select_all(std::vector<Member> v) const {
    const auto order = nsga2_order(ranks_of(v));
    std::vector<Member> out;
    for (std::size_t i : order) out.push_back(std::move(v[i]));
    return out;
  }

  std::vector<Member> select(std::vector<Member> v) const {
    auto out = select_all(std::move(v));
    if (out.size() > opt_.population) out.resize(opt_.population);
    return out;
  }

  const Member& tournament(const std::vector<Member>& pop, const std::vector<NsgaRank>& ranks) {
    auto pick = [&] { return std::uniform_int_distribution<std::size_t>(0, pop.size() - 1)(rng_); };
    const std::size_t a = pick(), b = pick();
    if (ranks[a].front != ranks[b].front) return pop[ranks[a].front < ranks[b].front ? a : b];
    return pop[ranks[a].crowding >= ranks[b].crowding ? a : b];
  }

  PolicyContext ctx_;
  SaNsga2Options opt_;
  Rng rng_;
  CandidateEncoder encoder_;
  std::vector<Trial> ok_;
  Eigen::MatrixXd done_x_;  // encodings of ok_, row by row as they are told
  std::vector<std::unique_ptr<Surrogate>> models_;
  std::uint64_t fits_ = 0;
};

}  // namespace

void register_sa_nsga2_policy(PolicyRegistry& r) {
  constexpr long long kMany = std::numeric_limits<long long>::max();
  r.add({"sa-nsga2",
         "surrogate-assisted NSGA-II: predicted generations on cheap surrogates, few real "
         "evaluations",
         {OptionSpec::integer("population", 32, 2, kMany, "parents per predicted generation"),
          OptionSpec::integer("generations", 10, 1, kMany, "predicted generations per batch"),
          OptionSpec::integer("init", 16, 1, kMany, "random trials before the surrogates"),
          OptionSpec::text("surrogate", "gp", "surrogate name (flexnas surrogates)"),
          OptionSpec::text("encoding", "embedding", "candidate encoding"),
          OptionSpec::real("kappa", 1, 0, std::numeric_limits<double>::max(),
                           "weight of the uncertainty in the predicted objectives")},
         [](const PolicyContext& c, const Options& o) {
           SaNsga2Options opt;
           opt.population = o.integer_as<std::size_t>("population");
           opt.generations = o.integer_as<std::size_t>("generations");
           opt.init = o.integer_as<std::size_t>("init");
           opt.kappa = o.real("kappa");
           opt.surrogate = o.text("surrogate");
           opt.encoding = o.text("encoding");
           opt.surrogate_options = o.prefixed("surrogate.");
           return std::make_unique<SaNsga2Policy>(c, opt);
         },
         {.multi_objective = true}});
}

}  // namespace flexnas
