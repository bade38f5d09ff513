#include "evaluators/train/tokenizer.hpp"

#include <cassert>
#include <fstream>

#include "core/error.hpp"

namespace flexnas::train {

namespace {

constexpr char32_t kInvalid = 0xFFFD;

// Code points of UTF-8 text; invalid sequences decode to U+FFFD.
std::u32string decode(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int n = 0;
    char32_t cp = 0;
    if (b < 0x80) {
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      n = 1, cp = b & 0x1Fu;
    } else if ((b & 0xF0) == 0xE0) {
      n = 2, cp = b & 0x0Fu;
    } else if ((b & 0xF8) == 0xF0) {
      n = 3, cp = b & 0x07u;
    } else {
      out.push_back(kInvalid);
      ++i;
      continue;
    }
    bool ok = i + static_cast<std::size_t>(n) < s.size();
    for (int k = 1; ok && k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((c & 0xC0) != 0x80)
        ok = false;
      else
        cp = (cp << 6) | (c & 0x3Fu);
    }
    if (!ok) {
      out.push_back(kInvalid);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += static_cast<std::size_t>(n) + 1;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_whitespace(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Unicode categories C* (control, format) as BERT's _is_control, less \t \n \r.
bool is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0xAD || (c >= 0x200B && c <= 0x200F) ||
         (c >= 0x2028 && c <= 0x202E) || (c >= 0x2060 && c <= 0x2064) || c == 0xFEFF ||
         (c >= 0xE000 && c <= 0xF8FF);
}

bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126))
    return true;
  switch (c) {
    case 0xA1:
    case 0xA7:
    case 0xAB:
    case 0xB6:
    case 0xB7:
    case 0xBB:
    case 0xBF:
      return true;
    default:
      break;
  }
  return (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205E) ||
         (c >= 0x3001 && c <= 0x3003) || (c >= 0x3008 && c <= 0x3011) ||
         (c >= 0x3014 && c <= 0x301F) || (c >= 0xFF01 && c <= 0xFF0F) ||
         (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
         (c >= 0xFF5B && c <= 0xFF65);
}

bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Lower case, then canonical decomposition without its combining marks (BERT's
// _run_strip_accents), tabulated from Unicode for the blocks BERT's uncased vocab covers most:
// Latin-1, Latin Extended-A, Greek and Cyrillic (a letter without a decomposition maps to its
// lower case). 0 = drop (a combining mark).
// U+00C0..U+017F
constexpr char16_t kLatin[] = {
    0x061, 0x061, 0x061, 0x061, 0x061, 0x061, 0x0E6, 0x063, 0x065, 0x065, 0x065, 0x065, 0x069,
    0x069, 0x069, 0x069, 0x0F0, 0x06E, 0x06F, 0x06F, 0x06F, 0x06F, 0x06F, 0x0D7, 0x0F8, 0x075,
    0x075, 0x075, 0x075, 0x079, 0x0FE, 0x0DF, 0x061, 0x061, 0x061, 0x061, 0x061, 0x061, 0x0E6,
    0x063, 0x065, 0x065, 0x065, 0x065, 0x069, 0x069, 0x069, 0x069, 0x0F0, 0x06E, 0x06F, 0x06F,
    0x06F, 0x06F, 0x06F, 0x0F7, 0x0F8, 0x075, 0x075, 0x075, 0x075, 0x079, 0x0FE, 0x079, 0x061,
    0x061, 0x061, 0x061, 0x061, 0x061, 0x063, 0x063, 0x063, 0x063, 0x063, 0x063, 0x063, 0x063,
    0x064, 0x064, 0x111, 0x111, 0x065, 0x065, 0x065, 0x065, 0x065, 0x065, 0x065, 0x065, 0x065,
    0x065, 0x067, 0x067, 0x067, 0x067, 0x067, 0x067, 0x067, 0x067, 0x068, 0x068, 0x127, 0x127,
    0x069, 0x069, 0x069, 0x069, 0x069, 0x069, 0x069, 0x069, 0x069, 0x131, 0x133, 0x133, 0x06A,
    0x06A, 0x06B, 0x06B, 0x138, 0x06C, 0x06C, 0x06C, 0x06C, 0x06C, 0x06C, 0x140, 0x140, 0x142,
    0x142, 0x06E, 0x06E, 0x06E, 0x06E, 0x06E, 0x06E, 0x149, 0x14B, 0x14B, 0x06F, 0x06F, 0x06F,
    0x06F, 0x06F, 0x06F, 0x153, 0x153, 0x072, 0x072, 0x072, 0x072, 0x072, 0x072, 0x073, 0x073,
    0x073, 0x073, 0x073, 0x073, 0x073, 0x073, 0x074, 0x074, 0x074, 0x074, 0x167, 0x167, 0x075,
    0x075, 0x075, 0x075, 0x075, 0x075, 0x075, 0x075, 0x075, 0x075, 0x075, 0x075, 0x077, 0x077,
    0x079, 0x079, 0x079, 0x07A, 0x07A, 0x07A, 0x07A, 0x07A, 0x07A, 0x17F,
};
// U+0386..U+03CF
constexpr char16_t kGreek[] = {
    0x3B1, 0x0B7, 0x3B5, 0x3B7, 0x3B9, 0x38B, 0x3BF, 0x38D, 0x3C5, 0x3C9, 0x3B9, 0x3B1, 0x3B2,
    0x3B3, 0x3B4, 0x3B5, 0x3B6, 0x3B7, 0x3B8, 0x3B9, 0x3BA, 0x3BB, 0x3BC, 0x3BD, 0x3BE, 0x3BF,
    0x3C0, 0x3C1, 0x3A2, 0x3C3, 0x3C4, 0x3C5, 0x3C6, 0x3C7, 0x3C8, 0x3C9, 0x3B9, 0x3C5, 0x3B1,
    0x3B5, 0x3B7, 0x3B9, 0x3C5, 0x3B1, 0x3B2, 0x3B3, 0x3B4, 0x3B5, 0x3B6, 0x3B7, 0x3B8, 0x3B9,
    0x3BA, 0x3BB, 0x3BC, 0x3BD, 0x3BE, 0x3BF, 0x3C0, 0x3C1, 0x3C2, 0x3C3, 0x3C4, 0x3C5, 0x3C6,
    0x3C7, 0x3C8, 0x3C9, 0x3B9, 0x3C5, 0x3BF, 0x3C5, 0x3C9, 0x3D7,
};
// U+0400..U+045F
constexpr char16_t kCyrillic[] = {
    0x435, 0x435, 0x452, 0x433, 0x454, 0x455, 0x456, 0x456, 0x458, 0x459, 0x45A, 0x45B,
    0x43A, 0x438, 0x443, 0x45F, 0x430, 0x431, 0x432, 0x433, 0x434, 0x435, 0x436, 0x437,
    0x438, 0x438, 0x43A, 0x43B, 0x43C, 0x43D, 0x43E, 0x43F, 0x440, 0x441, 0x442, 0x443,
    0x444, 0x445, 0x446, 0x447, 0x448, 0x449, 0x44A, 0x44B, 0x44C, 0x44D, 0x44E, 0x44F,
    0x430, 0x431, 0x432, 0x433, 0x434, 0x435, 0x436, 0x437, 0x438, 0x438, 0x43A, 0x43B,
    0x43C, 0x43D, 0x43E, 0x43F, 0x440, 0x441, 0x442, 0x443, 0x444, 0x445, 0x446, 0x447,
    0x448, 0x449, 0x44A, 0x44B, 0x44C, 0x44D, 0x44E, 0x44F, 0x435, 0x435, 0x452, 0x433,
    0x454, 0x455, 0x456, 0x456, 0x458, 0x459, 0x45A, 0x45B, 0x43A, 0x438, 0x443, 0x45F,
};

char32_t lower_strip(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c >= 0xC0 && c <= 0x17F) return kLatin[c - 0xC0];
  if (c >= 0x300 && c <= 0x36F) return 0;
  if (c >= 0x386 && c <= 0x3CF) return kGreek[c - 0x386];
  if (c >= 0x400 && c <= 0x45F) return kCyrillic[c - 0x400];
  return c;
}

}  // namespace

std::vector<std::string> basic_tokenize(const std::string& utf8) {
  std::vector<std::string> out;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) out.push_back(std::move(word));
    word.clear();
  };
  for (char32_t c : decode(utf8)) {
    if (c == 0 || c == kInvalid || is_control(c)) continue;
    if (is_whitespace(c)) {
      flush();
      continue;
    }
    if (is_cjk(c) || is_punctuation(c)) {
      flush();
      append_utf8(word, c);
      flush();
      continue;
    }
    const char32_t l = lower_strip(c);
    if (l != 0) append_utf8(word, l);
  }
  flush();
  return out;
}

