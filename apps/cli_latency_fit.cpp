// flexnas latency fit|predict|features: the learned latency model (docs/latency-model.md).
// `flexnas latency profile|measure` live in another file; cli::group shares the group.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "core/error.hpp"
#include "evaluators/arch_features.hpp"
#include "evaluators/latency_model.hpp"

namespace flexnas::cli {
namespace {

const char* kGroupHelp = "hardware latency: fit, predict, features (and profile, measure)";

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// Unit of a measured column from its suffix (latency_s: s, energy_j: J), else ms.
std::string unit_of(const std::string& target) {
  auto ends = [&](const char* e) {
    const std::string x(e);
    return target.size() > x.size() && target.compare(target.size() - x.size(), x.size(), x) == 0;
  };
  if (ends("_ms")) return "ms";
  if (ends("_s")) return "s";
  if (ends("_j")) return "J";
  if (ends("_w")) return "W";
  return "ms";
}

nlohmann::json num(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

// Progress on a terminal, shown only once fitting has taken more than half a second.
latency::Progress delayed_progress() {
  auto inner = progress_printer();
  if (!inner) return {};
  const auto start = std::chrono::steady_clock::now();
  auto shown = std::make_shared<bool>(false);
  return [=](const std::string& stage, std::size_t done, std::size_t total) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!*shown && (secs < 0.5 || done >= total)) return;
    *shown = true;
    inner(stage, done, total);
  };
}

void add_fit(CLI::App* g) {
  auto* cmd = g->add_subcommand(
      "fit",
      "fit a latency model to measured rows of a CSV file or a JSON-lines table of model dicts "
      "(CV model selection)");
  struct Args {
    std::string data, target, features, out, kinds = "ridge,mlp,gbt", baseline;
    double test_fraction = 0.1;
    int seq = 128;
    std::uint64_t seed = 0;
    int folds = 5;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--data", a->data,
                  "CSV file (header line, one measured architecture per row) or JSON lines "
                  "(.jsonl: objects with a \"model\" dict and measured fields; features come "
                  "from the model dict)")
      ->required();
  cmd->add_option("--target", a->target, "column to predict; COL+COL+... predicts the sum")
      ->required();
  cmd->add_option("--features", a->features,
                  "comma-separated feature columns (default: every numeric column except the "
                  "targets and, for a target P_rest, the columns starting with P_)");
  auto* tf = cmd->add_option("--test-fraction", a->test_fraction,
                             "random share of rows held out for the test scores (default 0.1 "
                             "for CSV, 0 for JSON lines, which get the k-fold report instead)");
  cmd->add_option("--seq", a->seq, "JSON lines: sequence length of the FLOPs features")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--baseline", a->baseline,
                  "JSON lines: columns of the least-squares baseline of the k-fold report "
                  "(default gflops_seq<seq>,params_m)");
  cmd->add_option("--seed", a->seed, "seed of the split, the folds and the models")
      ->capture_default_str();
  cmd->add_option("--folds", a->folds, "cross-validation folds")
      ->check(CLI::Range(2, 50))
      ->capture_default_str();
  cmd->add_option("--kinds", a->kinds, "model kinds to consider (ridge, mlp, gbt)")
      ->capture_default_str();
  cmd->add_option("-o,--output", a->out, "model file (JSON) to write")->required();
  cmd->add_flag("--json", a->json, "print one JSON object with the scores");
  cmd->callback([a, tf] {
    const auto targets = latency::split_target(a->target);
    const bool jsonl = is_model_table(a->data);
    auto features = split_list(a->features);
    const auto baseline =
        a->baseline.empty()
            ? std::vector<std::string>{"gflops_seq" + std::to_string(a->seq), "params_m"}
            : split_list(a->baseline);
    if (jsonl && features.empty()) features = arch_feature_names(a->seq);
    auto columns = features;
    for (const auto& b : baseline)
      if (std::find(columns.begin(), columns.end(), b) == columns.end()) columns.push_back(b);
    const auto table = jsonl ? read_model_table(a->data, columns) : latency::read_csv(a->data);
    latency::FitOptions o;
    o.test_fraction = jsonl && tf->count() == 0 ? 0.0 : a->test_fraction;
    o.seed = a->seed;
    o.folds = a->folds;
    o.grid.clear();
    for (const auto& k : split_list(a->kinds)) {
      if (k != "ridge" && k != "mlp" && k != "gbt")
        throw InputError("--kinds: unknown model kind '" + k + "' (valid: ridge, mlp, gbt)");
      for (const auto& c : latency::default_grid())
        if (latency::to_string(c.kind) == k) o.grid.push_back(c);
    }
    if (o.grid.empty()) throw InputError("--kinds names no model kind (valid: ridge, mlp, gbt)");
    if (jsonl) {
      // Device tables are small (21 rows on the NCS) and their 25 features collinear (counts
      // and FLOPs per operation): add strongly penalised linear ridge models, and leave out
      // quadratic ridge (325 products for at most a few hundred rows; never chosen on the
      // EdgeTran tables, and most of the fitting time).
      std::vector<latency::ModelConfig> grid;
      for (const auto& c : o.grid) {
        if (c.kind == latency::ModelKind::kRidge && c.quadratic) continue;
        grid.push_back(c);
        if (c.kind == latency::ModelKind::kRidge && c.lambda == 1e-2)
          for (double l : {0.1, 1.0}) {
            grid.push_back(c);
            grid.back().lambda = l;
          }
      }
      o.grid = grid;
    }
    o.progress = delayed_progress();
    auto rep = latency::fit(table, targets, features, o);
    std::optional<latency::KfoldReport> kf;
    if (jsonl) {
      const auto y = table.matrix(targets).rowwise().sum().eval();
      const auto rows = latency::split_rows(table.rows(), o.test_fraction, o.seed).first;
      kf = latency::kfold_report(latency::take_rows(table.matrix(features), rows),
                                 latency::take_rows(Eigen::VectorXd(y), rows),
                                 latency::take_rows(table.matrix(baseline), rows), o.grid, a->folds,
                                 a->seed, o.progress);
      nlohmann::json k = {{"folds", kf->folds},
                          {"rows", rows.size()},
                          {"baseline", baseline},
                          {"baseline_mape", kf->baseline_mape},
                          {"selected_mape", kf->selected_mape},
                          {"selected_per_fold", kf->selected}};
      for (const auto& [kind, m] : kf->kinds) k[kind + "_mape"] = m;
      rep.model.scores["kfold"] = k;
      rep.model.unit = unit_of(rep.model.target_name());
    }
    rep.model.save(a->out);
    const auto& sel = rep.cv[rep.best];
    if (a->json) {
      nlohmann::ordered_json j;
      j["model_kind"] = latency::to_string(sel.config.kind);
      j["model"] = sel.config.label();
      j["target"] = rep.model.target_name();
      j["features"] = rep.model.features;
      j["n_train"] = rep.n_train;
      j["n_test"] = rep.n_test;
      j["test_mape"] = num(rep.test_mape);
      j["test_rmse"] = num(rep.test_rmse);
      j["baseline_test_mape"] = num(rep.baseline_mape);
      j["baseline_test_rmse"] = num(rep.baseline_rmse);
      j["cv_mape"] = sel.mape;
      if (kf) {
        nlohmann::ordered_json k;
        k["folds"] = kf->folds;
        k["baseline"] = baseline;
        k["baseline_mape"] = kf->baseline_mape;
        for (const auto& [kind, m] : kf->kinds) k[kind + "_mape"] = m;
        k["selected_mape"] = kf->selected_mape;
        k["ratio"] = kf->selected_mape / kf->baseline_mape;
        k["selected_per_fold"] = kf->selected;
        j["kfold"] = k;
      }
      j["cv"] = nlohmann::json::array();
      for (const auto& s : rep.cv)
        j["cv"].push_back({{"model", s.config.label()}, {"mape", s.mape}, {"rmse", s.rmse}});
      j["output"] = a->out;
      std::cout << j.dump() << "\n";
      return;
    }
    std::printf("data      %s: %zu rows%s, %zu for training, %zu held out (seed %llu)\n",
                a->data.c_str(), table.rows(), jsonl ? " (features from the model dicts)" : "",
                rep.n_train, rep.n_test, static_cast<unsigned long long>(a->seed));
    std::printf("target    %s\n", rep.model.target_name().c_str());
    std::string f;
    for (const auto& n : rep.model.features) f += (f.empty() ? "" : ", ") + n;
    std::printf("features  %s\n", f.c_str());
    if (!rep.excluded.empty()) {
      std::string e;
      for (const auto& n : rep.excluded) e += (e.empty() ? "" : ", ") + n;
      std::printf("left out  %s (share the target's prefix)\n", e.c_str());
    }
    std::printf("selected  %s by %d-fold CV MAPE %.3f %% (of %zu configurations)\n",
                sel.config.label().c_str(), a->folds, sel.mape, rep.cv.size());
    if (kf) {
      std::string b;
      for (const auto& n : baseline) b += (b.empty() ? "" : ", ") + n;
      std::printf(
          "k-fold    %d-fold MAPE, each row predicted by models fit without its fold (the "
          "configuration chosen by CV inside the other folds), same folds for every line:\n",
          kf->folds);
      std::printf("  baseline  %8.3f %%  least squares with intercept on %s\n", kf->baseline_mape,
                  b.c_str());
      for (const auto& [kind, m] : kf->kinds)
        std::printf("  %-8s  %8.3f %%  %.3f x baseline\n", kind.c_str(), m, m / kf->baseline_mape);
      std::printf("  selected  %8.3f %%  %.3f x baseline (best of all kinds by inner CV)\n",
                  kf->selected_mape, kf->selected_mape / kf->baseline_mape);
    }
    if (rep.n_test > 0)
      std::printf(
          "test      MAPE %.3f %%  RMSE %.4g; linear least squares: MAPE %.3f %%  RMSE %.4g\n",
          rep.test_mape, rep.test_rmse, rep.baseline_mape, rep.baseline_rmse);
    std::printf("wrote     %s\n", a->out.c_str());
  });
}

