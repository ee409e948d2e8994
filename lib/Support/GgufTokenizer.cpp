//===- GgufTokenizer.cpp - Tokenizers from GGUF metadata ------------------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// Mirrors transformers' GGUF tokenizer conversion (integrations/gguf/
// gguf_tokenizer_mapping.py and the classes it hands the vocabulary to), so
// that the runtime tokenizer gives the ids transformers gives. See
// docs/gguf.md, "Tokenizer".
//
//===----------------------------------------------------------------------===//

#include "lowbit/Support/GgufTokenizer.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <array>
#include <map>

using namespace lowbit;
using llvm::StringRef;
using llvm::Twine;
namespace json = llvm::json;

namespace {

// llama.cpp's token types (tokenizer.ggml.token_type).
constexpr int64_t kTokenControl = 3;
constexpr int64_t kTokenUserDefined = 4;

// The pre-tokenizer regexes transformers uses for these `tokenizer.ggml.pre`
// values (GGUF_PRE_TOKENIZER_SPLITS); the others of the byte-level families
// keep GPT-2's ByteLevel regex.
constexpr const char *kLlama3Split =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char *kQwen2Split =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

struct PreTokenizerFamily {
  const char *name;
  /// nullptr: GPT-2's ByteLevel regex.
  const char *split;
};
constexpr PreTokenizerFamily kPreTokenizers[] = {
    {"default", nullptr},
    {"gpt2", nullptr},
    {"gpt-2", nullptr},
    {"smollm", nullptr},
    {"llama3", kLlama3Split},
    {"llama-v3", kLlama3Split},
    {"llama-bpe", kLlama3Split},
    {"falcon3", kLlama3Split},
    {"pixtral", kLlama3Split},
    {"dbrx", kLlama3Split},
    {"smaug-bpe", kLlama3Split},
    {"qwen2", kQwen2Split},
    {"deepseek-r1-qwen", kQwen2Split},
};

llvm::Error makeError(const Twine &message) {
  return llvm::make_error<llvm::StringError>(message.str(),
                                             llvm::inconvertibleErrorCode());
}

/// Splits `s` (valid UTF-8) into the byte offsets of its code points, plus
/// s.size() at the end.
std::vector<size_t> codePointOffsets(StringRef s) {
  std::vector<size_t> offsets;
  for (size_t i = 0; i < s.size();) {
    offsets.push_back(i);
    unsigned len = llvm::getNumBytesForUTF8(static_cast<uint8_t>(s[i]));
    i += std::max(1u, len);
  }
  offsets.push_back(s.size());
  return offsets;
}

/// GPT-2's bytes_to_unicode(): the code point each byte is spelled with.
std::array<uint32_t, 256> byteLevelCodePoints() {
  std::array<uint32_t, 256> cp{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                     (b >= 0xAE && b <= 0xFF);
    cp[b] = printable ? b : next++;
  }
  return cp;
}

std::string utf8Of(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
  return out;
}

/// Reads the tokenizer metadata of one file; errors name the file and key.
class Converter {
public:
  explicit Converter(const GgufFile &file) : file(file) {}
  llvm::Expected<GgufTokenizerJSON> run();

private:
  llvm::Error error(StringRef key, const Twine &message) const {
    return makeError(file.name() + ": metadata key '" + key + "': " + message);
  }
  /// The array at `key` with `size` elements of a type `accept` allows
  /// (nullptr when absent and not `required`).
  llvm::Expected<const GgufValue *>
  array(StringRef key, bool required, std::optional<uint64_t> size,
        llvm::function_ref<bool(GgufValueType)> accept, StringRef what) const;
  llvm::Error readTokenId(StringRef key, std::optional<int64_t> &out) const;
  llvm::Error readBool(StringRef key, std::optional<bool> &out) const;
  llvm::Expected<std::vector<std::pair<std::string, std::string>>>
  gpt2Merges(const GgufValue &merges) const;
  std::vector<std::pair<std::string, std::string>> llamaMerges() const;

