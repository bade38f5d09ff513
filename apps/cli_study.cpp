// flexnas study show, flexnas evaluators, flexnas policies; the evaluator-spec checks that
// search and resume share (absolute paths, files present, --trust).
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "core/error.hpp"
#include "evaluators/evaluator.hpp"
#include "search/policy.hpp"
#include "search/storage.hpp"

namespace flexnas::cli {
namespace fs = std::filesystem;

namespace {

// The option naming a file, for the evaluators that read one.
std::string file_option(const std::string& evaluator) {
  static const std::map<std::string, std::string> k{
      {"lut", "file"}, {"latency-model", "file"}, {"table", "file"}, {"plugin", "path"}};
  const auto it = k.find(evaluator);
  return it == k.end() ? std::string() : it->second;
}

// external:cmd: the program word (up to the first blank) and the rest.
std::pair<std::string, std::string> split_command(const std::string& cmd) {
  const auto start = cmd.find_first_not_of(" \t");
  if (start == std::string::npos) return {"", cmd};
  const auto end = cmd.find_first_of(" \t", start);
  return {cmd.substr(start, end == std::string::npos ? std::string::npos : end - start),
          end == std::string::npos ? std::string() : cmd.substr(end)};
}

std::string shell_word(const std::string& s) {
  if (s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./+-") ==
      std::string::npos)
    return s;
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

std::string owner_name(uid_t uid) {
  if (const auto* pw = ::getpwuid(uid)) return pw->pw_name;
  return "uid " + std::to_string(uid);
}

// What a spec runs outside flexnas: "command: ..." or "plugin: ...", else "".
std::string runs(const std::string& spec) {
  const auto s = EvaluatorSpec::parse(spec);
  if (s.name == "external")
    return "command: " + (s.options.count("cmd") ? s.options.at("cmd") : std::string());
  if (s.name == "plugin")
    return "plugin: " + (s.options.count("path") ? s.options.at("path") : std::string());
  return "";
}

std::string direction_text(Direction d) {
  return d == Direction::kMaximize ? "max" : "min";
}

}  // namespace

std::string absolute_evaluator_spec(const std::string& spec) {
  auto s = EvaluatorSpec::parse(spec);
  bool changed = false;
  std::error_code ec;
  if (const auto key = file_option(s.name); !key.empty() && s.options.count(key)) {
    auto& v = s.options[key];
    // A missing file stays as written, so the search's error names it as the user did.
    if (!v.empty() && fs::path(v).is_relative() && fs::exists(v, ec)) {
      v = fs::absolute(v, ec).lexically_normal().string();
      changed = true;
    }
  }
  if (s.name == "external" && s.options.count("cmd")) {
    auto [prog, rest] = split_command(s.options["cmd"]);
    if (!prog.empty() && fs::path(prog).is_relative() && fs::is_regular_file(prog, ec)) {
      s.options["cmd"] = shell_word(fs::absolute(prog, ec).lexically_normal().string()) + rest;
      changed = true;
    }
  }
  return changed ? s.str() : spec;
}

void check_evaluator_files(const std::vector<std::string>& specs) {
  std::error_code ec;
  for (const auto& spec : specs) {
    const auto s = EvaluatorSpec::parse(spec);
    std::string file;
    if (const auto key = file_option(s.name); !key.empty() && s.options.count(key))
      file = s.options.at(key);
    if (s.name == "external" && s.options.count("cmd")) {
      const auto prog = split_command(s.options.at("cmd")).first;
      if (!prog.empty() && prog[0] == '/') file = prog;
    }
    if (!file.empty() && !fs::exists(file, ec))
      throw InputError("evaluator " + s.name + ": '" + file +
                       "' is missing (the study was created with it; restore it, then resume)");
  }
}

void check_trust(const std::string& dir, const std::vector<std::string>& specs, bool trust) {
  if (trust) return;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || st.st_uid == ::geteuid()) return;
  for (const auto& spec : specs) {
    const auto what = runs(spec);
    if (!what.empty())
      throw InputError("study '" + dir + "' belongs to " + owner_name(st.st_uid) +
                       ", not you, and runs " + what +
                       "; check it with flexnas study show --study " + dir +
                       ", then resume with --trust");
  }
}

namespace {

void show_study(const std::string& dir) {
  auto study = Study::open(dir, false);
  const auto& c = study->config();
  std::vector<Objective> objs;
  for (const auto& o : c.at("objectives")) objs.push_back(Objective::parse(o.get<std::string>()));
  const auto cons = study->constraints();
  std::vector<std::string> specs;
  for (const auto& e : c.at("evaluators")) specs.push_back(e.get<std::string>());

  struct stat st {};
  std::printf("study        %s\n", dir.c_str());
  if (::stat(dir.c_str(), &st) == 0)
    std::printf("owner        %s%s\n", owner_name(st.st_uid).c_str(),
                st.st_uid == ::geteuid()
                    ? " (you)"
                    : " (not you: resume needs --trust to run commands or plugins)");
  if (!c.at("pool").is_null()) {
    std::printf("domain       pool of %zu models%s\n", c.at("pool").size(),
                c.at("space").is_null() ? "" : " (with the space's operators)");
  } else {
    const auto sp = DesignSpace::from_yaml(c.at("space").get<std::string>(), "study space");
    std::printf("domain       space %s\n", sp.name.c_str());
  }
  for (std::size_t i = 0; i < specs.size(); ++i)
    std::printf("%-12s %s\n", i ? "" : "evaluators", specs[i].c_str());
  std::vector<std::string> external;
  for (const auto& s : specs)
    if (const auto r = runs(s); !r.empty()) external.push_back(r);
  if (external.empty()) std::printf("runs         no commands or plugins\n");
  for (std::size_t i = 0; i < external.size(); ++i)
    std::printf("%-12s %s\n", i ? "" : "runs", external[i].c_str());
  std::string o, k, stops;
  for (const auto& x : objs) o += (o.empty() ? "" : ", ") + x.str();
  for (const auto& x : cons) k += (k.empty() ? "" : ", ") + x.str();
  if (c.contains("stop_at"))
    for (const auto& x : c.at("stop_at"))
      stops += (stops.empty() ? "" : ", ") + x.get<std::string>();
  std::printf("objectives   %s\n", o.c_str());
  std::printf("constraints  %s\n", k.empty() ? "none" : k.c_str());
  std::printf("policy       %s, seed %llu, budget %zu, batch %zu\n",
              c.at("policy").get<std::string>().c_str(),
              static_cast<unsigned long long>(c.at("seed").get<std::uint64_t>()),
              c.at("budget").get<std::size_t>(), c.at("batch").get<std::size_t>());
  if (!stops.empty()) std::printf("stop at      %s\n", stops.c_str());
  if (c.value("patience", std::size_t{0}) > 0)
    std::printf("patience     %zu trials\n", c.at("patience").get<std::size_t>());
  if (c.contains("isolate") && c.at("isolate").value("enabled", false))
    std::printf("isolate      yes, timeout %gs, memory %zu MB (0: none)\n",
                c.at("isolate").value("timeout_s", 0.0),
                c.at("isolate").value("memory_mb", std::size_t{0}));

  const auto trials = study->trials();
  std::size_t ok = 0, failed = 0, asked = 0, feasible = 0;
  std::map<std::string, std::size_t> reasons;
  for (const auto& t : trials) {
    if (t.ok()) {
      ++ok;
      if (total_violation(t.values, cons) == 0) ++feasible;
    } else if (t.finished()) {
      ++failed;
      auto r = t.reason.substr(0, t.reason.find('\n'));
      if (r.size() > 100) r = r.substr(0, 97) + "...";
      ++reasons[r];
    } else {
      ++asked;
    }
  }
  std::printf(
      "progress     %zu of %zu finished: %zu ok (%zu feasible), %zu failed; %zu asked, not "
      "finished\n",
      ok + failed, c.at("budget").get<std::size_t>(), ok, feasible, failed, asked);
  for (const auto& [r, n] : reasons) std::printf("  failed %zux: %s\n", n, r.c_str());
  if (c.contains("ask_tell")) {  // docs/python.md
    std::string out;
    const auto issued = study->issued();
    for (const auto& t : trials)
      if (!t.finished() && issued.count(t.id))
        out +=
            (out.empty() ? " " : ", ") + std::to_string(t.id) +
            (issued.at(t.id).times > 1 ? " (given " + std::to_string(issued.at(t.id).times) + "x)"
                                       : "");
    const double lease = c.at("ask_tell").value("lease_s", 0.0);
    std::printf("ask/tell     lease %s; out (handed out, not told):%s\n",
                lease > 0 ? (full_precision(lease) + " s").c_str() : "none (ask --reissue)",
                out.empty() ? " none" : out.c_str());
  }
  if (const auto best = best_trial(trials, objs, cons))
    std::printf("best         trial %lld, %s = %s\n", static_cast<long long>(best->id),
                objs[0].name.c_str(), full_precision(best->values.at(objs[0].name)).c_str());
  else
    std::printf("best         none yet (no feasible finished trial)\n");
  const auto front = pareto_set(trials, objs, cons);
  std::printf("pareto set   %zu trials\n", front.size());
  if (front.empty()) return;
  std::printf("  %6s", "trial");
  for (const auto& x : objs) std::printf("  %20s", x.str().c_str());
  std::printf("  %s\n", "feasible");
  for (const auto& t : front) {
    std::printf("  %6lld", static_cast<long long>(t.id));
    for (const auto& x : objs)
      std::printf("  %20s",
                  t.values.count(x.name) ? full_precision(t.values.at(x.name)).c_str() : "-");
    std::printf("  %s\n", total_violation(t.values, cons) == 0 ? "yes" : "no");
  }
}

}  // namespace

void add_study_commands(CLI::App& app) {
  auto* g = group(app, "study", "inspect a study directory");
  auto* cmd = g->add_subcommand(
      "show",
      "print a study's definition (the commands and plugins it runs included), progress, best "
      "trial, Pareto set and failures");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("--study", *dir, "study directory (opened read-only, without its lock)")
      ->required();
  cmd->callback([dir] { show_study(*dir); });
}

namespace {

// A catalog subcommand: `build` makes the JSON array, `print` shows it as text unless --json.
void catalog_command(CLI::App& app, const std::string& name, const std::string& what,
                     std::function<nlohmann::ordered_json()> build,
                     std::function<void(const nlohmann::ordered_json&)> print) {
  auto* cmd = app.add_subcommand(name, what);
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "one JSON array on stdout");
  cmd->callback([json, build, print] {
    const auto all = build();
    if (*json)
      std::cout << all.dump(2) << "\n";
    else
      print(all);
  });
}

}  // namespace

