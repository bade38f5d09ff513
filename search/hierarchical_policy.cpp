// Hierarchical refinement (FlexiBERT, ALGORITHMS §6) as a policy: stage 0 searches a
// coarse version of the space (2 layers per stack: stacks share one choice; uniform
// feed-forward widths) with an inner policy; each later stage takes the best trials so
// far, builds a finer candidate set around them — per layer position, the union of the
// good models' choices, plus single mutations in the finer space — embeds that set afresh
// (a new Transformer2vec embedding, not the old one re-used) and searches it with a fresh
// inner policy that is told every earlier trial. The last stage searches until the budget.
#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "search/policy.hpp"

namespace flexnas {
namespace {

struct HierarchicalOptions {
  std::string inner = "boshnas";
  std::size_t stage = 40;  // finished trials per stage before refining (the last stage runs on)
  std::size_t top = 8;     // best trials a refinement builds on
  std::size_t pool = 500;  // candidates of a refined stage
};

class HierarchicalPolicy : public Policy {
 public:
  HierarchicalPolicy(const PolicyContext& ctx, HierarchicalOptions opt)
      : ctx_(ctx), opt_(std::move(opt)), rng_(ctx.seed) {
    if (ctx_.domain->is_pool())
      throw InputError(
          "policy hierarchical: needs --space (a pool is already a finite candidate list)");
    if (opt_.inner == "hierarchical" || opt_.inner.rfind("hierarchical:", 0) == 0)
      throw InputError("policy hierarchical: inner cannot be hierarchical");
    // The spaces of the stages, coarse to fine, ending with the user's space.
    const DesignSpace& fine = ctx_.domain->space();
    DesignSpace coarse = fine;
    coarse.layers_per_stack = std::max(2, fine.layers_per_stack);
    coarse.mixed_ff = false;
    DesignSpace mid = fine;
    mid.mixed_ff = false;
    for (const DesignSpace* s : std::vector<const DesignSpace*>{&coarse, &mid, &fine})
      if (stages_.empty() || s->to_yaml() != stages_.back().to_yaml()) stages_.push_back(*s);
    if (stages_.size() == 1) stages_.push_back(fine);  // already coarse: refine in the same space
    domain_ = std::make_unique<SearchDomain>(stages_[0]);
    inner_ = make_inner(0);
  }

  std::string name() const override { return "hierarchical"; }

  std::vector<Architecture> ask(std::size_t n) override {
    std::vector<Architecture> out;
    for (int guard = 0; out.size() < n && guard < 100; ++guard) {
      auto asked = inner_->ask(n - out.size());
      if (asked.empty()) {
        if (stage_ + 1 < stages_.size()) {
          refine();
          continue;
        }
        break;
      }
      // A candidate of this stage may have been evaluated in an earlier one.
      for (auto& a : asked)
        if (ctx_.domain->claim(a)) out.push_back(std::move(a));
    }
    return out;
  }

  void tell(const std::vector<Trial>& trials) override {
    inner_->tell(trials);
    for (const auto& t : trials) {
      if (t.ok()) ok_.push_back(t);
      ++told_in_stage_;
    }
    if (told_in_stage_ >= opt_.stage && stage_ + 1 < stages_.size()) refine();
  }

 private:
  std::unique_ptr<Policy> make_inner(std::size_t stage) const {
    PolicyRegistry reg;
    register_builtin_policies(reg);
    return reg.create(opt_.inner, PolicyContext{domain_.get(), ctx_.objectives, ctx_.constraints,
                                                ctx_.seed + 1000003 * stage});
  }

  // The best `top` trials so far (the primary objective, feasible first; NSGA-II order for
  // several objectives).
  std::vector<const Trial*> best_trials() const {
    std::vector<std::size_t> order(ok_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (ctx_.objectives.size() > 1) {
      std::vector<std::vector<double>> pts;
      std::vector<double> viol;
      for (const auto& t : ok_) {
        pts.push_back(to_minimise(t.values, ctx_.objectives));
        viol.push_back(total_violation(t.values, ctx_.constraints));
      }
      order = nsga2_order(nsga2_ranks(pts, viol));
    } else {
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return scalar_loss(ok_[a], ctx_) < scalar_loss(ok_[b], ctx_);
      });
    }
    std::vector<const Trial*> best;
    for (std::size_t i = 0; i < order.size() && best.size() < opt_.top; ++i)
      best.push_back(&ok_[order[i]]);
    return best;
  }

