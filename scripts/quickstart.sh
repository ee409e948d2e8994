#!/usr/bin/env bash
# README command (1): sets up and builds lowbit, writes the embedded example
# model (a deterministic synthetic Llama checkpoint in Hugging Face layout),
# imports it to lowbit IR, checks the reference executor against NumPy,
# compiles it with GPTQ 4-bit into an x86 bundle for this CPU, and reports the
# bundle's quality (KL vs the FP32 model) and generation speed. With
# ../shared/models present it does the same for the trained stories260k
# model, whose generated text reads as a story.
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
echo "== 4. lowbit-compile: GPTQ 4-bit (groups of 64, range search), calibrated on examples/calib.txt,"
echo "   lowered to generated x86 kernels for this CPU -> $OUT/model-w4.lowbit"
"$BIN/lowbit-compile" "$OUT/model" --method gptq --bits 4 --group-size 64 --mse \
  --calib examples/calib.txt --seqlen 64 --nsamples 0 --target x86 \
  -o "$OUT/model-w4.lowbit" --report "$OUT/model-w4.report.json"
echo "== 5. lowbit-eval: the bundle (runtime + generated kernels) against the FP32 model"
python3 -c "
import struct, random
random.seed(0)
ids = [1] + [random.randrange(3, 2048) for _ in range(1023)]
open('$OUT/tokens.bin', 'wb').write(struct.pack('<%di' % len(ids), *ids))"
"$BIN/lowbit-eval" --model "$OUT/model-w4.lowbit" --reference "$OUT/model" --tokens "$OUT/tokens.bin" --window 256
du -sh "$OUT/model/model.safetensors" "$OUT/model-w4.lowbit" | sed 's/^/   size: /'
echo "   (a random-weight model is far more sensitive to quantization than a trained one,"
echo "    and its text is gibberish: see 5b for a trained model)"
echo "== 6. lowbit-run: generate 32 tokens"
"$BIN/lowbit-run" "$OUT/model-w4.lowbit" --prompt "Once upon a time" -n 32
echo
STORIES=${LOWBIT_SHARED_MODELS:-$(cd .. && pwd)/shared/models}/stories260k
if [ -d "$STORIES" ]; then
  echo "== 5b. the same on the trained stories260k model (GPTQ w4 g32, act-order, range search)"
  "$BIN/lowbit-compile" "$STORIES" --method gptq --bits 4 --group-size 32 --act-order --mse \
    --calib "$STORIES/data/calib_tokens.bin" -o "$OUT/stories-w4.lowbit" 2>/dev/null
  "$BIN/lowbit-eval" --model "$OUT/stories-w4.lowbit" --reference "$STORIES" \
    --tokens "$STORIES/data/eval_tokens.bin"
  "$BIN/lowbit-run" "$OUT/stories-w4.lowbit" --prompt "Once upon a time" -n 96 --threads 1
  echo
fi
echo "== 7. lowbit-opt -lowbit-fuse-dequant-matmul on examples/quantized-mlp.mlir"
"$BIN/lowbit-opt" examples/quantized-mlp.mlir -lowbit-fuse-dequant-matmul
