#include "evaluators/train/task.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <fstream>
#include <functional>
#include <memory>

#include "core/error.hpp"
#include "evaluators/train/rng.hpp"
#include "evaluators/train/tokenizer.hpp"

namespace flexnas::train {

namespace {

// Bounds the memory of a generated task: (train_size + test_size) * seq tokens.
constexpr long long kMaxTokens = 50'000'000;

// Test accuracy of always answering the most common scored label (the smallest on ties).
double majority_baseline(const std::vector<Example>& test) {
  std::map<std::int32_t, long long> count;
  long long scored = 0;
  for (const auto& e : test)
    for (auto t : e.targets)
      if (t >= 0) ++count[t], ++scored;
  long long best = 0;
  for (const auto& [label, n] : count) best = std::max(best, n);
  return scored ? static_cast<double>(best) / static_cast<double>(scored) : 0.0;
}

struct SyntheticSizes {
  int seq, train, test;
};

// --- mqar: Zoology's multi-query associative recall (Arora et al. 2023). ---------------------
// Layout: k1 v1 k2 v2 ... kN vN, then the N keys again in random order at random distinct
// positions of the rest (0 = pad elsewhere); the target at a query is the value paired with
// its key, every other position -1. Keys are ids 1..K, values K+1..vocab-1 (K = (vocab-1)/2),
// keys distinct within a sequence, values drawn with replacement. Zoology spaces queries by a
// power law; here positions are uniform.
Example mqar_example(Rng& r, int seq, int pairs, int vocab) {
  const int num_keys = (vocab - 1) / 2, num_values = vocab - 1 - num_keys;
  Example e;
  e.tokens.assign(static_cast<std::size_t>(seq), 0);
  e.targets.assign(static_cast<std::size_t>(seq), -1);
  std::vector<std::int32_t> keys(static_cast<std::size_t>(num_keys));
  for (int i = 0; i < num_keys; ++i) keys[static_cast<std::size_t>(i)] = 1 + i;
  r.shuffle(keys);
  keys.resize(static_cast<std::size_t>(pairs));
  std::vector<std::int32_t> values(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    values[i] = 1 + num_keys + r.below(num_values);
    e.tokens[2 * i] = keys[i];
    e.tokens[2 * i + 1] = values[i];
  }
  std::vector<int> slots;
  for (int p = 2 * pairs; p < seq; ++p) slots.push_back(p);
  r.shuffle(slots);
  slots.resize(static_cast<std::size_t>(pairs));
  std::vector<std::size_t> order(keys.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  r.shuffle(order);
  for (std::size_t q = 0; q < order.size(); ++q) {
    const auto p = static_cast<std::size_t>(slots[q]);
    e.tokens[p] = keys[order[q]];
    e.targets[p] = values[order[q]];
  }
  return e;
}

// --- selective_copy: Gu and Dao 2023 (Mamba, section 3.1), after the copying task of
// Arjovsky et al. 2016. The first seq - M positions hold M data tokens (ids 3..vocab-1) at
// random positions among noise (id 1); the last M positions hold the marker (id 2) and their
// targets are the data tokens in order of appearance. Where the data lands changes from one
// example to the next, so a fixed token mixer (DFT/DCT, a fixed convolution kernel) cannot
// route it; content-based mixing (attention) can. Token level, num_classes = vocab.
Example selective_copy_example(Rng& r, int seq, int m, int vocab) {
  Example e;
  e.tokens.assign(static_cast<std::size_t>(seq), 1);
  e.targets.assign(static_cast<std::size_t>(seq), -1);
  std::vector<int> slots;
  for (int p = 0; p < seq - m; ++p) slots.push_back(p);
  r.shuffle(slots);
  slots.resize(static_cast<std::size_t>(m));
  std::sort(slots.begin(), slots.end());
  for (int i = 0; i < m; ++i) {
    const std::int32_t tok = 3 + r.below(vocab - 3);
    e.tokens[static_cast<std::size_t>(slots[static_cast<std::size_t>(i)])] = tok;
    const auto out = static_cast<std::size_t>(seq - m + i);
    e.tokens[out] = 2;
    e.targets[out] = tok;
  }
  return e;
}

// --- local_count: the converse of selective_copy. Random bits (ids 1 = 0, 2 = 1) at every
// position; the target at position i is the number of 1-bits in the window of `window`
// positions centred on i (cut at the ends), classes 0..window. It is a fixed local linear
// feature: one convolution of width >= window computes it exactly, whereas attention has to
// learn to attend to a band of relative positions and a global DFT/DCT mix spreads it over
// all frequencies. Token level, vocab 3.
Example local_count_example(Rng& r, int seq, int window) {
  Example e;
  e.tokens.resize(static_cast<std::size_t>(seq));
  e.targets.resize(static_cast<std::size_t>(seq));
  for (auto& t : e.tokens) t = 1 + r.below(2);
  const int half = window / 2;
  for (int i = 0; i < seq; ++i) {
    int n = 0;
    for (int j = std::max(0, i - half); j <= std::min(seq - 1, i + half); ++j)
      n += e.tokens[static_cast<std::size_t>(j)] == 2;
    e.targets[static_cast<std::size_t>(i)] = n;
  }
  return e;
}

// --- listops: LRA ListOps (Nangia and Bowman 2018; Tay et al. 2021). ------------------------
// [CLS] then one expression, padded with 0: operators [MAX [MIN [MED [SM (sum mod 10) over
// 2..max_args arguments, each a digit or (below max_depth) with probability 0.7 a nested
// expression; the root is always an operator. The length is bounded by construction: each
// argument gets the tokens the later ones and the closing bracket leave. MED of an even count
// is the floor of the mean of the two middle values. Pooled label: the value 0..9.
class ListOpsGenerator {
 public:
  ListOpsGenerator(Rng& r, int max_depth, int max_args)
      : r_(r), max_depth_(max_depth), max_args_(max_args) {}

  int expression(int depth, int budget, std::vector<std::int32_t>& out) {
    using namespace listops;
    const bool leaf = depth >= max_depth_ || budget < 4 || (depth > 0 && r_.uniform() < 0.3);
    if (leaf) {
      const int d = r_.below(10);
      out.push_back(kDigit0 + d);
      return d;
    }
    const int op = r_.below(4);
    const int k = r_.between(2, std::min(max_args_, budget - 2));
    out.push_back(kMax + op);
    int left = budget - 2;  // the operator and its closing bracket
    std::vector<int> v;
    for (int i = 0; i < k; ++i) {
      const std::size_t before = out.size();
      v.push_back(expression(depth + 1, left - (k - 1 - i), out));
      left -= static_cast<int>(out.size() - before);
    }
    out.push_back(kClose);
    std::sort(v.begin(), v.end());
    switch (op) {
      case 0:
        return v.back();
      case 1:
        return v.front();
      case 2: {
        const std::size_t n = v.size();
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
      }
      default: {
        int s = 0;
        for (int x : v) s += x;
        return s % 10;
      }
    }
  }

 private:
  Rng& r_;
  int max_depth_, max_args_;
};

Example listops_example(Rng& r, int seq, int max_depth, int max_args) {
  Example e;
  e.tokens.push_back(listops::kCls);
  ListOpsGenerator g(r, max_depth, max_args);
  const int label = g.expression(0, seq - 1, e.tokens);
  assert(static_cast<int>(e.tokens.size()) <= seq);
  e.tokens.resize(static_cast<std::size_t>(seq), listops::kPad);
  e.targets = {label};
  return e;
}

// --- tsv: GLUE-style sentence<TAB>label files. --------------------------------------------
struct Row {
  std::string sentence;
  int label;
};

std::vector<Row> read_tsv(const std::string& option, const std::string& path) {
  const std::string where = "task=tsv: " + option + "=" + path;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(where + ": cannot open file");
  std::string line;
  int line_no = 0;
  int sentence_col = -1, label_col = -1;
  std::size_t columns = 0;
  std::vector<Row> rows;
  auto split = [](const std::string& s) {
    std::vector<std::string> f;
    std::size_t b = 0;
    for (;;) {
      const auto t = s.find('\t', b);
      f.push_back(s.substr(b, t == std::string::npos ? std::string::npos : t - b));
      if (t == std::string::npos) return f;
      b = t + 1;
    }
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string at = where + ":" + std::to_string(line_no) + ": ";
    if (line_no == 1) {
      const auto f = split(line);
      for (std::size_t i = 0; i < f.size(); ++i) {
        if (f[i] == "sentence") sentence_col = static_cast<int>(i);
        if (f[i] == "label") label_col = static_cast<int>(i);
      }
      if (sentence_col < 0 || label_col < 0)
        throw InputError(
            at +
            "missing header: expected columns 'sentence' and 'label' separated by a tab, got '" +
            line.substr(0, 60) + "'");
      columns = f.size();
      continue;
    }
    if (line.empty()) continue;
    const auto f = split(line);
    if (f.size() != columns)
      throw InputError(at + "expected " + std::to_string(columns) +
                       " tab-separated fields as in the header, got " + std::to_string(f.size()));
    const std::string& l = f[static_cast<std::size_t>(label_col)];
    int label = -1;
    auto [p, ec] = std::from_chars(l.data(), l.data() + l.size(), label);
    if (l.empty() || ec != std::errc() || p != l.data() + l.size() || label < 0 || label > 9999)
      throw InputError(at + "label '" + l + "' is not an integer in [0, 9999]");
    rows.push_back({f[static_cast<std::size_t>(sentence_col)], label});
  }
  if (line_no == 0)
    throw InputError(where + ": empty file (expected a header 'sentence<TAB>label' and examples)");
  if (rows.empty()) throw InputError(where + ": no examples after the header");
  return rows;
}

}  // namespace

namespace {

std::vector<OptionSpec> synthetic_sizes() {
  return {OptionSpec::integer("train_size", 2000, 1, 1'000'000, "generated training examples"),
          OptionSpec::integer("test_size", 500, 1, 1'000'000, "generated test examples")};
}

std::vector<OptionSpec> with(std::vector<OptionSpec> a, const std::vector<OptionSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const OptionSpec kVocabSize =
    OptionSpec::integer("vocab_size", 64, 8, 65536,
                        "vocabulary incl. pad; mqar: keys and values split the ids 1.. in halves");

// Examples drawn from `make` with the train and test streams of `seed`.
TaskData generate(TaskData t, const Options& o, std::uint64_t seed,
                  const std::function<Example(Rng&)>& make) {
  const int train_size = o.integer_as<int>("train_size");
  const int test_size = o.integer_as<int>("test_size");
  const long long tokens = static_cast<long long>(train_size + test_size) * t.seq;
  if (tokens > kMaxTokens)
    throw InputError("train: (train_size + test_size) * seq = " + std::to_string(tokens) +
                     " tokens is over " + std::to_string(kMaxTokens));
  Rng train_rng(derive_seed(seed, 1)), test_rng(derive_seed(seed, 2));
  t.train.reserve(static_cast<std::size_t>(train_size));
  for (int i = 0; i < train_size; ++i) t.train.push_back(make(train_rng));
  t.test.reserve(static_cast<std::size_t>(test_size));
  for (int i = 0; i < test_size; ++i) t.test.push_back(make(test_rng));
  t.majority_baseline = majority_baseline(t.test);
  return t;
}

TaskData shell(const Options& o, int vocab, int num_classes, bool token_level) {
  TaskData t;
  t.name = o.text("task");
  t.seq = o.integer_as<int>("seq");
  t.vocab = vocab;
  t.num_classes = num_classes;
  t.token_level = token_level;
  return t;
}

TaskData make_mqar(const Options& o, std::uint64_t seed) {
  const int seq = o.integer_as<int>("seq");
  const int pairs = o.integer_as<int>("kv_pairs");
  const int vocab = o.integer_as<int>("vocab_size");
  if (3 * pairs > seq)
    throw InputError("train: task=mqar: kv_pairs=" + std::to_string(pairs) +
                     " needs seq >= 3 * kv_pairs = " + std::to_string(3 * pairs) +
                     ", got seq=" + std::to_string(seq));
  if ((vocab - 1) / 2 < pairs)
    throw InputError("train: task=mqar: vocab_size=" + std::to_string(vocab) + " has " +
                     std::to_string((vocab - 1) / 2) +
                     " keys, fewer than kv_pairs=" + std::to_string(pairs) +
                     " (expected vocab_size >= " + std::to_string(2 * pairs + 1) + ")");
  return generate(shell(o, vocab, vocab, true), o, seed,
                  [=](Rng& r) { return mqar_example(r, seq, pairs, vocab); });
}

TaskData make_selective_copy(const Options& o, std::uint64_t seed) {
  const int seq = o.integer_as<int>("seq");
  const int m = o.integer_as<int>("copy_tokens");
  const int vocab = o.integer_as<int>("vocab_size");
  if (2 * m > seq)
    throw InputError("train: task=selective_copy: copy_tokens=" + std::to_string(m) +
                     " needs seq >= " + std::to_string(2 * m) + ", got seq=" + std::to_string(seq));
  return generate(shell(o, vocab, vocab, true), o, seed,
                  [=](Rng& r) { return selective_copy_example(r, seq, m, vocab); });
}

TaskData make_local_count(const Options& o, std::uint64_t seed) {
  const int seq = o.integer_as<int>("seq");
  const int window = o.integer_as<int>("window");
  if (window % 2 == 0)
    throw InputError("train: task=local_count: window=" + std::to_string(window) + " is not odd");
  if (window > seq)
    throw InputError("train: task=local_count: window=" + std::to_string(window) +
                     " is longer than seq=" + std::to_string(seq));
  return generate(shell(o, 3, window + 1, true), o, seed,
                  [=](Rng& r) { return local_count_example(r, seq, window); });
}

TaskData make_listops(const Options& o, std::uint64_t seed) {
  const int seq = o.integer_as<int>("seq");
  const int depth = o.integer_as<int>("max_depth");
  const int args = o.integer_as<int>("max_args");
  return generate(shell(o, listops::kVocab, 10, false), o, seed,
                  [=](Rng& r) { return listops_example(r, seq, depth, args); });
}

TaskData make_tsv(const Options& o, std::uint64_t) {
  const int seq = o.integer_as<int>("seq");
  const std::string& train = o.text("train");
  const std::string& test = o.text("test");
  const std::string& vocab = o.text("vocab");
  if (train.empty() || test.empty())
    throw InputError(
        "train: task=tsv needs options train=PATH and test=PATH (sentence<TAB>label files)");
  std::unique_ptr<Tokenizer> tok;
  if (vocab.empty())
    tok = std::make_unique<ByteTokenizer>();
  else
    tok = WordPieceTokenizer::from_file(vocab);
  const auto train_rows = read_tsv("train", train);
  const auto test_rows = read_tsv("test", test);
  const auto tokens = static_cast<long long>(train_rows.size() + test_rows.size()) * seq;
  if (tokens > kMaxTokens)
    throw InputError("train: task=tsv: " + std::to_string(train_rows.size() + test_rows.size()) +
                     " examples * seq=" + std::to_string(seq) + " = " + std::to_string(tokens) +
                     " tokens is over " + std::to_string(kMaxTokens) + "; use a smaller seq");
  int max_label = 0;
  for (const auto* rows : {&train_rows, &test_rows})
    for (const auto& r : *rows) max_label = std::max(max_label, r.label);
  TaskData t = shell(o, tok->vocab_size(), max_label + 1, false);
  for (const auto& r : train_rows)
    t.train.push_back({encode_example(*tok, r.sentence, seq), {r.label}});
  for (const auto& r : test_rows)
    t.test.push_back({encode_example(*tok, r.sentence, seq), {r.label}});
  t.majority_baseline = majority_baseline(t.test);
  return t;
}

}  // namespace

const TaskRegistry& tasks() {
  static const TaskRegistry r = [] {
    TaskRegistry t;
    t.add({"mqar", "multi-query associative recall (per token)",
           with(synthetic_sizes(),
                {OptionSpec::integer(
                     "kv_pairs", 8, 1, 1024,
                     "key-value pairs per sequence, each key queried once (3 * kv_pairs <= seq)"),
                 kVocabSize}),
           make_mqar});
    t.add({"listops", "nested max/min/median/sum-mod expressions (pooled, 10 classes)",
           with(synthetic_sizes(),
                {OptionSpec::integer("max_depth", 3, 1, 32, "operator nesting depth at most"),
                 OptionSpec::integer("max_args", 4, 2, 16,
                                     "arguments per operator at most (at least 2)")}),
           make_listops});
    t.add(
        {"selective_copy", "copy the scattered data tokens, in order, to the end (per token)",
         with(synthetic_sizes(),
              {OptionSpec::integer(
                   "copy_tokens", 8, 1, 1024,
                   "data tokens to copy, in order, to the last positions (2 * copy_tokens <= seq)"),
               kVocabSize}),
         make_selective_copy});
    t.add({"local_count", "count the 1-bits in a window around each position (per token)",
           with(synthetic_sizes(),
                {OptionSpec::integer(
                    "window", 5, 1, 31,
                    "odd window width whose 1-bits are counted at each position (window <= seq)")}),
           make_local_count});
    t.add({"tsv",
           "text classification from sentence<TAB>label files",
           {OptionSpec::text(
                "train", "",
                "training TSV: header, then sentence<TAB>label with labels 0..C-1 (required)"),
            OptionSpec::text("test", "", "test TSV, same format (required)"),
            OptionSpec::text("vocab", "", "BERT vocab.txt for WordPiece; bytes when absent")},
           make_tsv});
    return t;
  }();
  return r;
}

const std::vector<OptionSpec>& common_task_options() {
  static const std::vector<OptionSpec> common = {
      OptionSpec::choice("task", "mqar", tasks().names(),
                         "mqar (associative recall), listops, selective_copy, local_count, or tsv "
                         "(text files)"),
      OptionSpec::integer("seq", 64, 8, 4096,
                          "sequence length in tokens, [CLS] and padding included")};
  return common;
}

std::vector<OptionSpec> task_options() {
  std::vector<OptionSpec> out = common_task_options();
  for (const auto& e : tasks().entries())
    for (const OptionSpec& s : e.options)
      if (std::none_of(out.begin(), out.end(),
                       [&](const OptionSpec& x) { return x.name == s.name; }))
        out.push_back(s);
  return out;
}

std::vector<std::string> tasks_taking(const std::string& option) {
  std::vector<std::string> out;
  for (const auto& e : tasks().entries())
    for (const OptionSpec& s : e.options)
      if (s.name == option) out.push_back(e.name);
  return out;
}

TaskData make_task(const std::map<std::string, std::string>& options, std::uint64_t seed) {
  const Options common("train", common_task_options(),
                       declared_only(options, common_task_options()));
  const auto& task = tasks().find(common.text("task"));
  // An option of another task is a mistake, not something to ignore.
  for (const auto& [key, value] : options) {
    const auto takers = tasks_taking(key);
    if (!takers.empty() && std::find(takers.begin(), takers.end(), task.name) == takers.end()) {
      throw InputError("train: option " + key + "=" + value + " applies to task " +
                       join(takers, "|") + ", not task=" + task.name);
    }
  }
  const auto specs = with(common_task_options(), task.options);
  return task.make(Options("train", specs, declared_only(options, specs)), seed);
}

}  // namespace flexnas::train
