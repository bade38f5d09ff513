#include "report/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "search/objective.hpp"
#include "search/storage.hpp"

namespace flexnas {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

namespace {

std::string num(double v, const char* f = "%.6g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Short axis label: 4.37M, 512k, 0.83.
std::string short_num(double v) {
  const double a = std::fabs(v);
  if (a >= 1e12) return num(v / 1e12, "%.3gT");
  if (a >= 1e9) return num(v / 1e9, "%.3gG");
  if (a >= 1e6) return num(v / 1e6, "%.3gM");
  if (a >= 1e4) return num(v / 1e3, "%.3gk");
  if (a < 1e-12) return "0";
  return num(v, "%.3g");
}

// Coordinates with two decimals (SVG attribute values).
std::string c2(double v) {
  return num(v, "%.2f");
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
  // Widened by 5 % each side (or by 1 around a single value) so marks stay inside.
  Range padded() const {
    Range r = *this;
    const double span = hi - lo;
    const double pad = span > 0 ? 0.05 * span : (std::fabs(lo) > 0 ? 0.05 * std::fabs(lo) : 1.0);
    r.lo -= pad;
    r.hi += pad;
    return r;
  }
};

// About n round tick values inside [lo, hi].
std::vector<double> ticks(double lo, double hi, int n) {
  const double raw = (hi - lo) / n;
  if (!(raw > 0)) return {lo};
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step)
    out.push_back(std::fabs(t) < 1e-12 * step ? 0.0 : t);
  return out;
}

// A plot area: pixel size, margins and the value ranges of both axes.
struct Frame {
  double w = 640, h = 420, left = 78, right = 18, top = 16, bottom = 58;
  Range xr, yr;
  double px(double x) const { return left + (x - xr.lo) / (xr.hi - xr.lo) * (w - left - right); }
  double py(double y) const {
    return h - bottom - (y - yr.lo) / (yr.hi - yr.lo) * (h - top - bottom);
  }
  std::string open(const std::string& cls, const std::string& label) const {
    return "<svg class=\"plot " + cls + "\" viewBox=\"0 0 " + c2(w) + " " + c2(h) +
           "\" role=\"img\" aria-label=\"" + html_escape(label) + "\">\n";
  }
  // Grid, ticks and axis titles.
  std::string axes(const std::string& xlabel, const std::string& ylabel, bool integer_x = false,
                   bool integer_y = false) const {
    std::ostringstream s;
    const double x0 = left, x1 = w - right, y0 = top, y1 = h - bottom;
    s << "<rect class=\"frame\" x=\"" << c2(x0) << "\" y=\"" << c2(y0) << "\" width=\""
      << c2(x1 - x0) << "\" height=\"" << c2(y1 - y0) << "\"/>\n";
    for (double t : ticks(xr.lo, xr.hi, 6)) {
      if (integer_x && t != std::floor(t)) continue;
      const double x = px(t);
      s << "<line class=\"grid\" x1=\"" << c2(x) << "\" y1=\"" << c2(y0) << "\" x2=\"" << c2(x)
        << "\" y2=\"" << c2(y1) << "\"/><text class=\"tick\" x=\"" << c2(x) << "\" y=\""
        << c2(y1 + 16) << "\" text-anchor=\"middle\">" << html_escape(short_num(t)) << "</text>\n";
    }
    for (double t : ticks(yr.lo, yr.hi, 6)) {
      if (integer_y && t != std::floor(t)) continue;
      const double y = py(t);
      s << "<line class=\"grid\" x1=\"" << c2(x0) << "\" y1=\"" << c2(y) << "\" x2=\"" << c2(x1)
        << "\" y2=\"" << c2(y) << "\"/><text class=\"tick\" x=\"" << c2(x0 - 6) << "\" y=\""
        << c2(y + 4) << "\" text-anchor=\"end\">" << html_escape(short_num(t)) << "</text>\n";
    }
    s << "<text class=\"axis-label\" x=\"" << c2((x0 + x1) / 2) << "\" y=\"" << c2(h - 14)
      << "\" text-anchor=\"middle\">" << html_escape(xlabel) << "</text>\n";
    s << "<text class=\"axis-label\" transform=\"translate(16 " << c2((y0 + y1) / 2)
      << ") rotate(-90)\" text-anchor=\"middle\">" << html_escape(ylabel) << "</text>\n";
    return s.str();
  }
};

std::string direction_word(const std::vector<Objective>& objs, const std::string& name) {
  for (const auto& o : objs)
    if (o.name == name)
      return o.direction == Direction::kMinimize ? " (min \u2193)" : " (max \u2191)";
  return "";
}

std::string values_text(const Trial& t) {
  std::string s;
  for (const auto& [k, v] : t.values) s += (s.empty() ? "" : ", ") + k + " = " + num(v);
  return s;
}

std::string legend(double x, double y,
                   const std::vector<std::pair<std::string, std::string>>& items) {
  // items: (svg of the mark drawn at 0,0, label)
  std::ostringstream s;
  const double w = 190, h = 8 + 18 * static_cast<double>(items.size());
  s << "<g class=\"legend\" transform=\"translate(" << c2(x - w) << " " << c2(y) << ")\">"
    << "<rect class=\"legend-box\" width=\"" << c2(w) << "\" height=\"" << c2(h) << "\"/>";
  for (std::size_t i = 0; i < items.size(); ++i) {
    const double yy = 13 + 18 * static_cast<double>(i);
    s << "<g transform=\"translate(14 " << c2(yy) << ")\">" << items[i].first
      << "</g><text x=\"28\" y=\"" << c2(yy + 4) << "\">" << html_escape(items[i].second)
      << "</text>";
  }
  s << "</g>\n";
  return s.str();
}

std::string cross(double x, double y, double r, const std::string& cls, const std::string& extra) {
  return "<path class=\"" + cls + "\" d=\"M" + c2(x - r) + " " + c2(y - r) + "L" + c2(x + r) + " " +
         c2(y + r) + "M" + c2(x - r) + " " + c2(y + r) + "L" + c2(x + r) + " " + c2(y - r) + "\"" +
         extra + "/>";
}

std::string pareto_plot(const std::vector<Trial>& trials, const std::vector<Trial>& front,
                        const std::vector<Objective>& objs, const std::vector<Constraint>& cons,
                        const std::string& xn, const std::string& yn) {
  std::set<std::int64_t> on_front;
  for (const auto& t : front) on_front.insert(t.id);
  Frame f;
  std::vector<const Trial*> pts;
  for (const auto& t : trials)
    if (t.ok() && t.values.count(xn) && t.values.count(yn)) {
      pts.push_back(&t);
      f.xr.add(t.values.at(xn));
      f.yr.add(t.values.at(yn));
    }
  if (pts.empty()) return "<p class=\"empty\">No finished trial with both values yet.</p>\n";
  f.xr = f.xr.padded();
  f.yr = f.yr.padded();
  std::ostringstream s;
  s << f.open("pareto-plot", "Pareto front: " + yn + " against " + xn);
  s << f.axes(xn + direction_word(objs, xn), yn + direction_word(objs, yn));
  std::size_t n_infeasible = 0;
  std::ostringstream marks, top;
  for (const auto* t : pts) {
    const double x = f.px(t->values.at(xn)), y = f.py(t->values.at(yn));
    const std::string tip = "<title>" +
                            html_escape("trial " + std::to_string(t->id) + ": " + values_text(*t)) +
                            "</title>";
    const std::string id = " data-trial-id=\"" + std::to_string(t->id) + "\"";
    if (on_front.count(t->id)) {
      top << "<circle class=\"pareto-point\"" << id << " cx=\"" << c2(x) << "\" cy=\"" << c2(y)
          << "\" r=\"5.5\">" << tip << "</circle>\n";
    } else if (total_violation(t->values, cons) > 0) {
      ++n_infeasible;
      marks << "<g class=\"infeasible-point\"" << id << ">" << cross(x, y, 4, "x-mark", "") << tip
            << "</g>\n";
    } else {
      marks << "<circle class=\"trial-point\"" << id << " cx=\"" << c2(x) << "\" cy=\"" << c2(y)
            << "\" r=\"3.2\">" << tip << "</circle>\n";
    }
  }
  // The front as a dashed line in x order when the plot shows exactly the objectives.
  const bool two = objs.size() == 2 && ((objs[0].name == xn && objs[1].name == yn) ||
                                        (objs[0].name == yn && objs[1].name == xn));
  if (two) {
    std::vector<std::pair<double, double>> line;
    for (const auto& t : front)
      if (t.values.count(xn) && t.values.count(yn) && total_violation(t.values, cons) == 0)
        line.emplace_back(t.values.at(xn), t.values.at(yn));
    std::sort(line.begin(), line.end());
    if (line.size() > 1) {
      s << "<polyline class=\"pareto-line\" points=\"";
      for (const auto& [x, y] : line) s << c2(f.px(x)) << "," << c2(f.py(y)) << " ";
      s << "\"/>\n";
    }
  }
  s << marks.str() << top.str();
  std::vector<std::pair<std::string, std::string>> items = {
      {"<circle class=\"pareto-point legend-mark\" r=\"5.5\"/>",
       "Pareto set (" + std::to_string(front.size()) + ")"},
      {"<circle class=\"trial-point\" r=\"3.2\"/>", "other feasible trials"}};
  if (n_infeasible || !cons.empty())
    items.push_back({"<g class=\"infeasible-point\">" + cross(0, 0, 4, "x-mark", "") + "</g>",
                     "violates a constraint (" + std::to_string(n_infeasible) + ")"});
  // Legend in the plot corner that hides the fewest marks.
  const double lw = 190, lh = 8 + 18 * static_cast<double>(items.size());
  const double xs[2] = {f.w - f.right - 6, f.left + 6 + lw};
  const double ys[2] = {f.top + 6, f.h - f.bottom - 6 - lh};
  double best_x = xs[0], best_y = ys[0];
  std::size_t fewest = std::numeric_limits<std::size_t>::max();
  for (double ly : ys)
    for (double lx : xs) {
      std::size_t hidden = 0;
      for (const auto* t : pts) {
        const double x = f.px(t->values.at(xn)), y = f.py(t->values.at(yn));
        if (x >= lx - lw - 6 && x <= lx + 6 && y >= ly - 6 && y <= ly + lh + 6) ++hidden;
      }
      if (hidden < fewest) fewest = hidden, best_x = lx, best_y = ly;
    }
  s << legend(best_x, best_y, items);
  s << "</svg>\n";
  return s.str();
}

std::string best_so_far_plot(const std::vector<Trial>& trials, const Objective& obj,
                             const std::vector<Constraint>& cons) {
  Frame f;
  f.w = 640;
  std::vector<std::pair<double, double>> all, best;
  std::vector<std::pair<double, double>> infeasible;
  std::optional<double> cur;
  for (const auto& t : trials) {
    if (!t.ok() || !t.values.count(obj.name)) continue;
    const double v = t.values.at(obj.name), x = static_cast<double>(t.id);
    f.xr.add(x);
    f.yr.add(v);
    if (total_violation(t.values, cons) > 0) {
      infeasible.emplace_back(x, v);
      continue;
    }
    all.emplace_back(x, v);
    const bool better = !cur || (obj.direction == Direction::kMinimize ? v < *cur : v > *cur);
    if (better) cur = v;
    best.emplace_back(x, *cur);
  }
  if (f.xr.empty()) return "<p class=\"empty\">No finished trial yet.</p>\n";
  f.xr = f.xr.padded();
  f.yr = f.yr.padded();
  std::ostringstream s;
  s << f.open("best-plot", "best " + obj.name + " so far against trial number");
  s << f.axes("trial number", obj.name + direction_word({obj}, obj.name), true);
  for (const auto& [x, y] : all)
    s << "<circle class=\"trial-value\" cx=\"" << c2(f.px(x)) << "\" cy=\"" << c2(f.py(y))
      << "\" r=\"2.6\"/>\n";
  for (const auto& [x, y] : infeasible)
    s << "<g class=\"infeasible-point\">" << cross(f.px(x), f.py(y), 3, "x-mark", "") << "</g>\n";
  if (!best.empty()) {
    s << "<path class=\"best-line\" d=\"M" << c2(f.px(best[0].first)) << " "
      << c2(f.py(best[0].second));
    for (std::size_t i = 1; i < best.size(); ++i)
      s << "H" << c2(f.px(best[i].first)) << "V" << c2(f.py(best[i].second));
    s << "\"/>\n";
  }
  std::vector<std::pair<std::string, std::string>> items = {
      {"<line class=\"best-line\" x1=\"-8\" y1=\"0\" x2=\"8\" y2=\"0\"/>", "best so far"},
      {"<circle class=\"trial-value\" r=\"2.6\"/>", "each feasible trial"}};
  if (!infeasible.empty())
    items.push_back({"<g class=\"infeasible-point\">" + cross(0, 0, 3, "x-mark", "") + "</g>",
                     "violates a constraint"});
  // The best line ends at the top when maximising: the legend goes to the bottom then.
  const double ly = obj.direction == Direction::kMaximize
                        ? f.h - f.bottom - 6 - (8 + 18 * static_cast<double>(items.size()))
                        : f.top + 6;
  s << legend(f.w - f.right - 6, ly, items) << "</svg>\n";
  return s.str();
}

std::string histogram(const std::vector<Trial>& trials, const std::string& name,
                      const std::string& label) {
  std::vector<double> v;
  for (const auto& t : trials)
    if (t.ok() && t.values.count(name)) v.push_back(t.values.at(name));
  if (v.empty()) return "<p class=\"empty\">No values of " + html_escape(name) + " yet.</p>\n";
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  const double lo = *mn, hi = *mx;
  const std::size_t bins =
      hi > lo ? std::min<std::size_t>(20, std::max<std::size_t>(5, v.size() / 3)) : 1;
  const double width = hi > lo ? (hi - lo) / static_cast<double>(bins) : 1.0;
  std::vector<std::size_t> count(bins, 0);
  for (double x : v) {
    auto b = hi > lo ? static_cast<std::size_t>((x - lo) / width) : 0;
    count[std::min(b, bins - 1)]++;
  }
  Frame f;
  f.w = 460;
  f.h = 300;
  f.left = 56;
  f.xr.lo = hi > lo ? lo : lo - 0.5 * (std::fabs(lo) > 0 ? std::fabs(lo) : 1.0);
  f.xr.hi = hi > lo ? hi : hi + 0.5 * (std::fabs(hi) > 0 ? std::fabs(hi) : 1.0);
  f.yr.lo = 0;
  f.yr.hi = static_cast<double>(*std::max_element(count.begin(), count.end())) * 1.1;
  std::ostringstream s;
  s << f.open("histogram", "distribution of " + name);
  s << f.axes(label, "trials", false, true);
  for (std::size_t b = 0; b < bins; ++b) {
    const double a =
        hi > lo ? lo + width * static_cast<double>(b) : f.xr.lo + 0.25 * (f.xr.hi - f.xr.lo);
    const double e = hi > lo ? a + width : f.xr.hi - 0.25 * (f.xr.hi - f.xr.lo);
    const double x0 = f.px(a), x1 = f.px(e), y = f.py(static_cast<double>(count[b]));
    s << "<rect class=\"hist-bar\" x=\"" << c2(x0 + 0.5) << "\" y=\"" << c2(y) << "\" width=\""
      << c2(std::max(0.5, x1 - x0 - 1)) << "\" height=\"" << c2(f.py(0) - y) << "\"><title>"
      << html_escape(short_num(a) + " to " + short_num(e) + ": " + std::to_string(count[b]) +
                     " trials")
      << "</title></rect>\n";
  }
  s << "</svg>\n";
  return s.str();
}

std::string family_class(Family f) {
  switch (f) {
    case Family::kSa:
      return "op-sa";
    case Family::kL:
      return "op-l";
    case Family::kC:
      return "op-c";
  }
  return "op-sa";
}

const char* css() {
  return R"(body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;color:#1f2933;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px}h2{font-size:1.25em;margin-top:32px;border-bottom:1px solid #d9e2ec;padding-bottom:4px}
table{border-collapse:collapse;font-size:0.92em}td,th{border:1px solid #d9e2ec;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f4f8}table.summary th{width:170px}code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:0.86em}
pre{background:#f5f7fa;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plot{background:#fff;max-width:100%;height:auto}
svg.pareto-plot,svg.best-plot{width:640px}svg.histogram{width:460px}
.frame{fill:#fbfcfd;stroke:#9aa5b1}.grid{stroke:#e4e7eb;stroke-width:1}.tick{font-size:11px;fill:#52606d}
.axis-label{font-size:13px;fill:#1f2933;font-weight:600}
.trial-point{fill:#7b8794;fill-opacity:0.55}.pareto-point{fill:#e8590c;stroke:#7c2d12;stroke-width:1.2}
.pareto-line{fill:none;stroke:#e8590c;stroke-width:1.5;stroke-dasharray:5 3}
.x-mark{stroke:#c62828;stroke-width:1.6;fill:none}.trial-value{fill:#7b8794;fill-opacity:0.5}
.best-line{fill:none;stroke:#1864ab;stroke-width:2.2}.hist-bar{fill:#4c78a8}
.legend-box{fill:#fff;fill-opacity:0.92;stroke:#cbd2d9}.legend text{font-size:11.5px;fill:#1f2933}
.arch{margin:14px 0 22px}.arch h3{font-size:1em;margin:0 0 4px}.arch svg{max-width:100%;height:auto}
.layer{fill:#f8fafc;stroke:#9aa5b1}.layer-title{font-size:11.5px;font-weight:600;fill:#1f2933}
.head-group text,.ff text{font-size:11px}.head-group text{fill:#fff}.ff rect{fill:#e4e7eb;stroke:#9aa5b1}.ff text{fill:#1f2933}
.op-sa rect,.swatch.op-sa{fill:#4c78a8;background:#4c78a8}.op-l rect,.swatch.op-l{fill:#54a24b;background:#54a24b}
.op-c rect,.swatch.op-c{fill:#e45756;background:#e45756}.layer-extra{font-size:10px;fill:#52606d}
.link{stroke:#9aa5b1;stroke-width:1.5}.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:middle;margin:0 4px 0 10px}
.failed td.reason{color:#9b1c1c}.empty{color:#52606d;font-style:italic}.note{color:#52606d;font-size:0.9em}
)";
}

}  // namespace

std::string architecture_svg(const Architecture& a) {
  const double col = 176, gap = 18, pad = 6, row = 24, head = 20;
  // Head groups of each layer: identical heads counted together.
  std::vector<std::vector<std::pair<Head, int>>> groups;
  std::size_t max_groups = 1;
  bool extras = false;
  for (const auto& l : a.layers) {
    std::map<Head, int> m;
    for (const auto& h : l.heads) m[h]++;
    groups.emplace_back(m.begin(), m.end());
    max_groups = std::max(max_groups, groups.back().size());
    extras = extras || l.attn_kernel != AttnKernel::kSoftmax || l.activation != Activation::kGelu ||
             l.norm != NormKind::kLayerNorm || l.norm_placement != NormPlacement::kPost;
  }
  const double extra_h = extras ? 14 : 0;
  const double layer_h =
      head + static_cast<double>(max_groups) * (row + 4) + extra_h + row + 2 * pad;
  const double width = static_cast<double>(a.layers.size()) * (col + gap) - gap + 2;
  std::ostringstream s;
  s << "<svg class=\"arch-svg\" viewBox=\"0 0 " << c2(std::max(width, 10.0)) << " "
    << c2(layer_h + 2) << "\" width=\"" << c2(std::max(width, 10.0)) << "\" role=\"img\">\n";
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const auto& l = a.layers[i];
    const double x = 1 + static_cast<double>(i) * (col + gap);
    if (i > 0)
      s << "<line class=\"link\" x1=\"" << c2(x - gap) << "\" y1=\"" << c2(layer_h / 2)
        << "\" x2=\"" << c2(x) << "\" y2=\"" << c2(layer_h / 2) << "\"/>";
    s << "<g class=\"arch-layer\" data-layer=\"" << i << "\"><rect class=\"layer\" x=\"" << c2(x)
      << "\" y=\"1\" width=\"" << c2(col) << "\" height=\"" << c2(layer_h) << "\" rx=\"4\"/>";
    s << "<text class=\"layer-title\" x=\"" << c2(x + pad) << "\" y=\"" << c2(1 + pad + 11) << "\">"
      << "L" << i + 1 << " \u00b7 h " << l.hidden << " \u00b7 " << l.num_heads()
      << (l.num_heads() == 1 ? " head" : " heads") << "</text>";
    double y = 1 + pad + head;
    for (const auto& [h, n] : groups[i]) {
      std::string label = std::to_string(n) + "\u00d7 " + to_string(h.family()) + " " + h.param() +
                          " /" + std::to_string(l.head_size());
      s << "<g class=\"head-group " << family_class(h.family()) << "\"><rect x=\"" << c2(x + pad)
        << "\" y=\"" << c2(y) << "\" width=\"" << c2(col - 2 * pad) << "\" height=\"" << c2(row)
        << "\" rx=\"3\"/><text x=\"" << c2(x + pad + 6) << "\" y=\"" << c2(y + 16) << "\">"
        << html_escape(label) << "</text><title>"
        << html_escape(std::to_string(n) + " head(s) " + head_string(h, l.head_size()))
        << "</title></g>";
      y += row + 4;
    }
    y = 1 + pad + head + static_cast<double>(max_groups) * (row + 4);
    if (extras) {
      std::string e = std::string(to_string(l.activation)) + " \u00b7 " + to_string(l.norm) + " " +
                      to_string(l.norm_placement);
      if (l.has_attention()) e = std::string("attn ") + to_string(l.attn_kernel) + " \u00b7 " + e;
      s << "<text class=\"layer-extra\" x=\"" << c2(x + pad) << "\" y=\"" << c2(y + 9) << "\">"
        << html_escape(e) << "</text>";
      y += extra_h;
    }
    std::string ff = "FF";
    for (std::size_t k = 0; k < l.ff.size(); ++k)
      ff += (k ? "\u2192" : " ") + std::to_string(l.ff[k]);
    s << "<g class=\"ff\"><rect x=\"" << c2(x + pad) << "\" y=\"" << c2(y) << "\" width=\""
      << c2(col - 2 * pad) << "\" height=\"" << c2(row) << "\" rx=\"3\"/><text x=\""
      << c2(x + pad + 6) << "\" y=\"" << c2(y + 16) << "\">" << html_escape(ff)
      << "</text></g></g>\n";
  }
  s << "</svg>\n";
  return s.str();
}

std::string render_report(const nlohmann::json& c, const std::vector<Trial>& trials,
                          const ReportOptions& opt_in) {
  ReportOptions opt = opt_in;
  if (opt.title.empty()) opt.title = "flexnas study";
  std::vector<Objective> objs;
  std::vector<Constraint> cons;
  for (const auto& o : c.value("objectives", nlohmann::json::array()))
    objs.push_back(Objective::parse(o.get<std::string>()));
  for (const auto& k : c.value("constraints", nlohmann::json::array()))
    cons.push_back(Constraint::parse(k.get<std::string>()));
  if (objs.empty()) throw InputError("the study defines no objective");

  // Value names the plot may use.
  std::set<std::string> names;
  for (const auto& o : objs) names.insert(o.name);
  for (const auto& k : cons) names.insert(k.name);
  for (const auto& t : trials)
    for (const auto& [k, v] : t.values) names.insert(k);
  auto pick = [&](const std::string& given, const char* opt_name, std::size_t fallback) {
    if (given.empty()) return fallback < objs.size() ? objs[fallback].name : std::string();
    if (!names.count(given)) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      throw InputError(std::string(opt_name) + " '" + given +
                       "' is not a value of this study (values: " + list + ")");
    }
    return given;
  };
  const std::string xn = pick(opt.x, "--x", 0), yn = pick(opt.y, "--y", 1);
  const bool show_pareto = objs.size() > 1 || (!opt.x.empty() && !opt.y.empty());

  std::size_t finished = 0, failed = 0, asked = 0;
  for (const auto& t : trials) {
    if (t.ok())
      ++finished;
    else if (t.state == TrialState::kFailed)
      ++failed;
    else
      ++asked;
  }
  const auto front = pareto_set(trials, objs, cons);
  const auto best = best_trial(trials, objs, cons);

  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
    << html_escape(opt.title) << "</title>\n<style>\n"
    << css() << "</style></head>\n<body>\n";
  h << "<h1>" << html_escape(opt.title)
    << "</h1>\n<p class=\"note\">flexnas study report: " << finished + failed
    << " finished trials of a budget of "
    << html_escape(c.contains("budget") ? c.at("budget").dump() : std::string("?"))
    << (asked ? ", " + std::to_string(asked) + " being evaluated" : std::string()) << ".</p>\n";

  // Summary.
  h << "<h2 id=\"summary\">Summary</h2>\n<table class=\"summary\">\n";
  auto row = [&](const std::string& k, const std::string& v_html) {
    h << "<tr><th>" << html_escape(k) << "</th><td>" << v_html << "</td></tr>\n";
  };
  auto list = [&](const char* key) {
    std::string s;
    if (c.contains(key) && c.at(key).is_array())
      for (const auto& e : c.at(key))
        s += (s.empty() ? "" : ", ") + std::string("<code>") +
             html_escape(e.is_string() ? e.get<std::string>() : e.dump()) + "</code>";
    return s.empty() ? std::string("none") : s;
  };
  if (c.contains("pool") && c.at("pool").is_array()) {
    row("searched", "a pool of " + std::to_string(c.at("pool").size()) + " architectures");
  }
  if (c.contains("space") && c.at("space").is_string()) {
    const auto yaml = c.at("space").get<std::string>();
    std::string name = "design space";
    std::istringstream in(yaml);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("name:", 0) == 0) name = line.substr(5);
    row("space", "<details><summary>" + html_escape(name) + "</summary><pre>" + html_escape(yaml) +
                     "</pre></details>");
  }
  row("evaluators", list("evaluators"));
  row("objectives", list("objectives"));
  row("constraints", list("constraints"));
  row("policy", "<code>" + html_escape(c.value("policy", std::string("?"))) + "</code>");
  std::string budget = html_escape(c.contains("budget") ? c.at("budget").dump() : "?");
  if (c.contains("batch")) budget += ", batches of " + html_escape(c.at("batch").dump());
  if (c.contains("seed")) budget += ", seed " + html_escape(c.at("seed").dump());
  row("budget", budget);
  if (c.contains("stop_at") && !c.at("stop_at").empty()) row("stop at", list("stop_at"));
  if (c.value("patience", 0) > 0) row("patience", std::to_string(c.value("patience", 0)));
  row("trials", std::to_string(finished + failed) + " finished: " + std::to_string(finished) +
                    " ok, " + std::to_string(failed) + " failed" +
                    (asked ? ", " + std::to_string(asked) + " being evaluated" : std::string()));
  row("best trial", best ? "<a href=\"#trial-" + std::to_string(best->id) + "\">trial " +
                               std::to_string(best->id) + "</a>: " + html_escape(values_text(*best))
                         : std::string("none yet"));
  if (objs.size() > 1) {
    std::string hv = std::to_string(front.size()) + " trials";
    std::vector<double> lo(objs.size(), INFINITY), hi(objs.size(), -INFINITY);
    for (const auto& t : trials)
      if (t.ok()) {
        const auto p = to_minimise(t.values, objs);
        for (std::size_t k = 0; k < p.size(); ++k)
          lo[k] = std::min(lo[k], p[k]), hi[k] = std::max(hi[k], p[k]);
      }
    std::vector<std::vector<double>> pts;
    for (const auto& t : front)
      if (total_violation(t.values, cons) == 0) pts.push_back(to_minimise(t.values, objs));
    if (!pts.empty()) {
      std::vector<double> ref;
      for (std::size_t k = 0; k < lo.size(); ++k)
        ref.push_back(hi[k] + 0.1 * (hi[k] - lo[k]) + 1e-12);
      hv += ", hypervolume " + num(hypervolume(pts, ref)) +
            " (minimised objectives, reference point: worst value seen + 10 % of the range)";
    }
    row("Pareto set", hv);
  }
  h << "</table>\n";

  if (show_pareto) {
    h << "<h2 id=\"pareto\">Pareto front</h2>\n<p class=\"note\">" << html_escape(yn) << " against "
      << html_escape(xn) << "; highlighted: the study's Pareto set over all " << objs.size()
      << " objectives (constrained domination).</p>\n<div class=\"plots\">"
      << pareto_plot(trials, front, objs, cons, xn, yn) << "</div>\n";
  }
  h << "<h2 id=\"progress\">Best so far</h2>\n<div class=\"plots\">"
    << best_so_far_plot(trials, objs[0], cons) << "</div>\n";
  h << "<h2 id=\"distributions\">Objective distributions</h2>\n<p class=\"note\">Finished "
       "ok trials (feasible or not).</p>\n<div class=\"plots\">";
  for (const auto& o : objs) h << histogram(trials, o.name, o.name + direction_word(objs, o.name));
  h << "</div>\n";

  h << "<h2 id=\"failed\">Failed trials</h2>\n";
  if (!failed) {
    h << "<p class=\"empty\">No failed trials.</p>\n";
  } else {
    h << "<table class=\"failed\"><tr><th>trial</th><th>reason</th><th>model</th></tr>\n";
    for (const auto& t : trials)
      if (t.state == TrialState::kFailed)
        h << "<tr class=\"failed-trial\" data-trial-id=\"" << t.id << "\"><td>" << t.id
          << "</td><td class=\"reason\">" << html_escape(t.reason) << "</td><td><code>"
          << html_escape(to_string(t.arch)) << "</code></td></tr>\n";
    h << "</table>\n";
  }

  h << "<h2 id=\"architectures\">"
    << (objs.size() > 1 ? "Pareto architectures" : "Best architecture")
    << "</h2>\n<p class=\"note\">One box per layer (hidden width, heads), one coloured box per "
       "group of identical heads (count \u00d7 operation parameter /head size), then the "
       "feed-forward stack. Families:<span class=\"swatch op-sa\"></span>sa self-attention"
       "<span class=\"swatch op-l\"></span>l linear mixing (dft, dct)"
       "<span class=\"swatch op-c\"></span>c convolution</p>\n";
  std::vector<Trial> shown;
  if (objs.size() > 1)
    shown = front;
  else if (best)
    shown.push_back(*best);
  const std::size_t limit = 100;
  if (shown.empty()) h << "<p class=\"empty\">None yet.</p>\n";
  for (std::size_t i = 0; i < shown.size() && i < limit; ++i) {
    const auto& t = shown[i];
    h << "<div class=\"arch\" id=\"trial-" << t.id << "\"><h3>Trial " << t.id << " \u2014 "
      << html_escape(values_text(t)) << "</h3>\n"
      << architecture_svg(t.arch) << "<details><summary>model dict</summary><pre>"
      << html_escape(to_json(t.arch).dump()) << "</pre></details></div>\n";
  }
  if (shown.size() > limit)
    h << "<p class=\"note\">" << shown.size() - limit << " more not drawn.</p>\n";
  h << "</body></html>\n";
  return h.str();
}

}  // namespace flexnas