void add_predict(CLI::App* g) {
  auto* cmd = g->add_subcommand("predict",
                                "predict latency for the rows of a CSV file with a fitted model");
  auto model = std::make_shared<std::string>(), data = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>("-");
  auto json = std::make_shared<bool>(false);
  cmd->add_option("--model-file", *model, "model file from flexnas latency fit")->required();
  cmd->add_option("--data", *data,
                  "CSV file holding the model's feature columns, or JSON lines of objects with a "
                  "\"model\" dict (features computed from it)")
      ->required();
  cmd->add_option("-o,--output", *out, "CSV of line,prediction (- for stdout)")
      ->capture_default_str();
  cmd->add_flag(
      "--json", *json,
      "print one JSON object: predictions, and MAPE/RMSE when the target columns are present");
  cmd->callback([=] {
    const auto m = latency::LatencyModel::load(*model);
    const auto table =
        is_model_table(*data) ? read_model_table(*data, m.features) : latency::read_csv(*data);
    const Eigen::VectorXd p = m.predict(table.matrix(m.features));
    bool have_target = true;
    for (const auto& t : m.targets) have_target = have_target && table.index(t) >= 0;
    double mape = std::nan(""), rmse = std::nan("");
    if (have_target) {
      const Eigen::VectorXd y = table.matrix(m.targets).rowwise().sum();
      mape = latency::mape(y, p);
      rmse = latency::rmse(y, p);
    }
    if (*json) {
      nlohmann::ordered_json j;
      j["target"] = m.target_name();
      j["n"] = p.size();
      j["mape"] = num(mape);
      j["rmse"] = num(rmse);
      j["predictions"] = std::vector<double>(p.data(), p.data() + p.size());
      std::cout << j.dump() << "\n";
      return;
    }
    std::string text =
        "line,predicted_" + (m.targets.size() == 1 ? m.targets[0] : std::string("latency")) + "\n";
    char buf[64];
    for (Eigen::Index i = 0; i < p.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%d,%.6g\n", table.lines[static_cast<std::size_t>(i)], p(i));
      text += buf;
    }
    write_output(*out, text);
    if (have_target)
      std::fprintf(stderr, "MAPE %.3f %%  RMSE %.4g over %zu rows\n", mape, rmse, table.rows());
  });
}

