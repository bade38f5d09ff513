#include "space/embedding.hpp"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include <tbb/global_control.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

#include "../test_data.hpp"

using namespace flexnas;

namespace {

Eigen::MatrixXd random_points(int n, int dim, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 3);
  Eigen::MatrixXd x(n, dim);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < dim; ++k) x(i, k) = normal(rng);
  return x;
}

Eigen::MatrixXd distances(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  Eigen::MatrixXd d(a.rows(), b.rows());
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < b.rows(); ++j) d(i, j) = (a.row(i) - b.row(j)).norm();
  return d;
}

// The test space of the acceptance criterion: one layer per stack, mixed feed-forward.
DesignSpace test_space() {
  auto s = DesignSpace::load("flexibert-test");
  s.layers_per_stack = 1;
  s.mixed_ff = true;
  return s;
}

std::vector<Architecture> sample(const DesignSpace& s, std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<Architecture> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(s.sample(rng));
  return v;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("flexnas_embedding_test_" + name)).string();
}

// Names of the entries of one directory.
std::set<std::string> file_names(const std::filesystem::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    names.insert(entry.path().filename().string());
  return names;
}

// Small fit shared by several tests (a few seconds on 2 cores).
const Embedding& small_fit() {
  static const Embedding e = [] {
    EmbeddingOptions opt;
    opt.seed = 7;
    return Embedding::fit(sample(test_space(), 300, 11), test_space(), opt);
  }();
  return e;
}

}  // namespace

TEST_CASE("spearman_known_values_with_ties", "[embedding]") {
  // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) = 0.8207826816681233
  CHECK(spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}) == Approx(0.8207826816681233).epsilon(1e-12));
  // Ties on both sides: spearmanr([1, 1, 2, 3], [2, 1, 1, 3]) = 0.5
  CHECK(spearman({1, 1, 2, 3}, {2, 1, 1, 3}) == Approx(0.5).epsilon(1e-12));
  CHECK(spearman({1, 2, 3, 4}, {1, 8, 27, 64}) == Approx(1.0));
  CHECK(spearman({1, 2, 3, 4}, {4, 3, 2, 1}) == Approx(-1.0));
  CHECK(spearman({1, 2, 3}, {5, 5, 5}) == 0.0);
  CHECK_THROWS_AS(spearman({1, 2}, {1}), InputError);
}

TEST_CASE("classical_mds_recovers_euclidean_configuration", "[embedding]") {
  const auto x = random_points(25, 5, 1);
  const auto d = distances(x, x);
  for (int dim : {5, 8}) {  // 8: more dimensions than the data has
    const auto mds = detail::classical_mds(d, dim);
    REQUIRE(mds.coords.cols() == dim);
    CHECK((distances(mds.coords, mds.coords) - d).cwiseAbs().maxCoeff() < 1e-8);
  }
  // Fewer dimensions: the best rank-2 fit, distances shrink but never grow.
  const auto mds2 = detail::classical_mds(d, 2);
  CHECK(((distances(mds2.coords, mds2.coords) - d).array() <= 1e-9).all());
}

TEST_CASE("lmds_places_points_from_landmark_distances", "[embedding]") {
  const auto lm = random_points(12, 4, 2);
  const auto pts = random_points(60, 4, 3);
  const auto mds = detail::classical_mds(distances(lm, lm), 4);
  const auto placed = detail::lmds_triangulate(mds, distances(pts, lm));
  CHECK((distances(placed, placed) - distances(pts, pts)).cwiseAbs().maxCoeff() < 1e-8);
  CHECK((distances(placed, mds.coords) - distances(pts, lm)).cwiseAbs().maxCoeff() < 1e-8);
}

