// BOSHNAS (Tuli et al. 2023) as an ask/tell policy: a Bayesian surrogate over the
// Transformer2vec embedding, an optimistic acquisition z = mu - k sigma on the loss to
// minimise, and the reference's exploit / most-uncertain / random mix. Candidates are
// the unproposed pool members, or in a design space a fresh set of samples and mutations
// of the best trials embedded out of sample: taking the acquisition's minimum over them
// is the snapping step of GOBI done exactly. See docs/search.md for the choices.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "search/encoder.hpp"
#include "search/policy.hpp"
#include "space/error.hpp"
#include "surrogate/surrogate.hpp"

namespace flexnas {
namespace {

struct BoshnasPolicyOptions {
  std::string surrogate = "boshnas";   // any surrogate registry name (gp for the GP-BO baseline)
  std::string encoding = "embedding";  // embedding (Transformer2vec) or naive
  std::size_t init = 8;                // random trials before the surrogate is used
  double kappa = 2;  // z = mu - kappa * sigma (robust from 1 to 3, see docs/search.md)
  double p_uncertain = 0.1, p_random = 0.1;
  int patience = 5;                    // steps without improvement before aleatoric is added
  std::size_t space_candidates = 256;  // per ask in a design space
};

class BoshnasPolicy : public Policy {
 public:
  BoshnasPolicy(const PolicyContext& ctx, BoshnasPolicyOptions opt)
      : ctx_(ctx),
        opt_(std::move(opt)),
        rng_(ctx.seed),
        encoder_(*ctx.domain, opt_.encoding, ctx.seed, "policy boshnas") {
    SurrogateRegistry reg;
    register_builtins(reg);
    // Validates the name now (InputError), creates fresh models per fit later.
    try {
      reg.create(opt_.surrogate, {{"seed", std::to_string(ctx.seed % (1ULL << 62))}});
    } catch (const std::exception& e) {
      throw InputError(std::string("policy boshnas: ") + e.what());
    }
  }

  std::string name() const override { return "boshnas"; }

  std::vector<Architecture> ask(std::size_t n) override {
    std::vector<Architecture> out;
    auto take_random = [&] {
      auto a = ctx_.domain->sample(rng_);
      if (a && ctx_.domain->claim(*a)) out.push_back(std::move(*a));
      return a.has_value();
    };
    if (ok_.size() < opt_.init) {
      for (int guard = 0; out.size() < n && guard < 1000;)
        if (!take_random())
          break;
        else
          ++guard;
      return out;
    }
    // Fit on the finished trials (loss to minimise; a random scalarisation for several
    // objectives; infeasible trials get the worst loss plus their violation).
    std::vector<Architecture> done;
    for (const auto& t : ok_) done.push_back(t.arch);
    const Eigen::MatrixXd x = encoder_.encode(done);
    Eigen::VectorXd y = losses();
    SurrogateRegistry reg;
    register_builtins(reg);
    auto model = reg.create(opt_.surrogate,
                            {{"seed", std::to_string((ctx_.seed + fits_++) % (1ULL << 62))}});
    model->fit(x, y);

    std::vector<Architecture> cands = candidates();
    if (cands.empty()) return out;
    const auto pred = model->predict(encoder_.encode(cands));
    const bool converged = since_improvement_ >= opt_.patience;
    std::vector<double> z(cands.size()), unc(cands.size());
    for (std::size_t i = 0; i < cands.size(); ++i) {
      const auto k = static_cast<Eigen::Index>(i);
      const double sigma =
          converged ? std::hypot(pred.epistemic(k), pred.aleatoric(k)) : pred.epistemic(k);
      z[i] = pred.mean(k) - opt_.kappa * sigma;
      unc[i] = pred.epistemic(k);
    }
    std::vector<char> used(cands.size(), 0);
    auto best_by = [&](const std::vector<double>& score, bool minimise) {
      std::size_t arg = cands.size();
      for (std::size_t i = 0; i < cands.size(); ++i) {
        if (used[i]) continue;
        if (arg == cands.size() || (minimise ? score[i] < score[arg] : score[i] > score[arg]))
          arg = i;
      }
      return arg;
    };
    std::uniform_real_distribution<double> u(0, 1);
    while (out.size() < n) {
      const double r = u(rng_);
      if (r < opt_.p_random) {
        if (!take_random()) break;
        continue;
      }
      const std::size_t i =
          r < opt_.p_random + opt_.p_uncertain ? best_by(unc, false) : best_by(z, true);
      if (i == cands.size()) {
        if (!take_random()) break;
        continue;
      }
      used[i] = 1;
      if (ctx_.domain->claim(cands[i])) out.push_back(cands[i]);
    }
    return out;
  }

