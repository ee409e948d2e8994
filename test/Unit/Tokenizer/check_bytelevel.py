#!/usr/bin/env python3
# ===- check_bytelevel.py - lowbit-tokenize vs the `tokenizers` package ---===#
#
# Builds small BPE tokenizers with the Hugging Face `tokenizers` package
# (GPT-2 style byte-level, Llama-3 and Qwen2 style Split + byte-level,
# sentencepiece style with byte fallback and added tokens, Metaspace, and the
# Split behaviours and regex classes), encodes tricky and random strings with
# both the package and lowbit-tokenize, and fails (exit 1, listing the first
# differences) on any difference in ids, decoded text or streamed text.
#
# usage: check_bytelevel.py PATH/TO/lowbit-tokenize [--keep DIR]
#
# Exits 77 (CTest "skipped") when the `tokenizers` package is unavailable.
#
# ===----------------------------------------------------------------------===#

import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

try:
    from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models,
                            normalizers, pre_tokenizers, processors,
                            trainers)
except ImportError:
    print("SKIP: the python 'tokenizers' package is not installed")
    sys.exit(77)

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

CORPUS = [
    "Once upon a time, there was a little girl named Lily. She loved to play "
    "outside in the sunshine with her dog Max.",
    "It's a lovely day, isn't it? We're going to the park; they've been "
    "there already. I'm sure you'll like it, he'd say.",
    "Numbers: 1, 12, 123, 1234, 2024-01-15, 3.14159, 1,000,000 and 42!",
    "Unicode: café, naïve, Zürich, Ångström, Ελληνικά, русский язык.",
    "中文文本测试，你好世界。日本語のテキスト、こんにちは。한국어 안녕하세요.",
    "Emoji 😀 😃 👍🏽 🎉 and symbols ∑ ∫ √ ∞ ≤ ≥ → ← © ®.",
    "def main():\n    print('hello')\n    return 0\n\n\nclass Foo:\n\tpass\n",
    "MIXED case WORDS And    multiple     spaces\t\ttabs\r\nwindows lines",
]

TRICKY = [
    "Hello world",
    "hello",
    " leading space",
    "trailing space ",
    "multiple   spaces   here",
    "  two leading",
    "tabs\tand\nnewlines\n\n\nmore",
    "\r\n windows \r\n line",
    "It's we're they've I'm you'll he'd she's",
    "IT'S WE'RE THEY'VE I'M YOU'LL HE'D",
    "numbers 1 12 123 1234 12345 123456 3.14159 1,000,000",
    "x1y22z333w4444",
    "emoji 😀😃 👍🏽 👨\u200d👩\u200d👧 🎉🎉🎉",
    "CJK 你好世界 こんにちは 안녕하세요",
    "Ünïcödé àéîõü ñ ß Æ Ø å",
    "mixed中文and English123abc",
    "",
    " ",
    "   ",
    "\n",
    "\n\n",
    "a",
    "!",
    "<|endoftext|>",
    "<|endoftext|>hello<|endoftext|> world",
    "special <|begin_of_text|> in middle <|eot_id|>",
    "<s>after bos",
    "text<s>inside</s> end",
    "punctuation!!! ??? ... --- ;;; ''' \"\"\"",
    "  \n  \n",
    "x  \t\n y",
    "ﬁ ligature ｆｕｌｌ ｗｉｄｔｈ",
    "combining e\u0301 a\u0308",
    "Ⅻ roman ①② ³ ½",
    "Arabic مرحبا بالعالم",
    "Devanagari नमस्ते दुनिया",
    "math ∑∫√∞ ≤≥",
    "\u00a0non-breaking\u00a0space\u2003em\u3000ideographic",
    "zero\u200bwidth",
    "'s 's 'S 'll'll",
    "a'b c'd",
    "line1\nline2\r\nline3\rline4",
    "   \t   ",
    "end with newline\n",
    "\u2581already\u2581metaspace",
    "foo bar FOO bar foobar",
    "ab x y xx y cab abab oo zoo oo! <mask> a  <mask>b",
    "phone 555 1234 5",
]