std::unique_ptr<WordPieceTokenizer> WordPieceTokenizer::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("task=tsv: vocab=" + path + ": cannot open file");
  std::vector<std::string> vocab;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.push_back(line);
  }
  if (vocab.empty())
    throw InputError("task=tsv: vocab=" + path +
                     ": empty file (expected a BERT vocab.txt, one token a line)");
  if (vocab[0] != "[PAD]")
    throw InputError("task=tsv: vocab=" + path + ":1: expected [PAD] as token 0, got '" + vocab[0] +
                     "'");
  for (const char* need : {"[UNK]", "[CLS]"}) {
    bool found = false;
    for (const auto& t : vocab) found = found || t == need;
    if (!found) throw InputError("task=tsv: vocab=" + path + ": no " + need + " token");
  }
  return std::make_unique<WordPieceTokenizer>(vocab);
}

WordPieceTokenizer::WordPieceTokenizer(const std::vector<std::string>& vocab) : tokens_(vocab) {
  for (std::size_t i = 0; i < vocab.size(); ++i)
    ids_.emplace(vocab[i], static_cast<std::int32_t>(i));
  unk_ = id("[UNK]");
  cls_ = id("[CLS]");
  sep_ = id("[SEP]");
  assert(!vocab.empty() && vocab[0] == "[PAD]" && unk_ >= 0 && cls_ >= 0);
}

