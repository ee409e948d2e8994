//===- TokenizerText.cpp - UTF-8, byte alphabet and regex helpers ---------===//
//
// Part of the lowbit runtime. This file does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// UTF-8 validation and repair, the GPT-2 byte-to-unicode alphabet, and the
/// PCRE2 wrapper used by the pre-tokenizers.
///
//===----------------------------------------------------------------------===//

#include "TokenizerInternal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace lowbit::rt::tok {

//===----------------------------------------------------------------------===//
// UTF-8
//===----------------------------------------------------------------------===//

/// Scans the UTF-8 sequence at `s[i]` following the table of well-formed byte
/// sequences (Unicode 15, table 3-7). Returns how many bytes form a prefix of
/// a well-formed sequence (at least 1) and sets `complete` when the sequence
/// is whole.
static size_t scanUtf8(std::string_view s, size_t i, bool &complete) {
  auto c = static_cast<unsigned char>(s[i]);
  complete = false;
  if (c < 0x80) {
    complete = true;
    return 1;
  }
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c == 0xE0) {
    need = 3;
    lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    need = 3;
  } else if (c == 0xED) {
    need = 3;
    hi = 0x9F;
  } else if (c == 0xF0) {
    need = 4;
    lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    need = 4;
  } else if (c == 0xF4) {
    need = 4;
    hi = 0x8F;
  } else {
    return 1;
  }
  size_t got = 1;
  while (got < need && i + got < s.size()) {
    auto b = static_cast<unsigned char>(s[i + got]);
    unsigned char l = got == 1 ? lo : 0x80, h = got == 1 ? hi : 0xBF;
    if (b < l || b > h)
      break;
    ++got;
  }
  complete = got == need;
  return got;
}

size_t utf8ValidLen(std::string_view s, size_t i) {
  bool complete;
  size_t n = scanUtf8(s, i, complete);
  return complete ? n : 0;
}

