// flexnas._flexnas: the Python binding of the flexnas libraries (docs/python.md). A thin layer:
// every call goes to the same C++ the CLI runs; Python dicts, lists, floats and numpy arrays
// in and out; InputError (bad input) becomes flexnas.InputError, a ValueError subclass,
// carrying the CLI's one-line message.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evaluators/evaluator.hpp"
#include "evaluators/train/model.hpp"
#include "evaluators/train/task.hpp"
#include "search/objective.hpp"
#include "search/storage.hpp"
// Ask/tell (search/ask_tell.hpp) is bound where the library has it.
#if __has_include("search/ask_tell.hpp")
#include "search/ask_tell.hpp"
#define FLEXNAS_PY_ASK_TELL 1
#else
#define FLEXNAS_PY_ASK_TELL 0
#endif
#include "core/error.hpp"
#include "space/architecture.hpp"
#include "space/design_space.hpp"
#include "space/export.hpp"
#include "space/file_io.hpp"
#include "space/ged.hpp"
#include "space/graph.hpp"

namespace py = pybind11;
using nlohmann::json;

namespace flexnas::python {
namespace {

// ---- JSON <-> Python -------------------------------------------------------------------------

// Key order is kept: model dicts read back in the order flexnas writes them (l, o, h, ...).
template <class Json>
py::object to_py(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
      return py::none();
    case Json::value_t::boolean:
      return py::bool_(j.template get<bool>());
    case Json::value_t::number_integer:
      return py::int_(j.template get<std::int64_t>());
    case Json::value_t::number_unsigned:
      return py::int_(j.template get<std::uint64_t>());
    case Json::value_t::number_float:
      return py::float_(j.template get<double>());
    case Json::value_t::string:
      return py::str(j.template get<std::string>());
    case Json::value_t::binary:
      break;
    case Json::value_t::array: {
      py::list l;
      for (const auto& v : j) l.append(to_py(v));
      return l;
    }
    case Json::value_t::object: {
      py::dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d[py::str(it.key())] = to_py(it.value());
      return d;
    }
  }
  return py::none();
}

json to_json_value(py::handle o, const std::string& where) {
  if (o.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(o)) return o.cast<bool>();
  if (py::isinstance<py::int_>(o)) return o.cast<std::int64_t>();
  if (py::isinstance<py::float_>(o)) return o.cast<double>();
  if (py::isinstance<py::str>(o)) return o.cast<std::string>();
  if (py::isinstance<py::dict>(o)) {
    json j = json::object();
    for (auto kv : o.cast<py::dict>()) {
      if (!py::isinstance<py::str>(kv.first))
        throw InputError(where + ": dict keys must be strings");
      j[kv.first.cast<std::string>()] = to_json_value(kv.second, where);
    }
    return j;
  }
  if (py::isinstance<py::list>(o) || py::isinstance<py::tuple>(o)) {
    json j = json::array();
    for (auto v : o) j.push_back(to_json_value(v, where));
    return j;
  }
  throw InputError(where + ": " + py::repr(o).cast<std::string>() +
                   " is not a dict, list, str, int, float, bool or None");
}

// A model: an Architecture, a model dict, or its JSON text.
Architecture to_arch(py::handle o) {
  if (py::isinstance<Architecture>(o)) return o.cast<Architecture>();
  if (py::isinstance<py::str>(o)) return architecture_from_string(o.cast<std::string>());
  if (py::isinstance<py::dict>(o)) return architecture_from_json(to_json_value(o, "model"));
  throw py::type_error(
      "model: expected a model dict, its JSON text or a flexnas.Architecture, got " +
      py::repr(o).cast<std::string>());
}

DictForm parse_dict_form(const std::string& f) {
  if (f == "auto") return DictForm::kAuto;
  if (f == "standard") return DictForm::kStandard;
  if (f == "hetero") return DictForm::kHetero;
  throw InputError("form '" + f + "' is not one of: auto, standard, hetero");
}

// The operation of a head as flexnas.torch names it.
const char* op_name(Op op) {
  switch (op) {
    case Op::kSdp:
      return "sdp";
    case Op::kWma:
      return "wma";
    case Op::kDft:
      return "dft";
    case Op::kDct:
      return "dct";
    case Op::kConv:
      return "conv";
  }
  return "";
}

py::list layer_list(const Architecture& a) {
  py::list out;
  for (const Layer& l : a.layers) {
    py::dict d;
    d["hidden"] = l.hidden;
    py::list heads;
    for (const Head& h : l.heads) {
      py::dict hd;
      hd["op"] = op_name(h.op);
      hd["family"] = to_string(h.family());
      hd["kernel"] = h.kernel;
      heads.append(hd);
    }
    d["heads"] = heads;
    d["head_size"] = l.head_size();
    d["ff"] = l.ff;
    d["attn_kernel"] = to_string(l.attn_kernel);
    d["activation"] = to_string(l.activation);
    d["norm"] = to_string(l.norm);
    d["norm_placement"] = to_string(l.norm_placement);
    out.append(d);
  }
  return out;
}

py::dict model_dict(const Architecture& a, DictForm form = DictForm::kAuto) {
  return to_py(to_json(a, form)).cast<py::dict>();
}

const EvaluatorRegistry& registry() {
  static const EvaluatorRegistry r = [] {
    EvaluatorRegistry x;
    register_builtins(x);
    return x;
  }();
  return r;
}

// ---- Space -----------------------------------------------------------------------------------

DesignSpace load_space(const std::string& name, std::optional<int> layers_per_stack,
                       bool mixed_ff) {
  auto s = DesignSpace::load(name);  // the CLI's SpaceArgs::load
  if (layers_per_stack) {
    if (*layers_per_stack < 1) throw InputError("layers_per_stack must be positive");
    s.layers_per_stack = *layers_per_stack;
  }
  if (mixed_ff) s.mixed_ff = true;
  s.check();
  return s;
}

py::int_ big(const BigInt& v) {
  return py::int_(py::str(to_string(v)));
}

// ---- Evaluators ------------------------------------------------------------------------------

// Evaluations run without the GIL; the lock keeps two Python threads calling one Evaluator
// from entering it at once (a search gives each worker its own copy instead).
struct PyEvaluator {
  std::string spec;
  std::unique_ptr<Evaluator> e;
  std::unique_ptr<std::mutex> mu = std::make_unique<std::mutex>();
};

py::dict run_evaluator(Evaluator& e, const Architecture& a, std::uint64_t seed, int threads,
                       std::mutex* mu = nullptr) {
  EvalContext ctx;
  ctx.seed = seed;
  ctx.threads = threads;
  EvalResult r;
  {
    py::gil_scoped_release release;
    std::unique_lock<std::mutex> lock;
    if (mu) lock = std::unique_lock<std::mutex>(*mu);
    r = e.evaluate(a, ctx);
  }
  // As `flexnas evaluate`: a failed evaluation is an error naming the evaluator.
  if (r.status != EvalStatus::kOk)
    throw InputError("evaluator " + e.name() + " failed: " + r.message);
  py::dict d;
  for (const auto& v : e.provides()) {
    auto it = r.values.find(v.name);
    if (it != r.values.end()) d[py::str(v.name)] = it->second;
  }
  return d;
}

py::dict evaluate_all(const Architecture& a, py::handle evaluators, std::uint64_t seed,
                      int threads) {
  std::vector<std::string> specs;
  if (py::isinstance<py::str>(evaluators))
    specs.push_back(evaluators.cast<std::string>());
  else
    specs = evaluators.cast<std::vector<std::string>>();
  py::dict out;
  for (const auto& s : specs) {
    auto e = registry().create(s);
    for (auto kv : run_evaluator(*e, a, seed, threads)) out[kv.first] = kv.second;
  }
  return out;
}

// ---- Study -----------------------------------------------------------------------------------

// Reads go through a connection without the lock, so a study can be read while `search`,
// `ask` or `tell` run elsewhere. Ask and tell open the study's AskTell on first use and keep
// it (its policy is rebuilt once, not per call), holding the study's lock until close().
struct PyStudy {
  std::string dir;
  std::unique_ptr<Study> ro;
#if FLEXNAS_PY_ASK_TELL
  std::unique_ptr<AskTell> at;
  AskTell& ask_tell() {
    if (!at) {
      py::gil_scoped_release release;
      at = AskTell::open(dir, 10.0);
    }
    return *at;
  }
#endif
  std::vector<Objective> objectives() const {
    std::vector<Objective> o;
    for (const auto& x : ro->config().at("objectives"))
      o.push_back(Objective::parse(x.get<std::string>()));
    return o;
  }
};

py::dict trial_dict(const Trial& t, const std::vector<Constraint>& cons) {
  if (t.finished()) return to_py(Study::trial_json(t, cons)).cast<py::dict>();
  py::dict d;  // asked, not told yet: no values
  d["id"] = t.id;
  d["model"] = model_dict(t.arch);
  d["hash"] = t.hash;
  d["status"] = "asked";
  return d;
}

// ---- The trainer's network -------------------------------------------------------------------

using Ids = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;
using Floats = py::array_t<float, py::array::c_style | py::array::forcecast>;

py::array_t<float> to_array(const train::Mat& m) {
  py::array_t<float> a({m.rows(), m.cols()});
  std::memcpy(a.mutable_data(), m.data(), static_cast<std::size_t>(m.size()) * sizeof(float));
  return a;
}

train::Param& param_named(train::Model& m, const std::string& name) {
  for (auto* p : m.params())
    if (p->name == name) return *p;
  throw InputError("TrainModel: no parameter named '" + name + "'");
}

py::dict task_dict(const train::TaskData& t) {
  auto split = [&](const std::vector<train::Example>& ex, const char* tok, const char* tgt,
                   py::dict& d) {
    const auto n = static_cast<py::ssize_t>(ex.size());
    const auto tw = static_cast<py::ssize_t>(t.seq);
    const auto gw = static_cast<py::ssize_t>(t.token_level ? t.seq : 1);
    py::array_t<std::int32_t> a({n, tw}),
        b(t.token_level ? std::vector<py::ssize_t>{n, gw} : std::vector<py::ssize_t>{n});
    for (py::ssize_t i = 0; i < n; ++i) {
      const auto& e = ex[static_cast<std::size_t>(i)];
      std::memcpy(a.mutable_data() + i * tw, e.tokens.data(), e.tokens.size() * 4);
      std::memcpy(b.mutable_data() + i * gw, e.targets.data(), e.targets.size() * 4);
    }
    d[tok] = a;
    d[tgt] = b;
  };
  py::dict d;
  d["name"] = t.name;
  d["vocab"] = t.vocab;
  d["num_classes"] = t.num_classes;
  d["token_level"] = t.token_level;
  d["seq"] = t.seq;
  split(t.train, "train_tokens", "train_targets", d);
  split(t.test, "test_tokens", "test_targets", d);
  d["majority_baseline"] = t.majority_baseline;
  return d;
}

}  // namespace
}  // namespace flexnas::python

