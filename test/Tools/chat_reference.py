#!/usr/bin/env python3
# ===- chat_reference.py - the reference chat prompt of a model directory -===#
#
# Renders MESSAGES (a JSON list of {"role", "content"}) with the chat_template
# of DIR/tokenizer_config.json through Jinja, set up as transformers'
# apply_chat_template does (generation prompt added), and tokenizes the text
# with the `tokenizers` package and DIR/tokenizer.json without special-token
# additions, as apply_chat_template(tokenize=True) does. Prints the two lines
# lowbit-run --print-prompt --print-prompt-tokens writes:
#
#   prompt: "<JSON string of the text>"
#   prompt tokens: ID ID ...
#
# usage: chat_reference.py DIR MESSAGES_JSON
#
# ===----------------------------------------------------------------------===#

import json
import os
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer


def token_text(v):
    return v["content"] if isinstance(v, dict) else (v or "")


def main():
    model_dir, messages = sys.argv[1], json.loads(sys.argv[2])
    with open(os.path.join(model_dir, "tokenizer_config.json"),
              encoding="utf-8") as f:
        cfg = json.load(f)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.globals["raise_exception"] = raise_exception
    text = env.from_string(cfg["chat_template"]).render(
        messages=messages, add_generation_prompt=True,
        bos_token=token_text(cfg.get("bos_token")),
        eos_token=token_text(cfg.get("eos_token")))
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    ids = tok.encode(text, add_special_tokens=False).ids
    print("prompt: " + json.dumps(text, ensure_ascii=False))
    print("prompt tokens: " + " ".join(str(i) for i in ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
