#pragma once
// Objectives (named values with a direction), constraints (bounds on named values),
// Pareto dominance with Deb's constrained domination, and hypervolume.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "evaluators/evaluator.hpp"

namespace flexnas {

struct Objective {
  std::string name;
  Direction direction = Direction::kMaximize;
  static Objective parse(const std::string& text);  // "accuracy:max", "params:min"
  std::string str() const;
};

struct Constraint {
  std::string name;
  bool upper = true;  // value <= bound (true) or value >= bound
  double bound = 0;
  static Constraint parse(const std::string& text);  // "latency_ms<=20", "accuracy>=0.8"
  std::string str() const;
  // How far `values` violate it (0 when satisfied or when the value is missing: a missing
  // value makes the trial failed, not infeasible).
  double violation(const std::map<std::string, double>& values) const;
};

using Values = std::map<std::string, double>;

// Told values from JSON (`flexnas tell --values`, Study.tell): an object of value name ->
// number; InputError otherwise.
Values values_from_json(const nlohmann::json& j);

// Objective values turned into "smaller is better" numbers, in objective order.
std::vector<double> to_minimise(const Values& v, const std::vector<Objective>& objectives);
double total_violation(const Values& v, const std::vector<Constraint>& constraints);

// Deb's constrained domination: a feasible point dominates an infeasible one; two
// infeasible points compare by total violation; two feasible ones by Pareto dominance.
bool constrained_dominates(const std::vector<double>& a, double viol_a,
                           const std::vector<double>& b, double viol_b);

// Fast non-dominated sorting (Deb et al. 2002): front index of each point (0 = best).
std::vector<int> nondominated_fronts(const std::vector<std::vector<double>>& points,
                                     const std::vector<double>& violations);
// Crowding distance of the points of one front (indices into points).
std::vector<double> crowding_distance(const std::vector<std::vector<double>>& points,
                                      const std::vector<int>& front);

// NSGA-II's rank of every point: its front and its crowding distance in that front.
struct NsgaRank {
  int front = 0;
  double crowding = 0;
};
std::vector<NsgaRank> nsga2_ranks(const std::vector<std::vector<double>>& points,
                                  const std::vector<double>& violations);
// Indices ordered best first: lower front, then larger crowding, then lower index.
std::vector<std::size_t> nsga2_order(const std::vector<NsgaRank>& ranks);

// Hypervolume dominated by `points` (minimisation) up to `reference`, exact for any
// number of objectives (inclusion-exclusion over slices; fine for Pareto sets of a few
// hundred points in 2-3 objectives).
double hypervolume(std::vector<std::vector<double>> points, const std::vector<double>& reference);

}  // namespace flexnas
