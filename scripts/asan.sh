#!/usr/bin/env bash
# Sanitizer run (issue 11.9): builds the runtime, the compiler, the tools and
# the tests with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DLOWBIT_SANITIZE=ON) in ./build-asan (override with ASAN_BUILD_DIR), only
# the lowbit-test-deps target (no benchmarks, no fuzzers), then runs
#   - every CTest test except lit (GoogleTest suites, CTS, Python checks);
#   - except X86Kernels.AgainstReference (minutes per case under ASan; the
#     kernels it checks are generated code, not instrumented) and
#     bench_e2e_vs_llamacpp_smoke (Python loads the runtime library with
#     ctypes, which an ASan-instrumented library cannot be without
#     preloading the ASan runtime; the normal build runs it);
#   - the lit tests in LOWBIT_ASAN_LIT (default below): the dialect
#     verifiers, import (parsers, bad checkpoints), the tools' and the
#     runtime's bad-input paths (Tools: bundles, C API, lowbit-run, CTS) and
#     the compile/eval error tests. Not the passes (no parser or runtime
#     code) nor the stories260k compile/eval runs (minutes each under ASan;
#     the normal build runs them).
# Any sanitizer report fails the run (UB aborts, ASan and LeakSanitizer exit
# non-zero). Called by scripts/test.sh; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${ASAN_BUILD_DIR:-build-asan}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
JOBS=${JOBS:-$(nproc)}
export LOWBIT_SHARED_MODELS=${LOWBIT_SHARED_MODELS:-$(cd .. && pwd)/shared/models}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # -O1 -g1: quick to compile, stack traces with lines.
  cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" \
    -DLOWBIT_SANITIZE=ON -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit "$@"
fi
start=$(date +%s)
cmake --build "$BUILD_DIR" -j "$JOBS" --target lowbit-test-deps
echo "asan: built in $(( $(date +%s) - start )) s"
# halt_on_error: the first report fails the test that hit it.
# allow_user_poisoning=0: LLVM's headers poison BumpPtrAllocator slabs when
# the includer is built with ASan, but the uninstrumented libMLIR allocates
# from the same slabs without unpoisoning (false use-after-poison reports in
# MLIR's parser); heap, stack and global checks of our code are unaffected.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:allow_user_poisoning=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
start=$(date +%s)
(cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" \
  -E '^lit$|X86Kernels\.AgainstReference|^bench_e2e_vs_llamacpp_smoke$')
echo "asan: ctest in $(( $(date +%s) - start )) s"
LIT_DIRS=${LOWBIT_ASAN_LIT:-Dialect Import Tools Compile/errors.test Eval/errors.test}
lit_paths=()
for d in $LIT_DIRS; do lit_paths+=("$BUILD_DIR/test/$d"); done
start=$(date +%s)
/usr/lib/llvm-22/bin/lit -sv "${lit_paths[@]}"
echo "asan: lit ($LIT_DIRS) in $(( $(date +%s) - start )) s"
