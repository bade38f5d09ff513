#pragma once
// Learned latency predictor (docs/latency-model.md): a small model family — ridge
// regression on standardised (optionally quadratic) features, a ReLU MLP trained with
// Adam on mini-batches, gradient-boosted regression trees — each on the raw or the log
// target, one chosen by k-fold cross-validated MAPE on the training rows. Deterministic
// for a seed; saved to and loaded from one JSON file.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

namespace flexnas::latency {

// ---- data -------------------------------------------------------------------------------

// A CSV file (RFC 4180 quoting, first line the header) kept as text cells, so that text
// columns (a `model` column of JSON) may sit beside numeric ones.
struct Table {
  std::string path;
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> cells;  // rows x columns
  std::vector<int> lines;                       // file line of each row

  std::size_t rows() const { return cells.size(); }
  int index(const std::string& column) const;  // -1 when absent
  // Every cell a finite number.
  bool numeric(std::size_t column) const;
  // The named columns as a rows x names matrix. Throws InputError naming the column and
  // the file when it is absent, and file:line:column when a cell is not a number.
  Eigen::MatrixXd matrix(const std::vector<std::string>& names) const;
};

// Throws InputError for an unreadable file, an unterminated quote or a row whose field
// count differs from the header's (file:line).
Table read_csv(const std::string& path);

// "a+b" -> {"a", "b"}: the target is the sum of these columns.
std::vector<std::string> split_target(const std::string& spec);

// Features used when none are named: every numeric column except the targets and, for a
// target named P_rest, every column that starts with P_ (so latency_std_* cannot leak
// into a model of latency_mean_*). `excluded` receives the numeric columns left out.
std::vector<std::string> default_features(const Table& t, const std::vector<std::string>& targets,
                                          std::vector<std::string>* excluded = nullptr);

// ---- metrics ------------------------------------------------------------------------------

double mape(const Eigen::VectorXd& y, const Eigen::VectorXd& pred);  // percent
double rmse(const Eigen::VectorXd& y, const Eigen::VectorXd& pred);

// ---- models -------------------------------------------------------------------------------

enum class ModelKind { kRidge, kMlp, kGbt };
const char* to_string(ModelKind k);

struct ModelConfig {
  ModelKind kind = ModelKind::kRidge;
  bool log_target = false;  // fit log(y), predict exp(.)
  // Training loss. kSquared: mean squared error of the (log) target. kAbsolute: mean
  // absolute error of the log target, or of the raw target relative to y (so both
  // approximate MAPE, and a few slow outlier measurements pull the fit much less).
  enum class Loss { kSquared, kAbsolute } loss = Loss::kSquared;
  // ridge: minimise mean squared error + lambda * |w|^2 on standardised features.
  bool quadratic = false;  // add every product z_i z_j (i <= j) of standardised features
  double lambda = 1e-6;
  // mlp: inputs -> hidden x depth (ReLU) -> 1, Adam with cosine-decayed learning rate.
  int hidden = 32;
  int depth = 2;
  int epochs = 100;
  int batch = 64;
  double lr = 3e-3;
  double weight_decay = 1e-3;
  // gbt: squared-loss boosting of depth-limited trees on histogram bins.
  int trees = 300;
  int tree_depth = 4;
  double shrinkage = 0.05;
  int min_leaf = 5;
  double subsample = 0.8;

  std::string label() const;  // e.g. "ridge(log,quad,lambda=1e-06)"
  nlohmann::json to_json() const;
  static ModelConfig from_json(const nlohmann::json& j);
};

// The grid searched by default (28 configurations): ridge_grid, GBT of depth 3 and 5, and
// a 2x32 MLP, each on the raw and the log target with the squared and the absolute loss
// (log variants are skipped unless every target is positive).
std::vector<ModelConfig> default_grid();
// Ridge only (16 configurations: raw/log x squared/absolute x linear/quadratic x lambda
// 1e-6, 1e-2): a tenth of the default grid's time.
std::vector<ModelConfig> ridge_grid();

namespace detail {

// x' = (x - mean) / scale per column; constant columns get scale 1.
struct Scaler {
  Eigen::RowVectorXd mean, scale;
  void fit(const Eigen::MatrixXd& x);
  Eigen::MatrixXd apply(const Eigen::MatrixXd& x) const;
};

// [z, z_i z_j for i <= j].
Eigen::MatrixXd quadratic_expand(const Eigen::MatrixXd& z);

// Ridge with an unpenalised intercept: minimises (1/n) sum s_i (y_i - x_i w - b)^2 +
// lambda |w|^2 (s = 1 when empty); fit_absolute minimises (1/n) sum s_i |y_i - x_i w - b| +
// lambda |w|^2 by iteratively reweighted least squares.
struct Ridge {
  Eigen::VectorXd w;
  double b = 0;
  void fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, double lambda,
           const Eigen::VectorXd& s = {});
  void fit_absolute(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, double lambda,
                    const Eigen::VectorXd& s, int iterations = 30);
  Eigen::VectorXd predict(const Eigen::MatrixXd& x) const;
};

// Dense ReLU network with a linear output. Loss: mean(0.5 (f(x) - y)^2) + 0.5 wd sum |W|^2,
// or with `s` given, mean(s_i |f(x_i) - y_i|) + 0.5 wd sum |W|^2.
struct Mlp {
  std::vector<Eigen::MatrixXd> w;  // w[l]: in x out
  std::vector<Eigen::RowVectorXd> b;
  void init(int inputs, int hidden, int depth, std::uint64_t seed);
  Eigen::VectorXd predict(const Eigen::MatrixXd& x) const;
  // Loss and its gradient (same shapes as w and b).
  double loss_grad(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, double wd,
                   std::vector<Eigen::MatrixXd>* gw, std::vector<Eigen::RowVectorXd>* gb,
                   const Eigen::VectorXd* s = nullptr) const;
  // s: per-row weights of the absolute loss; null for the squared loss.
  void train(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const ModelConfig& c,
             std::uint64_t seed, const Eigen::VectorXd* s = nullptr);
};

// One regression tree: node i splits on feature[i] (x <= threshold[i] goes to left[i]);
// feature[i] == -1 marks a leaf with output value[i].
struct Tree {
  std::vector<int> feature, left, right;
  std::vector<double> threshold, value;
  double predict(const Eigen::MatrixXd& x, Eigen::Index row) const;
  std::size_t leaf(const Eigen::MatrixXd& x, Eigen::Index row) const;
};

struct Gbt {
  double base = 0;
  std::vector<Tree> trees;
  // s: per-row weights of the absolute loss (trees grown on the weighted sign of the
  // residual, leaves set to the weighted median); null for the squared loss.
  void fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const ModelConfig& c,
           std::uint64_t seed, const Eigen::VectorXd* s = nullptr);
  Eigen::VectorXd predict(const Eigen::MatrixXd& x) const;
};

}  // namespace detail