void appendUtf8(std::string &out, uint32_t cp) {
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

uint32_t decodeUtf8(std::string_view s, size_t i, size_t len) {
  auto b = [&](size_t k) {
    return uint32_t(static_cast<unsigned char>(s[i + k]));
  };
  switch (len) {
  case 1:
    return b(0);
  case 2:
    return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
  case 3:
    return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  default:
    return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) |
           ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

std::string utf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    bool complete;
    size_t n = scanUtf8(bytes, i, complete);
    if (complete)
      out.append(bytes.substr(i, n));
    else
      out += "\xEF\xBF\xBD";
    i += n;
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Byte-level alphabet
//===----------------------------------------------------------------------===//

static ByteLevelAlphabet buildByteLevelAlphabet() {
  ByteLevelAlphabet a;
  // Printable Latin-1 bytes stand for themselves; the others (controls,
  // space, 0x7F-0xA0, 0xAD) take the code points from 256 on, in byte order.
  auto selfMapped = [](unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
           (b >= 0xAE && b <= 0xFF);
  };
  uint32_t next = 256;
  for (unsigned b = 0; b < 256; ++b) {
    uint32_t cp = selfMapped(b) ? b : next++;
    appendUtf8(a.byteToUtf8[b], cp);
    a.codepointToByte[cp] = static_cast<uint8_t>(b);
  }
  return a;
}

const ByteLevelAlphabet &byteLevelAlphabet() {
  static const ByteLevelAlphabet alphabet = buildByteLevelAlphabet();
  return alphabet;
}

std::string byteLevelEncode(std::string_view text) {
  const ByteLevelAlphabet &a = byteLevelAlphabet();
  std::string out;
  out.reserve(text.size() * 2);
  for (char c : text)
    out += a.byteToUtf8[static_cast<unsigned char>(c)];
  return out;
}

//===----------------------------------------------------------------------===//
// Regex
//===----------------------------------------------------------------------===//

struct Regex::Code {
  pcre2_code *re = nullptr;
  std::string what;
  ~Code() {
    if (re)
      pcre2_code_free(re);
  }
};

static std::string pcre2Message(int code) {
  PCRE2_UCHAR buf[256];
  int n = pcre2_get_error_message(code, buf, sizeof(buf));
  if (n < 0)
    return "PCRE2 error " + std::to_string(code);
  return std::string(reinterpret_cast<const char *>(buf), size_t(n));
}

/// Oniguruma's `\w` in Unicode mode, as the `tokenizers` library sees it:
/// alphabetic, marks, decimal digits, connector punctuation, and the Latin-1
/// digits and fractions (PCRE2's own `\w` is letters, numbers and `_`).
static const char kOnigWordItems[] =
    "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}";

std::string onigCompatiblePattern(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  bool inClass = false;
  size_t classStart = 0; // index in `pattern` just after "[" or "[^"
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      char e = pattern[i + 1];
      if (e == 'Q') {
        // Quoted literal text runs to \E (or the end).
        size_t end = pattern.find("\\E", i + 2);
        end = end == std::string_view::npos ? pattern.size() : end + 2;
        out.append(pattern.substr(i, end - i));
        i = end - 1;
        continue;
      }
      ++i;
      if (e == 's') {
        out += "\\p{White_Space}";
      } else if (e == 'S') {
        out += "\\P{White_Space}";
      } else if (e == 'w') {
        out +=
            inClass ? kOnigWordItems : std::string("[") + kOnigWordItems + "]";
      } else if (e == 'W' && !inClass) {
        out += std::string("[^") + kOnigWordItems + "]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    out += c;
    if (!inClass) {
      if (c == '[') {
        inClass = true;
        classStart = i + 1;
        if (classStart < pattern.size() && pattern[classStart] == '^') {
          out += '^';
          ++i;
          ++classStart;
        }
      }
      continue;
    }
    if (c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      // A POSIX class such as [:alpha:] inside a bracket expression.
      size_t end = pattern.find(":]", i + 2);
      if (end != std::string_view::npos) {
        out.append(pattern.substr(i + 1, end + 2 - (i + 1)));
        i = end + 1;
      }
      continue;
    }
    if (c == ']' && i != classStart)
      inClass = false;
  }
  return out;
}

/// Compiles `pattern` with `options`; null and `errorCode` set on failure.
static pcre2_code *compilePattern(const std::string &pattern, uint32_t options,
                                  int &errorCode, PCRE2_SIZE &errorOffset) {
  return pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                       pattern.size(), options, &errorCode, &errorOffset,
                       nullptr);
}

Regex::Regex(const std::string &pattern, bool literal, const std::string &what)
    : code(std::make_unique<Code>()) {
  code->what = what;
  // PCRE2_LITERAL does not combine with PCRE2_UCP (which only matters for
  // character classes anyway).
  uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  options |= literal ? PCRE2_LITERAL : PCRE2_UCP;
  int errorCode = 0;
  PCRE2_SIZE errorOffset = 0;
  if (!literal) {
    // Prefer Oniguruma's meaning of \s and \w; PCRE2 older than 10.40 lacks
    // the binary properties this needs, and then gets the pattern as is.
    code->re = compilePattern(onigCompatiblePattern(pattern), options,
                              errorCode, errorOffset);
  }
  if (!code->re)
    code->re = compilePattern(pattern, options, errorCode, errorOffset);
  if (!code->re)
    throw TokenizerError(what + ": invalid regex at offset " +
                         std::to_string(errorOffset) + ": " +
                         pcre2Message(errorCode));
  // JIT is an optimisation only; the interpreter is used when it fails.
  (void)pcre2_jit_compile(code->re, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() = default;

namespace {
/// Owns the per-call PCRE2 match state.
struct MatchState {
  pcre2_match_data *data = nullptr;
  pcre2_match_context *context = nullptr;
  pcre2_jit_stack *stack = nullptr;
  explicit MatchState(const pcre2_code *re) {
    data = pcre2_match_data_create_from_pattern(re, nullptr);
    if (!data)
      throw std::bad_alloc();
  }
  ~MatchState() {
    if (stack)
      pcre2_jit_stack_free(stack);
    if (context)
      pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  /// Gives JIT matching a larger stack; false when that was done already.
  bool growJitStack() {
    if (stack)
      return false;
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 16 * 1024 * 1024, nullptr);
    if (!context || !stack)
      throw std::bad_alloc();
    pcre2_jit_stack_assign(context, nullptr, stack);
    return true;
  }
};
} // namespace

void Regex::findAll(std::string_view subject,
                    std::vector<std::pair<size_t, size_t>> &out) const {
  MatchState state(code->re);
  auto *subj = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t n = subject.size();
  size_t offset = 0;
  while (offset < n) {
    int rc =
        pcre2_match(code->re, subj, n, offset, 0, state.data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH)
      break;
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && state.growJitStack())
      continue;
    if (rc < 0)
      throw TokenizerError(code->what +
                           ": regex matching failed: " + pcre2Message(rc));
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(state.data);
    size_t start = ov[0], end = ov[1];
    if (start >= offset && end > start && end <= n) {
      out.emplace_back(start, end);
      offset = end;
      continue;
    }
    // An empty match (or a \K oddity): move on by one character.
    if (start > offset && start < n)
      offset = start;
    offset += utf8CharLen(subject, offset);
  }
}

bool Regex::matchesAt(std::string_view subject, size_t offset) const {
  if (offset > subject.size())
    return false;
  MatchState state(code->re);
  int rc =
      pcre2_match(code->re, reinterpret_cast<PCRE2_SPTR>(subject.data()),
                  subject.size(), offset, PCRE2_ANCHORED, state.data, nullptr);
  return rc >= 0;
}

} // namespace lowbit::rt::tok
