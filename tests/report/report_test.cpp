// The HTML report: marks per Pareto trial (front worked out by hand), failed trials with
// their reasons, escaping, the one-objective layout and the architecture drawing.
#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "report/report.hpp"

using namespace flexnas;

namespace {

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

const char* kModel =
    R"({"l":2,"o":["sa","l"],"h":[256,128],"n":[4,2],"f":[[1024],[512,512]],"p":["wma","dct"]})";

Trial make(std::int64_t id, double a, double b) {
  Trial t;
  t.id = id;
  t.arch = architecture_from_string(kModel);
  t.state = TrialState::kOk;
  t.values = {{"a", a}, {"b", b}};
  return t;
}

nlohmann::json config(std::vector<std::string> objectives, std::vector<std::string> cons = {}) {
  nlohmann::json c;
  c["objectives"] = objectives;
  c["constraints"] = cons;
  c["evaluators"] = {"params"};
  c["policy"] = "nsga2";
  c["budget"] = 6;
  c["batch"] = 2;
  c["seed"] = 0;
  c["space"] = nullptr;
  c["pool"] = nullptr;
  return c;
}

}  // namespace

TEST_CASE("report marks the Pareto set, infeasible points and failed trials", "[report]") {
  // Minimise a and b: (1,5), (2,2), (4,1) are non-dominated; (3,3) is dominated by (2,2);
  // (0,0) violates a>=0.5 so it is drawn as infeasible, not on the front.
  std::vector<Trial> trials = {make(0, 1, 5), make(1, 2, 2), make(2, 3, 3), make(3, 4, 1),
                               make(4, 0, 0)};
  Trial f;
  f.id = 5;
  f.arch = architecture_from_string(kModel);
  f.state = TrialState::kFailed;
  f.reason = "evaluator said <bad> & \"worse\"";
  trials.push_back(f);
  const auto html = render_report(config({"a:min", "b:min"}, {"a>=0.5"}), trials, {});
  CHECK(count(html, "class=\"pareto-point\" data-trial-id=") == 3);
  for (int id : {0, 1, 3})
    CHECK(html.find("class=\"pareto-point\" data-trial-id=\"" + std::to_string(id) + "\"") !=
          std::string::npos);
  CHECK(count(html, "class=\"infeasible-point\" data-trial-id=\"4\"") == 1);
  CHECK(count(html, "class=\"trial-point\" data-trial-id=") == 1);
  CHECK(count(html, "class=\"failed-trial\" data-trial-id=\"5\"") == 1);
  CHECK(html.find("evaluator said &lt;bad&gt; &amp; &quot;worse&quot;") != std::string::npos);
  CHECK(html.find("<bad>") == std::string::npos);
  // Model JSON is escaped too.
  CHECK(html.find("&quot;o&quot;:[&quot;sa&quot;,&quot;l&quot;]") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);
  // One drawing per Pareto trial.
  CHECK(count(html, "<svg class=\"arch-svg\"") == 3);
  CHECK(html.find("Pareto front") != std::string::npos);
}

TEST_CASE("report with one objective skips the Pareto plot", "[report]") {
  std::vector<Trial> trials = {make(0, 1, 5), make(1, 2, 2)};
  const auto html = render_report(config({"a:max"}), trials, {});
  CHECK(html.find("class=\"plot pareto-plot\"") == std::string::npos);
  CHECK(html.find("best-plot") != std::string::npos);
  CHECK(count(html, "<svg class=\"plot histogram\"") == 1);
  CHECK(html.find("No failed trials") != std::string::npos);
  CHECK(count(html, "<svg class=\"arch-svg\"") == 1);  // the best (trial 1)
  CHECK(html.find("id=\"trial-1\"") != std::string::npos);
}

TEST_CASE("report axes are chosen by name; unknown names are input errors", "[report]") {
  std::vector<Trial> trials = {make(0, 1, 5), make(1, 2, 2)};
  ReportOptions o;
  o.x = "b";
  o.y = "a";
  const auto html = render_report(config({"a:min", "b:min"}), trials, o);
  CHECK(html.find("a against b") != std::string::npos);
  o.x = "nope";
  CHECK_THROWS_AS(render_report(config({"a:min", "b:min"}), trials, o), InputError);
  // An empty study renders without plots.
  CHECK(render_report(config({"a:min", "b:min"}), {}, {}).find("None yet") != std::string::npos);
}

TEST_CASE("architecture drawing: a box per layer, a box per head group, colour by family",
          "[report]") {
  // Layer 1: 2 sa/sdp + 2 c/5 heads (hetero), layer 2: 2 l/dft heads.
  const auto a = architecture_from_string(
      R"({"l":2,"o":[["sa_sdp_64","sa_sdp_64","c_5_64","c_5_64"],["l_dft_64","l_dft_64"]],)"
      R"("h":[256,128],"f":[[1024],[512,256]]})");
  const auto svg = architecture_svg(a);
  CHECK(count(svg, "class=\"arch-layer\"") == 2);
  CHECK(count(svg, "class=\"head-group ") == 3);
  CHECK(count(svg, "head-group op-sa") == 1);
  CHECK(count(svg, "head-group op-c") == 1);
  CHECK(count(svg, "head-group op-l") == 1);
  CHECK(svg.find("2\u00d7 sa sdp /64") != std::string::npos);
  CHECK(svg.find("FF 512\u2192256") != std::string::npos);
  CHECK(html_escape("<a href='x'>&</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
}