std::int32_t WordPieceTokenizer::id(const std::string& token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

void WordPieceTokenizer::wordpiece(const std::string& word, std::vector<std::string>& out) const {
  // Byte offsets of code point starts, and the end.
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < word.size(); ++i)
    if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80) starts.push_back(i);
  constexpr std::size_t kMaxChars = 100;
  if (starts.size() > kMaxChars) {
    out.push_back("[UNK]");
    return;
  }
  starts.push_back(word.size());
  const std::size_t mark = out.size();
  std::size_t s = 0;
  while (s + 1 < starts.size()) {
    std::size_t e = starts.size() - 1;
    std::string piece;
    for (; e > s; --e) {
      piece = (s > 0 ? "##" : "") + word.substr(starts[s], starts[e] - starts[s]);
      if (ids_.count(piece)) break;
    }
    if (e == s) {
      out.resize(mark);
      out.push_back("[UNK]");
      return;
    }
    out.push_back(std::move(piece));
    s = e;
  }
}

std::vector<std::string> WordPieceTokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> out;
  for (const auto& w : basic_tokenize(text)) wordpiece(w, out);
  return out;
}

std::vector<std::int32_t> WordPieceTokenizer::encode(const std::string& text) const {
  std::vector<std::int32_t> ids;
  for (const auto& p : tokenize(text)) ids.push_back(p == "[UNK]" ? unk_ : id(p));
  return ids;
}

std::vector<std::int32_t> ByteTokenizer::encode(const std::string& text) const {
  std::vector<std::int32_t> ids;
  ids.reserve(text.size());
  for (char c : text) ids.push_back(static_cast<std::int32_t>(static_cast<unsigned char>(c)) + 2);
  return ids;
}

std::vector<std::int32_t> encode_example(const Tokenizer& t, const std::string& text, int seq) {
  assert(seq >= 2);
  std::vector<std::int32_t> out{t.cls_id()};
  const auto ids = t.encode(text);
  const std::size_t n = static_cast<std::size_t>(seq);
  const std::size_t room = n - 1 - (t.sep_id() >= 0 ? 1 : 0);
  out.insert(out.end(), ids.begin(),
             ids.begin() + static_cast<std::ptrdiff_t>(std::min(room, ids.size())));
  if (t.sep_id() >= 0) out.push_back(t.sep_id());
  out.resize(n, t.pad_id());
  return out;
}

}  // namespace flexnas::train
