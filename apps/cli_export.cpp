// flexnas graph dot|svg (Graphviz) and flexnas export-model (hf|onnx for one model dict).
#include "apps/cli_export.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "core/error.hpp"
#include "space/graph_render.hpp"

namespace flexnas::cli {
namespace {

// --model text: a model dict (JSON or @file), or an hf config.json written by export.
Architecture load_any_model(const std::string& text) {
  const std::string body = model_text(text);
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && is_hf_config(j)) return architecture_from_hf(j);
  return architecture_from_string(body);
}

}  // namespace

void add_export_options(CLI::App* cmd, ExportOptions& opt) {
  cmd->add_option("--vocab", opt.vocab, "vocabulary size (token embedding rows)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-positions", opt.max_positions, "position embedding rows")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--num-labels", opt.num_labels, "classifier outputs")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seq", opt.seq, "onnx: fixed sequence length of input_ids")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", opt.seed, "onnx: seed of the random weights")->capture_default_str();
}

void write_exports(const std::vector<std::pair<std::string, Architecture>>& archs,
                   const std::string& format, bool single, const std::string& out,
                   const ExportOptions& opt) {
  if (format == "hf") {
    if (single) {
      write_output(out, hf_config(archs.at(0).second, opt).dump(2) + "\n");
      return;
    }
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const auto& [name, a] : archs) {
      auto c = hf_config(a, opt);
      c["flexnas_name"] = name;
      arr.push_back(c);
    }
    write_output(out, arr.dump(2) + "\n");
    return;
  }
  if (format != "onnx") throw InputError("--format '" + format + "' is not one of: hf, onnx");
  if (out == "-")
    throw InputError("--format onnx needs -o (a file, or a directory for several models)");
  if (single) {
    write_output(out, to_onnx(archs.at(0).second, opt));
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec || !std::filesystem::is_directory(out))
    throw InputError("-o " + out + ": cannot create the output directory");
  for (const auto& [name, a] : archs) write_output(out + "/" + name + ".onnx", to_onnx(a, opt));
}

void add_export_commands(CLI::App& app) {
  auto* graph = group(app, "graph", "architecture graphs: hash, edit distance, DOT drawing");
  for (const char* fmt : {"dot", "svg"}) {
    const std::string format = fmt;
    auto* cmd = graph->add_subcommand(
        format, format == "dot"
                    ? "Graphviz DOT of the architecture graph, laid out by Graphviz's dot"
                    : "SVG drawing of the architecture graph (Graphviz dot layout)");
    auto args = std::make_shared<SpaceArgs>();
    auto model = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>("-");
    args->add(cmd);
    cmd->add_option("--model", *model, "model dict as JSON text, or @file")->required();
    cmd->add_option("-o,--out", *out, "output file ('-' for stdout)")->capture_default_str();
    cmd->callback([=] {
      const auto a = load_model(*model);
      const auto form = cmd->count("--space") ? args->load().label_form() : LabelForm::kAuto;
      write_output(*out, render_graph(build_graph(a, form), format));
    });
  }
  {
    auto* cmd =
        app.add_subcommand("export-model",
                           "write one model dict as an ONNX inference graph (random weights) or a "
                           "Hugging Face-style config.json");
    auto model = std::make_shared<std::string>();
    auto format = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>("-");
    auto opt = std::make_shared<ExportOptions>();
    cmd->add_option("--model", *model,
                    "model dict (JSON text or @file) or an exported hf config (@file)")
        ->required();
    cmd->add_option("--format", *format, "onnx or hf")
        ->required()
        ->check(CLI::IsMember({"onnx", "hf"}));
    cmd->add_option("-o,--out", *out, "output file ('-' for stdout, hf only)")
        ->capture_default_str();
    add_export_options(cmd, *opt);
    cmd->callback([=] {
      write_exports({{"model", load_any_model(*model)}}, *format, true, *out, *opt);
    });
  }
}

}  // namespace flexnas::cli
