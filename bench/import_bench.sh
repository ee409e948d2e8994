#!/usr/bin/env bash
# Import speed and memory on a synthetic 1.1B-parameter checkpoint (TinyLlama
# shape, bf16, 2.2 GB). Target (issue: Import): < 2 s and < 200 MB resident.
# Baseline measured in the same run: the `safetensors` Python package opening
# the same file and listing every tensor's name, dtype and shape (header only),
# i.e. the least work any importer must do.
#
#   bench/import_bench.sh [MODEL_DIR]      (default: build/bench/syn1b, made on first use)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/bin
MODEL=${1:-build/bench/syn1b}
RUNS=${RUNS:-5}
if [ ! -f "$MODEL/config.json" ]; then
  echo "bench: writing the 1b synthetic checkpoint to $MODEL (about 20 s)" >&2
  python3 examples/make_synthetic_model.py --out "$MODEL" --preset 1b --quiet
fi
size=$(python3 -c "import glob, os; print(sum(os.path.getsize(f) for f in glob.glob('$MODEL/*.safetensors')))")

best() { sort -g | head -1; }
imp_t=(); imp_m=(); base_t=()
for _ in $(seq "$RUNS"); do
  out=$( { /usr/bin/time -f "%e %M" "$BIN/lowbit-import" "$MODEL" -o /tmp/lowbit-bench-import.mlir; } 2>&1 | tail -1)
  imp_t+=("$(echo "$out" | awk '{print $1}')"); imp_m+=("$(echo "$out" | awk '{print $2}')")
  out=$( { /usr/bin/time -f "%e" python3 -c "
from safetensors import safe_open
import glob
for f in sorted(glob.glob('$MODEL/*.safetensors')):
    with safe_open(f, 'np') as st:
        for k in st.keys(): st.get_slice(k).get_shape()
"; } 2>&1 | tail -1)
  base_t+=("$out")
done
t=$(printf '%s\n' "${imp_t[@]}" | best); m=$(printf '%s\n' "${imp_m[@]}" | best)
b=$(printf '%s\n' "${base_t[@]}" | best)
ir=$(wc -c < /tmp/lowbit-bench-import.mlir)
python3 - "$t" "$m" "$b" "$size" "$ir" <<'PY'
import json, sys
t, m, b, size, ir = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = [
    ("lowbit-import wall time (best of runs)", f"{t:.3f} s", f"target < 2 s: {'met' if t < 2 else 'MISSED'}"),
    ("lowbit-import max resident memory", f"{m/1024:.1f} MB", f"target < 200 MB: {'met' if m < 200*1024 else 'MISSED'}"),
    ("baseline: safetensors header listing (Python)", f"{b:.3f} s", f"lowbit/baseline = {t/b:.2f}x"),
    ("checkpoint size", f"{size/1e9:.2f} GB", f"IR is {ir/1024:.1f} KiB ({ir/size*1e6:.1f} ppm of the weights)"),
]
for r in rows:
    print(f"{r[0]:<48} {r[1]:>10}   {r[2]}")
print(json.dumps({"import_s": t, "import_max_rss_mb": m / 1024, "baseline_s": b,
                  "ratio_vs_baseline": t / b, "checkpoint_bytes": size, "ir_bytes": ir}))
PY
