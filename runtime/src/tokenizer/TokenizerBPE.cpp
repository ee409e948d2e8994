//===- TokenizerBPE.cpp - BPE model: merges applied by rank ---------------===//
//
// Part of the lowbit runtime. This file does not depend on LLVM or MLIR.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The BPE model of tokenizer.json. A word is split into characters (unknown
/// characters become byte-fallback tokens or the unknown token), then merges
/// are applied lowest rank first, leftmost first among equal ranks. The
/// symbols form a doubly linked list and candidate merges sit in a binary
/// heap, so a word of n characters costs O(n log n) however long it is (a
/// sentencepiece-style tokenizer without pre-tokenizer sees a whole text as a
/// single word).
///
//===----------------------------------------------------------------------===//

#include "TokenizerInternal.h"

#include <queue>

namespace lowbit::rt::tok {

void BPEModel::addMerge(int32_t a, int32_t b, int32_t rank, int32_t merged) {
  // A repeated pair keeps its last definition, as in `tokenizers`.
  merges[pairKey(a, b)] = MergeInfo{rank, merged};
}

namespace {
struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  bool alive;
};

struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t merged;
  /// Orders the heap so that the lowest rank, then the leftmost position,
  /// comes out first.
  bool operator<(const Candidate &o) const {
    if (rank != o.rank)
      return rank > o.rank;
    return pos > o.pos;
  }
};
} // namespace

void BPEModel::tokenize(std::string_view word,
                        std::vector<int32_t> &out) const {
  if (word.empty())
    return;
  if (ignoreMerges) {
    if (auto id = find(word)) {
      out.push_back(*id);
      return;
    }
  }

  // Split into initial symbols.
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&](int32_t id) {
    int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back(Symbol{id, index - 1, -1, true});
    if (index > 0)
      symbols[index - 1].next = index;
  };
  bool pendingUnk = false;
  std::string key;
  for (size_t i = 0; i < word.size();) {
    size_t len = utf8CharLen(word, i);
    bool isFirst = i == 0, isLast = i + len == word.size();
    key.clear();
    if (!isFirst)
      key += continuingSubwordPrefix;
    key.append(word.substr(i, len));
    if (isLast)
      key += endOfWordSuffix;
    auto it = vocab.find(key);
    if (it != vocab.end()) {
      if (pendingUnk) {
        add(unkId);
        pendingUnk = false;
      }
      add(it->second);
    } else {
      bool handled = false;
      if (byteFallback) {
        bool all = true;
        for (char c : key)
          all = all && byteIds[static_cast<unsigned char>(c)] >= 0;
        if (all) {
          // Like `tokenizers`, a pending unknown token is not flushed here.
          for (char c : key)
            add(byteIds[static_cast<unsigned char>(c)]);
          handled = true;
        }
      }
      if (!handled && unkId >= 0) {
        if (pendingUnk && !fuseUnk)
          add(unkId);
        pendingUnk = true;
      }
    }
    i += len;
  }
  if (pendingUnk)
    add(unkId);

  // Apply merges by rank.
  std::vector<Candidate> storage;
  storage.reserve(symbols.size());
  std::priority_queue<Candidate> queue(std::less<Candidate>(),
                                       std::move(storage));
  auto consider = [&](int32_t pos) {
    int32_t next = symbols[pos].next;
    if (next < 0)
      return;
    auto it = merges.find(pairKey(symbols[pos].id, symbols[next].id));
    if (it != merges.end())
      queue.push(Candidate{it->second.rank, pos, it->second.merged});
  };
  for (int32_t pos = 0; pos + 1 < static_cast<int32_t>(symbols.size()); ++pos)
    consider(pos);
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol &left = symbols[top.pos];
    if (!left.alive || left.next < 0)
      continue;
    // Skip candidates made stale by earlier merges.
    auto it = merges.find(pairKey(left.id, symbols[left.next].id));
    if (it == merges.end() || it->second.merged != top.merged)
      continue;
    Symbol &right = symbols[left.next];
    left.id = top.merged;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0)
      symbols[right.next].prev = top.pos;
    if (left.prev >= 0)
      consider(left.prev);
    consider(top.pos);
  }

  for (const Symbol &s : symbols)
    if (s.alive)
      out.push_back(s.id);
}

} // namespace lowbit::rt::tok
