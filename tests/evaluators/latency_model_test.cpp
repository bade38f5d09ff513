// The learned latency model: numerics against closed forms and finite differences, file
// format, CSV errors, and the acceptance check on HAT's measured sub-transformers.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "evaluators/arch_features.hpp"
#include "evaluators/evaluator.hpp"
#include "evaluators/latency_model.hpp"
#include "tests/test_data.hpp"

using namespace flexnas;
using namespace flexnas::latency;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

MatrixXd random_matrix(Eigen::Index r, Eigen::Index c, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> n(0, 1);
  MatrixXd m(r, c);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = n(g);
  return m;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("flexnas_latency_test_" + name)).string();
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("ridge without penalty recovers known coefficients", "[latency]") {
  const MatrixXd x = random_matrix(200, 5, 1);
  VectorXd beta(5);
  beta << 1.5, -2, 0.25, 3, -0.5;
  const VectorXd y = (x * beta).array() + 7.0;
  detail::Ridge r;
  r.fit(x, y, 0);
  CHECK((r.w - beta).norm() < 1e-9);
  CHECK(r.b == Approx(7.0).margin(1e-9));
}

TEST_CASE("ridge matches the closed form on an augmented least-squares problem", "[latency]") {
  const MatrixXd x = random_matrix(120, 4, 2);
  const VectorXd y = x * VectorXd::LinSpaced(4, -1, 2) + 0.3 * random_matrix(120, 1, 3).col(0);
  const double lambda = 0.05, n = 120;
  detail::Ridge r;
  r.fit(x, y, lambda);
  // Independent solution: centre, then QR of [Xc; sqrt(n lambda) I] w = [yc; 0].
  const MatrixXd xc = x.rowwise() - x.colwise().mean();
  MatrixXd a(124, 4);
  a << xc, std::sqrt(n * lambda) * MatrixXd::Identity(4, 4);
  VectorXd rhs = VectorXd::Zero(124);
  rhs.head(120) = y.array() - y.mean();
  const VectorXd w = a.householderQr().solve(rhs);
  CHECK((r.w - w).norm() < 1e-10);
  CHECK(r.b == Approx(y.mean() - x.colwise().mean().dot(w)).margin(1e-10));
}

TEST_CASE("absolute-loss ridge ignores gross outliers", "[latency]") {
  const MatrixXd x = random_matrix(300, 3, 4);
  VectorXd beta(3);
  beta << 2, -1, 0.5;
  VectorXd y = (x * beta).array() + 1.0;
  for (int i = 0; i < 300; i += 10) y(i) += 50;  // 10 % slow measurements
  detail::Ridge sq, ab;
  sq.fit(x, y, 0);
  ab.fit_absolute(x, y, 0, VectorXd::Ones(300), 100);
  CHECK((ab.w - beta).norm() < 1e-3);
  CHECK(ab.b == Approx(1.0).margin(1e-3));
  CHECK(std::abs(sq.b - 1.0) > 1);  // least squares is pulled by the outliers
}

TEST_CASE("MLP gradients match finite differences", "[latency]") {
  const MatrixXd x = random_matrix(17, 3, 5);
  const VectorXd y = random_matrix(17, 1, 6).col(0);
  const VectorXd s = random_matrix(17, 1, 7).col(0).cwiseAbs();
  detail::Mlp m;
  m.init(3, 6, 2, 8);
  for (auto& b : m.b) b = random_matrix(1, b.size(), 9).row(0) * 0.1;
  for (const VectorXd* weights : {static_cast<const VectorXd*>(nullptr), &s}) {
    std::vector<MatrixXd> gw;
    std::vector<Eigen::RowVectorXd> gb;
    m.loss_grad(x, y, 0.01, &gw, &gb, weights);
    const double h = 1e-6;
    double worst = 0;
    for (std::size_t l = 0; l < m.w.size(); ++l) {
      for (Eigen::Index k = 0; k < m.w[l].size(); ++k) {
        auto p = m;
        p.w[l].data()[k] += h;
        auto q = m;
        q.w[l].data()[k] -= h;
        const double fd = (p.loss_grad(x, y, 0.01, nullptr, nullptr, weights) -
                           q.loss_grad(x, y, 0.01, nullptr, nullptr, weights)) /
                          (2 * h);
        worst = std::max(worst, std::abs(fd - gw[l].data()[k]));
      }
      for (Eigen::Index k = 0; k < m.b[l].size(); ++k) {
        auto p = m;
        p.b[l](k) += h;
        auto q = m;
        q.b[l](k) -= h;
        const double fd = (p.loss_grad(x, y, 0.01, nullptr, nullptr, weights) -
                           q.loss_grad(x, y, 0.01, nullptr, nullptr, weights)) /
                          (2 * h);
        worst = std::max(worst, std::abs(fd - gb[l](k)));
      }
    }
    CHECK(worst < 1e-6);
  }
}