  const GgufFile &file;
  std::vector<StringRef> tokens;
  /// Token to id; the last of duplicate tokens wins (as in a Python dict).
  llvm::StringMap<int64_t> vocab;
};

} // namespace

llvm::Expected<const GgufValue *>
Converter::array(StringRef key, bool required, std::optional<uint64_t> size,
                 llvm::function_ref<bool(GgufValueType)> accept,
                 StringRef what) const {
  const GgufValue *value = file.lookupMetadata(key);
  if (!value) {
    if (required)
      return makeError(file.name() + ": missing metadata key '" + key + "'");
    return nullptr;
  }
  if (!value->isArray() || !accept(value->elementType()))
    return error(key, "expected an array of " + what);
  if (size && value->size() != *size)
    return error(key, Twine(value->size()) + " elements, but there are " +
                          Twine(*size) + " tokens");
  return value;
}

llvm::Error Converter::readTokenId(StringRef key,
                                   std::optional<int64_t> &out) const {
  out.reset();
  const GgufValue *value = file.lookupMetadata(key);
  if (!value)
    return llvm::Error::success();
  std::optional<int64_t> id = value->getAsInt64();
  if (!id || *id < 0 || uint64_t(*id) >= tokens.size())
    return error(key, "not a token id (0.." + Twine(tokens.size() - 1) + ")");
  out = *id;
  return llvm::Error::success();
}

llvm::Error Converter::readBool(StringRef key, std::optional<bool> &out) const {
  out.reset();
  const GgufValue *value = file.lookupMetadata(key);
  if (!value)
    return llvm::Error::success();
  out = value->getAsBool();
  if (!out)
    return error(key, "expected a boolean");
  return llvm::Error::success();
}

llvm::Expected<std::vector<std::pair<std::string, std::string>>>
Converter::gpt2Merges(const GgufValue &merges) const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (uint64_t i = 0; i < merges.size(); ++i) {
    StringRef merge = *merges[i].getAsString();
    auto fail = [&](const Twine &message) {
      return error("tokenizer.ggml.merges",
                   "element " + Twine(i) + " ('" + merge + "'): " + message);
    };
    if (!llvm::json::isUTF8(merge))
      return fail("not UTF-8");
    auto [a, b] = merge.split(' ');
    if (merge.count(' ') != 1 || a.empty() || b.empty())
      return fail("expected two tokens separated by one space");
    if (!vocab.count(a) || !vocab.count(b) || !vocab.count((a + b).str()))
      return fail("a token or the merged token is not in the vocabulary");
    out.emplace_back(a.str(), b.str());
  }
  return out;
}

/// transformers' generate_merges(vocab, scores): every split of a token
/// into two tokens, ordered by the token's score (best first), then by the
/// lengths of the two parts (longer first); a token's own splits are ordered
/// by the ids of their parts. Python's stable sort is kept throughout.
std::vector<std::pair<std::string, std::string>>
Converter::llamaMerges() const {
  const GgufValue &scoreArray = *file.lookupMetadata("tokenizer.ggml.scores");
  // {token: score} in the order tokens first appear, holding the last score.
  llvm::StringMap<double> scoreOf;
  std::vector<StringRef> order;
  for (size_t i = 0; i < tokens.size(); ++i) {
    double score = *scoreArray[i].getAsDouble();
    auto [it, inserted] = scoreOf.try_emplace(tokens[i], score);
    if (inserted)
      order.push_back(tokens[i]);
    else
      it->second = score;
  }
  struct Merge {
    StringRef left, right;
    double score;
    size_t leftLen, rightLen;
  };
  std::vector<Merge> merges;
  for (StringRef token : order) {
    std::vector<size_t> cps = codePointOffsets(token);
    std::vector<Merge> local;
    size_t n = cps.size() - 1;
    for (size_t k = 1; k < n; ++k) {
      StringRef l = token.substr(0, cps[k]), r = token.substr(cps[k]);
      if (vocab.count(l) && vocab.count(r))
        local.push_back({l, r, scoreOf[token], k, n - k});
    }
    std::stable_sort(
        local.begin(), local.end(), [&](const Merge &x, const Merge &y) {
          int64_t xl = vocab.lookup(x.left), yl = vocab.lookup(y.left);
          if (xl != yl)
            return xl < yl;
          return vocab.lookup(x.right) < vocab.lookup(y.right);
        });
    llvm::append_range(merges, local);
  }
  // sorted(key=(score, len(l), len(r)), reverse=True) is stable: equal keys
  // keep their order.
  std::stable_sort(merges.begin(), merges.end(),
                   [](const Merge &x, const Merge &y) {
                     if (x.score != y.score)
                       return x.score > y.score;
                     if (x.leftLen != y.leftLen)
                       return x.leftLen > y.leftLen;
                     return x.rightLen > y.rightLen;
                   });
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const Merge &m : merges)
    out.emplace_back(m.left.str(), m.right.str());
  return out;
}

