#!/usr/bin/env python3
"""Checks lowbit's tokenizer conversion of a GGUF file against transformers.

    check_gguf_tokenizer.py MODEL.gguf TOKENIZER_DIR LOWBIT_TOKENIZE [--texts FILE]

TOKENIZER_DIR holds what `lowbit-import MODEL.gguf --emit-tokenizer DIR`
wrote. The reference is transformers' own conversion of the GGUF tokenizer
(`PreTrainedTokenizerFast.from_pretrained(dir, gguf_file=...)`, the code path
AutoTokenizer takes for a GGUF file once it has the model's configuration).
For every text (a built-in set of ASCII, unicode, emoji, digit, code,
whitespace-run and special-token texts, plus the NUL-separated texts of
--texts), lowbit-tokenize must give transformers' ids without special tokens,
and with --bos the BOS transformers adds (add_bos_token); decoding the ids
(special tokens skipped) must give transformers' text, and texts transformers
round-trips must round-trip. Prints one summary line; exit 1 on the first
mismatches (listed), 77 when transformers is not installed.
"""

import argparse
import os
import subprocess
import sys
import types

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TEXTS = [
    "Hello world",
    "Hello, world! How are you today?",
    " leading space",
    "trailing space ",
    "The quick brown fox jumps over the lazy dog.",
    "naïve café, résumé, Zürich, São Paulo",
    "Привет, мир! Καλημέρα κόσμε",
    "日本語のテキストと中文文本",
    "emoji: 😀🎉👍🏽 and 👨‍👩‍👧‍👦 family",
    "digits 0 1 12 123 1234 12345 3.14159 -42 1e10 1,000,000",
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) { a[i] = b[i] * 2; }",
    "whitespace   runs\t\ttabs\n\n\nnewlines     end",
    "   ",
    "\n",
    "a",
    "",
    "it's don't we'll I'm they've she'd",
    "MiXeD CaSe WORDS and UPPERCASE",
    "<s> special </s> in text",
    "<|endoftext|><|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "x<|im_end|>y <unk> z",
    "control \u0001 chars \u007f and \u00a0 nbsp",
]


def torch_stand_in():
    """transformers' GGUF reader imports torch for tensors; reading the
    tokenizer needs none, so a stand-in module lets it load without torch."""
    try:
        import torch  # noqa: F401
    except ImportError:
        mod = types.ModuleType("torch")
        mod.__getattr__ = lambda name: type(name, (), {})
        sys.modules["torch"] = mod


def run_batch(tool, tokenizer_json, args, payload):
    out = subprocess.run([tool, "--tokenizer", tokenizer_json] + args,
                         input=None, capture_output=True, check=True)
    return out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("tokdir")
    ap.add_argument("lowbit_tokenize")
    ap.add_argument("--texts")
    args = ap.parse_args()
    try:
        import transformers  # noqa: F401
        from transformers import PreTrainedTokenizerFast
    except ImportError:
        print("SKIP: transformers is not installed (pip install transformers)")
        return 77
    torch_stand_in()
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()

    path = os.path.abspath(args.gguf)
    ref = PreTrainedTokenizerFast.from_pretrained(os.path.dirname(path),
                                                  gguf_file=os.path.basename(path))
    texts = list(TEXTS)
    if args.texts:
        with open(args.texts, encoding="utf-8") as f:
            texts += [t for t in f.read().split("\0") if t]

    tokenizer_json = os.path.join(args.tokdir, "tokenizer.json")
    work = os.path.join(args.tokdir, "check")
    os.makedirs(work, exist_ok=True)
    batch = os.path.join(work, "texts.bin")
    with open(batch, "wb") as f:
        f.write(b"\0".join(t.encode("utf-8") for t in texts))

    def encode(extra):
        out = run_batch(args.lowbit_tokenize, tokenizer_json,
                        ["--encode-batch", batch] + extra, None)
        lines = out.decode().split("\n")[:len(texts)]
        return [[int(x) for x in line.split()] for line in lines]

    plain, with_bos = encode([]), encode(["--bos"])
    bos = [ref.bos_token_id] if ref.add_bos_token and ref.bos_token_id is not None else []
    eos = [ref.eos_token_id] if ref.add_eos_token and ref.eos_token_id is not None else []

    want_plain = [ref.encode(t, add_special_tokens=False) for t in texts]
    failures = []
    for t, got, want in zip(texts, plain, want_plain):
        if got != want:
            failures.append(f"encode {t!r}: lowbit {got} transformers {want}")
    for t, got, want in zip(texts, with_bos, want_plain):
        full = ref.encode(t, add_special_tokens=True)
        if full != bos + want + eos:
            failures.append(f"transformers' special tokens for {t!r}: {full}")
        if got != bos + want:
            failures.append(f"encode --bos {t!r}: lowbit {got} want {bos + want}")

    ids_file = os.path.join(work, "ids.txt")
    with open(ids_file, "w") as f:
        for ids in want_plain + [bos + w + eos for w in want_plain]:
            f.write(" ".join(map(str, ids)) + "\n")
    decoded = run_batch(args.lowbit_tokenize, tokenizer_json,
                        ["--decode-batch", ids_file], None)
    pieces = decoded.split(b"\0")[:2 * len(texts)]
    round_trips = 0
    for i, ids in enumerate(want_plain + [bos + w + eos for w in want_plain]):
        want = ref.decode(ids, skip_special_tokens=True)
        got = pieces[i].decode("utf-8")
        if got != want:
            failures.append(f"decode {ids}: lowbit {got!r} transformers {want!r}")
        text = texts[i % len(texts)]
        if want == text:
            round_trips += got == text

    if failures:
        print(f"FAIL: {len(failures)} mismatches")
        for line in failures[:20]:
            print("  " + line)
        return 1
    n_tokens = sum(len(w) for w in want_plain)
    print(f"ok: {len(texts)} texts, {n_tokens} tokens, add_bos={bool(bos)}, "
          f"{round_trips} decodes round-trip, equal to transformers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
