#!/usr/bin/env python3
#===- make_gguf_corpus.py - seed corpus for GgufFuzzer ---------------------===#
#
# Writes tiny valid and malformed GGUF files into corpus/gguf next to this
# script. Deterministic: rerunning it rewrites the same bytes. Standard
# library only (the files are built byte by byte, not with the gguf package,
# so that malformed ones can be written too).
#
#===------------------------------------------------------------------------===#
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ggml type: (number, block elements, block bytes)
TYPES = {
    "F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18),
    "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22), "Q5_1": (7, 32, 24),
    "Q8_0": (8, 32, 34), "Q2_K": (10, 256, 84), "Q3_K": (11, 256, 110),
    "Q4_K": (12, 256, 144), "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210),
    "BF16": (30, 1, 2), "IQ4_NL": (20, 32, 18),
}


def s(text):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def kv(key, vtype, payload):
    return s(key) + struct.pack("<I", vtype) + payload


def u32(key, v):
    return kv(key, 4, struct.pack("<I", v))


def tinfo(name, dims, tnum, offset):
    out = s(name) + struct.pack("<I", len(dims))
    out += b"".join(struct.pack("<Q", d) for d in dims)
    return out + struct.pack("<IQ", tnum, offset)


def gguf(kvs, tensors, data, alignment=32, version=3, counts=None):
    nt, nk = counts if counts else (len(tensors), len(kvs))
    out = b"GGUF" + struct.pack("<IQQ", version, nt, nk)
    out += b"".join(kvs) + b"".join(tensors)
    out += b"\0" * (-len(out) % alignment)
    return out + data


def pattern(n, seed):
    return bytes((i * 131 + seed * 17 + 7) % 251 for i in range(n))


def one_of_each():
    tensors, data = [], b""
    for i, (name, (num, elems, nbytes)) in enumerate(sorted(TYPES.items())):
        blob = pattern(nbytes, i)
        tensors.append(tinfo("t." + name, [elems], num, len(data)))
        data += blob + b"\0" * (-len(blob) % 32)
    return gguf([u32("general.alignment", 32)], tensors, data)


METADATA = [
    kv("general.architecture", 8, s("llama")),
    kv("u8", 0, b"\xc8"), kv("i8", 1, b"\x9c"), kv("u16", 2, b"\x60\xea"),
    kv("i16", 3, b"\xd0\x8a"), u32("u32", 7), kv("i32", 5, b"\xff" * 4),
    kv("f32", 6, struct.pack("<f", 0.5)), kv("bool", 7, b"\x01"),
    kv("u64", 10, b"\xff" * 8), kv("i64", 11, b"\xfe" + b"\xff" * 7),
    kv("f64", 12, struct.pack("<d", 1e-5)),
    kv("tokens", 9, struct.pack("<IQ", 8, 3) + s("<s>") + s("a") + s("")),
    kv("scores", 9, struct.pack("<IQ", 6, 2) + struct.pack("<ff", 0, -1)),
    kv("nested", 9, struct.pack("<IQ", 9, 2) + struct.pack("<IQ", 5, 1) +
       struct.pack("<i", -3) + struct.pack("<IQ", 5, 0)),
]

F32_2x2 = tinfo("w", [2, 2], 0, 0)


def tiny_model(arch):
    """A one-layer model (hidden 8, 2 heads, 1 KV head, vocabulary 4) with a
    few of its tensors, for the GgufStore part of the fuzzer."""
    kvs = [kv("general.architecture", 8, s(arch))]
    for key, value in [("embedding_length", 8), ("feed_forward_length", 16),
                       ("block_count", 1), ("attention.head_count", 2),
                       ("attention.head_count_kv", 1), ("context_length", 32),
                       ("vocab_size", 4)]:
        kvs.append(u32(f"{arch}.{key}", value))
    kvs.append(u32("tokenizer.ggml.eos_token_id", 2))
    specs = [("token_embd.weight", [8, 4], 1, 64), ("blk.0.attn_q.weight", [8, 8], 0, 256),
             ("blk.0.attn_k.weight", [8, 4], 0, 128)]
    if arch == "qwen2":
        specs.append(("blk.0.attn_k.bias", [4], 0, 16))
    tensors, data = [], b""
    for i, (name, dims, tnum, nbytes) in enumerate(specs):
        tensors.append(tinfo(name, dims, tnum, len(data)))
        data += pattern(nbytes, 10 + i) + b"\0" * (-nbytes % 32)
    return gguf(kvs, tensors, data)

def str_array(key, items):
    return kv(key, 9, struct.pack("<IQ", 8, len(items)) + b"".join(s(t) for t in items))


