//===- TokenizeMain.cpp - lowbit-tokenize command line tool ---------------===//
//
// Part of the lowbit runtime. This file does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Encodes or decodes with a tokenizer.json:
///
///   lowbit-tokenize --tokenizer F --encode TEXT [--bos]
///   lowbit-tokenize --tokenizer F --encode-file F [--bos]
///   lowbit-tokenize --tokenizer F --encode-batch F [--bos]
///   lowbit-tokenize --tokenizer F --decode "IDS" [--keep-special]
///   lowbit-tokenize --tokenizer F --decode-stream "IDS"
///   lowbit-tokenize --tokenizer F --decode-batch F [--stream] [--keep-special]
///
/// Encoding prints the ids separated by spaces and a newline; --encode-batch
/// reads texts separated by NUL bytes and prints one line per text. Decoding
/// prints the text exactly (no newline added); --decode-stream concatenates
/// the streaming pieces of decodeToken(). --decode-batch reads one id list per
/// line and prints each text followed by a NUL byte (with --stream, as
/// --decode-stream does). IDS are separated by spaces or commas.
///
//===----------------------------------------------------------------------===//

#include "lowbitrt/Tokenizer.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

using lowbit::rt::Tokenizer;

static int usage() {
  std::cerr << "usage: lowbit-tokenize --tokenizer FILE\n"
               "         (--encode TEXT | --encode-file FILE | --encode-batch "
               "FILE | --decode IDS | --decode-stream IDS | --decode-batch "
               "FILE)\n"
               "         [--bos] [--keep-special] [--stream]\n";
  return 2;
}

static bool readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

static bool parseIds(const std::string &text, std::vector<int32_t> &ids) {
  std::string s = text;
  for (char &c : s)
    if (c == ',')
      c = ' ';
  std::istringstream in(s);
  long long v;
  while (in >> v) {
    if (v < INT32_MIN || v > INT32_MAX)
      return false;
    ids.push_back(static_cast<int32_t>(v));
  }
  return in.eof();
}

static bool printIds(const Tokenizer &tok, std::string_view text, bool bos) {
  std::vector<int32_t> ids;
  std::string err;
  if (!tok.encode(text, bos, ids, err)) {
    std::cerr << "lowbit-tokenize: " << err << "\n";
    return false;
  }
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i)
      line += ' ';
    line += std::to_string(ids[i]);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  return true;
}

int main(int argc, char **argv) {
  std::string tokenizerPath, mode, arg;
  bool bos = false, keepSpecial = false, stream = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--bos") {
      bos = true;
    } else if (a == "--keep-special") {
      keepSpecial = true;
    } else if (a == "--stream") {
      stream = true;
    } else if (i + 1 < argc &&
               (a == "--tokenizer" || a == "--encode" || a == "--encode-file" ||
                a == "--encode-batch" || a == "--decode" ||
                a == "--decode-stream" || a == "--decode-batch")) {
      if (a == "--tokenizer") {
        tokenizerPath = argv[++i];
      } else {
        if (!mode.empty())
          return usage();
        mode = a;
        arg = argv[++i];
      }
    } else {
      return usage();
    }
  }
  if (tokenizerPath.empty() || mode.empty())
    return usage();

  std::string err;
  std::unique_ptr<Tokenizer> tok = Tokenizer::fromFile(tokenizerPath, err);
  if (!tok) {
    std::cerr << "lowbit-tokenize: " << err << "\n";
    return 1;
  }

  if (mode == "--encode")
    return printIds(*tok, arg, bos) ? 0 : 1;
  if (mode == "--encode-file" || mode == "--encode-batch") {
    std::string text;
    if (!readFile(arg, text)) {
      std::cerr << "lowbit-tokenize: cannot read '" << arg << "'\n";
      return 1;
    }
    if (mode == "--encode-file")
      return printIds(*tok, text, bos) ? 0 : 1;
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\0', start);
      if (end == std::string::npos)
        end = text.size();
      if (!printIds(*tok, std::string_view(text).substr(start, end - start),
                    bos))
        return 1;
      start = end + 1;
    }
    return 0;
  }

  auto decode = [&](const std::string &list, bool streaming, std::string &out) {
    std::vector<int32_t> ids;
    if (!parseIds(list, ids)) {
      std::cerr << "lowbit-tokenize: bad id list '" << list << "'\n";
      return false;
    }
    if (!streaming) {
      out += tok->decode(ids, !keepSpecial);
      return true;
    }
    int32_t prev = -1;
    for (int32_t id : ids) {
      out += tok->decodeToken(prev, id);
      prev = id;
    }
    return true;
  };

  std::string out;
  if (mode == "--decode-batch") {
    std::ifstream in(arg);
    if (!in) {
      std::cerr << "lowbit-tokenize: cannot read '" << arg << "'\n";
      return 1;
    }
    std::string line;
    while (std::getline(in, line)) {
      if (!decode(line, stream, out))
        return 1;
      out += '\0';
    }
  } else if (!decode(arg, mode == "--decode-stream", out)) {
    return 1;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
