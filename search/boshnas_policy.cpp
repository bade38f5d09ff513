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

#include <tbb/parallel_for.h>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "search/encoder.hpp"
#include "search/policy.hpp"
#include "surrogate/acquisition.hpp"
#include "surrogate/gobi.hpp"
#include "surrogate/surrogate.hpp"

namespace flexnas {
namespace {

struct BoshnasPolicyOptions {
  std::string surrogate = "boshnas";  // any surrogate registry name (gp for the GP-BO baseline)
  // embedding (Transformer2vec) or naive, either with +stats (log params, log FLOPs, depth)
  std::string encoding = "embedding+stats";
  std::size_t init = 8;  // random trials before the surrogate is used
  double kappa = 2;      // z = mu - kappa * sigma (robust from 1 to 3, see docs/search.md)
  double p_uncertain = 0.1, p_random = 0.1;
  int patience = 5;                    // steps without improvement before aleatoric is added
  std::size_t space_candidates = 256;  // per ask in a design space
  // scan: z at every candidate, exploit = lowest z (exact snapping); gobi: AdaHessian on z
  // over the embedding box from the best candidates, each optimum snapped to the nearest
  // unused candidate (the reference's GOBI + nearest-architecture step).
  std::string optimizer = "scan";
  // Surrogates fitted per ask with different seeds and pooled as a mixture: mean of the
  // means, variance = mean variance + variance of the means (a deep ensemble).
  int ensemble = 1;
  // ucb: exploit = lowest mu - kappa sigma; ts: independent Thompson sampling, each exploit
  // pick the lowest of one draw mu + sigma eps (eps ~ N(0, 1) per candidate).
  std::string acquisition = "ucb";
  // Probability that an exploit pick is made among the `local_k` unused candidates nearest
  // (in the encoding) to the best trial so far: a trust region around the incumbent.
  double p_local = 0;
  std::size_t local_k = 16;
  // Random picks in a pool: a depth first, then a member of that depth (see sample_by_depth).
  bool by_depth = true;
  std::map<std::string, std::string> surrogate_options;  // surrogate.KEY=VALUE, passed on
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
      reg.create(opt_.surrogate, surrogate_options(ctx.seed));
    } catch (const std::exception& e) {
      throw InputError(std::string("policy boshnas: ") + e.what());
    }
  }

  std::string name() const override { return "boshnas"; }
  std::size_t random_start() const override { return opt_.init; }
  std::string random_start_option() const override { return "init"; }

