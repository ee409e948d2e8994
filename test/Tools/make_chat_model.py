#!/usr/bin/env python3
# ===- make_chat_model.py - a synthetic chat model with a known reply -----===#
#
# Turns a model written by examples/make_synthetic_model.py (llama, tied
# embeddings) into a ChatML chat model whose greedy reply is known by
# construction, for the lowbit-run --chat tests:
#
#  * tokenizer.json: the last two vocabulary entries become the special
#    added tokens <|im_start|> and <|im_end|> (merges that used them are
#    dropped; those characters then encode through byte fallback);
#  * tokenizer_config.json: the generic ChatML chat_template, and the given
#    eos_token (default: keep "</s>");
#  * weights: the attention and MLP outputs are scaled by 1e-4, so the next
#    token depends on the current one only, and the (tied) embedding is set
#    so that greedy decoding answers REPLY (one token) after any other token,
#    then <|im_end|> after REPLY, and <|im_end|> again after <|im_end|>.
#
# usage: make_chat_model.py DIR [--reply TOKEN] [--eos-token TEXT]
#                               [--no-template]
#        make_chat_model.py --set-default-system TEXT IN.lowbit OUT.lowbit
#
# The second form rewrites a bundle (with bundle_edit.py) so its chat
# template is the ChatML template with a default system prompt, written as
# SmolLM2's and Qwen2's templates write it.
#
# ===----------------------------------------------------------------------===#

import argparse
import json
import os

import numpy as np
from safetensors.numpy import load_file, save_file

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + "
          "'\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% "
          "if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif "
          "%}")


def chatml_with_default_system(system):
    return ("{% for message in messages %}{% if loop.first and messages[0]"
            "['role'] != 'system' %}{{ '<|im_start|>system\\n" + system +
            "<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + "
            "'\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
            "{% endif %}")


def set_default_system(system, src, dst):
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bundle_edit
    sys.argv = ["bundle_edit.py", src, dst, "--set",
                "tokenizer_config.chat_template=" +
                json.dumps(chatml_with_default_system(system))]
    return bundle_edit.main()


def special(i, content):
    return {"id": i, "content": content, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": False, "special": True}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--set-default-system", nargs=3,
                   metavar=("TEXT", "IN", "OUT"))
    p.add_argument("dir", nargs="?")
    p.add_argument("--reply", default="x",
                   help="the vocabulary token the model answers with")
    p.add_argument("--eos-token", default=None)
    p.add_argument("--no-template", action="store_true")
    a = p.parse_args()
    if a.set_default_system:
        return set_default_system(*a.set_default_system)
    if not a.dir:
        p.error("DIR is required")

    tok_path = os.path.join(a.dir, "tokenizer.json")
    with open(tok_path, encoding="utf-8") as f:
        tok = json.load(f)
    vocab = tok["model"]["vocab"]
    V = len(vocab)
    by_id = {i: t for t, i in vocab.items()}
    removed = {by_id[V - 2], by_id[V - 1]}
    for t in removed:
        del vocab[t]
    merges = tok["model"]["merges"]
    while True:
        kept = []
        for m in merges:
            left, right = m.split(" ") if isinstance(m, str) else m
            if left in removed or right in removed or left + right in removed:
                removed.add(left + right)
                continue
            kept.append(m)
        if len(kept) == len(merges):
            break
        merges = kept
    tok["model"]["merges"] = merges
    im_start, im_end = V - 2, V - 1
    tok["added_tokens"] += [special(im_start, "<|im_start|>"),
                            special(im_end, "<|im_end|>")]
    with open(tok_path, "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)

    cfg_path = os.path.join(a.dir, "tokenizer_config.json")
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    if not a.no_template:
        cfg["chat_template"] = CHATML
    if a.eos_token is not None:
        cfg["eos_token"] = a.eos_token
    with open(cfg_path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=2)

    reply = vocab[a.reply]
    w_path = os.path.join(a.dir, "model.safetensors")
    w = load_file(w_path)
    for name in list(w):
        if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
            w[name] = (w[name] * 1e-4).astype(np.float32)
    w["model.norm.weight"] = np.ones_like(w["model.norm.weight"])
    emb = w["model.embed_tokens.weight"]
    H = emb.shape[1]
    rng = np.random.default_rng(0)
    emb = (rng.standard_normal(emb.shape) * 0.02).astype(np.float32)
    # Component 0 marks "any token", component 1 the way to <|im_end|>:
    # after token t the logit of v is proportional to emb[t] . emb[v].
    emb[:, 0], emb[:, 1] = 1.0, 0.0
    emb[reply, 0], emb[reply, 1] = 3.0, 2.0
    emb[im_end, 0], emb[im_end, 1] = 0.0, 10.0
    assert H > 2
    w["model.embed_tokens.weight"] = emb
    save_file(w, w_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
