//===- TinyModel.h - a tiny llama-like bundle for engine tests --*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Builds, in the test itself, a two-layer llama-like bundle (generated x86
/// kernels, repacked weights, a manifest per docs/bundle-manifest.md), and a
/// reference forward pass with the fp32 kernel library on the dequantized
/// weights.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TEST_ENGINE_TINYMODEL_H
#define LOWBIT_TEST_ENGINE_TINYMODEL_H

#include "lowbitrt/Bundle.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tiny {

constexpr int64_t kVocab = 48;
constexpr int64_t kHidden = 32;
constexpr int64_t kHeads = 4;
constexpr int64_t kKVHeads = 2;
constexpr int64_t kHeadDim = 8;
constexpr int64_t kInter = 40;
constexpr int64_t kLayers = 2;
constexpr int64_t kMaxPos = 64;

struct Tensor {
  lowbit::rt::DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

/// Everything needed to write variants of the bundle.
struct TinyModel {
  std::vector<char> kernelLib;
  /// Tensors in the order they are written.
  std::vector<std::pair<std::string, Tensor>> tensors;
  nlohmann::json manifest;
  /// Effective (dequantized) weights [N, K] of every qmatmul, by tensor name.
  std::map<std::string, std::vector<float>> effective;

  /// Built once per process (kernel generation takes seconds).
  static const TinyModel &get();

  /// Writes a bundle with `manifest`, the tensors (with `overrides` replacing
  /// tensors of the same name) and the kernel library tagged `codeFormat`
  /// to a fresh temporary file and returns its path.
  std::string write(const nlohmann::json &manifest,
                    const std::map<std::string, Tensor> &overrides = {},
                    const std::string &codeFormat = "x86-elf-so-v1") const;

  /// Logits [n, kVocab] of the reference forward pass over `tokens` at
  /// positions 0..n-1.
  std::vector<float> reference(const std::vector<int32_t> &tokens) const;

  const Tensor &tensor(const std::string &name) const;
};

/// A small tokenizer.json (no normalizer, a Fuse decoder, a
/// single-character vocabulary plus "ab", <s> and </s>).
nlohmann::json tinyTokenizer();

} // namespace tiny

#endif // LOWBIT_TEST_ENGINE_TINYMODEL_H
