#!/usr/bin/env python3
"""Writes a small GPT-2-style byte-level BPE tokenizer into a model directory.

    make_bytelevel_tokenizer.py DIR [--vocab 512]

DIR/tokenizer.json gets the 256 byte symbols, merges learned greedily from a
fixed corpus (most frequent pair first, ties by the pair's text) and, as the
last ids, the special tokens <|endoftext|> (BOS/EOS), <|im_start|>,
<|im_end|> and the non-special added token <think>. DIR/tokenizer_config.json
names BOS and EOS. Same arguments -> byte-identical files. With
hf_to_gguf.py --tokenizer gpt2 this gives byte-level GGUF tokenizers for
tests.
"""

import argparse
import collections
import json
import os
import re

CORPUS = """
The quick brown fox jumps over the lazy dog. Hello world! How are you today?
Once upon a time there was a little girl who lived in a village near the
forest. Whenever she went out, the little girl wore a red riding cloak, so
everyone in the village called her Little Red Riding Hood. def main():
    for i in range(10): print(i * 2)  # numbers 123 4567 89
return x + y; if (a < b) { c = d; } else { e = f; } naïve café résumé
It's the weather that we'll see; they're here and I'm there. 2024-01-01


    indented   by   spaces 12345 67890 1000000 314159 2718281828 4321 1234
		tabs		and


newlines
"""
# Enough text for a few hundred merges: made-up words of syllables.
SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ch", "sh", "qu", "th"]
CORPUS += " ".join(SYLLABLES[i % 12] + SYLLABLES[(i // 12) % 12] + SYLLABLES[(i // 3 + i) % 12]
                   for i in range(400))

SPECIALS = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
            ("<think>", False)]


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD))
          + list(range(0xAE, 0x100)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--vocab", type=int, default=512)
    args = ap.parse_args()
    spell = bytes_to_unicode()
    words = collections.Counter(
        "".join(spell[b] for b in w.encode("utf-8"))
        for w in re.findall(r" ?[A-Za-z\u00c0-\u024f]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+", CORPUS))
    vocab = [spell[b] for b in range(256)]
    merges = []
    seqs = {w: list(w) for w in words}
    n_merges = args.vocab - 256 - len(SPECIALS)
    while len(merges) < n_merges:
        pairs = collections.Counter()
        for w, count in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += count
        if not pairs:
            raise SystemExit("corpus too small for the vocabulary")
        (a, b), _ = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        merges.append(f"{a} {b}")
        vocab.append(a + b)
        for w in seqs:
            s, out, i = seqs[w], [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    ids = {t: i for i, t in enumerate(vocab)}
    added = []
    for content, special in SPECIALS:
        ids[content] = len(ids)
        added.append({"id": ids[content], "content": content, "single_word": False,
                      "lstrip": False, "rstrip": False, "normalized": False,
                      "special": special})
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None, "pre_tokenizer": byte_level,
        "post_processor": dict(byte_level), "decoder": dict(byte_level),
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: ids[t] for t in vocab}, "merges": merges},
    }
    with open(os.path.join(args.dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    with open(os.path.join(args.dir, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|im_end|>",
                   "add_bos_token": False}, f, indent=1)


if __name__ == "__main__":
    main()