  void refine() {
    ++stage_;
    told_in_stage_ = 0;
    const DesignSpace& space = stages_[stage_];
    const auto best = best_trials();
    std::vector<Architecture> pool;
    std::set<std::string> keys;
    auto add = [&](const Architecture& a) {
      if (!space.contains(a)) return;
      if (keys.insert(ctx_.domain->key(a)).second) pool.push_back(a.canonical());
    };
    for (const auto* t : best) add(t->arch);  // in the pool so that they embed in-sample
    if (!best.empty()) {
      // Per layer position, the layers the good models use there.
      std::vector<std::vector<Layer>> choices;
      for (const auto* t : best)
        for (std::size_t i = 0; i < t->arch.layers.size(); ++i) {
          if (choices.size() <= i) choices.resize(i + 1);
          if (std::find(choices[i].begin(), choices[i].end(), t->arch.layers[i]) ==
              choices[i].end())
            choices[i].push_back(t->arch.layers[i]);
        }
      for (std::size_t k = 0; pool.size() < opt_.pool && k < 40 * opt_.pool; ++k) {
        Architecture a = best[k % best.size()]->arch;
        if (k % 2) {
          a = space.mutate(a, rng_);  // a neighbour in the finer space
        } else {
          for (std::size_t i = 0; i < a.layers.size(); ++i)
            if (std::bernoulli_distribution(0.5)(rng_))
              a.layers[i] = choices[i][std::uniform_int_distribution<std::size_t>(
                  0, choices[i].size() - 1)(rng_)];
        }
        add(a);
      }
    }
    std::size_t fresh = 0;
    for (const auto& a : pool) fresh += !ctx_.domain->seen(ctx_.domain->key(a));
    // Too few new candidates around the best: search the stage's space itself.
    domain_ = fresh >= 2 ? std::make_unique<SearchDomain>(pool, space, ctx_.seed + stage_)
                         : std::make_unique<SearchDomain>(space);
    inner_ = make_inner(stage_);
    for (const auto& t : ok_) domain_->claim(t.arch);
    inner_->tell(ok_);  // what earlier stages learnt
  }

  PolicyContext ctx_;
  HierarchicalOptions opt_;
  Rng rng_;
  std::vector<DesignSpace> stages_;
  std::size_t stage_ = 0, told_in_stage_ = 0;
  std::unique_ptr<SearchDomain> domain_;
  std::unique_ptr<Policy> inner_;
  std::vector<Trial> ok_;
};

}  // namespace

void register_hierarchical_policy(PolicyRegistry& r) {
  constexpr long long kMany = std::numeric_limits<long long>::max();
  r.add({"hierarchical",
         "FlexiBERT hierarchical refinement: coarse space first, then finer candidate sets around "
         "the best",
         {OptionSpec::text("inner", "boshnas", "the policy run at each stage"),
          OptionSpec::integer("stage", 40, 1, kMany,
                              "finished trials per stage before refining (the last stage runs on)"),
          OptionSpec::integer("top", 8, 1, kMany, "best trials a refinement builds on"),
          OptionSpec::integer("pool", 500, 1, kMany, "candidates of a refined stage")},
         [](const PolicyContext& c, const Options& o) {
           HierarchicalOptions opt;
           opt.inner = o.text("inner");
           opt.stage = o.integer_as<std::size_t>("stage");
           opt.top = o.integer_as<std::size_t>("top");
           opt.pool = o.integer_as<std::size_t>("pool");
           return std::make_unique<HierarchicalPolicy>(c, opt);
         },
         {.multi_objective = true}});
}

}  // namespace flexnas
