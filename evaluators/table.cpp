#include "evaluators/table.hpp"

#include <algorithm>
#include <fstream>
#include <memory>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/numbers.hpp"
#include "space/graph.hpp"

namespace flexnas {
namespace {

// One CSV record (RFC 4180: fields may be quoted, "" inside quotes is a quote).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

class TableEvaluator : public Evaluator {
 public:
  explicit TableEvaluator(const Options& o) : opts_(o.values()) {
    const auto& file = opts_.at("file");
    metric_ = opts_.at("metric");
    if (file.empty()) throw InputError("evaluator table: option file=F is required");
    if (metric_.empty()) throw InputError("evaluator table: option metric=M is required");
    std::ifstream in(file);
    if (!in) throw InputError("evaluator table: cannot read '" + file + "'");
    const bool csv = file.size() > 4 && file.substr(file.size() - 4) == ".csv";
    std::string line;
    std::vector<std::string> header;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = file + ":" + std::to_string(n);
      Architecture a;
      double value = 0;
      try {
        if (csv) {
          auto f = csv_fields(line);
          if (header.empty()) {
            header = f;
            if (std::find(header.begin(), header.end(), "model") == header.end() ||
                std::find(header.begin(), header.end(), metric_) == header.end())
              throw InputError("header needs columns 'model' and '" + metric_ + "'");
            continue;
          }
          if (f.size() != header.size())
            throw InputError("has " + std::to_string(f.size()) + " fields, header has " +
                             std::to_string(header.size()));
          for (std::size_t k = 0; k < f.size(); ++k) {
            if (header[k] == "model") a = architecture_from_string(f[k]);
            if (header[k] == metric_) value = parse_real(f[k], metric_);  // strict: no 0.9abc
          }
        } else {
          const auto j = parse_json(line, "row");
          if (!j.contains("model")) throw InputError("no 'model' field");
          if (!j.contains(metric_)) throw InputError("no number '" + metric_ + "'");
          a = architecture_from_json(j["model"]);
          value = json_real(j[metric_], metric_);
        }
      } catch (const InputError& e) {
        throw InputError("evaluator table: " + where + ": " + e.what());
      } catch (const std::exception&) {
        throw InputError("evaluator table: " + where + ": malformed line");
      }
      table_.emplace(graph_hash(a.canonical()), value);
    }
    if (table_.empty()) throw InputError("evaluator table: '" + file + "' holds no rows");
  }
  std::string name() const override { return "table"; }
  std::vector<ValueSpec> provides() const override {
    return {{metric_, "", Direction::kMaximize, "looked up in " + opts_.at("file")}};
  }
  EvalResult evaluate(const Architecture& a, const EvalContext&) override {
    auto it = table_.find(graph_hash(a.canonical()));
    if (it == table_.end()) return {EvalStatus::kFailed, {}, "not in table " + opts_.at("file")};
    return {EvalStatus::kOk, {{metric_, it->second}}, ""};
  }
  std::map<std::string, std::string> options() const override { return opts_; }

 private:
  std::map<std::string, std::string> opts_;
  std::string metric_;
  std::unordered_map<std::string, double> table_;
};

}  // namespace

void register_table(EvaluatorRegistry& r) {
  r.add({"table",
         "look the architecture up in a JSONL/CSV file of scored architectures",
         {OptionSpec::text("file", "", "JSON-lines or .csv file"),
          OptionSpec::text("metric", "", "the value to read")},
         [](const auto& o) { return std::make_unique<TableEvaluator>(o); }});
}

}  // namespace flexnas
