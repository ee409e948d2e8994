#!/usr/bin/env python3
#===- make_corpus.py - seed corpora for the lowbit fuzzers -----------------===#
#
# Writes tiny valid and malformed inputs into corpus/safetensors and
# corpus/config next to this script. Deterministic: rerunning it rewrites the
# same bytes. Standard library only.
#
#===------------------------------------------------------------------------===#
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def st(header, data=b"", length=None):
    """A safetensors file from a header (dict or raw str) and data bytes."""
    if isinstance(header, dict):
        text = json.dumps(header, separators=(",", ":"), sort_keys=True)
        text += " " * (-len(text) % 8)
    else:
        text = header
    raw = text.encode("utf-8")
    n = len(raw) if length is None else length
    return struct.pack("<Q", n) + raw + data


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


SAFETENSORS = {
    # Valid files.
    "valid_empty.safetensors": st({}),
    "valid_f32.safetensors": st(
        {"__metadata__": {"format": "pt"}, "w": entry("F32", [2, 2], 0, 16)},
        f32(1, 2, 3, 4)),
    "valid_mixed.safetensors": st(
        {"a": entry("F16", [2], 0, 4), "b": entry("BF16", [1], 4, 6),
         "c": entry("U8", [2], 6, 8), "z": entry("I64", [0, 3], 8, 8)},
        b"\x00\x3c\x00\xc0\x80\x3f\x07\x09"),
    "valid_scalar.safetensors": st({"s": entry("F32", [], 0, 4)}, f32(0.5)),
    # Malformed files.
    "bad_truncated.safetensors": b"\x08\x00\x00",
    "bad_header_past_eof.safetensors": st("{}", length=4096),
    "bad_json.safetensors": st('{"w":{"dtype":"F32",'),
    "bad_not_object.safetensors": st("[1,2,3] "),
    "bad_dtype.safetensors": st({"w": entry("Q4", [2], 0, 1)}, b"\x00"),
    "bad_span.safetensors": st({"w": entry("F32", [4], 0, 12)}, bytes(12)),
    "bad_overlap.safetensors": st(
        {"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)},
        bytes(12)),
    "bad_out_of_range.safetensors": st({"w": entry("F32", [4], 0, 16)},
                                       bytes(8)),
    "bad_negative_shape.safetensors": st({"w": entry("F32", [-1], 0, 0)}),
    "bad_overflow.safetensors": st(
        {"w": entry("F32", [2**32, 2**32], 0, 0)}),
    "bad_hole.safetensors": st({"w": entry("F32", [1], 4, 8)}, bytes(8)),
    "bad_metadata.safetensors": st({"__metadata__": {"k": 1}}),
}

LLAMA = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 2,
    "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 8,
    "vocab_size": 512, "max_position_embeddings": 512, "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0, "rope_scaling": None, "hidden_act": "silu",
    "attention_bias": False, "tie_word_embeddings": True,
    "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
}


def variant(**changes):
    config = dict(LLAMA)
    for key, value in changes.items():
        if value is ...:
            config.pop(key, None)
        else:
            config[key] = value
    return json.dumps(config, indent=1, sort_keys=True)


CONFIGS = {
    "llama.json": variant(),
    "llama3_rope.json": variant(
        eos_token_id=[128001, 128009],
        rope_scaling={"rope_type": "llama3", "factor": 8.0,
                      "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 8192}),
    "qwen2.json": variant(architectures=["Qwen2ForCausalLM"],
                          model_type="qwen2", use_sliding_window=False,
                          sliding_window=4096, bos_token_id=None),
    "mistral_defaults.json": json.dumps({
        "model_type": "mistral", "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 1, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 16}),
    "bad_arch.json": variant(architectures=["GPT2LMHeadModel"]),
    "bad_missing_key.json": variant(hidden_size=...),
    "bad_heads.json": variant(num_key_value_heads=3),
    "bad_act.json": variant(hidden_act="gelu"),
}


def write_all(subdir, files):
    out = os.path.join(HERE, "corpus", subdir)
    os.makedirs(out, exist_ok=True)
    for name, content in sorted(files.items()):
        if isinstance(content, str):
            content = content.encode("utf-8")
        with open(os.path.join(out, name), "wb") as f:
            f.write(content)


if __name__ == "__main__":
    write_all("safetensors", SAFETENSORS)
    write_all("config", CONFIGS)
