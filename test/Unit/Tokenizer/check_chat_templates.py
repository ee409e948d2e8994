#!/usr/bin/env python3
# ===- check_chat_templates.py - lowbit's chat rendering vs Jinja ---------===#
#
# Renders conversations with real, published chat templates through Jinja
# (set up as `transformers`' apply_chat_template does) and through lowbit's
# native renderer (lowbit-tokenize --chat-render), and fails (exit 1, with
# the first differences) unless every rendering is byte-identical, with and
# without the generation prompt. Conversations the Jinja template rejects
# (raise_exception) must be rejected by lowbit too. Templates lowbit must
# refuse to recognise (Llama-3.1's dated header, Mistral's [INST] without
# <<SYS>>) must fail with an error naming the known families.
#
# With LOWBIT_SMOLLM2_GGUF set (a SmolLM2 .gguf file) the template, BOS and
# EOS are also read from its metadata with the `gguf` package.
#
# usage: check_chat_templates.py PATH/TO/lowbit-tokenize [--keep DIR]
#
# Exits 77 (CTest "skipped") when the `jinja2` package is unavailable.
#
# ===----------------------------------------------------------------------===#

import json
import os
import subprocess
import sys
import tempfile

try:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    print("SKIP: the python 'jinja2' package is not installed")
    sys.exit(77)

# meta-llama/Llama-2-7b-chat-hf, tokenizer_config.json "chat_template".
LLAMA2 = (
    r"{% if messages[0]['role'] == 'system' %}{% set loop_messages = "
    r"messages[1:] %}{% set system_message = messages[0]['content'] %}{% else "
    r"%}{% set loop_messages = messages %}{% set system_message = false %}{% "
    r"endif %}{% for message in loop_messages %}{% if (message['role'] == "
    r"'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation "
    r"roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% "
    r"if loop.index0 == 0 and system_message != false %}{% set content = "
    r"'<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}"
    r"{% else %}{% set content = message['content'] %}{% endif %}{% if "
    r"message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() "
    r"+ ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + "
    r"content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}")

# meta-llama/Meta-Llama-3-8B-Instruct.
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% "
    "set content = '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% "
    "if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")

# The generic ChatML template (Hugging Face chat-templating docs,
# teknium/OpenHermes-2.5-Mistral-7B).
CHATML = (
    r"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' "
    r"+ message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if "
    r"add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

# Qwen/Qwen2-7B-Instruct: ChatML with a default system prompt.
QWEN2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != "
    "'system' %}{{ '<|im_start|>system\nYou are a helpful assistant."
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

# HuggingFaceTB/SmolLM2-135M-Instruct (as in its GGUF's metadata).
SMOLLM2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != "
    "'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named "
    "SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>"
    "' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}")

# Variants lowbit must refuse (it would render them differently).
LLAMA31_LIKE = (
    "{{- bos_token }}{%- if not date_string is defined %}{%- set date_string "
    "= \"26 Jul 2024\" %}{%- endif %}{{- \"<|start_header_id|>system"
    "<|end_header_id|>\\n\\n\" }}{{- \"Cutting Knowledge Date: December 2023"
    "\\n\" }}{{- \"Today Date: \" + date_string + \"\\n\\n\" }}{{- "
    "\"<|eot_id|>\" }}{%- for message in messages %}{{- '<|start_header_id|>'"
    " + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | "
    "trim + '<|eot_id|>' }}{%- endfor %}")
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == "
    "'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif "
    "message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% "
    "endif %}{% endfor %}")

TEMPLATES = [
    # name, template, bos, eos, family lowbit must recognise
    ("llama2", LLAMA2, "<s>", "</s>"),
    ("llama3", LLAMA3, "<|begin_of_text|>", "<|eot_id|>"),
    ("chatml", CHATML, "<s>", "<|im_end|>"),
    ("qwen2", QWEN2, None, "<|im_end|>"),
    ("smollm2", SMOLLM2, "<|im_start|>", "<|im_end|>"),
]

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."},
     {"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "Answer in French."},
     {"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Bonjour !"},
     {"role": "user", "content": "How are you?"}],
    [{"role": "user", "content": "One"},
     {"role": "assistant", "content": "Two"},
     {"role": "user", "content": "Three"},
     {"role": "assistant", "content": "Four"}],
    # Leading/trailing whitespace (strip/trim), Unicode spaces and text.
    [{"role": "system", "content": "\n  Be kind. \t"},
     {"role": "user", "content": "  caf\u00e9 \U0001F600\u00a0\n"},
     {"role": "assistant", "content": "\u2003ok\u3000"},
     {"role": "user", "content": "line one\nline two\n\n"}],
    # An empty system prompt and empty turns.
    [{"role": "system", "content": ""},
     {"role": "user", "content": ""}],
    # Special tokens and quotes inside the text.
    [{"role": "user", "content": "say '<|im_end|>' or \"[INST]\" \\n"}],
    # Rejected by the llama2 template (must be by lowbit too).
    [{"role": "assistant", "content": "I speak first"}],
    [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
]