llvm::Expected<GgufTokenizerJSON> Converter::run() {
  const GgufValue *modelValue = file.lookupMetadata("tokenizer.ggml.model");
  if (!modelValue)
    return makeError(file.name() +
                     ": missing metadata key 'tokenizer.ggml.model'");
  std::optional<StringRef> model = modelValue->getAsString();
  if (!model)
    return error("tokenizer.ggml.model", "expected a string");
  bool byteLevel = *model == "gpt2";
  if (!byteLevel && *model != "llama")
    return error("tokenizer.ggml.model",
                 "tokenizer '" + *model +
                     "' is not supported (supported: gpt2, llama)");

  auto isString = [](GgufValueType t) { return t == GgufValueType::String; };
  auto isNumber = [](GgufValueType t) {
    return t != GgufValueType::String && t != GgufValueType::Array &&
           t != GgufValueType::Bool;
  };
  auto isInteger = [&](GgufValueType t) {
    return isNumber(t) && t != GgufValueType::Float32 &&
           t != GgufValueType::Float64;
  };
  llvm::Expected<const GgufValue *> tokenArray =
      array("tokenizer.ggml.tokens", true, std::nullopt, isString, "strings");
  if (!tokenArray)
    return tokenArray.takeError();
  if ((*tokenArray)->size() == 0 || (*tokenArray)->size() >= INT32_MAX)
    return error("tokenizer.ggml.tokens",
                 Twine((*tokenArray)->size()) + " tokens");
  uint64_t n = (*tokenArray)->size();
  tokens.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    StringRef token = *(**tokenArray)[i].getAsString();
    if (!json::isUTF8(token))
      return error("tokenizer.ggml.tokens",
                   "token " + Twine(i) + " is not valid UTF-8");
    if (token.empty())
      return error("tokenizer.ggml.tokens", "token " + Twine(i) + " is empty");
    tokens.push_back(token);
  }
  llvm::Expected<const GgufValue *> types =
      array("tokenizer.ggml.token_type", false, n, isInteger, "integers");
  if (!types)
    return types.takeError();
  llvm::Expected<const GgufValue *> scores =
      array("tokenizer.ggml.scores", !byteLevel, n, isNumber, "numbers");
  if (!scores)
    return scores.takeError();
  llvm::Expected<const GgufValue *> mergeArray = array(
      "tokenizer.ggml.merges", byteLevel, std::nullopt, isString, "strings");
  if (!mergeArray)
    return mergeArray.takeError();

  // The byte-level vocabulary spells every token in GPT-2's byte alphabet;
  // a token with any other character is respelled byte by byte.
  std::array<uint32_t, 256> byteCp = byteLevelCodePoints();
  llvm::DenseSet<uint32_t> alphabet(byteCp.begin(), byteCp.end());
  std::vector<std::string> spelled(n);
  auto inAlphabet = [&](StringRef token) {
    std::vector<size_t> cps = codePointOffsets(token);
    for (size_t k = 0; k + 1 < cps.size(); ++k) {
      const llvm::UTF8 *p =
          reinterpret_cast<const llvm::UTF8 *>(token.data() + cps[k]);
      llvm::UTF32 cp;
      llvm::UTF32 *dst = &cp;
      if (llvm::ConvertUTF8toUTF32(&p, p + (cps[k + 1] - cps[k]), &dst, dst + 1,
                                   llvm::strictConversion) !=
              llvm::conversionOK ||
          !alphabet.contains(cp))
        return false;
    }
    return true;
  };
  for (uint64_t i = 0; i < n; ++i) {
    if (!byteLevel || inAlphabet(tokens[i])) {
      spelled[i] = tokens[i].str();
      continue;
    }
    for (char c : tokens[i])
      spelled[i] += utf8Of(byteCp[uint8_t(c)]);
  }
  for (uint64_t i = 0; i < n; ++i)
    vocab[spelled[i]] = int64_t(i);

  std::optional<int64_t> bos, eos, unk, pad;
  if (llvm::Error err = readTokenId("tokenizer.ggml.bos_token_id", bos))
    return std::move(err);
  if (llvm::Error err = readTokenId("tokenizer.ggml.eos_token_id", eos))
    return std::move(err);
  if (llvm::Error err = readTokenId("tokenizer.ggml.unknown_token_id", unk))
    return std::move(err);
  if (llvm::Error err = readTokenId("tokenizer.ggml.padding_token_id", pad))
    return std::move(err);
  std::optional<bool> addBosSetting, addEosSetting;
  if (llvm::Error err = readBool("tokenizer.ggml.add_bos_token", addBosSetting))
    return std::move(err);
  if (llvm::Error err = readBool("tokenizer.ggml.add_eos_token", addEosSetting))
    return std::move(err);
  // llama.cpp adds BOS to a sentencepiece vocabulary that does not say
  // otherwise; transformers follows it.
  bool addBos = addBosSetting.value_or(!byteLevel);
  bool addEos = addEosSetting.value_or(false);

  json::Object modelJson;
  modelJson["type"] = "BPE";
  modelJson["dropout"] = nullptr;
  modelJson["unk_token"] = nullptr;
  modelJson["ignore_merges"] = false;
  std::vector<std::pair<std::string, std::string>> merges;
  json::Object out;
  if (byteLevel) {
    StringRef pre = "default";
    if (const GgufValue *preValue = file.lookupMetadata("tokenizer.ggml.pre")) {
      std::optional<StringRef> name = preValue->getAsString();
      if (!name)
        return error("tokenizer.ggml.pre", "expected a string");
      pre = *name;
    }
    const PreTokenizerFamily *family =
        llvm::find_if(kPreTokenizers, [&](const PreTokenizerFamily &f) {
          return pre == f.name;
        });
    if (family == std::end(kPreTokenizers))
      return error("tokenizer.ggml.pre",
                   "pre-tokenizer '" + pre + "' is not supported (supported: " +
                       ggufSupportedPreTokenizers() + ")");
    llvm::Expected<std::vector<std::pair<std::string, std::string>>>
        fileMerges = gpt2Merges(**mergeArray);
    if (!fileMerges)
      return fileMerges.takeError();
    merges = std::move(*fileMerges);
    modelJson["continuing_subword_prefix"] = "";
    modelJson["end_of_word_suffix"] = "";
    modelJson["fuse_unk"] = false;
    modelJson["byte_fallback"] = false;
    auto byteLevelStep = [](bool useRegex) {
      return json::Object{{"type", "ByteLevel"},
                          {"add_prefix_space", false},
                          {"trim_offsets", true},
                          {"use_regex", useRegex}};
    };
    out["normalizer"] = nullptr;
    if (family->split)
      out["pre_tokenizer"] = json::Object{
          {"type", "Sequence"},
          {"pretokenizers",
           json::Array{
               json::Object{{"type", "Split"},
                            {"pattern", json::Object{{"Regex", family->split}}},
                            {"behavior", "Isolated"},
                            {"invert", false}},
               byteLevelStep(false)}}};
    else
      out["pre_tokenizer"] = byteLevelStep(true);
    json::Object decoder = byteLevelStep(true);
    decoder["add_prefix_space"] = true;
    out["decoder"] = std::move(decoder);
  } else {
    // Merges come from the file when it has them.
    if (*mergeArray) {
      llvm::Expected<std::vector<std::pair<std::string, std::string>>>
          fileMerges = gpt2Merges(**mergeArray);
      if (!fileMerges)
        return fileMerges.takeError();
      merges = std::move(*fileMerges);
    } else {
      merges = llamaMerges();
    }
    modelJson["continuing_subword_prefix"] = nullptr;
    modelJson["end_of_word_suffix"] = nullptr;
    modelJson["fuse_unk"] = true;
    modelJson["byte_fallback"] = true;
    out["normalizer"] = nullptr;
    out["pre_tokenizer"] = json::Object{{"type", "Metaspace"},
                                        {"replacement", "\u2581"},
                                        {"prepend_scheme", "first"},
                                        {"split", false}};
    out["decoder"] = json::Object{
        {"type", "Sequence"},
        {"decoders",
         json::Array{
             json::Object{{"type", "Replace"},
                          {"pattern", json::Object{{"String", "\u2581"}}},
                          {"content", " "}},
             json::Object{{"type", "ByteFallback"}},
             json::Object{{"type", "Fuse"}},
             json::Object{{"type", "Strip"},
                          {"content", " "},
                          {"start", 1},
                          {"stop", 0}}}}};
  }
  json::Object vocabJson;
  for (const auto &entry : vocab)
    vocabJson[entry.getKey().str()] = entry.getValue();
  modelJson["vocab"] = std::move(vocabJson);
  json::Array mergesJson;
  mergesJson.reserve(merges.size());
  for (auto &[a, b] : merges)
    mergesJson.push_back(json::Array{std::move(a), std::move(b)});
  modelJson["merges"] = std::move(mergesJson);

  // Added tokens: CONTROL tokens (in a byte-level vocabulary only those
  // spelled in the byte alphabet) and the BOS/EOS/UNK/PAD tokens are
  // special; USER_DEFINED tokens are not.
  // transformers adds them by their text as the file spells it, so a token
  // takes the id that text has in the (respelled) vocabulary, and one whose
  // text is not in it (a byte-level token outside the alphabet) is left out.
  std::map<int64_t, bool> addedTokens; // id -> special
  auto addToken = [&](uint64_t i, bool special) {
    auto it = vocab.find(tokens[i]);
    if (it == vocab.end())
      return;
    if (special)
      addedTokens[it->second] = true;
    else
      addedTokens.emplace(it->second, false);
  };
  if (*types) {
    for (uint64_t i = 0; i < n; ++i) {
      std::optional<int64_t> type = (**types)[i].getAsInt64();
      if (type == kTokenControl)
        addToken(i, /*special=*/true);
      else if (type == kTokenUserDefined)
        addToken(i, /*special=*/false);
    }
  }
  for (const std::optional<int64_t> &id : {bos, eos, unk, pad})
    if (id)
      addToken(*id, /*special=*/true);
  json::Array added;
  for (auto [id, special] : addedTokens) {
    added.push_back(json::Object{{"id", id},
                                 {"content", spelled[id]},
                                 {"single_word", false},
                                 {"lstrip", false},
                                 {"rstrip", false},
                                 {"normalized", false},
                                 {"special", special}});
  }

  // The post-processor transformers' TokenizersBackend builds from
  // add_bos_token / add_eos_token.
  if (!bos)
    addBos = false;
  if (!eos)
    addEos = false;
  // json::Value and ObjectKey do not copy a StringRef: pass std::strings.
  auto special = [](const std::string &token, int typeId) -> json::Value {
    return json::Object{
        {"SpecialToken", json::Object{{"id", token}, {"type_id", typeId}}}};
  };
  auto sequence = [](const char *id, int typeId) -> json::Value {
    return json::Object{
        {"Sequence", json::Object{{"id", id}, {"type_id", typeId}}}};
  };
  std::string bosToken = bos ? spelled[*bos] : "";
  std::string eosToken = eos ? spelled[*eos] : "";
  json::Array single, pair;
  if (addBos)
    single.push_back(special(bosToken, 0));
  single.push_back(sequence("A", 0));
  if (addEos)
    single.push_back(special(eosToken, 0));
  pair = single;
  if (addBos)
    pair.push_back(special(bosToken, 1));
  pair.push_back(sequence("B", 1));
  if (addEos)
    pair.push_back(special(eosToken, 1));
  json::Object specialTokens;
  if (addBos)
    specialTokens[bosToken] = json::Object{{"id", bosToken},
                                           {"ids", json::Array{*bos}},
                                           {"tokens", json::Array{bosToken}}};
  if (addEos)
    specialTokens[eosToken] = json::Object{{"id", eosToken},
                                           {"ids", json::Array{*eos}},
                                           {"tokens", json::Array{eosToken}}};

  out["version"] = "1.0";
  out["truncation"] = nullptr;
  out["padding"] = nullptr;
  out["added_tokens"] = std::move(added);
  out["post_processor"] =
      json::Object{{"type", "TemplateProcessing"},
                   {"single", std::move(single)},
                   {"pair", std::move(pair)},
                   {"special_tokens", std::move(specialTokens)}};
  out["model"] = std::move(modelJson);

  GgufTokenizerJSON result;
  result.tokenizer = std::move(out);
  json::Object &config = result.tokenizerConfig;
  auto tokenOrNull = [&](const std::optional<int64_t> &id) -> json::Value {
    if (!id)
      return nullptr;
    return spelled[*id];
  };
  config["bos_token"] = tokenOrNull(bos);
  config["eos_token"] = tokenOrNull(eos);
  config["unk_token"] = tokenOrNull(unk);
  config["pad_token"] = tokenOrNull(pad);
  config["add_bos_token"] = addBos;
  config["add_eos_token"] = addEos;
  if (const GgufValue *tmpl = file.lookupMetadata("tokenizer.chat_template")) {
    std::optional<StringRef> text = tmpl->getAsString();
    if (!text || !json::isUTF8(*text))
      return error("tokenizer.chat_template", "expected a UTF-8 string");
    config["chat_template"] = text->str();
  }
  return result;
}