// A registry entry's declared options, the same for every kind of registry.
nlohmann::ordered_json options_json(const std::vector<OptionSpec>& specs) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& o : specs)
    out.push_back({{"name", o.name},
                   {"default", o.default_value},
                   {"allowed", o.allowed()},
                   {"description", o.description}});
  return out;
}

void print_options(const nlohmann::ordered_json& options) {
  if (options.empty()) std::printf("  no options\n");
  for (const auto& o : options) {
    const auto def = o["default"].get<std::string>();
    std::printf("  option %-14s default %-10s %s (%s)\n", o["name"].get<std::string>().c_str(),
                def.empty() ? "(none)" : def.c_str(), o["description"].get<std::string>().c_str(),
                o["allowed"].get<std::string>().c_str());
  }
}

void add_catalog_commands(CLI::App& app) {
  catalog_command(
      app, "evaluators", "list the evaluators: options with defaults, and the values each produces",
      [] {
        EvaluatorRegistry r;
        register_builtins(r);
        nlohmann::ordered_json all = nlohmann::ordered_json::array();
        for (const auto& e : r.entries()) {
          nlohmann::ordered_json j;
          j["name"] = e.name;
          j["description"] = e.description;
          j["options"] = options_json(e.options);
          // The values of an instance with the default options; some evaluators name their
          // values from options (table:metric=, external:values=) or from a file.
          try {
            const auto ev = r.create(e.name);
            j["values"] = nlohmann::ordered_json::array();
            for (const auto& v : ev->provides())
              j["values"].push_back({{"name", v.name},
                                     {"unit", v.unit},
                                     {"direction", direction_text(v.direction)},
                                     {"description", v.description}});
          } catch (const std::exception& x) {
            j["values"] = nullptr;
            j["values_note"] = std::string("set by its options: ") + x.what();
          }
          all.push_back(j);
        }
        return all;
      },
      [](const nlohmann::ordered_json& all) {
        for (const auto& j : all) {
          std::printf("%s: %s\n", j["name"].get<std::string>().c_str(),
                      j["description"].get<std::string>().c_str());
          print_options(j["options"]);
          if (j["values"].is_null())
            std::printf("  values %s\n", j["values_note"].get<std::string>().c_str());
          else
            for (const auto& v : j["values"])
              std::printf("  value  %-14s %-6s %-3s %s\n", v["name"].get<std::string>().c_str(),
                          v["unit"].get<std::string>().c_str(),
                          v["direction"].get<std::string>().c_str(),
                          v["description"].get<std::string>().c_str());
        }
      });
  catalog_command(
      app, "policies", "list the search policies: options with defaults",
      [] {
        PolicyRegistry r;
        register_builtin_policies(r);
        nlohmann::ordered_json all = nlohmann::ordered_json::array();
        for (const auto& e : r.entries()) {
          nlohmann::ordered_json j;
          j["name"] = e.name;
          j["description"] = e.description;
          j["options"] = options_json(e.options);
          j["multi_objective"] = e.extra.multi_objective;
          j["produces"] = "architectures to evaluate (asks), never values";
          all.push_back(j);
        }
        return all;
      },
      [](const nlohmann::ordered_json& all) {
        for (const auto& j : all) {
          std::printf(
              "%s: %s (%s)\n", j["name"].get<std::string>().c_str(),
              j["description"].get<std::string>().c_str(),
              j["multi_objective"].get<bool>() ? "one or several objectives" : "one objective");
          print_options(j["options"]);
        }
      });
}

}  // namespace flexnas::cli