def tokenizer_model(kind):
    """A tiny model with a tokenizer in its metadata: `gpt2` (byte-level BPE
    with merges, smollm pre-tokenizer) or `llama` (SentencePiece: scores,
    token types, byte-fallback tokens), plus special-token ids, add_bos and a
    ChatML template, for the tokenizer conversion part of the fuzzer."""
    if kind == "gpt2":
        tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b",
                  "\u0120", "ab", "\u0120a"]
        tokens = [t.encode().decode("unicode_escape") for t in tokens]
        extra = [str_array("tokenizer.ggml.merges", ["a b", "\u0120 a".encode().decode("unicode_escape")]),
                 kv("tokenizer.ggml.pre", 8, s("smollm"))]
        types = [3, 3, 3, 1, 1, 1, 1, 1]
    else:
        tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + \
                 ["\u2581", "a", "b", "ab", "\u2581a"]
        tokens = [t.encode().decode("unicode_escape") for t in tokens]
        scores = [0.0] * 3 + [0.0] * 256 + [-1.0, -2.0, -3.0, -4.0, -5.0]
        extra = [kv("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, len(scores)) +
                    b"".join(struct.pack("<f", x) for x in scores))]
        types = [2, 3, 3] + [6] * 256 + [1] * 5
    kvs = [kv("general.architecture", 8, s("llama")),
           kv("tokenizer.ggml.model", 8, s(kind)),
           str_array("tokenizer.ggml.tokens", tokens),
           kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, len(types)) +
              b"".join(struct.pack("<i", t) for t in types)),
           u32("tokenizer.ggml.bos_token_id", 1), u32("tokenizer.ggml.eos_token_id", 2),
           kv("tokenizer.ggml.add_bos_token", 7, b"\1"),
           kv("tokenizer.chat_template", 8,
              s("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
                "<|im_end|>\n{% endfor %}"))] + extra
    return gguf(kvs, [], b"")


GGUF = {
    "valid_tokenizer_gpt2.gguf": tokenizer_model("gpt2"),
    "valid_tokenizer_llama.gguf": tokenizer_model("llama"),
    "valid_empty.gguf": b"GGUF" + struct.pack("<IQQ", 3, 0, 0),
    "valid_v2.gguf": gguf([], [F32_2x2], struct.pack("<4f", 1, 2, 3, 4), version=2),
    "valid_metadata.gguf": gguf(METADATA, [F32_2x2], pattern(16, 1)),
    "valid_types.gguf": one_of_each(),
    "valid_align64.gguf": gguf(
        [u32("general.alignment", 64)],
        [tinfo("a", [32], 2, 0), tinfo("b", [4], 0, 64)], pattern(80, 2), 64),
    "valid_llama.gguf": tiny_model("llama"),
    "valid_qwen2.gguf": tiny_model("qwen2"),
    "bad_magic.gguf": b"GGML" + struct.pack("<IQQ", 3, 0, 0),
    "bad_version.gguf": b"GGUF" + struct.pack("<IQQ", 1, 0, 0),
    "bad_big_endian.gguf": b"GGUF" + struct.pack(">IQQ", 3, 0, 0),
    "bad_counts.gguf": b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 1 << 40),
    "bad_key_length.gguf": gguf([struct.pack("<Q", 1 << 50) + b"k" * 16], [], b"",
                                counts=(0, 1)),
    "bad_value_type.gguf": gguf([kv("k", 13, b"")], [], b""),
    "bad_array_count.gguf": gguf([kv("k", 9, struct.pack("<IQ", 4, 1 << 60))], [], b""),
    "bad_alignment.gguf": gguf([u32("general.alignment", 48)], [F32_2x2], pattern(16, 3)),
    "bad_dims.gguf": gguf([], [tinfo("w", [1] * 5, 0, 0)], pattern(4, 4)),
    "bad_overflow.gguf": gguf([], [tinfo("w", [1 << 32, 1 << 32], 0, 0)], b""),
    "bad_type.gguf": gguf([], [tinfo("w", [4], 4, 0)], pattern(16, 5)),
    "bad_block.gguf": gguf([], [tinfo("w", [33], 2, 0)], pattern(36, 6)),
    "bad_offset.gguf": gguf([], [tinfo("w", [4], 0, 8)], pattern(32, 7)),
    "bad_past_end.gguf": gguf([], [tinfo("w", [64], 0, 0)], pattern(16, 8)),
    "bad_overlap.gguf": gguf([], [tinfo("a", [16], 0, 0), tinfo("b", [8], 0, 32)],
                             pattern(64, 9)),
    "bad_duplicate.gguf": gguf([u32("k", 1), u32("k", 2)], [], b""),
    "bad_truncated_metadata.gguf": gguf(METADATA, [F32_2x2], pattern(16, 1))[:300],
    "bad_truncated_data.gguf": gguf(METADATA, [F32_2x2], pattern(16, 1))[:-5],
}


def main():
    out = os.path.join(HERE, "corpus", "gguf")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(GGUF.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
