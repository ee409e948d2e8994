#!/usr/bin/env python3
"""Writes the GGUF test inputs of GgufTests.cpp into OUT_DIR.

quants.gguf   one tensor per ggml type lowbit dequantizes ("t.<TYPE>"), random
              blocks whose binary16 scale fields cycle through NaN (quiet,
              signalling, negative, with payloads), +-Inf, subnormals, +-0 and
              extremes, all pairs of them where a block has two; metadata of
              every GGUF value type including nested arrays; alignment 64.
<TYPE>.f32    gguf.quants.dequantize of that tensor (the reference), raw
              little-endian float32.
tensors.txt   "name type-number absolute-offset nbytes dims..." per tensor, as
              gguf.GGUFReader reads them.
tiny_llama.gguf, tiny_qwen2.gguf
              two-layer models written as llama.cpp's converter writes them
              (llama: q/k rows permuted per head), F32;
tiny_llama_hf.safetensors, tiny_qwen2_hf.safetensors
              the same tensors under Hugging Face names and layout.
smollm2/<tensor>.f32
              only when $LOWBIT_SMOLLM2_GGUF names the SmolLM2 GGUF: the
              reference dequantization of a few of its tensors (the first
              1024 rows of the Q8_0 embedding, two Q4_1 weights).
"""

import os
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V

# Byte offsets of the binary16 scale fields inside one block.
HALF_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q8_0: [0],
    T.Q2_K: [80, 82],
    T.Q3_K: [108],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}
PLAIN = [T.F32, T.F16, T.BF16]

SPECIAL_HALVES = [
    0x7E00,  # quiet NaN
    0x7C01,  # signalling NaN
    0xFE55,  # negative quiet NaN with a payload
    0x7D23,  # signalling NaN with another payload
    0x7C00,  # +Inf
    0xFC00,  # -Inf
    0x0001,  # smallest subnormal
    0x83FF,  # largest negative subnormal
    0x0000,  # +0
    0x8000,  # -0
    0x7BFF,  # largest finite
    0x3C00,  # 1
    0x1234,  # ordinary normal
]


