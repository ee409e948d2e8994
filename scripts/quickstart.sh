#!/usr/bin/env bash
# README command (1): sets up and builds lowbit, writes the embedded example
# model (a deterministic synthetic Llama checkpoint in Hugging Face layout),
# imports it to lowbit IR, evaluates it with the reference executor, and runs
# lowbit-opt's fusion pass on the quantized example in examples/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh >/dev/null
BIN=${BUILD_DIR:-build}/bin
OUT=${QUICKSTART_DIR:-build/quickstart}
mkdir -p "$OUT"

echo "== 1. the embedded example model (synthetic Llama, HF layout) -> $OUT/model"
[ -f "$OUT/model/config.json" ] || \
  python3 examples/make_synthetic_model.py --out "$OUT/model" --preset small --quiet
echo "== 2. lowbit-import -> $OUT/model.mlir (weights stay in the checkpoint)"
"$BIN/lowbit-import" "$OUT/model" -o "$OUT/model.mlir"
sed -n '1,3p' "$OUT/model.mlir" | cut -c1-160
echo "   ... $(wc -l < "$OUT/model.mlir") lines in all"
echo "== 3. lowbit-eval: logits of a prompt on the fp32 reference executor,"
echo "   checked against an independent NumPy float64 implementation"
"$BIN/lowbit-eval" --model "$OUT/model" --prompt "Once upon a time, there was a compiler." \
  --dump-logits "$OUT/logits.safetensors"
python3 test/ref/compare_logits.py "$OUT/model" "$OUT/logits.safetensors"
echo "== 4. lowbit-opt -lowbit-fuse-dequant-matmul on examples/quantized-mlp.mlir"
"$BIN/lowbit-opt" examples/quantized-mlp.mlir -lowbit-fuse-dequant-matmul