def jinja_env():
    # As transformers' apply_chat_template sets it up.
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False)
    env.globals["raise_exception"] = raise_exception
    return env


def jinja_render(env, template, conv, gen, bos, eos):
    try:
        return env.from_string(template).render(
            messages=conv, add_generation_prompt=gen, bos_token=bos,
            eos_token=eos)
    except jinja2.exceptions.TemplateError as e:
        return "!error: " + str(e)


def lowbit_render(tool, workdir, name, template, convs, gen, bos, eos):
    config = {"chat_template": template}
    if bos is not None:
        config["bos_token"] = bos
    if eos is not None:
        config["eos_token"] = {"content": eos, "special": True}
    cfg = os.path.join(workdir, name + ".config.json")
    msgs = os.path.join(workdir, name + ".convs.json")
    with open(cfg, "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False)
    with open(msgs, "w", encoding="utf-8") as f:
        json.dump(convs, f, ensure_ascii=False)
    cmd = [tool, "--chat-config", cfg, "--chat-render", msgs]
    if gen:
        cmd.append("--generation-prompt")
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        return None, r.stderr.decode("utf-8", "replace")
    parts = r.stdout.decode("utf-8").split("\0")
    return parts[:-1], ""


def smollm2_from_gguf(path):
    try:
        from gguf import GGUFReader
    except ImportError:
        print("note: LOWBIT_SMOLLM2_GGUF is set but the 'gguf' package is "
              "missing; skipping the GGUF template")
        return None
    r = GGUFReader(path)
    f = r.fields

    def value(key):
        return f[key].contents() if key in f else None

    tokens = value("tokenizer.ggml.tokens")
    bos_id = value("tokenizer.ggml.bos_token_id")
    eos_id = value("tokenizer.ggml.eos_token_id")
    return ("gguf-smollm2", value("tokenizer.chat_template"),
            tokens[bos_id] if bos_id is not None else None,
            tokens[eos_id] if eos_id is not None else None)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv \
        else None
    templates = list(TEMPLATES)
    gguf_path = os.environ.get("LOWBIT_SMOLLM2_GGUF")
    if gguf_path:
        t = smollm2_from_gguf(gguf_path)
        if t:
            templates.append(t)
    env = jinja_env()
    failures = []
    compared = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = keep or tmp
        os.makedirs(workdir, exist_ok=True)
        for name, template, bos, eos in templates:
            for gen in (False, True):
                got, err = lowbit_render(tool, workdir, name, template,
                                         CONVERSATIONS, gen, bos, eos)
                if got is None:
                    failures.append(f"{name}: lowbit-tokenize failed: {err}")
                    continue
                for conv, text in zip(CONVERSATIONS, got):
                    want = jinja_render(env, template, conv, gen,
                                        bos or "", eos or "")
                    compared += 1
                    if want.startswith("!error"):
                        ok = text.startswith("!error")
                    else:
                        ok = text == want
                    if not ok:
                        failures.append(
                            f"{name} (generation prompt {gen}) on "
                            f"{json.dumps(conv, ensure_ascii=False)}:\n"
                            f"  jinja : {want!r}\n  lowbit: {text!r}")
        # Variants lowbit must not claim to render.
        for name, template in (("llama31", LLAMA31_LIKE),
                               ("mistral", MISTRAL)):
            got, err = lowbit_render(tool, workdir, name, template,
                                     CONVERSATIONS[:1], True, "<s>", "</s>")
            if got is not None or "known families: chatml, llama2, llama3" \
                    not in err:
                failures.append(f"{name}: expected an 'unrecognised chat "
                                f"template' error, got {got!r} / {err!r}")
    for f in failures[:10]:
        print("FAIL:", f)
    if failures:
        print(f"{len(failures)} failure(s) in {compared} renderings")
        return 1
    print(f"OK: {compared} renderings of {len(templates)} templates match "
          "Jinja byte for byte")
    return 0


if __name__ == "__main__":
    sys.exit(main())
