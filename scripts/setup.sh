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
