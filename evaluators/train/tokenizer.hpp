#pragma once
// Tokenizers of the text-classification task: BERT's WordPiece with a vocab.txt (Devlin et
// al. 2019; Wu et al. 2016), or bytes when no vocabulary is given. Both map text to ids
// without special tokens; encode_example adds [CLS] (and [SEP]) and pads to a fixed length.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace flexnas::train {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<std::int32_t> encode(const std::string& text) const = 0;
  virtual int vocab_size() const = 0;
  virtual std::int32_t pad_id() const = 0;  // always 0
  virtual std::int32_t cls_id() const = 0;
  virtual std::int32_t sep_id() const = 0;  // -1: none
};

// BERT's BasicTokenizer for uncased models: drop control characters and U+FFFD, whitespace
// around CJK ideographs, lower-case, strip accents, split on whitespace and punctuation.
// Unicode coverage without ICU: lower-casing and accent stripping for Latin-1, Latin
// Extended-A, basic Greek and Cyrillic; combining marks U+0300-U+036F are removed; the
// punctuation set is ASCII plus the Latin-1, General and CJK punctuation blocks.
std::vector<std::string> basic_tokenize(const std::string& utf8);

class WordPieceTokenizer : public Tokenizer {
 public:
  // vocab.txt: one token a line, id = line number from 0. Requires [PAD] at id 0, [UNK] and
  // [CLS]; [SEP] is used when present. InputError naming the file otherwise.
  static std::unique_ptr<WordPieceTokenizer> from_file(const std::string& path);
  explicit WordPieceTokenizer(const std::vector<std::string>& vocab);  // assert-level checks

  // Greedy longest-match-first pieces ("unaffable" -> un ##aff ##able); a word with no
  // segmentation or over 100 characters becomes [UNK].
  std::vector<std::string> tokenize(const std::string& text) const;
  std::vector<std::int32_t> encode(const std::string& text) const override;
  std::int32_t id(const std::string& token) const;  // -1 when absent
  int vocab_size() const override { return static_cast<int>(tokens_.size()); }
  std::int32_t pad_id() const override { return 0; }
  std::int32_t cls_id() const override { return cls_; }
  std::int32_t sep_id() const override { return sep_; }

 private:
  void wordpiece(const std::string& word, std::vector<std::string>& out) const;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::int32_t> ids_;
  std::int32_t unk_ = -1, cls_ = -1, sep_ = -1;
};

// Bytes: id = byte + 2, 0 = [PAD], 1 = [CLS]; vocabulary 258.
class ByteTokenizer : public Tokenizer {
 public:
  std::vector<std::int32_t> encode(const std::string& text) const override;
  int vocab_size() const override { return 258; }
  std::int32_t pad_id() const override { return 0; }
  std::int32_t cls_id() const override { return 1; }
  std::int32_t sep_id() const override { return -1; }
};

// [CLS] ids... [SEP] truncated to `seq` (the [SEP] kept last, as BERT does), padded with 0.
std::vector<std::int32_t> encode_example(const Tokenizer& t, const std::string& text, int seq);

}  // namespace flexnas::train
