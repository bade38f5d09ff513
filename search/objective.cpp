#include "search/objective.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/numbers.hpp"

namespace flexnas {

Values values_from_json(const nlohmann::json& j) {
  if (!j.is_object())
    throw InputError(
        R"(values must be a JSON object of value name -> number, e.g. {"accuracy": 0.81})");
  Values v;
  for (const auto& [k, x] : j.items()) {
    if (!x.is_number())
      throw InputError("value '" + k + "' is " + (x.is_string() ? "a string" : x.type_name()) +
                       ", not a number");
    v[k] = x.get<double>();
  }
  return v;
}

Objective Objective::parse(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw InputError("objective '" + text + "' is not NAME:max or NAME:min");
  Objective o;
  o.name = text.substr(0, colon);
  const auto dir = text.substr(colon + 1);
  if (dir == "max" || dir == "maximize")
    o.direction = Direction::kMaximize;
  else if (dir == "min" || dir == "minimize")
    o.direction = Direction::kMinimize;
  else
    throw InputError("objective '" + text + "': direction '" + dir + "' is not max or min");
  return o;
}

std::string Objective::str() const {
  return name + (direction == Direction::kMaximize ? ":max" : ":min");
}

Constraint Constraint::parse(const std::string& text) {
  Constraint c;
  auto pos = text.find("<=");
  if (pos == std::string::npos) {
    pos = text.find(">=");
    c.upper = false;
  }
  if (pos == std::string::npos || pos == 0)
    throw InputError("constraint '" + text + "' is not NAME<=X or NAME>=X");
  c.name = text.substr(0, pos);
  const auto num = text.substr(pos + 2);
  c.bound = parse_real(num, "constraint '" + text + "'");
  return c;
}

std::string Constraint::str() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", bound);
  return name + (upper ? "<=" : ">=") + buf;
}

double Constraint::violation(const Values& values) const {
  auto it = values.find(name);
  if (it == values.end()) return 0;
  return upper ? std::max(0.0, it->second - bound) : std::max(0.0, bound - it->second);
}

std::vector<double> to_minimise(const Values& v, const std::vector<Objective>& objectives) {
  std::vector<double> out;
  for (const auto& o : objectives) {
    auto it = v.find(o.name);
    const double x = it == v.end() ? std::numeric_limits<double>::infinity() : it->second;
    out.push_back(o.direction == Direction::kMaximize ? -x : x);
  }
  return out;
}

double total_violation(const Values& v, const std::vector<Constraint>& constraints) {
  double s = 0;
  for (const auto& c : constraints) s += c.violation(v);
  return s;
}

namespace {
bool pareto_dominates(const std::vector<double>& a, const std::vector<double>& b) {
  bool strictly = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) strictly = true;
  }
  return strictly;
}
}  // namespace

bool constrained_dominates(const std::vector<double>& a, double viol_a,
                           const std::vector<double>& b, double viol_b) {
  if (viol_a == 0 && viol_b > 0) return true;
  if (viol_a > 0 && viol_b == 0) return false;
  if (viol_a > 0 && viol_b > 0) return viol_a < viol_b;
  return pareto_dominates(a, b);
}

std::vector<int> nondominated_fronts(const std::vector<std::vector<double>>& p,
                                     const std::vector<double>& viol) {
  const std::size_t n = p.size();
  std::vector<std::vector<std::size_t>> dominated(n);
  std::vector<int> count(n, 0), front(n, -1);
  std::vector<std::size_t> current;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      if (constrained_dominates(p[i], viol[i], p[j], viol[j]))
        dominated[i].push_back(j);
      else if (constrained_dominates(p[j], viol[j], p[i], viol[i]))
        ++count[i];
    }
    if (count[i] == 0) {
      front[i] = 0;
      current.push_back(i);
    }
  }
  for (int f = 0; !current.empty(); ++f) {
    std::vector<std::size_t> next;
    for (auto i : current)
      for (auto j : dominated[i])
        if (--count[j] == 0) {
          front[j] = f + 1;
          next.push_back(j);
        }
    current.swap(next);
  }
  return front;
}