class LatencyModel {
 public:
  // Fits one configuration on raw features x (rows = samples) and targets y.
  static LatencyModel train(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                            const ModelConfig& c, std::uint64_t seed);
  Eigen::VectorXd predict(const Eigen::MatrixXd& x) const;
  const ModelConfig& config() const { return config_; }

  // Descriptive fields stored in the file.
  std::vector<std::string> features;
  std::vector<std::string> targets;  // summed
  std::string unit = "ms";
  nlohmann::json scores = nlohmann::json::object();  // CV and test scores

  std::string target_name() const;  // "a+b"
  nlohmann::json to_json() const;
  // Throws InputError naming `where` for a malformed document or another format version.
  static LatencyModel from_json(const nlohmann::json& j, const std::string& where);
  void save(const std::string& path) const;
  static LatencyModel load(const std::string& path);

  static constexpr int kVersion = 1;

 private:
  ModelConfig config_;
  detail::Scaler in_;
  double t_mean_ = 0, t_scale_ = 1;  // target standardisation (after the log)
  detail::Ridge ridge_;
  detail::Mlp mlp_;
  detail::Gbt gbt_;
  Eigen::MatrixXd inputs(const Eigen::MatrixXd& x) const;
};

// ---- selection and the whole fit ------------------------------------------------------------

struct CvScore {
  ModelConfig config;
  double mape = 0;  // percent, over every training row predicted out of fold
  double rmse = 0;
};

using Progress = std::function<void(const std::string&, std::size_t, std::size_t)>;

// k-fold CV of every configuration; folds from a seeded permutation. Runs configurations
// and folds in parallel; the result does not depend on the thread count.
std::vector<CvScore> cross_validate(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                    const std::vector<ModelConfig>& grid, int folds,
                                    std::uint64_t seed, const Progress& progress = {});

struct FitOptions {
  double test_fraction = 0.1;
  std::uint64_t seed = 0;
  int folds = 5;
  std::vector<ModelConfig> grid = default_grid();
  Progress progress;
};

struct FitReport {
  LatencyModel model;
  std::vector<CvScore> cv;
  std::size_t best = 0;
  std::size_t n_train = 0, n_test = 0;
  double test_mape = 0, test_rmse = 0;          // NaN without test rows
  double baseline_mape = 0, baseline_rmse = 0;  // ordinary least squares, raw target, same split
  std::vector<std::string> excluded;            // numeric columns left out by default_features
};

// Splits off a seeded random test_fraction of the rows, selects a configuration by CV on
// the rest, refits it on all training rows and scores it (and the linear baseline) on the
// test rows. Empty `features`: default_features. Throws InputError for too few rows.
FitReport fit(const Table& t, const std::vector<std::string>& targets,
              std::vector<std::string> features, const FitOptions& o);

// k-fold estimate of the whole fitting procedure next to a baseline on the same folds:
// every row is predicted by models that never saw it. Per outer fold, the configuration
// of each kind (and the best of all) is chosen by an inner k-fold CV on the outer-training
// rows only, refit on them and scored on the held-out fold; the baseline is least squares
// with an intercept on the columns of `xbase` (raw target), fit on the same rows.
struct KfoldReport {
  int folds = 0;
  double baseline_mape = 0;  // percent, over every row predicted out of fold
  double selected_mape = 0;  // the configuration chosen by inner CV over all kinds
  std::vector<std::pair<std::string, double>> kinds;  // (kind, MAPE) in grid order
  std::vector<std::string> selected;                  // chosen configuration per fold
};
KfoldReport kfold_report(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                         const Eigen::MatrixXd& xbase, const std::vector<ModelConfig>& grid,
                         int folds, std::uint64_t seed, const Progress& progress = {});

// Seeded split of n rows: (train, test) index lists.
std::pair<std::vector<Eigen::Index>, std::vector<Eigen::Index>> split_rows(std::size_t n,
                                                                           double test_fraction,
                                                                           std::uint64_t seed);
Eigen::MatrixXd take_rows(const Eigen::MatrixXd& x, const std::vector<Eigen::Index>& rows);
Eigen::VectorXd take_rows(const Eigen::VectorXd& y, const std::vector<Eigen::Index>& rows);

}  // namespace flexnas::latency
