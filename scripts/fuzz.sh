#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-22 (ASan + UBSan) in ./build-fuzz
# and runs them, starting from the seed corpora in test/Fuzz/corpus.
#
#   scripts/fuzz.sh                 CI: each target for LOWBIT_FUZZ_SECONDS
#                                   (default 20) seconds; any crash fails.
#   scripts/fuzz.sh --long [--execs N] [--target NAME] [--max-time S]
#                                   Campaign: each target (or only NAME, e.g.
#                                   SafetensorsFuzzer or safetensors) one at a
#                                   time until N executions (default
#                                   10000000) or S seconds (default: none).
#                                   The working corpus is kept in
#                                   build-fuzz/campaign/<corpus> between runs;
#                                   afterwards it is merged (libFuzzer
#                                   -merge=1) into test/Fuzz/corpus/<corpus>
#                                   when the inputs that add coverage total at
#                                   most LOWBIT_FUZZ_CORPUS_MAX_KB (default
#                                   256) KiB. Prints executions, exec/s,
#                                   coverage (cov, ft), corpus size, crashes
#                                   and duration per target, then a summary
#                                   table; exits non-zero on any crash (the
#                                   input is kept in build-fuzz/campaign/).
#   scripts/fuzz.sh --long --resume ...
#                                   Counts N as each target's total over its
#                                   runs so far and runs only what is left.
#                                   Every run is appended to
#                                   build-fuzz/campaign/<corpus>.history, and
#                                   the summary also gives each target's
#                                   total over all its runs (a campaign can be
#                                   resumed: the working corpus is kept).
#                                   Campaign runs use a 64 MB ASan quarantine
#                                   (less RSS; LOWBIT_FUZZ_ASAN_OPTIONS
#                                   overrides) and cap TokenizerFuzzer inputs
#                                   at 1024 bytes (its per-input cost grows
#                                   with the text).
# Run campaigns under `nice -n 19` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_EACH=${LOWBIT_FUZZ_SECONDS:-20}
LONG=0
RESUME=0
EXECS=10000000
MAX_TIME=0
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --long) LONG=1 ;;
    --resume) RESUME=1 ;;
    --execs) EXECS=$2; shift ;;
    --execs=*) EXECS=${1#*=} ;;
    --target) ONLY=$2; shift ;;
    --target=*) ONLY=${1#*=} ;;
    --max-time) MAX_TIME=$2; shift ;;
    --max-time=*) MAX_TIME=${1#*=} ;;
    *) echo "fuzz.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
if [ "$LONG" = 0 ] && { [ -n "$ONLY" ] || [ "$MAX_TIME" != 0 ] || [ "$RESUME" = 1 ]; }; then
  echo "fuzz.sh: --target, --execs and --max-time need --long" >&2; exit 2
fi
if ! [[ "$EXECS" =~ ^[1-9][0-9]*$ && "$MAX_TIME" =~ ^[0-9]+$ ]]; then
  echo "fuzz.sh: --execs must be a positive integer, --max-time a number of seconds" >&2
  exit 2
fi

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang-22 CXX=clang++-22 cmake -G Ninja -S . -B "$BUILD_DIR" \
    -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_FUZZERS=ON \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit >/dev/null
fi
FUZZERS=(SafetensorsFuzzer:safetensors HFConfigFuzzer:config TokenizerFuzzer:tokenizer
  BundleFuzzer:bundle ManifestFuzzer:manifest CalibrationFuzzer:calibration
  GgufFuzzer:gguf)