  void tell(const std::vector<Trial>& trials) override {
    for (const auto& t : trials) {
      if (!t.ok()) continue;
      ok_.push_back(t);
      const double l = scalar_loss(t, ctx_);
      if (l < best_loss_) {
        best_loss_ = l;
        since_improvement_ = 0;
      } else {
        ++since_improvement_;
      }
    }
  }

 private:
  Eigen::VectorXd losses() {
    const std::size_t m = ctx_.objectives.size();
    std::vector<double> w(m, 1.0);
    if (m > 1) {  // random Chebyshev-free linear scalarisation: Dirichlet(1) weights
      std::exponential_distribution<double> e(1.0);
      double s = 0;
      for (auto& x : w) s += (x = e(rng_));
      for (auto& x : w) x /= s;
    }
    std::vector<std::vector<double>> v;
    for (const auto& t : ok_) v.push_back(to_minimise(t.values, ctx_.objectives));
    std::vector<double> lo(m, INFINITY), hi(m, -INFINITY);
    for (const auto& p : v)
      for (std::size_t k = 0; k < m; ++k) {
        lo[k] = std::min(lo[k], p[k]);
        hi[k] = std::max(hi[k], p[k]);
      }
    Eigen::VectorXd y(static_cast<Eigen::Index>(ok_.size()));
    for (std::size_t i = 0; i < ok_.size(); ++i) {
      double s = 0;
      for (std::size_t k = 0; k < m; ++k)
        s += w[k] * (hi[k] > lo[k] ? (v[i][k] - lo[k]) / (hi[k] - lo[k]) : 0);
      const double viol = total_violation(ok_[i].values, ctx_.constraints);
      y(static_cast<Eigen::Index>(i)) = viol > 0 ? 1 + viol : s;
    }
    return y;
  }

  std::vector<Architecture> candidates() {
    std::vector<Architecture> c;
    if (ctx_.domain->is_pool()) {
      const auto& pool = ctx_.domain->pool();
      for (std::size_t i = 0; i < pool.size(); ++i)
        if (!ctx_.domain->seen(ctx_.domain->pool_keys()[i])) c.push_back(pool[i]);
      return c;
    }
    // Samples plus mutations of the best trials so far.
    std::vector<const Trial*> best;
    for (const auto& t : ok_) best.push_back(&t);
    std::sort(best.begin(), best.end(), [&](const Trial* a, const Trial* b) {
      return scalar_loss(*a, ctx_) < scalar_loss(*b, ctx_);
    });
    best.resize(std::min<std::size_t>(best.size(), 8));
    std::set<std::string> keys;
    for (std::size_t i = 0; c.size() < opt_.space_candidates && i < 4 * opt_.space_candidates;
         ++i) {
      std::optional<Architecture> a =
          i % 2 && !best.empty() ? ctx_.domain->mutate(best[i / 2 % best.size()]->arch, rng_)
                                 : ctx_.domain->sample(rng_);
      if (!a) continue;
      const auto k = ctx_.domain->key(*a);
      if (ctx_.domain->seen(k) || !keys.insert(k).second) continue;
      c.push_back(std::move(*a));
    }
    return c;
  }

  PolicyContext ctx_;
  BoshnasPolicyOptions opt_;
  Rng rng_;
  CandidateEncoder encoder_;
  std::vector<Trial> ok_;
  double best_loss_ = std::numeric_limits<double>::infinity();
  int since_improvement_ = 0;
  std::uint64_t fits_ = 0;
};

}  // namespace

void register_boshnas_policy(PolicyRegistry& r) {
  r.add({"boshnas",
         "BOSHNAS: Bayesian neural surrogate over the embedding, optimistic acquisition, "
         "exploit/uncertain/random mix",
         {{"surrogate", "boshnas"}, {"encoding", "embedding"}, {"init", "8"}, {"kappa", "2"}},
         true,
         [](const PolicyContext& c, const std::map<std::string, std::string>& o) {
           BoshnasPolicyOptions opt;
           opt.surrogate = o.at("surrogate");
           opt.encoding = o.at("encoding");
           try {
             opt.init = static_cast<std::size_t>(std::stoul(o.at("init")));
             opt.kappa = std::stod(o.at("kappa"));
           } catch (const std::exception&) {
             throw InputError("policy boshnas: init and kappa must be numbers");
           }
           return std::make_unique<BoshnasPolicy>(c, opt);
         }});
}

}  // namespace flexnas
