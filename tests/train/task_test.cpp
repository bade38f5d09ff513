#include "evaluators/train/task.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "evaluators/train/tokenizer.hpp"
#include "tests/test_data.hpp"

using flexnas::InputError;
namespace test = flexnas::test;
using namespace flexnas::train;
using Catch::Matchers::Contains;

namespace {

using Options = std::map<std::string, std::string>;

// A scratch directory removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> n{0};
    path = std::filesystem::temp_directory_path() /
           ("flexnas_task_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    const auto p = (path / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
};

// ListOps by an explicit stack over the token string (the generator recurses).
int listops_value(const std::vector<std::int32_t>& tokens) {
  std::vector<std::pair<int, std::vector<int>>> stack;  // operator, arguments so far
  int result = -1;
  for (std::size_t i = 1; i < tokens.size() && tokens[i] != listops::kPad; ++i) {
    const int t = tokens[i];
    int value = -1;
    if (t >= listops::kMax && t <= listops::kSumMod) {
      stack.push_back({t, {}});
      continue;
    }
    if (t >= listops::kDigit0 && t < listops::kDigit0 + 10) {
      value = t - listops::kDigit0;
    } else {
      REQUIRE(t == listops::kClose);
      REQUIRE(!stack.empty());
      auto [op, args] = stack.back();
      stack.pop_back();
      REQUIRE(args.size() >= 2);
      std::sort(args.begin(), args.end());
      if (op == listops::kMax) value = args.back();
      if (op == listops::kMin) value = args.front();
      if (op == listops::kMed) {
        const auto n = args.size();
        value = n % 2 ? args[n / 2] : (args[n / 2 - 1] + args[n / 2]) / 2;
      }
      if (op == listops::kSumMod) {
        int s = 0;
        for (int a : args) s += a;
        value = s % 10;
      }
    }
    if (stack.empty())
      result = value;
    else
      stack.back().second.push_back(value);
  }
  REQUIRE(stack.empty());
  return result;
}

int listops_depth(const std::vector<std::int32_t>& tokens) {
  int depth = 0, deepest = 0;
  for (auto t : tokens) {
    if (t >= listops::kMax && t <= listops::kSumMod) deepest = std::max(deepest, ++depth);
    if (t == listops::kClose) --depth;
  }
  return deepest;
}

}  // namespace

TEST_CASE("task_defaults_are_small_and_valid", "[task]") {
  for (const auto& d : task_options()) {
    CHECK(!d.description.empty());
    CHECK(!d.help().empty());
  }
  const auto t = make_task({}, 1);
  CHECK(t.name == "mqar");
  CHECK(t.seq == 64);
  CHECK(t.train.size() == 2000);
  CHECK(t.test.size() == 500);
  CHECK(t.token_level);
}

TEST_CASE("task_mqar_queries_target_the_value_paired_earlier", "[task]") {
  const int seq = 48, pairs = 12, vocab = 40, keys = (vocab - 1) / 2;
  const auto t = make_task({{"task", "mqar"},
                            {"seq", "48"},
                            {"kv_pairs", "12"},
                            {"vocab_size", "40"},
                            {"train_size", "200"},
                            {"test_size", "50"}},
                           7);
  CHECK(t.vocab == vocab);
  CHECK(t.num_classes == vocab);
  REQUIRE(t.train.size() == 200);
  REQUIRE(t.test.size() == 50);
  for (const auto* split : {&t.train, &t.test}) {
    for (const auto& e : *split) {
      REQUIRE(e.tokens.size() == seq);
      REQUIRE(e.targets.size() == seq);
      std::set<int> seen_keys, queried;
      for (int i = 0; i < pairs; ++i) {
        const int k = e.tokens[2 * i], v = e.tokens[2 * i + 1];
        CHECK((k >= 1 && k <= keys));  // keys and values from disjoint ranges
        CHECK((v > keys && v < vocab));
        CHECK(seen_keys.insert(k).second);  // distinct keys
        CHECK(e.targets[2 * i] == -1);
        CHECK(e.targets[2 * i + 1] == -1);
      }
      for (int p = 2 * pairs; p < seq; ++p) {
        if (e.targets[p] < 0) {
          CHECK(e.tokens[p] == 0);
          continue;
        }
        // The key at a query appears once in the pairs, followed by the target value.
        int found = -1;
        for (int i = 0; i < pairs; ++i)
          if (e.tokens[2 * i] == e.tokens[p]) found = e.tokens[2 * i + 1];
        CHECK(found == e.targets[p]);
        queried.insert(e.tokens[p]);
      }
      CHECK(queried == seen_keys);  // every key queried once
    }
  }
  CHECK(t.majority_baseline > 0);
  CHECK(t.majority_baseline < 0.2);
}