TEST_CASE("place_point_recovers_position_and_lowers_stress", "[embedding]") {
  const auto lm = random_points(10, 3, 4);
  const auto p = random_points(1, 3, 5);
  const Eigen::VectorXd d = distances(p, lm).row(0).transpose();
  CHECK((detail::place_point(lm, d, 1.0) - p.row(0).transpose()).norm() < 1e-8);

  // Noisy distances: the least-squares start is improved by the Gauss-Newton steps.
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> noise(0.7, 1.3);
  Eigen::VectorXd noisy = d;
  for (Eigen::Index k = 0; k < noisy.size(); ++k) noisy(k) *= noise(rng);
  auto stress = [&](const Eigen::VectorXd& y) {
    return ((lm.rowwise() - y.transpose()).rowwise().norm() - noisy).squaredNorm();
  };
  const auto start = detail::place_point(lm, noisy, 0.0, 0);
  const auto refined = detail::place_point(lm, noisy, 0.0);
  CHECK(stress(refined) < stress(start));
  // A local optimum: small moves in any axis direction do not lower the stress.
  for (int k = 0; k < 3; ++k)
    for (double h : {-1e-4, 1e-4}) {
      Eigen::VectorXd y = refined;
      y(k) += h;
      CHECK(stress(y) >= stress(refined) - 1e-12);
    }
}

TEST_CASE("stress_sgd_reaches_a_perfect_layout", "[embedding]") {
  const auto x = random_points(40, 2, 7);
  std::vector<detail::StressTerm> terms;
  for (std::uint32_t i = 0; i < 40; ++i)
    for (std::uint32_t j = i + 1; j < 40; ++j)
      terms.push_back({i, j, (x.row(i) - x.row(j)).norm()});
  Eigen::MatrixXd y = random_points(40, 2, 8);
  const double before = detail::raw_stress(y, terms);
  detail::SgdSchedule s;
  s.epochs = 60;
  detail::stress_sgd(y, terms, {}, s);
  CHECK(before > 0.3);
  CHECK(detail::raw_stress(y, terms) < 1e-3);

  // Fixed rows stay where they are.
  Eigen::MatrixXd z = random_points(40, 2, 9);
  const Eigen::MatrixXd z0 = z;
  std::vector<char> fixed(40, 0);
  fixed[0] = fixed[5] = 1;
  detail::stress_sgd(z, terms, fixed, s);
  CHECK(z.row(0) == z0.row(0));
  CHECK(z.row(5) == z0.row(5));
  CHECK(z.row(1) != z0.row(1));
}

TEST_CASE("naive_encoding_scales_and_pads", "[embedding]") {
  const auto s = test_space();
  Rng rng(3);
  for (int t = 0; t < 50; ++t) {
    const auto a = s.sample(rng);
    const auto v = naive_encoding(a, s);
    CHECK(v.minCoeff() >= 0);
    CHECK(v.maxCoeff() <= 1);
    CHECK(v.size() == naive_encoding(sample(s, 1, 99)[0], s).size());
  }
  const auto a = architecture_from_string(
      R"({"l":2,"o":["sa","l"],"h":[256,128],"n":[4,2],"f":[[1024],[512,512,512]],"p":["sdp","dft"]})");
  const auto v = naive_encoding(a, s);
  // Layer 0: hidden 256/256, heads 4/4, depth 1/3, width 1024/1024; then one-hot sa_sdp.
  CHECK(v(0) == 1.0);
  CHECK(v(1) == 1.0);
  CHECK(v(2) == Approx(1.0 / 3));
  CHECK(v(3) == 1.0);
  const auto per_layer = v.size() / 4;
  CHECK(v.segment(2 * per_layer, 2 * per_layer).isZero());  // layers 3, 4 padded
}

TEST_CASE("embedding_fit_preserves_ged_ranks_on_held_out_pairs", "[embedding]") {
  const auto& e = small_fit();
  REQUIRE(e.points().rows() == 300);
  REQUIRE(e.points().cols() == 16);
  REQUIRE(e.landmarks().size() == 64);
  // Pairs of new architectures, embedded out of sample, against bipartite GED (what the
  // fit sees) and exact GED.
  const auto fresh = sample(test_space(), 200, 12);
  const auto q = e.quality(fresh, 300, 13, GedOptions{GedMethod::kBipartite});
  INFO("stress " << q.stress << " spearman " << q.spearman);
  CHECK(q.pairs == 300);
  CHECK(q.spearman >= 0.85);
  const auto fitted = e.quality(e.architectures(), 300, 14, GedOptions{GedMethod::kBipartite});
  INFO("fitted stress " << fitted.stress << " spearman " << fitted.spearman);
  CHECK(fitted.spearman >= 0.85);
}

