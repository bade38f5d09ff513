// flexnas space info|count|sample|validate|enumerate
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "core/error.hpp"

namespace flexnas::cli {
namespace {

template <typename T>
std::string join_names(const std::vector<T>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + std::string(to_string(x));
  return s;
}

DictForm parse_form(const std::string& f) {
  if (f == "auto") return DictForm::kAuto;
  if (f == "standard") return DictForm::kStandard;
  if (f == "hetero") return DictForm::kHetero;
  throw InputError("--form '" + f + "' is not one of auto, standard, hetero");
}

}  // namespace

void add_space_commands(CLI::App& app) {
  auto* space = app.add_subcommand(
      "space", "inspect a design space: info, count, sample, validate, enumerate");
  space->require_subcommand(1);

  {
    auto* cmd = space->add_subcommand("info", "show a space's choices and its exact size");
    auto args = std::make_shared<SpaceArgs>();
    auto json = std::make_shared<bool>(false);
    auto yaml = std::make_shared<bool>(false);
    args->add(cmd);
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->add_flag("--yaml", *yaml, "print the space as YAML (a starting point for your own space)");
    cmd->callback([args, json, yaml] {
      const auto s = args->load();
      if (*yaml) {
        std::cout << s.to_yaml();
        return;
      }
      if (*json) {
        nlohmann::ordered_json j;
        j["name"] = s.name;
        j["description"] = s.description;
        j["layers"] = s.layers;
        j["layers_per_stack"] = s.layers_per_stack;
        j["mixed_ff"] = s.mixed_ff;
        j["hetero"] = s.hetero;
        j["hidden"] = s.hidden;
        j["heads"] = s.heads;
        j["head_size"] = s.head_size_floor ? "floor" : "divides";
        for (const auto& op : s.operations) j["operations"][to_string(op.family)] = op.params;
        j["ff"] = {{"depth", s.ff_depth}, {"width", s.ff_width}};
        j["choices_per_stack"] = to_string(s.layer_choices());
        for (int l : s.layers) j["count_by_layers"][std::to_string(l)] = to_string(s.count(l));
        j["count"] = to_string(s.count());
        std::cout << j.dump(2) << "\n";
        return;
      }
      std::cout << "space: " << s.name << "\n";
      if (!s.description.empty()) std::cout << "description: " << s.description << "\n";
      std::cout << "layers: " << set_text(s.layers) << " (" << s.layers_per_stack
                << (s.layers_per_stack == 1 ? " layer" : " layers") << " per stack)\n";
      std::cout << "hidden: " << set_text(s.hidden) << "\nheads: " << set_text(s.heads)
                << (s.head_size_floor ? " (any n <= h, head size h // n)" : " (n divides h)")
                << "\n";
      std::cout << "operations:";
      for (const auto& op : s.operations) {
        std::string ps;
        for (const auto& p : op.params) ps += (ps.empty() ? "" : ", ") + p;
        std::cout << " " << to_string(op.family) << " {" << ps << "}";
      }
      std::cout << "\nfeed-forward: depth " << set_text(s.ff_depth) << ", width "
                << set_text(s.ff_width) << ", mixed widths: " << (s.mixed_ff ? "yes" : "no")
                << "\n";
      std::cout << "heterogeneous heads: " << (s.hetero ? "yes" : "no") << "\n";
      std::cout << "attention kernels: " << join_names(s.attn_kernels)
                << "\nactivations: " << join_names(s.activations)
                << "\nnorms: " << join_names(s.norms)
                << "\nnorm placements: " << join_names(s.placements) << "\n";
      std::cout << "choices per stack: " << to_string(s.layer_choices()) << "\n";
      for (int l : s.layers)
        std::cout << "architectures with l = " << l << ": " << to_string(s.count(l)) << "\n";
      std::cout << "architectures: " << to_string(s.count()) << "\n";
    });
  }
  {
    auto* cmd =
        space->add_subcommand("count",
                              "exact number of architectures (big integer, no enumeration); "
                              "the total is the last line");
    auto args = std::make_shared<SpaceArgs>();
    auto json = std::make_shared<bool>(false);
    args->add(cmd);
    cmd->add_flag("--json", *json, "machine-readable output");
    cmd->callback([args, json] {
      const auto s = args->load();
      if (*json) {
        nlohmann::ordered_json j;
        for (int l : s.layers) j["by_layers"][std::to_string(l)] = to_string(s.count(l));
        j["count"] = to_string(s.count());
        std::cout << j.dump() << "\n";
        return;
      }
      for (int l : s.layers) std::cout << "l = " << l << ": " << to_string(s.count(l)) << "\n";
      std::cout << to_string(s.count()) << "\n";
    });
  }
  {
    auto* cmd =
        space->add_subcommand("sample",
                              "draw architectures uniformly (every architecture equally likely) "
                              "as JSON lines of model dicts");
    auto args = std::make_shared<SpaceArgs>();
    auto n = std::make_shared<int>(1);
    auto seed = std::make_shared<std::uint64_t>(0);
    auto form = std::make_shared<std::string>("auto");
    auto out = std::make_shared<std::string>("-");
    args->add(cmd);
    cmd->add_option("-n,--num", *n, "how many")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--seed", *seed, "random seed")->capture_default_str();
    cmd->add_option("--form", *form,
                    "model-dict form: auto (standard when every layer is homogeneous), "
                    "standard, hetero")
        ->capture_default_str();
    cmd->add_option("-o,--out", *out, "output file ('-' for stdout)")->capture_default_str();
    cmd->callback([=] {
      const auto s = args->load();
      const auto f = parse_form(*form);
      Rng rng(*seed);
      std::ostringstream os;
      for (int i = 0; i < *n; ++i) os << to_string(s.sample(rng), f) << "\n";
      write_output(*out, os.str());
    });
  }
  {
    auto* cmd = space->add_subcommand("enumerate",
                                      "list every architecture of a small space as JSON lines");
    auto args = std::make_shared<SpaceArgs>();
    auto limit = std::make_shared<std::uint64_t>(1'000'000);
    auto out = std::make_shared<std::string>("-");
    args->add(cmd);
    cmd->add_option("--limit", *limit, "refuse spaces larger than this")->capture_default_str();
    cmd->add_option("-o,--out", *out, "output file ('-' for stdout)")->capture_default_str();
    cmd->callback([=] {
      const auto s = args->load();
      std::ostringstream os;
      s.enumerate(
          [&](const Architecture& a) {
            os << to_string(a) << "\n";
            return true;
          },
          *limit);
      write_output(*out, os.str());
    });
  }
  {
    auto* cmd = space->add_subcommand("validate",
                                      "check that a model dict is an architecture of the space");
    auto args = std::make_shared<SpaceArgs>();
    auto model = std::make_shared<std::string>();
    auto models = std::make_shared<std::string>();
    args->add(cmd);
    cmd->add_option("--model", *model, "model dict as JSON text, or @file");
    cmd->add_option("--models", *models,
                    "JSON-lines file of model dicts (or objects with a \"model\" field)");
    cmd->callback([=] {
      const auto s = args->load();
      if (model->empty() == models->empty())
        throw InputError("give exactly one of --model or --models");
      if (!model->empty()) {
        s.validate(load_model(*model));
        std::cout << "valid\n";
        return;
      }
      // Every model is checked: each invalid one is a line on stdout, then one error line.
      std::ifstream in(*models);
      if (!in) throw InputError("cannot read file '" + *models + "'");
      std::size_t n = 0, invalid = 0;
      std::string line, first;
      for (std::size_t lineno = 1; std::getline(in, line); ++lineno) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        ++n;
        std::string why;
        try {
          const auto j = nlohmann::json::parse(line);
          s.validate(architecture_from_json(j.is_object() && j.contains("model") ? j["model"] : j));
        } catch (const nlohmann::json::exception&) {
          why = "malformed JSON line";
        } catch (const InputError& e) {
          why = e.what();
        }
        if (why.empty()) continue;
        const auto msg = *models + ": model " + std::to_string(n) + " (line " +
                         std::to_string(lineno) + "): " + why;
        std::cout << msg << "\n";
        if (invalid++ == 0) first = msg;
      }
      if (n == 0) throw InputError("file '" + *models + "' holds no models");
      if (invalid == 1) throw InputError(first);
      if (invalid > 1)
        throw InputError(std::to_string(invalid) + " of " + std::to_string(n) +
                         " models are invalid (listed on stdout); first: " + first);
      std::cout << n << " valid\n";
    });
  }
}

}  // namespace flexnas::cli