TEST_CASE("task_is_deterministic_from_the_seed", "[task]") {
  for (const char* name : {"mqar", "listops", "selective_copy", "local_count"}) {
    const Options o{{"task", name}, {"train_size", "50"}, {"test_size", "20"}};
    const auto a = make_task(o, 3), b = make_task(o, 3), c = make_task(o, 4);
    bool same = true, differ = false;
    for (std::size_t i = 0; i < a.train.size(); ++i) {
      same = same && a.train[i].tokens == b.train[i].tokens &&
             a.train[i].targets == b.train[i].targets;
      differ = differ || a.train[i].tokens != c.train[i].tokens;
    }
    for (std::size_t i = 0; i < a.test.size(); ++i)
      same = same && a.test[i].tokens == b.test[i].tokens;
    CHECK(same);
    CHECK(differ);
    CHECK(a.train[0].tokens != a.test[0].tokens);  // independent splits
  }
}

TEST_CASE("task_listops_labels_match_an_independent_evaluator", "[task]") {
  const auto t = make_task({{"task", "listops"},
                            {"seq", "40"},
                            {"max_depth", "4"},
                            {"max_args", "5"},
                            {"train_size", "1000"},
                            {"test_size", "100"}},
                           11);
  CHECK(t.vocab == listops::kVocab);
  CHECK(t.num_classes == 10);
  CHECK(!t.token_level);
  std::set<int> labels, depths;
  for (const auto& e : t.train) {
    REQUIRE(e.tokens.size() == 40);
    REQUIRE(e.targets.size() == 1);
    CHECK(e.tokens[0] == listops::kCls);
    CHECK(e.tokens[1] >= listops::kMax);  // the root is an operator
    CHECK(listops_value(e.tokens) == e.targets[0]);
    const int d = listops_depth(e.tokens);
    CHECK(d <= 4);
    depths.insert(d);
    labels.insert(e.targets[0]);
    for (auto tok : e.tokens) CHECK((tok >= 0 && tok < listops::kVocab));
  }
  CHECK(labels.size() == 10);
  CHECK(depths.size() >= 3);
  CHECK(t.majority_baseline < 0.5);
}

TEST_CASE("task_selective_copy_targets_are_the_data_tokens_in_order", "[task]") {
  const auto t = make_task({{"task", "selective_copy"},
                            {"seq", "32"},
                            {"copy_tokens", "6"},
                            {"vocab_size", "20"},
                            {"train_size", "100"},
                            {"test_size", "10"}},
                           5);
  CHECK(t.token_level);
  CHECK(t.num_classes == 20);
  for (const auto& e : t.train) {
    std::vector<int> data, copied;
    for (int p = 0; p < 26; ++p) {
      CHECK(e.targets[p] == -1);
      if (e.tokens[p] != 1) data.push_back(e.tokens[p]);
    }
    for (int p = 26; p < 32; ++p) {
      CHECK(e.tokens[p] == 2);
      copied.push_back(e.targets[p]);
    }
    CHECK(data.size() == 6);
    CHECK(data == copied);
    for (int x : data) CHECK((x >= 3 && x < 20));
  }
}

TEST_CASE("task_local_count_targets_count_ones_in_the_window", "[task]") {
  const auto t = make_task({{"task", "local_count"},
                            {"seq", "16"},
                            {"window", "3"},
                            {"train_size", "50"},
                            {"test_size", "10"}},
                           2);
  CHECK(t.token_level);
  CHECK(t.vocab == 3);
  CHECK(t.num_classes == 4);
  for (const auto& e : t.train) {
    for (int i = 0; i < 16; ++i) {
      CHECK((e.tokens[i] == 1 || e.tokens[i] == 2));
      const int left = i > 0 ? e.tokens[i - 1] - 1 : 0, right = i < 15 ? e.tokens[i + 1] - 1 : 0;
      CHECK(e.targets[i] == left + (e.tokens[i] - 1) + right);
    }
  }
}