TEST_CASE("embedding_fit_matches_proven_optimal_ged_on_two_layer_space", "[embedding]") {
  // Two-layer graphs (up to 23 nodes) are solved to optimality in milliseconds, so the
  // reference here is proven-optimal GED rather than the bipartite bound the fit uses.
  auto s = test_space();
  s.layers = {2};
  EmbeddingOptions opt;
  opt.seed = 3;
  const auto e = Embedding::fit(sample(s, 300, 17), s, opt);
  const auto q = e.quality(sample(s, 200, 18), 300, 19, GedOptions{GedMethod::kExact});
  INFO("stress " << q.stress << " spearman " << q.spearman);
  CHECK(q.spearman >= 0.85);
}

TEST_CASE("embedding_out_of_sample_lands_near_fitted_point", "[embedding]") {
  const auto& e = small_fit();
  const auto& x = e.points();
  double mean_dist = 0;
  for (Eigen::Index i = 0; i < 50; ++i) mean_dist += (x.row(i) - x.row(i + 50)).norm() / 50;
  for (std::size_t i : {0, 17, 123, 299}) {
    const auto y = e.embed(e.architectures()[i]);
    INFO("row " << i << " moved " << (y.transpose() - x.row(static_cast<Eigen::Index>(i))).norm()
                << " of " << mean_dist);
    CHECK((y.transpose() - x.row(static_cast<Eigen::Index>(i))).norm() < 0.15 * mean_dist);
  }
}

TEST_CASE("embedding_fit_is_deterministic", "[embedding]") {
  const auto s = test_space();
  const auto archs = sample(s, 120, 21);
  EmbeddingOptions opt;
  opt.landmarks = 20;
  opt.pairs_per_point = 8;
  opt.epochs = 10;
  opt.seed = 5;
  std::vector<std::string> stages;
  opt.progress = [&](const std::string& stage, std::size_t done, std::size_t total) {
    CHECK(done <= total);
    if (stages.empty() || stages.back() != stage) stages.push_back(stage);
  };
  const auto a = Embedding::fit(archs, s, opt);
  CHECK(stages == std::vector<std::string>{"landmarks", "pairs", "refine"});
  const auto b = Embedding::fit(archs, s, opt);
  CHECK(a.points() == b.points());
  CHECK(a.landmarks() == b.landmarks());
  {
    // One thread gives the same points as however many the machine has.
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    CHECK(Embedding::fit(archs, s, opt).points() == a.points());
  }
  opt.seed = 6;
  const auto c = Embedding::fit(archs, s, opt);
  CHECK(a.points() != c.points());
}