POOL = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") +
        list("0123456789") + list(" " * 10) + list("\n\t\r") +
        list(".,;:!?'\"-()[]{}<>/\\@#$%^&*_=+`~|") +
        list("éüñßøåçÆЖжΩλ你好世界こんにちは한국") +
        ["😀", "👍🏽", "\u0301", "\u00a0", "\u2581", "<s>", "</s>",
         "<|endoftext|>", "'s", "'ll", "123", "  ", "\r\n", "ab", "x y",
         "oo", " <mask>", "FOO", "bar",
         # Characters where regex engines disagree on \s and \w.
         "\u180e", "\u0085", "\u00b2", "\u00bd", "\u24b6", "\u203f",
         "\u200d", "\u2160", "\u0f33", "\u3000", "\u2028", "\u00a0x"])


def random_strings(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(0, 40)
        out.append("".join(rng.choice(POOL) for _ in range(k)))
    return out


def train_bpe(pre_tok, specials, vocab_size=400):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tok
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False)
    tok.train_from_iterator(CORPUS * 5, trainer)
    return tok


def gpt2(add_prefix_space):
    tok = train_bpe(
        pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space),
        ["<|endoftext|>"])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    return tok


def llama3():
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(
            pattern=Regex(LLAMA3_PATTERN),
            behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok = train_bpe(pre, ["<|begin_of_text|>", "<|end_of_text|>",
                          "<|eot_id|>"])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(
            single="<|begin_of_text|> $A",
            special_tokens=[("<|begin_of_text|>",
                             tok.token_to_id("<|begin_of_text|>"))]),
    ])
    data = json.loads(tok.to_str())
    data["model"]["ignore_merges"] = True
    tok = Tokenizer.from_str(json.dumps(data))
    # A non-special added token with whitespace stripping, and a normalized
    # one.
    tok.add_tokens([AddedToken("FOO", lstrip=True, rstrip=True,
                               normalized=False),
                    AddedToken("bar", single_word=True, normalized=True)])
    return tok


def qwen2():
    """NFC normalizer (the identity on NFC text), single-digit split."""
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(pattern=Regex(QWEN2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok = train_bpe(pre, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.normalizer = normalizers.NFC()
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def split_variants():
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(" ", behavior="merged_with_next"),
        pre_tokenizers.Split(pattern=Regex(r"[,.!?]"),
                             behavior="merged_with_previous"),
        pre_tokenizers.Split(pattern=Regex(r"\p{Lu}"),
                             behavior="contiguous"),
        pre_tokenizers.Split(pattern=Regex(r"\t"),
                             behavior="removed"),
        pre_tokenizers.Split(pattern=Regex(r"[a-z]+"),
                             behavior="isolated", invert=True),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok = train_bpe(pre, ["<|endoftext|>"])
    tok.decoder = decoders.ByteLevel()
    return tok


def word_classes():
    """A Split regex using \\w, \\W, \\s and \\S inside and outside classes."""
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\w+|[^\w\s]+"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"\s\S|\W"), behavior="merged_with_next"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok = train_bpe(pre, ["<|endoftext|>"])
    tok.decoder = decoders.ByteLevel()
    return tok


def with_byte_fallback(tok):
    """Adds <0x00>..<0xFF> to the vocabulary and enables byte fallback."""
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    for b in range(256):
        vocab.setdefault("<0x%02X>" % b, len(vocab))
    data["model"]["byte_fallback"] = True
    data["model"]["fuse_unk"] = True
    data["model"]["unk_token"] = "<unk>"
    return Tokenizer.from_str(json.dumps(data))


def sentencepiece_style():
    # Train on the normalized text; the alphabet is what appears in CORPUS.
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"],
        show_progress=False)
    tok.train_from_iterator(CORPUS * 5, trainer)
    tok = with_byte_fallback(tok)
    tok.decoder = decoders.Sequence([
        decoders.Replace("\u2581", " "), decoders.ByteFallback(),
        decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return tok


def sentencepiece_regex_added():
    """Regex Replace normalizer and normalized / stripping added tokens."""
    tok = sentencepiece_style()
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(r"[0-9]{2,}"), "#"),
        normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.add_tokens([AddedToken("ab", normalized=True),
                    AddedToken("x y", normalized=True),
                    AddedToken("oo", normalized=False, single_word=True)])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False,
                                       special=True, normalized=False)])
    return tok