PYBIND11_MODULE(_flexnas, m) {
  using namespace flexnas;
  using namespace flexnas::python;
  m.doc() =
      "flexnas: neural architecture search over heterogeneous transformer encoders "
      "(compiled part; import flexnas, see docs/python.md)";
  m.attr("__version__") = FLEXNAS_VERSION;
  py::register_exception<InputError>(m, "InputError", PyExc_ValueError);

  // ---- Architecture --------------------------------------------------------------------------
  py::class_<Architecture>(m, "Architecture", R"doc(
One heterogeneous transformer encoder: the FlexiBERT model dict (standard or FlexiBERT 2.0
hetero form, docs/model-dict.md). Built from a model dict or its JSON text; invalid dicts
raise flexnas.InputError with the CLI's message.)doc")
      .def(py::init([](py::handle model) { return to_arch(model); }), py::arg("model"),
           "Parse a model dict (a Python dict or JSON text).")
      .def(
          "to_dict",
          [](const Architecture& a, const std::string& form) {
            return model_dict(a, parse_dict_form(form));
          },
          py::arg("form") = "auto",
          "The model dict: form 'auto' (standard when every layer is homogeneous), "
          "'standard' or 'hetero'.")
      .def(
          "to_json",
          [](const Architecture& a, const std::string& form) {
            return to_string(a, parse_dict_form(form));
          },
          py::arg("form") = "auto",
          "Compact one-line JSON of the model dict (as studies store it).")
      .def_property_readonly("num_layers", &Architecture::num_layers, "Encoder layers.")
      .def_property_readonly(
          "layers", &layer_list,
          "Per layer, in order: hidden, heads ({op: sdp|wma|dft|dct|conv, family: sa|l|c, "
          "kernel}), head_size (h // n), ff widths, attn_kernel, activation, norm, "
          "norm_placement.")
      .def("canonical", &Architecture::canonical,
           "Heads sorted in each layer (and no-op attention kernels reset): equal canonical "
           "forms are the same network.")
      .def(
          "graph_hash",
          [](const Architecture& a, const DesignSpace* space) {
            if (space) space->validate(a);
            return graph_hash(a, space ? space->label_form() : LabelForm::kAuto);
          },
          py::arg("space") = nullptr,
          "SHA-256 Weisfeiler-Lehman hash of the architecture graph, as `flexnas graph hash` "
          "(with a space: validated against it and hashed in its label form).")
      .def(
          "ged",
          [](const Architecture& a, py::handle other, const DesignSpace* space,
             const std::string& method) {
            const DesignSpace def = space ? DesignSpace() : load_space("flexibert-test", {}, false);
            const auto costs = OpCosts::for_space(space ? *space : def);
            GedOptions opt;
            if (method == "exact")
              opt.method = GedMethod::kExact;
            else if (method == "bipartite")
              opt.method = GedMethod::kBipartite;
            else if (method != "auto")
              throw InputError("method '" + method + "' is not one of: auto, exact, bipartite");
            const Architecture b = to_arch(other);
            py::gil_scoped_release release;
            return ged(a, b, costs, opt).distance;
          },
          py::arg("other"), py::arg("space") = nullptr, py::arg("method") = "auto",
          "Graph edit distance to `other` under the FlexiBERT cost model of `space` "
          "(default flexibert-test), as `flexnas graph ged`.")
      .def(
          "evaluate",
          [](const Architecture& a, py::handle evaluators, std::uint64_t seed, int threads) {
            return evaluate_all(a, evaluators, seed, threads);
          },
          py::arg("evaluators"), py::arg("seed") = 0, py::arg("threads") = 1,
          "Values of one evaluator spec ('params', 'flops:seq=256', 'train:task=mqar') or a "
          "list of specs, as {name: float}; as `flexnas evaluate`.")
      .def(
          "hf_config",
          [](const Architecture& a, int vocab, int max_positions, int num_labels) {
            ExportOptions o;
            o.vocab = vocab;
            o.max_positions = max_positions;
            o.num_labels = num_labels;
            return to_py(hf_config(a, o));
          },
          py::arg("vocab") = 30522, py::arg("max_positions") = 512, py::arg("num_labels") = 2,
          "Hugging Face-style config.json (model_type flexibert), as `export-model --format hf`.")
      .def(
          "export_onnx",
          [](const Architecture& a, const std::string& path, int vocab, int seq, int num_labels,
             int max_positions, std::uint64_t seed) {
            ExportOptions o;
            o.vocab = vocab;
            o.seq = seq;
            o.num_labels = num_labels;
            o.max_positions = max_positions;
            o.seed = seed;
            write_file_atomic(path, to_onnx(a, o));
          },
          py::arg("path"), py::arg("vocab") = 30522, py::arg("seq") = 128,
          py::arg("num_labels") = 2, py::arg("max_positions") = 512, py::arg("seed") = 0,
          "Write the ONNX inference graph with seeded random weights, as `export-model --format "
          "onnx`.")
      .def("__eq__", [](const Architecture& a, const Architecture& b) { return a == b; })
      .def("__hash__", [](const Architecture& a) { return py::hash(py::str(to_string(a))); })
      .def("__repr__",
           [](const Architecture& a) { return "flexnas.Architecture(" + to_string(a) + ")"; })
      .def("__str__", [](const Architecture& a) { return to_string(a); });
  // Model dicts and JSON text convert implicitly wherever an Architecture is expected.
  py::implicitly_convertible<py::dict, Architecture>();
  py::implicitly_convertible<py::str, Architecture>();

  // ---- Space ---------------------------------------------------------------------------------
  py::class_<DesignSpace>(m, "Space", R"doc(
A design space: a built-in name (flexibert-test, ...; Space.builtin_names()) or a YAML file
(docs/design-space.md), with the overrides of the CLI's --layers-per-stack and --mixed-ff.)doc")
      .def(py::init(&load_space), py::arg("name_or_path") = "flexibert-test",
           py::arg("layers_per_stack") = py::none(), py::arg("mixed_ff") = false)
      .def_static("builtin_names", &DesignSpace::builtin_names, "Names of the built-in spaces.")
      .def_readonly("name", &DesignSpace::name)
      .def_readonly("description", &DesignSpace::description)
      .def_readonly("hetero", &DesignSpace::hetero, "Heads of one layer may differ.")
      .def(
          "count",
          [](const DesignSpace& s, std::optional<int> layers) {
            return big(layers ? s.count(*layers) : s.count());
          },
          py::arg("layers") = py::none(),
          "Exact number of distinct architectures (of depth `layers` when given).")
      .def(
          "sample",
          [](const DesignSpace& s, std::uint64_t seed) {
            Rng rng(seed);
            return model_dict(s.sample(rng));
          },
          py::arg("seed") = 0,
          "One architecture drawn uniformly (every architecture equally likely), as a model "
          "dict; the first line of `flexnas space sample --seed SEED`.")
      .def(
          "samples",
          [](const DesignSpace& s, int n, std::uint64_t seed) {
            if (n < 1) throw InputError("n must be positive");
            Rng rng(seed);
            py::list l;
            for (int i = 0; i < n; ++i) l.append(model_dict(s.sample(rng)));
            return l;
          },
          py::arg("n"), py::arg("seed") = 0,
          "n architectures, as `flexnas space sample -n N --seed SEED`.")
      .def(
          "validate", [](const DesignSpace& s, py::handle model) { s.validate(to_arch(model)); },
          py::arg("model"),
          "Raise flexnas.InputError naming the field, layer and allowed values when the model "
          "is not in the space.")
      .def(
          "contains",
          [](const DesignSpace& s, py::handle model) { return s.contains(to_arch(model)); },
          py::arg("model"))
      .def("__contains__",
           [](const DesignSpace& s, py::handle model) { return s.contains(to_arch(model)); })
      .def("to_yaml", &DesignSpace::to_yaml, "The space as YAML.")
      .def("__repr__", [](const DesignSpace& s) { return "flexnas.Space('" + s.name + "')"; });

  // ---- Evaluators ----------------------------------------------------------------------------
  py::class_<PyEvaluator>(m, "Evaluator", R"doc(
An evaluator from its spec, as --evaluator takes it: 'params', 'flops:seq=256',
'train:task=mqar,steps=100', 'external:cmd=...'. Calling it on a model dict returns
{value name: float}; a failed evaluation raises flexnas.InputError.)doc")
      .def(py::init([](const std::string& spec) {
             PyEvaluator e;
             e.spec = spec;
             e.e = registry().create(spec);
             return e;
           }),
           py::arg("spec"))
      .def_property_readonly("name", [](const PyEvaluator& e) { return e.e->name(); })
      .def_property_readonly("spec", [](const PyEvaluator& e) { return e.spec; })
      .def_property_readonly("options", [](const PyEvaluator& e) { return e.e->options(); })
      .def(
          "provides",
          [](const PyEvaluator& e) {
            py::list l;
            for (const auto& v : e.e->provides()) {
              py::dict d;
              d["name"] = v.name;
              d["unit"] = v.unit;
              d["direction"] = v.direction == Direction::kMaximize ? "max" : "min";
              d["description"] = v.description;
              l.append(d);
            }
            return l;
          },
          "The values it provides: name, unit, direction (min/max), description.")
      .def(
          "__call__",
          [](PyEvaluator& e, py::handle model, std::uint64_t seed, int threads) {
            return run_evaluator(*e.e, to_arch(model), seed, threads, e.mu.get());
          },
          py::arg("model"), py::arg("seed") = 0, py::arg("threads") = 1)
      .def("__repr__", [](const PyEvaluator& e) { return "flexnas.Evaluator('" + e.spec + "')"; });
  m.def(
      "evaluator_names", [] { return registry().names(); }, "Registered evaluator names.");

  // ---- Study ---------------------------------------------------------------------------------
  auto study =
      py::class_<PyStudy>(m, "Study", R"doc(
A study directory (the SQLite database `search` writes). Study.load opens it read-only
without the lock, so it can be read while a search runs; every call reads the current state.)doc")
          .def_static(
              "load",
              [](const std::string& dir) {
                PyStudy s;
                s.dir = dir;
                s.ro = Study::open(dir, false);
                return s;
              },
              py::arg("dir"), "Open an existing study; flexnas.InputError when there is none.")
          .def_property_readonly("dir", [](const PyStudy& s) { return s.dir; })
          .def_property_readonly(
              "config", [](const PyStudy& s) { return to_py(s.ro->config()); },
              "The study's definition: space, evaluators, objectives, policy, seed, ...")
          .def_property_readonly("objectives",
                                 [](const PyStudy& s) {
                                   std::vector<std::string> o;
                                   for (const auto& x : s.objectives()) o.push_back(x.str());
                                   return o;
                                 })
          .def(
              "trials",
              [](const PyStudy& s) {
                const auto cons = s.ro->constraints();
                py::list l;
                for (const auto& t : s.ro->trials()) l.append(trial_dict(t, cons));
                return l;
              },
              "Every trial in id order: id, model, hash, values, status (ok/failed/asked), ...")
          .def(
              "pareto",
              [](const PyStudy& s) {
                const auto cons = s.ro->constraints();
                py::list l;
                for (const auto& t : pareto_set(s.ro->trials(), s.objectives(), cons))
                  l.append(trial_dict(t, cons));
                return l;
              },
              "The Pareto set of the finished trials (constrained domination), as pareto.json.")
          .def(
              "best",
              [](const PyStudy& s) -> py::object {
                const auto cons = s.ro->constraints();
                if (auto b = best_trial(s.ro->trials(), s.objectives(), cons))
                  return trial_dict(*b, cons);
                return py::none();
              },
              "The best feasible trial by the first objective, or None (as best.json).")
          .def("__repr__", [](const PyStudy& s) { return "flexnas.Study('" + s.dir + "')"; });
#if FLEXNAS_PY_ASK_TELL
  study
      .def_static(
          "create",
          [](const std::string& dir, std::optional<std::string> space,
             std::optional<std::vector<py::object>> pool, std::vector<std::string> objectives,
             std::vector<std::string> evaluators, std::vector<std::string> constraints,
             std::string policy, std::size_t budget, std::size_t batch, std::uint64_t seed,
             std::vector<std::string> stop_at, std::size_t patience, double lease) {
            StudyDefinition d;
            d.space = space.value_or("");
            if (pool)
              for (const auto& mdl : *pool) d.pool.push_back(to_arch(mdl));
            d.objectives = std::move(objectives);
            d.evaluators = std::move(evaluators);
            d.constraints = std::move(constraints);
            d.policy = std::move(policy);
            if (budget < 1 || batch < 1) throw InputError("budget and batch must be positive");
            if (lease < 0) throw InputError("lease must not be negative");
            d.budget = budget;
            d.batch = batch;
            d.seed = seed;
            d.stop_at = std::move(stop_at);
            d.patience = patience;
            PyStudy s;
            s.dir = dir;
            {
              py::gil_scoped_release release;
              s.at = AskTell::create(dir, d.config(), lease);
              s.ro = Study::open(dir, false);
            }
            return s;
          },
          py::arg("dir"), py::kw_only(), py::arg("space") = py::none(),
          py::arg("pool") = py::none(), py::arg("objectives"),
          py::arg("evaluators") = std::vector<std::string>{},
          py::arg("constraints") = std::vector<std::string>{}, py::arg("policy") = "auto",
          py::arg("budget") = 100, py::arg("batch") = 4, py::arg("seed") = 0,
          py::arg("stop_at") = std::vector<std::string>{}, py::arg("patience") = 0,
          py::arg("lease") = 0.0,
          "Create the study DIR for ask/tell from the options of `flexnas search` / `flexnas "
          "ask`: a space (built-in name or YAML file) or a pool of model dicts, objectives "
          "('accuracy:max'; values told by you or given by `evaluators`), constraints, policy, "
          "budget, batch, seed, stop_at, patience; `lease`: seconds after which a trial "
          "asked and not told is handed out again (0: only with reissue).")
      .def(
          "ask",
          [](PyStudy& s, bool reissue, const std::string& form) {
            // As `flexnas ask --form`: not "standard", which could only fail once the trial
            // was handed out (a hetero trial has no standard form).
            if (form != "auto" && form != "hetero")
              throw InputError("form '" + form + "' is not one of: auto, hetero");
            const auto f = parse_dict_form(form);
            auto& at = s.ask_tell();
            AskResult r;
            {
              py::gil_scoped_release release;
              r = at.ask(reissue);
            }
            py::dict d;
            switch (r.status) {
              case AskResult::Status::kTrial:
                d["trial"] = r.trial.id;
                d["batch"] = r.trial.batch;
                d["given"] = r.times_given;
                d["hash"] = r.trial.hash;
                d["model"] = model_dict(r.trial.arch, f);
                break;
              case AskResult::Status::kDone:
                d["done"] = r.done_because;
                break;
              case AskResult::Status::kWait: {
                py::list ids;
                for (const auto& [id, when] : r.out) ids.append(id);
                d["wait"] = ids;
                break;
              }
            }
            return d;
          },
          py::arg("reissue") = false, py::arg("form") = "auto",
          "The next trial, as `flexnas ask` prints it: {trial, batch, given, hash, model}; "
          "{done: why} when the study is complete (budget, exhausted, a stop rule); {wait: "
          "[ids]} when every trial of the open batch is out and the policy needs their values "
          "(tell them, or ask with reissue=True).")
      .def(
          "tell",
          [](PyStudy& s, std::int64_t trial, std::optional<py::dict> values,
             std::optional<std::string> failed) {
            if (values.has_value() == failed.has_value())
              throw InputError("tell: give values={NAME: NUMBER, ...} or failed=REASON");
            auto& at = s.ask_tell();
            Trial t;
            if (failed) {
              py::gil_scoped_release release;
              t = at.tell_failed(trial, *failed);
            } else {
              const Values v = values_from_json(to_json_value(*values, "values"));
              py::gil_scoped_release release;
              t = at.tell(trial, v);
            }
            return to_py(Study::trial_json(t, at.setup().constraints));
          },
          py::arg("trial"), py::arg("values") = py::none(), py::kw_only(),
          py::arg("failed") = py::none(),
          "Record a trial's values ({'accuracy': 0.81}: every objective and constraint) or "
          "its failure (failed='reason'), as `flexnas tell`; returns the trial as "
          "trials.jsonl stores it.")
      .def(
          "close", [](PyStudy& s) { s.at.reset(); },
          "Let go of the study's lock (ask and tell take it on first use).")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyStudy& s, py::args) { s.at.reset(); });
#endif

  // ---- Trainer -------------------------------------------------------------------------------
  py::class_<train::Model>(m, "TrainModel", R"doc(
flexnas's own trainer network (docs/model.md; the `train` evaluator's model): forward and
backward by hand in C++. For checking flexnas.torch against it and for exporting weights:
parameters by name as numpy arrays ([in, out] dense weights), one step forward/backward on
given token ids, checkpoints as `flexnas train --save` writes them. Use one model from one
thread at a time.)doc")
      .def(py::init([](py::handle model, int vocab, int seq, int num_classes, bool token_level,
                       float dropout, std::uint64_t seed, int threads, int max_positions) {
             train::ModelConfig c;
             c.vocab = vocab;
             c.seq = seq;
             c.num_classes = num_classes;
             c.token_level = token_level;
             c.dropout = dropout;
             c.threads = threads;
             c.max_positions = max_positions;
             return std::make_unique<train::Model>(to_arch(model), c, seed);
           }),
           py::arg("model"), py::arg("vocab"), py::arg("seq") = 128, py::arg("num_classes") = 2,
           py::arg("token_level") = false, py::arg("dropout") = 0.1f, py::arg("seed") = 0,
           py::arg("threads") = 1, py::arg("max_positions") = 512)
      .def_property_readonly("architecture", &train::Model::architecture)
      .def_property_readonly("num_parameters", &train::Model::num_parameters)
      .def(
          "param_names",
          [](train::Model& tm) {
            std::vector<std::string> n;
            for (auto* p : tm.params()) n.push_back(p->name);
            return n;
          },
          "Parameter names, in checkpoint order.")
      .def(
          "params",
          [](train::Model& tm) {
            py::dict d;
            for (auto* p : tm.params()) d[py::str(p->name)] = to_array(p->value);
            return d;
          },
          "{name: copy of the value} (2-D float32; vectors are 1 x n).")
      .def(
          "grads",
          [](train::Model& tm) {
            py::dict d;
            for (auto* p : tm.params()) d[py::str(p->name)] = to_array(p->grad);
            return d;
          },
          "{name: copy of the gradient accumulated by step(train=True)}.")
      .def(
          "set_param",
          [](train::Model& tm, const std::string& name, const Floats& v) {
            auto& p = param_named(tm, name);
            if (v.size() != p.value.size())
              throw InputError("TrainModel.set_param " + name + ": " + std::to_string(v.size()) +
                               " values, the parameter has " + std::to_string(p.value.size()));
            std::memcpy(p.value.data(), v.data(),
                        static_cast<std::size_t>(v.size()) * sizeof(float));
          },
          py::arg("name"), py::arg("value"), "Overwrite one parameter (row-major values).")
      .def("zero_grad",
           [](train::Model& tm) {
             for (auto* p : tm.params()) p->grad.setZero();
           })
      .def(
          "step",
          [](train::Model& tm, const Ids& tokens, const Ids& targets, bool training,
             std::uint64_t seed) {
            if (tokens.ndim() != 2)
              throw InputError("TrainModel.step: tokens must be 2-D [batch, seq]");
            train::Batch b;
            b.batch = static_cast<int>(tokens.shape(0));
            b.seq = static_cast<int>(tokens.shape(1));
            b.tokens.assign(tokens.data(), tokens.data() + tokens.size());
            b.targets.assign(targets.data(), targets.data() + targets.size());
            train::StepResult r;
            {
              py::gil_scoped_release release;
              r = tm.step(b, training, seed);
            }
            py::dict d;
            d["loss"] = r.loss;
            d["correct"] = r.correct;
            d["scored"] = r.scored;
            return d;
          },
          py::arg("tokens"), py::arg("targets"), py::arg("train") = false, py::arg("seed") = 0,
          "Forward (and with train=True, dropout from `seed` and backward, adding to the "
          "gradients) on int token ids [batch, seq]; targets [batch] (or [batch, seq] token "
          "level, -1 unscored). Returns {loss, correct, scored}.")
      .def(
          "logits", [](const train::Model& tm) { return to_array(tm.logits()); },
          "Logits of the last step: [batch, classes] (token level: [batch*seq, classes]).")
      .def("save", &train::Model::save, py::arg("path"),
           "Write a checkpoint (`flexnas train --save`).")
      .def("load", &train::Model::load, py::arg("path"), "Read a checkpoint of this architecture.")
      .def(
          "export_onnx",
          [](const train::Model& tm, const std::string& path, std::optional<int> seq) {
            const auto& c = tm.config();
            if (c.token_level)
              throw InputError(
                  "export_onnx: the ONNX graph has the pooled classification head; "
                  "this model is token level");
            ExportOptions eo;
            eo.vocab = c.vocab;
            eo.seq = seq.value_or(c.seq);
            eo.num_labels = c.num_classes;
            eo.max_positions = c.max_positions;
            eo.weights = [&](const std::string& name, const std::vector<std::int64_t>& dims,
                             std::vector<float>& out) { return tm.export_weight(name, dims, out); };
            write_file_atomic(path, to_onnx(tm.architecture(), eo));
          },
          py::arg("path"), py::arg("seq") = py::none(),
          "Write the ONNX inference graph with these weights (`flexnas train --onnx`).");

  m.def(
      "load_task",
      [](const std::map<std::string, std::string>& options, std::uint64_t seed) {
        train::TaskData t;
        {
          py::gil_scoped_release release;
          t = train::make_task(options, seed);
        }
        return task_dict(t);
      },
      py::arg("options"), py::arg("seed") = 0,
      "A training task as the `train` evaluator builds it from its options "
      "({'task': 'tsv', 'train': ..., 'test': ..., 'vocab': ..., 'seq': '64'}): name, vocab, "
      "num_classes, token_level, seq, train_tokens [n, seq] / train_targets, test_tokens / "
      "test_targets (int32 numpy arrays), majority_baseline.");
}