TEST_CASE("MLP training fits a smooth function", "[latency]") {
  const MatrixXd x = random_matrix(400, 2, 10);
  const VectorXd y = (x.col(0).array() * 1.5 - x.col(1).array().square() * 0.5).matrix();
  ModelConfig c;
  c.kind = ModelKind::kMlp;
  c.epochs = 150;
  c.weight_decay = 0;
  const auto m = LatencyModel::train(x, y, c, 1);
  CHECK(rmse(y, m.predict(x)) < 0.1 * std::sqrt((y.array() - y.mean()).square().mean()));
}

TEST_CASE("a one-split tree recovers a step function", "[latency]") {
  MatrixXd x(100, 2);
  VectorXd y(100);
  for (int i = 0; i < 100; ++i) {
    x(i, 0) = i / 100.0;
    x(i, 1) = (i * 37 % 100) / 100.0;  // unrelated
    y(i) = x(i, 0) > 0.305 ? 5.0 : 2.0;
  }
  ModelConfig c;
  c.kind = ModelKind::kGbt;
  c.trees = 1;
  c.tree_depth = 1;
  c.shrinkage = 1;
  c.subsample = 1;
  c.min_leaf = 1;
  detail::Gbt g;
  g.fit(x, y, c, 0);
  REQUIRE(g.trees.size() == 1);
  CHECK(g.trees[0].feature[0] == 0);
  CHECK(g.trees[0].threshold[0] == Approx(0.305));
  CHECK((g.predict(x) - y).cwiseAbs().maxCoeff() < 1e-12);
  c.loss = ModelConfig::Loss::kAbsolute;
  const VectorXd s = VectorXd::Ones(100);
  g.fit(x, y, c, 0, &s);
  CHECK((g.predict(x) - y).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("every model kind survives a save and load unchanged", "[latency]") {
  const MatrixXd x = random_matrix(150, 3, 11);
  const VectorXd y = (x.col(0).array() + 3).exp() + x.col(1).array().abs();
  const std::string path = temp_path("roundtrip.json");
  for (auto kind : {ModelKind::kRidge, ModelKind::kMlp, ModelKind::kGbt}) {
    for (bool log : {false, true}) {
      ModelConfig c;
      c.kind = kind;
      c.log_target = log;
      c.quadratic = true;
      c.epochs = 5;
      c.trees = 20;
      auto m = LatencyModel::train(x, y, c, 3);
      m.features = {"a", "b", "c"};
      m.targets = {"t"};
      m.save(path);
      const auto back = LatencyModel::load(path);
      CHECK(back.config().label() == c.label());
      CHECK(back.features == m.features);
      CHECK((back.predict(x) - m.predict(x)).cwiseAbs().maxCoeff() == 0.0);
    }
  }
  std::filesystem::remove(path);
}

TEST_CASE("malformed and foreign model files are refused in one line", "[latency]") {
  const std::string path = temp_path("bad.json");
  auto refused = [&](const std::string& text, const std::string& want) {
    write(path, text);
    try {
      LatencyModel::load(path);
      FAIL("accepted " << text);
    } catch (const InputError& e) {
      const std::string msg = e.what();
      CHECK(msg.find(want) != std::string::npos);
      CHECK(msg.find(path) != std::string::npos);
      CHECK(msg.find('\n') == std::string::npos);
    }
  };
  refused("{not json", "malformed JSON");
  refused("{\"hello\": 1}", "not a flexnas latency model");
  refused("{\"format\":\"flexnas-latency-model\",\"version\":2}", "version 2 is not supported");
  refused(
      "{\"format\":\"flexnas-latency-model\",\"version\":1,\"config\":{\"kind\":\"ridge\",\"log_"
      "target\":false}}",
      "malformed latency model");
  std::filesystem::remove(path);
  CHECK_THROWS_WITH(LatencyModel::load(temp_path("absent.json")),
                    Catch::Contains("cannot read model file"));
}

TEST_CASE("CSV errors name the file, the line and the column", "[latency]") {
  const std::string path = temp_path("t.csv");
  write(path, "a,b,y\n1,2,3\n4,x5,6\n");
  const auto t = read_csv(path);
  CHECK_THROWS_WITH(t.matrix({"a", "b"}), Catch::Contains(path + ":3:2: column 'b' holds 'x5'"));
  CHECK_THROWS_WITH(t.matrix({"c"}), Catch::Contains(path + ": no column 'c'"));
  write(path, "a,b\n1,2\n3\n");
  CHECK_THROWS_WITH(read_csv(path), Catch::Contains(path + ":3: 1 fields, the header has 2"));
  write(path, "a,y\n1,2\n2,3\n");
  FitOptions o;
  CHECK_THROWS_WITH(fit(read_csv(path), {"y"}, {}, o), Catch::Contains("fitting needs at least"));
  std::filesystem::remove(path);
}

TEST_CASE("default features leave out the targets' prefix and text columns", "[latency]") {
  const std::string path = temp_path("f.csv");
  write(path, "x1,latency_std,model,latency_mean,time\n1,0.1,\"{\"\"l\"\":1}\",5,9\n2,0.2,m,6,8\n");
  std::vector<std::string> excluded;
  const auto f = default_features(read_csv(path), {"latency_mean"}, &excluded);
  CHECK(f == std::vector<std::string>{"x1", "time"});
  CHECK(excluded == std::vector<std::string>{"latency_std"});
  CHECK(split_target("a+b") == std::vector<std::string>{"a", "b"});
  CHECK_THROWS_AS(split_target("a+"), InputError);
  std::filesystem::remove(path);
}

TEST_CASE("fitting is deterministic for a seed", "[latency]") {
  const std::string path = temp_path("det.csv");
  std::string text = "x1,x2,y\n";
  std::mt19937_64 g(5);
  for (int i = 0; i < 60; ++i) {
    const double a = static_cast<double>(g() % 100), b = static_cast<double>(g() % 50);
    text += std::to_string(a) + "," + std::to_string(b) + "," +
            std::to_string(1 + a * 0.3 + b * b * 0.01 + static_cast<double>(g() % 7) * 0.1) + "\n";
  }
  write(path, text);
  FitOptions o;
  o.seed = 4;
  o.grid = default_grid();
  for (auto& c : o.grid) c.epochs = 10, c.trees = 30;
  const auto a = fit(read_csv(path), {"y"}, {}, o), b = fit(read_csv(path), {"y"}, {}, o);
  CHECK(a.model.to_json().dump() == b.model.to_json().dump());
  CHECK(a.n_test == 6);
  std::filesystem::remove(path);
}

TEST_CASE("architecture features by hand", "[latency]") {
  const auto a = architecture_from_string(
      R"({"l":2,"o":["sa","c"],"h":[128,256],"n":[2,4],"f":[[512],[1024,1024]],"p":["sdp","9"]})");
  const auto names = arch_feature_names(64);
  const auto v = arch_features(a, names);
  const std::vector<double> want = {2, 192, 256, 3, 6, 2, 0, 4, 1.5, 2560.0 / 3, 2560};
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(v[i] == Approx(want[i]));
  CHECK(names.back() == "gflops_seq64");
  CHECK(v.back() > 0);
  CHECK(unknown_arch_features({"layers", "gflops_seq7", "gflops_seq0", "decoder_layer_num"}) ==
        std::vector<std::string>{"gflops_seq0", "decoder_layer_num"});
}

TEST_CASE("per-operation head counts and FLOPs by hand", "[latency]") {
  const auto a = architecture_from_string(
      R"({"l":2,"o":["sa","c"],"h":[128,256],"n":[2,4],"f":[[512],[1024,1024]],"p":["sdp","9"]})");
  const auto names = arch_feature_names(64);
  const auto v = arch_features(a, names);
  auto at = [&](const std::string& n) {
    const auto it = std::find(names.begin(), names.end(), n);
    REQUIRE(it != names.end());
    return v[static_cast<std::size_t>(it - names.begin())];
  };
  CHECK(at("heads_sdp") == 2);
  CHECK(at("heads_conv") == 4);
  CHECK(at("heads_wma") + at("heads_dft") + at("heads_dct") == 0);
  // sdp, L = 64, h = 128, d = 64, per head: Q, K, V (3 (2 L h d + L d)), scores and P V
  // (2 x 2 L^2 d), scale and softmax (6 L^2).
  const double sdp = 3 * (2.0 * 64 * 128 * 64 + 64 * 64) + 4.0 * 64 * 64 * 64 + 6.0 * 64 * 64;
  CHECK(at("gflops_sdp_seq64") == Approx(2 * sdp / 1e9));
  // conv, h = 256, d = 64, kernel 9, per head: projection 2 L h d + L d, depthwise 2 L k d.
  const double conv = 2.0 * 64 * 256 * 64 + 64 * 64 + 2.0 * 64 * 9 * 64;
  CHECK(at("gflops_conv_seq64") == Approx(4 * conv / 1e9));
  CHECK(at("gflops_wma_seq64") + at("gflops_dft_seq64") + at("gflops_dct_seq64") == 0);
  CHECK(at("gflops_ff_seq64") > 0);
  CHECK(at("gflops_sdp_seq64") + at("gflops_conv_seq64") + at("gflops_ff_seq64") <
        at("gflops_seq64"));
  CHECK(at("params_m") > at("encoder_params_m"));
  CHECK(arch_features(a, {"gflops_dft_seq512"})[0] == 0);
  CHECK(unknown_arch_features({"gflops_sdp_seq0", "gflops_xx_seq8", "heads_conv", "params_m"}) ==
        std::vector<std::string>{"gflops_sdp_seq0", "gflops_xx_seq8"});
}

TEST_CASE("a JSON-lines table of model dicts reads as features and measured columns", "[latency]") {
  const auto path = temp_path("table.jsonl");
  const std::string m = R"({"l":1,"o":[["sa_sdp_42","l_dft_42","c_5_42"]],"h":[128],"f":[[512]]})";
  write(path, "{\"model\": " + m + ", \"latency_s\": 2.5, \"tag\": \"x\"}\n\n{\"model\": " + m +
                  ", \"latency_s\": 3}\n");
  CHECK(is_model_table(path));
  const auto t = read_model_table(path, {"heads_dft", "gflops_seq128"});
  CHECK(t.columns == std::vector<std::string>{"heads_dft", "gflops_seq128", "latency_s", "tag"});
  REQUIRE(t.rows() == 2);
  CHECK(t.lines == std::vector<int>{1, 3});
  CHECK(t.matrix({"heads_dft", "latency_s"}) == (MatrixXd(2, 2) << 1, 2.5, 1, 3).finished());
  CHECK_THROWS_WITH(t.matrix({"tag"}),
                    Catch::Contains("table.jsonl:1:4: column 'tag' holds '\"x\"'"));
  write(path, "{\"model\": " + m + "}\n{\"model\": {\"l\": 1}}\n");
  CHECK_THROWS_WITH(read_model_table(path, {"layers"}), Catch::Contains("table.jsonl:2: "));
  CHECK_THROWS_WITH(read_model_table(path, {"glue"}),
                    Catch::Contains("not architecture features: glue"));
  const auto csv = temp_path("table.txt");
  write(csv, "layers,y\n1,2\n");
  CHECK_FALSE(is_model_table(csv));
  write(csv, " {\"model\": " + m + "}\n");
  CHECK(is_model_table(csv));
  std::filesystem::remove(path);
  std::filesystem::remove(csv);
}

TEST_CASE("k-fold report scores each kind and the baseline on the same folds", "[latency]") {
  // y depends on x0 * x1 and x2; the baseline sees x0 and x1 only.
  const MatrixXd u = random_matrix(120, 3, 7).array().abs() + 0.5;
  const VectorXd y = (u.col(0).cwiseProduct(u.col(1)) + 2 * u.col(2)).array() + 1;
  const auto grid = ridge_grid();
  const auto r1 = kfold_report(u, y, u.leftCols(2), grid, 4, 3);
  const auto r2 = kfold_report(u, y, u.leftCols(2), grid, 4, 3);
  CHECK(r1.folds == 4);
  REQUIRE(r1.kinds.size() == 1);
  CHECK(r1.kinds[0].first == "ridge");
  CHECK(r1.selected.size() == 4);
  CHECK(r1.selected_mape == r2.selected_mape);
  CHECK(r1.baseline_mape == r2.baseline_mape);
  CHECK(r1.selected_mape == r1.kinds[0].second);
  CHECK(r1.selected_mape < 0.5 * r1.baseline_mape);
}

TEST_CASE("latency-model evaluator predicts from architecture features and refuses others",
          "[latency]") {
  const std::string csv = std::string(FLEXNAS_SOURCE_DIR) + "/data/examples/latency_synthetic.csv";
  FitOptions o;
  o.grid = ridge_grid();
  const auto rep = fit(read_csv(csv), {"latency_ms"}, {}, o);
  const std::string path = temp_path("arch_model.json");
  rep.model.save(path);
  EvaluatorRegistry r;
  register_builtins(r);
  auto e = r.create("latency-model:file=" + path);
  REQUIRE(e->provides().size() == 1);
  CHECK(e->provides()[0].name == "latency_ms");
  CHECK(e->provides()[0].direction == Direction::kMinimize);
  const auto small = architecture_from_string(
      R"({"l":2,"o":["sa","sa"],"h":[128,128],"n":[2,2],"f":[[512],[512]],"p":["sdp","sdp"]})");
  const auto big = architecture_from_string(
      R"({"l":4,"o":["sa","sa","sa","sa"],"h":[256,256,256,256],"n":[4,4,4,4],"f":[[1024],[1024],[1024],[1024]],"p":["sdp","sdp","sdp","sdp"]})");
  const double ls = e->evaluate(small, {}).values.at("latency_ms");
  const double lb = e->evaluate(big, {}).values.at("latency_ms");
  CHECK(ls > 0);
  CHECK(lb > 2 * ls);

  auto m = rep.model;
  m.features[1] = "decoder_layer_num";
  m.save(path);  // same weights, foreign feature names: refused by name
  CHECK_THROWS_WITH(r.create("latency-model:file=" + path),
                    Catch::Contains("decoder_layer_num") && !Catch::Contains("hidden_max"));
  std::filesystem::remove(path);
}

namespace {

struct HatFile {
  std::string file;
  double hat_mlp;  // HAT's MLP test MAPE (ALGORITHMS.md section 8)
};
const std::vector<HatFile> kHat = {{"hat/wmt14ende_cpu_xeon_all.csv", 5.18},
                                   {"hat/wmt14ende_gpu_titanxp_all.csv", 5.50}};

void acceptance(const std::vector<ModelConfig>& grid, const std::vector<std::uint64_t>& seeds) {
  for (const auto& h : kHat) {
    const auto t = read_csv(test::test_data(h.file));
    for (auto seed : seeds) {
      FitOptions o;
      o.seed = seed;
      o.grid = grid;
      const auto rep = fit(t, {"latency_mean_encoder", "latency_mean_decoder"}, {}, o);
      WARN(h.file << " seed " << seed << ": " << rep.model.config().label() << " test MAPE "
                  << rep.test_mape << " %, RMSE " << rep.test_rmse << "; linear least squares MAPE "
                  << rep.baseline_mape << " %, RMSE " << rep.baseline_rmse << "; HAT's MLP "
                  << h.hat_mlp << " %");
      CHECK(rep.model.features.size() == 10);  // the latency_std_* columns do not leak
      CHECK(rep.n_test == 200);
      CHECK(rep.test_mape <= h.hat_mlp);
      CHECK(rep.test_mape <= rep.baseline_mape);
    }
  }
}

}  // namespace

TEST_CASE("HAT acceptance with the ridge grid: beats HAT's MLP and linear least squares",
          "[latency]") {
  acceptance(ridge_grid(), {0});
}

TEST_CASE("HAT acceptance with the default grid over seeds", "[latency][.slow]") {
  acceptance(default_grid(), {0, 1, 2, 3, 4});
}