def metaspace(scheme, split):
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme=scheme,
                                                 split=split)
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"],
        show_progress=False)
    tok.train_from_iterator(CORPUS * 5, trainer)
    tok = with_byte_fallback(tok)
    tok.decoder = decoders.Sequence([
        decoders.ByteFallback(),
        decoders.Metaspace(prepend_scheme=scheme, split=split)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return tok


def run(cli, args):
    res = subprocess.run([cli] + args, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    if res.returncode != 0:
        sys.stderr.write(res.stderr.decode(errors="replace"))
        raise SystemExit("FAIL: lowbit-tokenize %s exited with %d" %
                         (" ".join(args), res.returncode))
    return res.stdout


def check(cli, workdir, name, tok, texts):
    path = os.path.join(workdir, name + ".json")
    tok.save(path)
    text_file = os.path.join(workdir, name + ".txt")
    for t in texts:
        assert "\0" not in t
    with open(text_file, "wb") as f:
        f.write(b"\0".join(t.encode("utf-8") for t in texts))
    failures = 0

    def fail(msg):
        nonlocal failures
        failures += 1
        if failures <= 10:
            print("MISMATCH [%s] %s" % (name, msg))

    all_ids = []
    for bos in (False, True):
        args = ["--tokenizer", path, "--encode-batch", text_file]
        out = run(cli, args + (["--bos"] if bos else []))
        lines = out.decode().split("\n")[:len(texts)]
        for text, line in zip(texts, lines):
            got = [int(x) for x in line.split()]
            want = tok.encode(text, add_special_tokens=bos).ids
            if got != want:
                fail("encode(%r, bos=%s):\n  want %s\n  got  %s" %
                     (text, bos, want, got))
            if bos:
                all_ids.append(want)

    ids_file = os.path.join(workdir, name + ".ids")
    with open(ids_file, "w") as f:
        for ids in all_ids:
            f.write(" ".join(map(str, ids)) + "\n")
    for keep in (False, True):
        args = ["--tokenizer", path, "--decode-batch", ids_file]
        out = run(cli, args + (["--keep-special"] if keep else []))
        got_texts = out.split(b"\0")[:len(all_ids)]
        for ids, got in zip(all_ids, got_texts):
            want = tok.decode(ids, skip_special_tokens=not keep)
            if got.decode("utf-8", errors="replace") != want:
                fail("decode(%s, skip_special=%s):\n  want %r\n  got  %r" %
                     (ids, not keep, want, got))
    # Streaming pieces concatenate to the decoded text. decodeToken() applies
    # the start-of-text rules after every special token, so the expected text
    # is the concatenation of the decoded runs between special tokens.
    specials = {t.content for t in tok.get_added_tokens_decoder().values()
                if t.special}
    out = run(cli, ["--tokenizer", path, "--decode-batch", ids_file,
                    "--stream"])
    for ids, got in zip(all_ids, out.split(b"\0")[:len(all_ids)]):
        runs, cur = [], []
        for i in ids:
            if tok.id_to_token(i) in specials:
                runs.append(cur)
                cur = []
            else:
                cur.append(i)
        runs.append(cur)
        want = "".join(tok.decode(r) for r in runs if r)
        if got.decode("utf-8", errors="replace") != want:
            fail("stream decode(%s):\n  want %r\n  got  %r" % (ids, want, got))
    print("%-22s %4d texts: %s" % (name, len(texts),
                                   "ok" if not failures else
                                   "%d MISMATCHES" % failures))
    return failures


def main():
    if len(sys.argv) < 2:
        raise SystemExit(
            "usage: check_bytelevel.py lowbit-tokenize [--keep DIR]")
    cli = sys.argv[1]
    keep = None
    if len(sys.argv) > 3 and sys.argv[2] == "--keep":
        keep = sys.argv[3]
    texts = TRICKY + CORPUS + random_strings(300, seed=1234)
    configs = [
        ("gpt2", gpt2(False)),
        ("gpt2_prefix_space", gpt2(True)),
        ("llama3", llama3()),
        # NFC is accepted as the identity: compare on NFC text only.
        ("qwen2", qwen2(), [t for t in texts
                            if unicodedata.normalize("NFC", t) == t]),
        ("split_variants", split_variants()),
        ("word_classes", word_classes()),
        ("sentencepiece", sentencepiece_style()),
        ("sentencepiece_added", sentencepiece_regex_added()),
        ("metaspace_first", metaspace("first", True)),
        ("metaspace_always", metaspace("always", False)),
    ]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = keep or tmp
        os.makedirs(workdir, exist_ok=True)
        for name, tok, *subset in configs:
            failures += check(cli, workdir, name, tok,
                              subset[0] if subset else texts)
    if failures:
        print("FAIL: %d mismatches" % failures)
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
