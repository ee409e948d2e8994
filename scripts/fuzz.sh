#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-22 (ASan + UBSan) in ./build-fuzz
# and runs each for LOWBIT_FUZZ_SECONDS (default 20) seconds, starting from
# the seed corpora in test/Fuzz/corpus. Any crash fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_EACH=${LOWBIT_FUZZ_SECONDS:-20}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang-22 CXX=clang++-22 cmake -G Ninja -S . -B "$BUILD_DIR" \
    -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_FUZZERS=ON \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit >/dev/null
fi
FUZZERS=(SafetensorsFuzzer:safetensors HFConfigFuzzer:config TokenizerFuzzer:tokenizer
  BundleFuzzer:bundle ManifestFuzzer:manifest GgufFuzzer:gguf)
targets=()
for f in "${FUZZERS[@]}"; do targets+=("${f%%:*}"); done
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"
for f in "${FUZZERS[@]}"; do
  name=${f%%:*}; corpus=${f##*:}
  work=$(mktemp -d)
  exe=$(find "$BUILD_DIR" -type f -name "$name" -perm -u+x | head -1)
  dict=()
  [ -f "test/Fuzz/$corpus.dict" ] && dict=(-dict="test/Fuzz/$corpus.dict")
  echo "fuzz: $name for ${SECONDS_EACH}s" >&2
  "$exe" "${dict[@]}" -max_total_time="$SECONDS_EACH" -print_final_stats=0 \
    "$work" "test/Fuzz/corpus/$corpus" 2>"$work.log" || {
      tail -40 "$work.log"; echo "fuzz: $name FAILED" >&2; exit 1; }
  echo "fuzz: $name ok: $(grep -E '^#[0-9]+.*DONE' "$work.log" | tail -1)"
  rm -rf "$work" "$work.log"
done