if [ -n "$ONLY" ]; then
  selected=()
  for f in "${FUZZERS[@]}"; do
    if [ "$ONLY" = "${f%%:*}" ] || [ "$ONLY" = "${f##*:}" ]; then selected+=("$f"); fi
  done
  if [ ${#selected[@]} = 0 ]; then
    echo "fuzz.sh: no fuzz target '$ONLY' (one of: ${FUZZERS[*]})" >&2; exit 2
  fi
  FUZZERS=("${selected[@]}")
fi
targets=()
for f in "${FUZZERS[@]}"; do targets+=("${f%%:*}"); done
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"

if [ "$LONG" = 0 ]; then
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
  exit 0
fi

# --long: one campaign per target, one at a time.
CAMPAIGN=$BUILD_DIR/campaign
MAX_KB=${LOWBIT_FUZZ_CORPUS_MAX_KB:-256}
mkdir -p "$CAMPAIGN"
summary=()
failed=0
for f in "${FUZZERS[@]}"; do
  name=${f%%:*}; corpus=${f##*:}
  exe=$(find "$BUILD_DIR" -type f -name "$name" -perm -u+x | head -1)
  work=$CAMPAIGN/$corpus
  log=$CAMPAIGN/$corpus.log
  mkdir -p "$work" "$CAMPAIGN/$corpus-crashes"
  dict=()
  [ -f "test/Fuzz/$corpus.dict" ] && dict=(-dict="test/Fuzz/$corpus.dict")
  limit=()
  [ "$MAX_TIME" != 0 ] && limit=(-max_total_time="$MAX_TIME")
  [ "$corpus" = tokenizer ] && limit+=(-max_len=1024)
  history=$CAMPAIGN/$corpus.history
  runs=$EXECS
  if [ "$RESUME" = 1 ] && [ -f "$history" ]; then
    done_execs=$(sed -n 's/.* execs=\([0-9]*\) .*/\1/p' "$history" |
      awk '{ t += $1 } END { print t + 0 }')
    runs=$(( EXECS - done_execs ))
    if [ "$runs" -le 0 ]; then
      line="$name total_execs=$done_execs (goal $EXECS reached; nothing to run)"
      echo "fuzz: $line"; summary+=("$line"); continue
    fi
  fi
  echo "fuzz: $name: up to $runs executions${limit:+ or $MAX_TIME s}" \
    "($(date -u +%FT%TZ))" >&2
  start=$(date +%s)
  rc=0
  ASAN_OPTIONS=${LOWBIT_FUZZ_ASAN_OPTIONS:-quarantine_size_mb=64} \
    "$exe" "${dict[@]}" -runs="$runs" "${limit[@]}" -print_final_stats=1 \
    -artifact_prefix="$CAMPAIGN/$corpus-crashes/" \
    "$work" "test/Fuzz/corpus/$corpus" >"$log" 2>&1 || rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  crashes=$(find "$CAMPAIGN/$corpus-crashes" -type f | wc -l)
  if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
    failed=1
    tail -40 "$log" >&2
    echo "fuzz: $name FAILED (exit $rc; inputs in $CAMPAIGN/$corpus-crashes)" >&2
  fi
  # Merge what adds coverage into the checked-in corpus if it stays small.
  merged=0
  if [ "$rc" = 0 ]; then
    tmp=$(mktemp -d)
    cp -p "test/Fuzz/corpus/$corpus"/* "$tmp"/
    "$exe" -merge=1 "$tmp" "$work" >"$log.merge" 2>&1
    new=()
    for g in "$tmp"/*; do
      [ -e "test/Fuzz/corpus/$corpus/$(basename "$g")" ] || new+=("$g")
    done
    kb=0
    [ ${#new[@]} -gt 0 ] && kb=$(( ($(cat "${new[@]}" | wc -c) + 1023) / 1024 ))
    if [ ${#new[@]} -gt 0 ] && [ "$kb" -le "$MAX_KB" ]; then
      cp -p "${new[@]}" "test/Fuzz/corpus/$corpus/"
      merged=${#new[@]}
      echo "fuzz: $name: merged $merged inputs ($kb KiB) into test/Fuzz/corpus/$corpus" >&2
    elif [ ${#new[@]} -gt 0 ]; then
      echo "fuzz: $name: $kb KiB of new inputs exceed $MAX_KB KiB; kept in $work only" >&2
    fi
    rm -rf "$tmp"
  fi
  echo "$(date -u +%FT%TZ) execs=${execs:-0} secs=$secs rc=$rc crashes=$crashes cov=${cov:-?} ft=${ft:-?}" \
    >>"$history"
  total=$(sed -n 's/.* execs=\([0-9]*\) .*/\1/p' "$history" |
    awk '{ t += $1 } END { print t + 0 }')
  line="$name execs=${execs:-?} exec/s=${rate:-?} cov=${cov:-?} ft=${ft:-?} corp=${corp:-?} crashes=$crashes merged=$merged time=${secs}s total_execs=$total"
  echo "fuzz: $line"
  summary+=("$line")
done
echo "fuzz: summary ($(date -u +%FT%TZ))"
printf '  %s\n' "${summary[@]}"
exit "$failed"