def quant_tensor(rng, qtype, rows, blocks_per_row):
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * blocks_per_row
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    fields = HALF_FIELDS[qtype]
    k = len(SPECIAL_HALVES)
    for b in range(n_blocks):
        # Blocks below k**len(fields) cover every combination of specials;
        # the others keep random (mostly ordinary) scales.
        if b >= k ** len(fields):
            continue
        for i, off in enumerate(fields):
            h = SPECIAL_HALVES[(b // k**i) % k]
            raw[b, off] = h & 0xFF
            raw[b, off + 1] = h >> 8
    return raw.reshape(rows, blocks_per_row * block_bytes)


def plain_tensor(rng, qtype, rows, cols):
    size = 4 if qtype == T.F32 else 2
    raw = rng.integers(0, 256, size=(rows, cols * size), dtype=np.uint8)
    # Make sure the specials are there, not only by chance.
    if qtype == T.F16:
        raw.view(np.uint16)[0, : len(SPECIAL_HALVES)] = SPECIAL_HALVES
    elif qtype == T.BF16:
        raw.view(np.uint16)[0, :4] = [0x7FC0, 0x7F81, 0xFF80, 0x0001]
    else:
        raw.view(np.uint32)[0, :4] = [0x7FC00000, 0x7F800001, 0xFF800000, 1]
    return raw


def llama_cpp_permute(w, n_head):
    """The q/k row order of llama.cpp's convert_hf_to_gguf.py (LlamaModel)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def write_tiny_model(out, arch, rng):
    from safetensors.numpy import save_file

    hidden, heads, kv_heads, ffn, layers, vocab = 16, 4, 2, 24, 2, 32
    head_dim = hidden // heads
    hf, gg = {}, {}

    def add(hf_name, gguf_name, shape, permute_heads=0):
        w = rng.standard_normal(shape).astype(np.float32)
        hf[hf_name] = w
        gg[gguf_name] = llama_cpp_permute(w, permute_heads) if permute_heads else w

    llama = arch == "llama"
    add("model.embed_tokens.weight", "token_embd.weight", (vocab, hidden))
    for i in range(layers):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        add(p + "input_layernorm.weight", b + "attn_norm.weight", (hidden,))
        add(p + "post_attention_layernorm.weight", b + "ffn_norm.weight", (hidden,))
        add(p + "self_attn.q_proj.weight", b + "attn_q.weight",
            (heads * head_dim, hidden), heads if llama else 0)
        add(p + "self_attn.k_proj.weight", b + "attn_k.weight",
            (kv_heads * head_dim, hidden), kv_heads if llama else 0)
        add(p + "self_attn.v_proj.weight", b + "attn_v.weight",
            (kv_heads * head_dim, hidden))
        add(p + "self_attn.o_proj.weight", b + "attn_output.weight",
            (hidden, heads * head_dim))
        if not llama:
            add(p + "self_attn.q_proj.bias", b + "attn_q.bias", (heads * head_dim,))
            add(p + "self_attn.k_proj.bias", b + "attn_k.bias", (kv_heads * head_dim,))
            add(p + "self_attn.v_proj.bias", b + "attn_v.bias", (kv_heads * head_dim,))
        add(p + "mlp.gate_proj.weight", b + "ffn_gate.weight", (ffn, hidden))
        add(p + "mlp.up_proj.weight", b + "ffn_up.weight", (ffn, hidden))
        add(p + "mlp.down_proj.weight", b + "ffn_down.weight", (hidden, ffn))
    add("model.norm.weight", "output_norm.weight", (hidden,))
    if not llama:  # llama ties the embeddings, qwen2 does not
        add("lm_head.weight", "output.weight", (vocab, hidden))

    w = gguf.GGUFWriter(str(out / f"tiny_{arch}.gguf"), arch=arch)
    w.add_block_count(layers)
    w.add_context_length(64)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(100000.0 if llama else 1000000.0)
    w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(vocab)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    for name, t in gg.items():
        w.add_tensor(name, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    save_file(hf, str(out / f"tiny_{arch}_hf.safetensors"))


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261203)
    path = out / "quants.gguf"
    w = gguf.GGUFWriter(str(path), arch="lowbit-test")
    w.add_custom_alignment(64)
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.1)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo")
    w.add_uint64("test.u64", 2**64 - 1)
    w.add_int64("test.i64", -(2**62))
    w.add_float64("test.f64", 0.1)
    w.add_array("test.strings", ["a", "", "bc"])
    w.add_array("test.ints", [1, -2, 3])  # INT32 elements
    w.add_key_value("test.nested", [[1, 2], [3]], V.ARRAY)
    w.add_key_value("test.deep", [[["x"]], [["y", "z"]]], V.ARRAY)

    expected = {}
    for qtype in PLAIN:
        raw = plain_tensor(rng, qtype, 3, 40)
        expected[qtype] = raw
    for qtype in HALF_FIELDS:
        block_elems = gguf.GGML_QUANT_SIZES[qtype][0]
        rows, per_row = (16, 16) if block_elems == 32 else (16, 12)
        expected[qtype] = quant_tensor(rng, qtype, rows, per_row)
    for qtype, raw in expected.items():
        w.add_tensor(f"t.{qtype.name}", raw, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # The reference: what the gguf package reads back and dequantizes.
    reader = gguf.GGUFReader(str(path))
    lines = []
    for t in reader.tensors:
        qtype = T(t.tensor_type)
        with np.errstate(all="ignore"):  # NaN and Inf scales are intended.
            ref = gguf.quants.dequantize(t.data, qtype)
        assert ref.dtype == np.float32, (t.name, ref.dtype)
        assert ref.size == int(t.n_elements), t.name
        (out / f"{qtype.name}.f32").write_bytes(ref.astype("<f4").tobytes())
        dims = " ".join(str(int(d)) for d in t.shape)
        lines.append(f"{t.name} {int(t.tensor_type)} {t.data_offset} "
                     f"{int(t.n_bytes)} {dims}\n")
    (out / "tensors.txt").write_text("".join(lines))

    write_tiny_model(out, "llama", rng)
    write_tiny_model(out, "qwen2", rng)

    smol = os.environ.get("LOWBIT_SMOLLM2_GGUF")
    if smol:
        (out / "smollm2").mkdir(exist_ok=True)
        wanted = {"token_embd.weight": 1024, "blk.0.attn_q.weight": None,
                  "blk.29.ffn_down.weight": None}
        for t in gguf.GGUFReader(smol).tensors:
            if t.name in wanted:
                rows = t.data if wanted[t.name] is None else t.data[: wanted[t.name]]
                ref = gguf.quants.dequantize(rows, T(t.tensor_type))
                (out / "smollm2" / f"{t.name}.f32").write_bytes(
                    ref.astype("<f4").tobytes())


if __name__ == "__main__":
    main()