TEST_CASE("embedding_save_load_round_trip", "[embedding]") {
  const auto s = test_space();
  EmbeddingOptions opt;
  opt.landmarks = 16;
  opt.pairs_per_point = 4;
  opt.epochs = 5;
  opt.seed = 1234567890123ULL;
  const auto e = Embedding::fit(sample(s, 60, 31), s, opt);
  // In a directory of its own, so that every file save leaves behind is seen.
  const auto dir = std::filesystem::temp_directory_path() /
                   ("flexnas_embedding_test_save_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directory(dir);
  const auto p1 = (dir / "a.json").string(), p2 = (dir / "b.json").string();
  e.save(p1);
  const auto back = Embedding::load(p1);
  back.save(p2);
  CHECK(test::read_file(p1) == test::read_file(p2));
  CHECK(back.points() == e.points());
  CHECK(back.landmarks() == e.landmarks());
  CHECK(back.options().seed == opt.seed);
  CHECK(back.space().to_yaml() == s.to_yaml());
  CHECK(back.architectures() == e.architectures());
  CHECK(back.embed(e.architectures()[7]) == e.embed(e.architectures()[7]));
  // save() writes "<path>.tmp.<pid>.<n>" (write_file_atomic) and renames it over the
  // target: afterwards the directory holds the two files and no temporary file.
  CHECK(file_names(dir) == std::set<std::string>{"a.json", "b.json"});
  // A save whose rename fails (the target is a directory) throws and removes its temporary.
  std::filesystem::create_directories(dir / "c.json" / "inside");
  CHECK_THROWS_AS(e.save((dir / "c.json").string()), InputError);
  CHECK(file_names(dir) == std::set<std::string>{"a.json", "b.json", "c.json"});
  CHECK(file_names(dir / "c.json") == std::set<std::string>{"inside"});
  std::filesystem::remove_all(dir);
}

TEST_CASE("embedding_load_rejects_bad_files", "[embedding]") {
  auto expect_error = [](const std::string& text, const std::string& fragment) {
    const auto p = temp_path("bad.json");
    { std::ofstream(p) << text; }
    INFO(text);
    try {
      Embedding::load(p);
      FAIL("no error");
    } catch (const InputError& err) {
      const std::string msg = err.what();
      CHECK(msg.find(p) != std::string::npos);
      CHECK(msg.find(fragment) != std::string::npos);
      CHECK(msg.find('\n') == std::string::npos);
    }
    std::filesystem::remove(p);
  };
  expect_error("{not json", "parse error");
  expect_error(R"({"format": "something-else"})", "not a flexnas embedding");
  expect_error(R"({"format": "flexnas-embedding", "version": 1})", "space");

  // A good file with one point made too short.
  const auto s = test_space();
  EmbeddingOptions opt;
  opt.landmarks = 4;
  opt.pairs_per_point = 2;
  opt.epochs = 2;
  const auto p = temp_path("good.json");
  Embedding::fit(sample(s, 10, 41), s, opt).save(p);
  auto j = nlohmann::json::parse(test::read_file(p));
  std::filesystem::remove(p);
  auto short_point = j;
  short_point["points"][3] = {1.0, 2.0};
  expect_error(short_point.dump(), "point 3");
  auto bad_landmark = j;
  bad_landmark["landmarks"][0] = 10;
  expect_error(bad_landmark.dump(), "landmark 10");
  auto bad_arch = j;
  bad_arch["architectures"][2]["h"][0] = 300;
  expect_error(bad_arch.dump(), "architecture 2");
  CHECK_THROWS_AS(Embedding::load(temp_path("missing.json")), InputError);
}

TEST_CASE("embedding_rejects_bad_options", "[embedding]") {
  const auto s = test_space();
  const auto archs = sample(s, 10, 51);
  EmbeddingOptions opt;
  opt.dim = 0;
  CHECK_THROWS_WITH(Embedding::fit(archs, s, opt), Catch::Contains("dim 0"));
  CHECK_THROWS_AS(Embedding::fit({archs[0]}, s), InputError);
}

TEST_CASE("embedding_ten_thousand_architectures", "[embedding-slow][.slow]") {
  // Acceptance: minutes, not hours, on 2 cores; Spearman >= 0.9 on 2,000 held-out pairs.
  const auto s = test_space();
  const auto e = Embedding::fit(sample(s, 10'000, 61), s);
  const auto fresh = sample(s, 2'000, 62);
  const auto q = e.quality(fresh, 2'000, 63);  // kQualityReference: budgeted exact search
  INFO("out of sample: stress " << q.stress << " spearman " << q.spearman);
  CHECK(q.spearman >= 0.9);
  const auto qf = e.quality(e.architectures(), 2'000, 64);
  INFO("fitted: stress " << qf.stress << " spearman " << qf.spearman);
  CHECK(qf.spearman >= 0.9);
}