TEST_CASE("task_options_are_validated_before_generating", "[task]") {
  auto err = [](const Options& o) {
    try {
      make_task(o, 1);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(err({{"task", "copy"}}) ==
        "train: option task: 'copy' is not one of mqar, listops, selective_copy, local_count, tsv");
  CHECK(err({{"seq", "abc"}}) == "train: option seq: 'abc' is not an integer in [8, 4096]");
  CHECK(err({{"seq", "4"}}) == "train: option seq: '4' is out of range (an integer in [8, 4096])");
  CHECK(err({{"seq", "64x"}}) == "train: option seq: '64x' is not an integer in [8, 4096]");
  CHECK(err({{"train_size", "0"}}) ==
        "train: option train_size: '0' is out of range (an integer in [1, 1000000])");
  CHECK(err({{"kv_pairs", "30"}}) ==
        "train: task=mqar: kv_pairs=30 needs seq >= 3 * kv_pairs = 90, got seq=64");
  CHECK_THAT(err({{"kv_pairs", "10"}, {"vocab_size", "16"}}),
             Contains("vocab_size=16 has 7 keys, fewer than kv_pairs=10"));
  CHECK(err({{"task", "listops"}, {"kv_pairs", "4"}}) ==
        "train: option kv_pairs=4 applies to task mqar, not task=listops");
  CHECK(err({{"task", "tsv"}, {"train_size", "4"}}) ==
        "train: option train_size=4 applies to task mqar|listops|selective_copy|local_count, not "
        "task=tsv");
  CHECK(err({{"task", "tsv"}, {"train", "x.tsv"}}) ==
        "train: task=tsv needs options train=PATH and test=PATH (sentence<TAB>label files)");
  CHECK(err({{"task", "selective_copy"}, {"copy_tokens", "40"}}) ==
        "train: task=selective_copy: copy_tokens=40 needs seq >= 80, got seq=64");
  CHECK_THAT(err({{"seq", "4096"}, {"train_size", "100000"}}), Contains("is over 50000000"));
  CHECK(err({{"task", "local_count"}, {"window", "4"}}) ==
        "train: task=local_count: window=4 is not odd");
  CHECK(err({{"task", "local_count"}, {"window", "31"}, {"seq", "16"}}) ==
        "train: task=local_count: window=31 is longer than seq=16");
  CHECK(err({{"task", "listops"}, {"max_args", "1"}}) ==
        "train: option max_args: '1' is out of range (an integer in [2, 16])");
}

TEST_CASE("task_tsv_errors_name_file_and_line", "[task]") {
  TempDir dir;
  const auto good = dir.write("good.tsv", "sentence\tlabel\na b\t0\nc\t2\n");
  auto err = [&](const std::string& train_text) {
    const auto p = dir.write("bad.tsv", train_text);
    try {
      make_task({{"task", "tsv"}, {"train", p}, {"test", good}}, 1);
    } catch (const InputError& e) {
      std::string m = e.what();
      const auto at = m.find(p);
      return at == std::string::npos ? "path missing: " + m : m.replace(at, p.size(), "F");
    }
    return std::string("no error");
  };
  CHECK(err("") ==
        "task=tsv: train=F: empty file (expected a header 'sentence<TAB>label' and examples)");
  CHECK(err("sentence\tlabel\n") == "task=tsv: train=F: no examples after the header");
  CHECK(err("a b\t0\nc\t1\n") ==
        "task=tsv: train=F:1: missing header: expected columns 'sentence' and 'label' separated by "
        "a tab, got 'a b\t0'");
  CHECK(err("sentence\tlabel\nok\t1\nno tab here\n") ==
        "task=tsv: train=F:3: expected 2 tab-separated fields as in the header, got 1");
  CHECK(err("sentence\tlabel\nok\t1\nbad\tpos\n") ==
        "task=tsv: train=F:3: label 'pos' is not an integer in [0, 9999]");
  CHECK(err("sentence\tlabel\nok\t-1\n") ==
        "task=tsv: train=F:2: label '-1' is not an integer in [0, 9999]");
  CHECK(err("sentence\tlabel\nok\t1.5\n") ==
        "task=tsv: train=F:2: label '1.5' is not an integer in [0, 9999]");
  const auto missing = (dir.path / "nope.tsv").string();
  CHECK_THROWS_WITH(make_task({{"task", "tsv"}, {"train", missing}, {"test", good}}, 1),
                    "task=tsv: train=" + missing + ": cannot open file");
  CHECK_THROWS_WITH(
      make_task({{"task", "tsv"}, {"train", good}, {"test", good}, {"vocab", missing}}, 1),
      "task=tsv: vocab=" + missing + ": cannot open file");
  const auto bad_vocab = dir.write("vocab.txt", "hello\n[UNK]\n[CLS]\n");
  CHECK_THROWS_WITH(
      make_task({{"task", "tsv"}, {"train", good}, {"test", good}, {"vocab", bad_vocab}}, 1),
      "task=tsv: vocab=" + bad_vocab + ":1: expected [PAD] as token 0, got 'hello'");
}

TEST_CASE("task_tsv_bytes_cls_padding_classes_and_baseline", "[task]") {
  TempDir dir;
  // Extra columns in any order, CRLF line ends and a blank line are accepted.
  const auto train = dir.write("train.tsv", "label\tsentence\r\n1\tab\r\n\r\n0\tc\r\n");
  const auto test =
      dir.write("test.tsv", "sentence\tlabel\nxyz\t2\nq\t2\nr\t0\nlong sentence here\t1\n");
  const auto t = make_task({{"task", "tsv"}, {"train", train}, {"test", test}, {"seq", "8"}}, 1);
  CHECK(t.vocab == 258);
  CHECK(t.num_classes == 3);
  CHECK(!t.token_level);
  REQUIRE(t.train.size() == 2);
  REQUIRE(t.test.size() == 4);
  CHECK(t.train[0].tokens == std::vector<std::int32_t>{1, 'a' + 2, 'b' + 2, 0, 0, 0, 0, 0});
  CHECK(t.train[0].targets == std::vector<std::int32_t>{1});
  // Truncated to seq, [CLS] first.
  CHECK(t.test[3].tokens == std::vector<std::int32_t>{1, 'l' + 2, 'o' + 2, 'n' + 2, 'g' + 2,
                                                      ' ' + 2, 's' + 2, 'e' + 2});
  CHECK(t.majority_baseline == Approx(0.5));
}

TEST_CASE("tokenizer_wordpiece_greedy_longest_match", "[tokenizer]") {
  // The example of BERT's README, on a toy vocabulary.
  const WordPieceTokenizer wp(
      {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "a", "##a"});
  CHECK(wp.tokenize("unaffable") == std::vector<std::string>{"un", "##aff", "##able"});
  CHECK(wp.encode("unaffable") == std::vector<std::int32_t>{4, 5, 6});
  CHECK(wp.tokenize("unaffablex a") == std::vector<std::string>{"[UNK]", "a"});  // no segmentation
  CHECK(wp.tokenize(std::string(100, 'a')).size() == 100);
  CHECK(wp.tokenize(std::string(101, 'a')) == std::vector<std::string>{"[UNK]"});  // over 100 chars
  CHECK(encode_example(wp, "a unaffable", 6) == std::vector<std::int32_t>{2, 7, 4, 5, 6, 3});
  CHECK(encode_example(wp, "a unaffable", 5) ==
        std::vector<std::int32_t>{2, 7, 4, 5, 3});  // [SEP] kept
  CHECK(encode_example(wp, "a", 5) == std::vector<std::int32_t>{2, 7, 3, 0, 0});
}

TEST_CASE("tokenizer_basic_lowercases_strips_accents_splits_punctuation", "[tokenizer]") {
  using V = std::vector<std::string>;
  CHECK(basic_tokenize("Hello, World!") == V{"hello", ",", "world", "!"});
  CHECK(basic_tokenize("  na\xC3\xAFve   CAF\xC3\x89\t") == V{"naive", "cafe"});  // naïve CAFÉ
  CHECK(basic_tokenize("e\xCC\x81t\xC3\xA9") == V{"ete"});                        // combining acute
  CHECK(basic_tokenize("\xC3\x86sir \xC3\x98l \xC5\x81\xC3\xB3"
                       "d\xC5\xBA") == V{"\xC3\xA6sir", "\xC3\xB8l", "\xC5\x82odz"});
  CHECK(basic_tokenize("\xD0\x81\xD0\xBB\xD0\xBA\xD0\x90") ==
        V{"\xD0\xB5\xD0\xBB\xD0\xBA\xD0\xB0"});  // Ёлка -> елка
  CHECK(basic_tokenize("\xE4\xB8\xAD\xE6\x96\x87ok") ==
        V{"\xE4\xB8\xAD", "\xE6\x96\x87", "ok"});  // CJK split
  CHECK(basic_tokenize("a\x01"
                       "b\xE2\x80\x94"
                       "c") == V{"ab", "\xE2\x80\x94", "c"});  // control dropped, em dash
  CHECK(basic_tokenize("x\xFFy") == V{"xy"});                  // invalid UTF-8 dropped as U+FFFD
  CHECK(basic_tokenize("don't") == V{"don", "'", "t"});
}

TEST_CASE("tokenizer_bert_uncased_vocab_known_tokenizations", "[tokenizer]") {
  const auto wp = WordPieceTokenizer::from_file(test::test_data("bert_uncased_vocab.txt"));
  CHECK(wp->vocab_size() == 30522);
  CHECK(wp->cls_id() == 101);
  CHECK(wp->sep_id() == 102);
  CHECK(wp->id("[UNK]") == 100);
  // Hugging Face's bert-base-uncased: "Hello, my dog is cute" -> [101, 7592, 1010, 2026, 3899,
  // 2003, 10140, 102].
  CHECK(encode_example(*wp, "Hello, my dog is cute", 10) ==
        std::vector<std::int32_t>{101, 7592, 1010, 2026, 3899, 2003, 10140, 102, 0, 0});
  // With the real vocabulary "unaffable" is una ##ffa ##ble (README's un ##aff ##able uses a toy
  // one).
  CHECK(wp->tokenize("unaffable") == std::vector<std::string>{"una", "##ffa", "##ble"});
  CHECK(wp->encode("unaffable") == std::vector<std::int32_t>{14477, 20961, 3468});
  CHECK(wp->tokenize("Jim Henson was a puppeteer") ==
        std::vector<std::string>{"jim", "henson", "was", "a", "puppet", "##eer"});
  CHECK(wp->encode("Who was Jim Henson ?") ==
        std::vector<std::int32_t>{2040, 2001, 3958, 27227, 1029});
  CHECK(wp->tokenize("Na\xC3\xAFve caf\xC3\xA9") == std::vector<std::string>{"naive", "cafe"});
  CHECK(wp->encode("\xE2\x98\x83\xE2\x98\x83\xE2\x98\x83zzqx") == std::vector<std::int32_t>{100});
}

TEST_CASE("task_tsv_loads_sst2_with_wordpiece", "[task]") {
  const auto t = make_task({{"task", "tsv"},
                            {"train", test::test_data("sst2/train.tsv")},
                            {"test", test::test_data("sst2/test.tsv")},
                            {"vocab", test::test_data("bert_uncased_vocab.txt")}},
                           1);
  CHECK(t.train.size() == 1000);
  CHECK(t.test.size() == 1821);
  CHECK(t.num_classes == 2);
  CHECK(t.vocab == 30522);
  // 917 of the 1,821 test sentences are negative (label 0).
  CHECK(t.majority_baseline == Approx(917.0 / 1821.0));
  int unk = 0, tokens = 0, truncated = 0;
  for (const auto& e : t.train) {
    REQUIRE(e.tokens.size() == 64);
    CHECK(e.tokens[0] == 101);
    for (auto id : e.tokens) {
      tokens += id != 0;
      unk += id == 100;
    }
    truncated += e.tokens.back() != 0;
  }
  CHECK(unk * 200 < tokens);  // under 0.5% [UNK] on lower-cased English
  CHECK(truncated < 20);
  // "hide new secretions from the parental units" (train line 2).
  CHECK(t.train[0].tokens[1] == 5342);
  CHECK(t.train[0].targets[0] == 0);
}