bool lowbit::ggufHasTokenizer(const GgufFile &file) {
  return file.lookupMetadata("tokenizer.ggml.model") != nullptr;
}

llvm::Expected<GgufTokenizerJSON>
lowbit::tokenizerFromGguf(const GgufFile &file) {
  return Converter(file).run();
}

StringRef lowbit::ggufSupportedPreTokenizers() {
  return "default, gpt2, gpt-2, smollm, llama3, llama-v3, llama-bpe, falcon3, "
         "pixtral, dbrx, smaug-bpe, qwen2, deepseek-r1-qwen";
}

llvm::Expected<TokenizerTexts> lowbit::loadTokenizerTexts(StringRef path) {
  TokenizerTexts texts;
  if (isGgufPath(path)) {
    llvm::Expected<std::unique_ptr<GgufFile>> file = GgufFile::open(path);
    if (!file)
      return file.takeError();
    llvm::Expected<GgufTokenizerJSON> converted = tokenizerFromGguf(**file);
    if (!converted)
      return converted.takeError();
    llvm::raw_string_ostream(texts.tokenizerJSON)
        << json::Value(std::move(converted->tokenizer));
    llvm::raw_string_ostream(texts.configJSON)
        << json::Value(std::move(converted->tokenizerConfig));
    return texts;
  }
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return makeError(path + ": " + buffer.getError().message());
  texts.tokenizerJSON = (*buffer)->getBuffer().str();
  llvm::SmallString<256> configPath(llvm::sys::path::parent_path(path));
  llvm::sys::path::append(configPath, "tokenizer_config.json");
  if (llvm::sys::fs::exists(configPath)) {
    auto config = llvm::MemoryBuffer::getFile(configPath);
    if (!config)
      return makeError(configPath + ": " + config.getError().message());
    texts.configJSON = (*config)->getBuffer().str();
  }
  return texts;
}