void add_features(CLI::App* g) {
  auto* cmd = g->add_subcommand(
      "features", "architecture features per model as CSV (add a measured column, then fit)");
  auto models = std::make_shared<std::string>(), out = std::make_shared<std::string>("-");
  auto seq = std::make_shared<int>(128);
  cmd->add_option("--models", *models,
                  "JSON-lines file of model dicts (or objects with a \"model\" field)")
      ->required();
  cmd->add_option("-o,--output", *out, "CSV file (- for stdout)")->capture_default_str();
  cmd->add_option("--seq", *seq, "sequence length of the gflops_seq<N> feature")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->callback([=] {
    const auto names = arch_feature_names(*seq);
    std::string text;
    for (const auto& n : names) text += n + ",";
    text += "model\n";
    char buf[64];
    for (const auto& a : load_models(*models)) {
      for (double v : arch_features(a, names)) {
        std::snprintf(buf, sizeof buf, "%.10g,", v);
        text += buf;
      }
      std::string m = to_string(a), q = "\"";
      for (char c : m) q += c == '"' ? std::string("\"\"") : std::string(1, c);
      text += q + "\"\n";
    }
    write_output(*out, text);
  });
}

}  // namespace

void add_latency_fit_command(CLI::App& app) {
  auto* g = group(app, "latency", kGroupHelp);
  add_fit(g);
  add_predict(g);
  add_features(g);
}

}  // namespace flexnas::cli