  std::vector<Architecture> ask(std::size_t n) override {
    std::vector<Architecture> out;
    auto take_random = [&] {
      auto a =
          opt_.by_depth && ctx_.domain->is_pool() ? sample_by_depth() : ctx_.domain->sample(rng_);
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
    const Eigen::MatrixXd& x = done_x_;  // rows of ok_, encoded once in tell()
    Eigen::VectorXd y = losses();
    SurrogateRegistry reg;
    register_builtins(reg);
    std::vector<std::unique_ptr<Surrogate>> models(static_cast<std::size_t>(opt_.ensemble));
    for (auto& m : models) m = reg.create(opt_.surrogate, surrogate_options(ctx_.seed + fits_++));
    // Members are independent and seeded, so fitting them in parallel changes nothing.
    tbb::parallel_for(std::size_t{0}, models.size(), [&](std::size_t i) { models[i]->fit(x, y); });
    const Surrogate& model = *models[0];

    // Candidates: in a pool the unproposed members (rows of the pool's encoding, computed
    // once: hashing 10^3 graphs per ask cost more than the surrogate), else fresh ones.
    const bool in_pool = ctx_.domain->is_pool();
    std::vector<Architecture> fresh;
    std::vector<std::size_t> members;
    Eigen::MatrixXd cx;
    if (in_pool) {
      members = ctx_.domain->unseen_pool_members();
      cx = encoder_.encode_pool(members);
    } else {
      fresh = candidates();
      cx = encoder_.encode(fresh);
    }
    const std::size_t n_cands = in_pool ? members.size() : fresh.size();
    auto cand = [&](std::size_t i) -> const Architecture& {
      return in_pool ? ctx_.domain->pool()[members[i]] : fresh[i];
    };
    if (n_cands == 0) return out;
    Prediction pred = model.predict(cx);
    if (models.size() > 1) {
      const auto k = static_cast<double>(models.size());
      Eigen::VectorXd m1 = pred.mean, m2 = pred.mean.cwiseAbs2(), ev = pred.epistemic.cwiseAbs2(),
                      av = pred.aleatoric.cwiseAbs2();
      for (std::size_t i = 1; i < models.size(); ++i) {
        const Prediction p = models[i]->predict(cx);
        m1 += p.mean;
        m2 += p.mean.cwiseAbs2();
        ev += p.epistemic.cwiseAbs2();
        av += p.aleatoric.cwiseAbs2();
      }
      pred.mean = m1 / k;
      const Eigen::VectorXd spread = (m2 / k - pred.mean.cwiseAbs2()).cwiseMax(0.0);
      pred.epistemic = (ev / k + spread).cwiseSqrt();
      pred.aleatoric = (av / k).cwiseSqrt();
    }
    const bool converged = since_improvement_ >= opt_.patience;
    std::vector<double> z(n_cands), unc(n_cands), sigma(n_cands);
    for (std::size_t i = 0; i < n_cands; ++i) {
      const auto k = static_cast<Eigen::Index>(i);
      const double s =
          converged ? std::hypot(pred.epistemic(k), pred.aleatoric(k)) : pred.epistemic(k);
      z[i] = pred.mean(k) - opt_.kappa * s;
      unc[i] = pred.epistemic(k);
      sigma[i] = s;
    }
    std::vector<char> used(n_cands, 0);
    auto best_by = [&](const std::vector<double>& score, bool minimise) {
      std::size_t arg = n_cands;
      for (std::size_t i = 0; i < n_cands; ++i) {
        if (used[i]) continue;
        if (arg == n_cands || (minimise ? score[i] < score[arg] : score[i] > score[arg])) arg = i;
      }
      return arg;
    };
    // The incumbent's encoding, for local picks.
    Eigen::RowVectorXd incumbent;
    if (opt_.p_local > 0 && x.rows() > 0) {
      Eigen::Index arg = 0;
      y.minCoeff(&arg);
      incumbent = x.row(arg);
    }
    std::normal_distribution<double> gauss(0, 1);
    std::uniform_real_distribution<double> u(0, 1);
    auto exploit_pick = [&]() -> std::size_t {
      std::vector<std::size_t> pool_of;  // candidates considered; empty = all
      if (opt_.p_local > 0 && incumbent.size() == cx.cols() && u(rng_) < opt_.p_local) {
        std::vector<std::pair<double, std::size_t>> d;
        for (std::size_t i = 0; i < n_cands; ++i)
          if (!used[i])
            d.emplace_back((cx.row(static_cast<Eigen::Index>(i)) - incumbent).squaredNorm(), i);
        const std::size_t k = std::min(opt_.local_k, d.size());
        std::partial_sort(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(k), d.end());
        for (std::size_t j = 0; j < k; ++j) pool_of.push_back(d[j].second);
      }
      std::size_t arg = n_cands;
      double best = std::numeric_limits<double>::infinity();
      auto consider = [&](std::size_t i) {
        if (used[i]) return;
        const double v = opt_.acquisition == "ts"
                             ? pred.mean(static_cast<Eigen::Index>(i)) + sigma[i] * gauss(rng_)
                             : z[i];
        if (v < best) {
          best = v;
          arg = i;
        }
      };
      if (pool_of.empty())
        for (std::size_t i = 0; i < n_cands; ++i) consider(i);
      else
        for (std::size_t i : pool_of) consider(i);
      return arg;
    };
    std::vector<std::size_t> gobi_order;  // exploit picks of optimizer=gobi, best first
    if (opt_.optimizer == "gobi") gobi_order = gobi_picks(model, cx, z, converged);
    std::size_t next_gobi = 0;
    while (out.size() < n) {
      const double r = u(rng_);
      if (r < opt_.p_random) {
        if (!take_random()) break;
        continue;
      }
      std::size_t i = n_cands;
      if (r < opt_.p_random + opt_.p_uncertain) {
        i = best_by(unc, false);
      } else {
        while (next_gobi < gobi_order.size() && used[gobi_order[next_gobi]]) ++next_gobi;
        i = next_gobi < gobi_order.size() ? gobi_order[next_gobi] : exploit_pick();
      }
      if (i == n_cands) {
        if (!take_random()) break;
        continue;
      }
      used[i] = 1;
      if (ctx_.domain->claim(cand(i))) out.push_back(cand(i));
    }
    return out;
  }

  void tell(const std::vector<Trial>& trials) override {
    for (const auto& t : trials) {
      if (!t.ok()) continue;
      ok_.push_back(t);
      encoder_.append(t.arch, done_x_);
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
  // GOBI: minimise z = mu - kappa sigma over the box spanned by the candidates with
  // AdaHessian, from the 8 candidates of lowest z; each optimum (best first) is snapped to
  // the nearest candidate not yet picked.
  std::vector<std::size_t> gobi_picks(const Surrogate& model, const Eigen::MatrixXd& cx,
                                      const std::vector<double>& z, bool converged) {
    std::vector<std::size_t> order(z.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return z[a] < z[b]; });
    const std::size_t k = std::min<std::size_t>(8, order.size());
    Eigen::MatrixXd starts(static_cast<Eigen::Index>(k), cx.cols());
    for (std::size_t i = 0; i < k; ++i)
      starts.row(static_cast<Eigen::Index>(i)) = cx.row(static_cast<Eigen::Index>(order[i]));
    const Eigen::VectorXd lo = cx.colwise().minCoeff().transpose(),
                          hi = cx.colwise().maxCoeff().transpose();
    UpperConfidenceBound ucb(opt_.kappa);
    AcquisitionFunction f(model, ucb, converged ? Uncertainty::kTotal : Uncertainty::kEpistemic);
    GobiOptions go;
    go.method = GobiMethod::kAdaHessian;
    go.lr = 0.1 * std::max(1e-9, (hi - lo).maxCoeff());
    go.max_steps = 50;
    go.seed = ctx_.seed + fits_;
    const auto r = gobi_minimise(f, lo, hi, starts, go);
    std::vector<std::size_t> starts_order(k);
    for (std::size_t i = 0; i < k; ++i) starts_order[i] = i;
    std::stable_sort(starts_order.begin(), starts_order.end(), [&](std::size_t a, std::size_t b) {
      return r.value(static_cast<Eigen::Index>(a)) < r.value(static_cast<Eigen::Index>(b));
    });
    std::vector<std::size_t> picks;
    std::vector<char> taken(z.size(), 0);
    for (std::size_t s : starts_order) {
      const Eigen::RowVectorXd x = r.x.row(static_cast<Eigen::Index>(s));
      std::size_t arg = z.size();
      double best = std::numeric_limits<double>::infinity();
      for (std::size_t i = 0; i < z.size(); ++i) {
        if (taken[i]) continue;
        const double d = (cx.row(static_cast<Eigen::Index>(i)) - x).squaredNorm();
        if (d < best) {
          best = d;
          arg = i;
        }
      }
      if (arg == z.size()) break;
      taken[arg] = 1;
      picks.push_back(arg);
    }
    return picks;
  }

  // A pool member drawn as the design space draws architectures: a depth uniformly among the
  // depths with unproposed members, then a member of that depth. Uniform over members would
  // put most random picks at whichever depth the pool happens to hold most of.
  std::optional<Architecture> sample_by_depth() {
    std::map<std::size_t, std::vector<std::size_t>> by_depth;
    for (std::size_t i : ctx_.domain->unseen_pool_members())
      by_depth[ctx_.domain->pool()[i].layers.size()].push_back(i);
    if (by_depth.empty()) return std::nullopt;
    auto it = by_depth.begin();
    std::advance(it, std::uniform_int_distribution<std::size_t>(0, by_depth.size() - 1)(rng_));
    const auto& members = it->second;
    return ctx_.domain
        ->pool()[members[std::uniform_int_distribution<std::size_t>(0, members.size() - 1)(rng_)]];
  }

  std::map<std::string, std::string> surrogate_options(std::uint64_t seed) const {
    auto o = opt_.surrogate_options;
    o["seed"] = std::to_string(seed % (1ULL << 62));
    return o;
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
      for (std::size_t k = 0; k < m; ++k)
        s += w[k] * (hi[k] > lo[k] ? (v[i][k] - lo[k]) / (hi[k] - lo[k]) : 0);
      const double viol = total_violation(ok_[i].values, ctx_.constraints);
      y(static_cast<Eigen::Index>(i)) = viol > 0 ? 1 + viol : s;
    }
    return y;
  }

  // Design-space candidates (a pool's are its unproposed members, see ask): samples plus
  // mutations of the best trials so far.
  std::vector<Architecture> candidates() {
    std::vector<Architecture> c;
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
  Eigen::MatrixXd done_x_;  // encodings of ok_, row by row
  double best_loss_ = std::numeric_limits<double>::infinity();
  int since_improvement_ = 0;
  std::uint64_t fits_ = 0;
};

}  // namespace

void register_boshnas_policy(PolicyRegistry& r) {
  constexpr long long kMany = std::numeric_limits<long long>::max();
  r.add({"boshnas",
         "BOSHNAS: Bayesian neural surrogate over the embedding, optimistic acquisition, "
         "exploit/uncertain/random mix",
         {OptionSpec::text("surrogate", "boshnas", "surrogate name (flexnas surrogates)"),
          OptionSpec::text("encoding", "embedding+stats", "candidate encoding"),
          OptionSpec::integer("init", 8, 0, kMany, "random trials before the surrogate"),
          OptionSpec::real("kappa", 2, 0, std::numeric_limits<double>::max(),
                           "weight of the uncertainty in the acquisition"),
          OptionSpec::choice(
              "optimizer", "scan", {"scan", "gobi"},
              "scan the candidates, or GOBI (gradient steps in the input, snapped to a candidate)"),
          OptionSpec::real("p_uncertain", 0.1, 0, 1, "probability of the most uncertain pick"),
          OptionSpec::real("p_random", 0.1, 0, 1, "probability of a random pick"),
          OptionSpec::integer("ensemble", 1, 1, 64, "surrogates trained on bootstraps"),
          OptionSpec::choice("acquisition", "ucb", {"ucb", "ts"},
                             "ucb (optimistic bound) or ts (Thompson draw)"),
          OptionSpec::real(
              "p_local", 0, 0, 1,
              "probability that an exploit pick is among the local_k candidates nearest the best"),
          OptionSpec::integer("local_k", 16, 1, kMany, "size of that neighbourhood of the best"),
          OptionSpec::choice(
              "random", "depth", {"uniform", "depth"},
              "random picks uniform over the pool, or a depth first, then a member of it")},
         [](const PolicyContext& c, const Options& o) {
           BoshnasPolicyOptions opt;
           opt.surrogate = o.text("surrogate");
           opt.encoding = o.text("encoding");
           opt.optimizer = o.text("optimizer");
           opt.acquisition = o.text("acquisition");
           opt.by_depth = o.text("random") == "depth";
           opt.init = o.integer_as<std::size_t>("init");
           opt.kappa = o.real("kappa");
           opt.p_uncertain = o.real("p_uncertain");
           opt.p_random = o.real("p_random");
           opt.ensemble = o.integer_as<int>("ensemble");
           opt.p_local = o.real("p_local");
           opt.local_k = o.integer_as<std::size_t>("local_k");
           if (opt.p_uncertain + opt.p_random > 1)
             throw InputError("policy boshnas: p_uncertain + p_random must be <= 1");
           opt.surrogate_options = o.prefixed("surrogate.");
           return std::make_unique<BoshnasPolicy>(c, opt);
         },
         {.multi_objective = true}});
}

}  // namespace flexnas
