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

#include "search/policy.hpp"
#include "space/error.hpp"
#include "surrogate/surrogate.hpp"

namespace flexnas {
namespace {

struct BoshnasPolicyOptions {
  std::string surrogate = "boshnas";  // any surrogate registry name (gp for the GP-BO baseline)
  std::string encoding = "embedding";  // embedding (Transformer2vec) or naive
  std::size_t init = 8;                // random trials before the surrogate is used
  double kappa = 2;                    // z = mu - kappa * sigma (robust from 1 to 3, see docs/search.md)
  double p_uncertain = 0.1, p_random = 0.1;
  int patience = 5;                    // steps without improvement before aleatoric is added
  std::size_t space_candidates = 256;  // per ask in a design space
};

class BoshnasPolicy : public Policy {
 public:
  BoshnasPolicy(const PolicyContext& ctx, BoshnasPolicyOptions opt)
      : ctx_(ctx), opt_(std::move(opt)), rng_(ctx.seed) {
    SurrogateRegistry reg;
    register_builtins(reg);
    // Validates the name now (InputError), creates fresh models per fit later.
    try {
      reg.create(opt_.surrogate, {{"seed", std::to_string(ctx.seed % (1ULL << 62))}});
    } catch (const std::exception& e) {
      throw InputError(std::string("policy boshnas: ") + e.what());
    }
    if (opt_.encoding != "embedding" && opt_.encoding != "naive")
      throw InputError("policy boshnas: encoding=" + opt_.encoding + " is not embedding or naive");
    if (!ctx_.domain->is_pool() && opt_.encoding == "embedding") {
      // A design space has no fitted embedding: fit one on a uniform sample.
      Rng r(ctx.seed ^ 0x9e3779b97f4a7c15ULL);
      std::vector<Architecture> sample;
      for (int i = 0; i < 400; ++i) sample.push_back(ctx_.domain->space().sample(r));
      EmbeddingOptions eo;
      eo.seed = ctx.seed;
      space_embedding_ = std::make_shared<const Embedding>(Embedding::fit(sample, ctx_.domain->space(), eo));
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
        if (!take_random()) break;
        else ++guard;
      return out;
    }
    // Fit on the finished trials (loss to minimise; a random scalarisation for several
    // objectives; infeasible trials get the worst loss plus their violation).
    Eigen::MatrixXd x(static_cast<Eigen::Index>(ok_.size()), dim());
    Eigen::VectorXd y = losses();
    for (std::size_t i = 0; i < ok_.size(); ++i) x.row(static_cast<Eigen::Index>(i)) = encode(ok_[i].arch);
    SurrogateRegistry reg;
    register_builtins(reg);
    auto model = reg.create(opt_.surrogate, {{"seed", std::to_string((ctx_.seed + fits_++) % (1ULL << 62))}});
    model->fit(x, y);

    std::vector<std::ptrdiff_t> rows;  // pool rows of the candidates (pool mode)
    std::vector<Architecture> cands = candidates(rows);
    if (cands.empty()) return out;
    Eigen::MatrixXd cx(static_cast<Eigen::Index>(cands.size()), dim());
    for (std::size_t i = 0; i < cands.size(); ++i)
      cx.row(static_cast<Eigen::Index>(i)) = opt_.encoding == "embedding" && !rows.empty()
                                                 ? Eigen::VectorXd(embedding()->points().row(rows[i]).transpose())
                                                 : encode(cands[i]);
    const auto pred = model->predict(cx);
    const bool converged = since_improvement_ >= opt_.patience;
    std::vector<double> z(cands.size()), unc(cands.size());
    for (std::size_t i = 0; i < cands.size(); ++i) {
      const auto k = static_cast<Eigen::Index>(i);
      const double sigma = converged ? std::hypot(pred.epistemic(k), pred.aleatoric(k)) : pred.epistemic(k);
      z[i] = pred.mean(k) - opt_.kappa * sigma;
      unc[i] = pred.epistemic(k);
    }
    std::vector<char> used(cands.size(), 0);
    auto best_by = [&](const std::vector<double>& score, bool minimise) {
      std::size_t arg = cands.size();
      for (std::size_t i = 0; i < cands.size(); ++i) {
        if (used[i]) continue;
        if (arg == cands.size() || (minimise ? score[i] < score[arg] : score[i] > score[arg])) arg = i;
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
      const std::size_t i = r < opt_.p_random + opt_.p_uncertain ? best_by(unc, false) : best_by(z, true);
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
  const Embedding* embedding() const {
    return ctx_.domain->is_pool() ? ctx_.domain->embedding() : space_embedding_.get();
  }
  Eigen::Index dim() const {
    if (opt_.encoding == "naive") return naive_encoding(ctx_.domain->space().sample(const_cast<Rng&>(probe_)), ctx_.domain->space()).size();
    return embedding()->dim();
  }
  Eigen::VectorXd encode(const Architecture& a) const {
    if (opt_.encoding == "naive") return naive_encoding(a, ctx_.domain->space());
    if (ctx_.domain->is_pool()) {
      const auto i = ctx_.domain->pool_index(ctx_.domain->key(a));
      if (i >= 0) return embedding()->points().row(static_cast<Eigen::Index>(i)).transpose();
    }
    return embedding()->embed(a);
  }

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
      for (std::size_t k = 0; k < m; ++k) s += w[k] * (hi[k] > lo[k] ? (v[i][k] - lo[k]) / (hi[k] - lo[k]) : 0);
      const double viol = total_violation(ok_[i].values, ctx_.constraints);
      y(static_cast<Eigen::Index>(i)) = viol > 0 ? 1 + viol : s;
    }
    return y;
  }

  std::vector<Architecture> candidates(std::vector<std::ptrdiff_t>& rows) {
    std::vector<Architecture> c;
    if (ctx_.domain->is_pool()) {
      const auto& pool = ctx_.domain->pool();
      for (std::size_t i = 0; i < pool.size(); ++i)
        if (!ctx_.domain->seen(ctx_.domain->pool_keys()[i])) {
          c.push_back(pool[i]);
          rows.push_back(static_cast<std::ptrdiff_t>(i));
        }
      return c;
    }
    // Samples plus mutations of the best trials so far.
    std::vector<const Trial*> best;
    for (const auto& t : ok_) best.push_back(&t);
    std::sort(best.begin(), best.end(), [&](const Trial* a, const Trial* b) { return scalar_loss(*a, ctx_) < scalar_loss(*b, ctx_); });
    best.resize(std::min<std::size_t>(best.size(), 8));
    std::set<std::string> keys;
    for (std::size_t i = 0; c.size() < opt_.space_candidates && i < 4 * opt_.space_candidates; ++i) {
      std::optional<Architecture> a = i % 2 && !best.empty() ? ctx_.domain->mutate(best[i / 2 % best.size()]->arch, rng_)
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
  Rng probe_{0};
  std::shared_ptr<const Embedding> space_embedding_;
  std::vector<Trial> ok_;
  double best_loss_ = std::numeric_limits<double>::infinity();
  int since_improvement_ = 0;
  std::uint64_t fits_ = 0;
};

}  // namespace

void register_boshnas_policy(PolicyRegistry& r) {
  r.add({"boshnas",
         "BOSHNAS: Bayesian neural surrogate over the embedding, optimistic acquisition, exploit/uncertain/random mix",
         {{"surrogate", "boshnas"}, {"encoding", "embedding"}, {"init", "8"}, {"kappa", "2"}},
         true, [](const PolicyContext& c, const std::map<std::string, std::string>& o) {
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