std::vector<double> crowding_distance(const std::vector<std::vector<double>>& p,
                                      const std::vector<int>& front) {
  const std::size_t n = front.size();
  std::vector<double> d(n, 0);
  if (n == 0) return d;
  const std::size_t m = p[static_cast<std::size_t>(front[0])].size();
  std::vector<std::size_t> order(n);
  for (std::size_t k = 0; k < m; ++k) {
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
      const double px = p[static_cast<std::size_t>(front[x])][k],
                   py = p[static_cast<std::size_t>(front[y])][k];
      return px < py || (px == py && front[x] < front[y]);
    });
    const double lo = p[static_cast<std::size_t>(front[order.front()])][k];
    const double hi = p[static_cast<std::size_t>(front[order.back()])][k];
    d[order.front()] = d[order.back()] = std::numeric_limits<double>::infinity();
    if (hi <= lo) continue;
    for (std::size_t i = 1; i + 1 < n; ++i)
      d[order[i]] += (p[static_cast<std::size_t>(front[order[i + 1]])][k] -
                      p[static_cast<std::size_t>(front[order[i - 1]])][k]) /
                     (hi - lo);
  }
  return d;
}

double hypervolume(std::vector<std::vector<double>> pts, const std::vector<double>& ref) {
  // Keep points that dominate the reference.
  std::erase_if(pts, [&](const std::vector<double>& x) {
    for (std::size_t k = 0; k < ref.size(); ++k)
      if (!(x[k] < ref[k])) return true;
    return false;
  });
  if (pts.empty()) return 0;
  const std::size_t m = ref.size();
  if (m == 1) {
    double best = ref[0];
    for (const auto& x : pts) best = std::min(best, x[0]);
    return ref[0] - best;
  }
  // Slice along the last objective (HSO): sort by it, sweep, recurse on the rest.
  std::sort(pts.begin(), pts.end(),
            [&](const auto& a, const auto& b) { return a[m - 1] < b[m - 1]; });
  double volume = 0;
  std::vector<std::vector<double>> active;
  const std::vector<double> sub_ref(ref.begin(), ref.end() - 1);
  for (std::size_t i = 0; i < pts.size(); ++i) {
    active.emplace_back(pts[i].begin(), pts[i].end() - 1);
    const double top = i + 1 < pts.size() ? pts[i + 1][m - 1] : ref[m - 1];
    if (top > pts[i][m - 1]) volume += hypervolume(active, sub_ref) * (top - pts[i][m - 1]);
  }
  return volume;
}

std::vector<NsgaRank> nsga2_ranks(const std::vector<std::vector<double>>& points,
                                  const std::vector<double>& violations) {
  const auto fronts = nondominated_fronts(points, violations);
  std::vector<NsgaRank> ranks(points.size());
  const int max_front = fronts.empty() ? -1 : *std::max_element(fronts.begin(), fronts.end());
  for (int f = 0; f <= max_front; ++f) {
    std::vector<int> members;
    for (std::size_t i = 0; i < fronts.size(); ++i)
      if (fronts[i] == f) members.push_back(static_cast<int>(i));
    const auto cd = crowding_distance(points, members);
    for (std::size_t k = 0; k < members.size(); ++k)
      ranks[static_cast<std::size_t>(members[k])] = {f, cd[k]};
  }
  return ranks;
}

std::vector<std::size_t> nsga2_order(const std::vector<NsgaRank>& ranks) {
  std::vector<std::size_t> order(ranks.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (ranks[a].front != ranks[b].front) return ranks[a].front < ranks[b].front;
    return ranks[a].crowding > ranks[b].crowding;
  });
  return order;
}

}  // namespace flexnas
