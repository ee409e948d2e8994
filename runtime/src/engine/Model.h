//===- Model.h - manifest, dispatch program and loaded model ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The in-memory form of a bundle's manifest (docs/bundle-manifest.md): the
/// model config and the validated dispatch program, with every tensor
/// resolved to a pointer and every qmatmul bound to the target's driver
/// (Driver.h), ready for the interpreter in Engine.cpp.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_ENGINE_MODEL_H
#define LOWBITRT_ENGINE_MODEL_H

#include "Driver.h"
#include "lowbitrt/Bundle.h"
#include "lowbitrt/Kernels.h"
#include "lowbitrt/Tokenizer.h"
#include "lowbitrt/lowbit_rt.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lowbit::rt::engine {

enum class OpKind {
  Embedding,
  RmsNorm,
  Linear,
  QMatmul,
  Rotary,
  Attention,
  GatedAct,
  Add,
};

/// One buffer of the program: T rows of `cols` elements.
struct BufferDesc {
  bool isInt = false;
  int64_t cols = 0;
};

/// One KV cache: `[max_context, numKVHeads * headDim]` keys and values.
struct CacheDesc {
  int64_t layer = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
};

/// One validated op. Only the fields of its kind are meaningful.
struct Op {
  OpKind kind = OpKind::Add;
  std::array<int, 4> in{};
  int numIn = 0;
  int out = 0;

  /// embedding: the table [rows, cols]; rms_norm: weight [cols];
  /// linear: weight [rows = N, cols = K] and bias; qmatmul: rows = N and
  /// cols = K (the weight is the driver's).
  const float *weight = nullptr;
  const float *bias = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  float eps = 0.0f;

  /// qmatmul: the handle of the op bound by Model::driver.
  int qmatmul = -1;

  /// rotary and attention.
  kernels::RotaryStyle style = kernels::RotaryStyle::HalfSplit;
  std::vector<double> invFreq;
  int64_t numHeads = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  /// attention: index into Program::caches.
  int cache = 0;

  /// gated_act: gelu_tanh instead of silu.
  bool gelu = false;
};

/// The dispatch program.
struct Program {
  std::vector<BufferDesc> buffers;
  int tokens = 0;
  int positions = 0;
  int output = 0;
  std::vector<CacheDesc> caches;
  std::vector<Op> ops;
  /// The largest K of a qmatmul with a permutation (0: none). Informative:
  /// sessions size the driver's scratch with TargetDriver::scratchFloats.
  int64_t maxPermK = 0;
  /// The largest attention head dimension (0: no attention).
  int64_t maxHeadDim = 0;
};

/// A loaded model: the bundle (tensor pointers point into it), its config,
/// program, tokenizer and target driver.
struct Model {
  std::unique_ptr<Bundle> bundle;
  /// The driver of `target`, which owns the loaded code and the bound
  /// qmatmul ops. Declared after `bundle` so it is destroyed first.
  std::unique_ptr<TargetDriver> driver;
  /// The bundle's code blob for `target`, handed to the driver's load()
  /// (null: the bundle has none).
  const BundleCode *kernels = nullptr;
  std::unique_ptr<Tokenizer> tokenizer;
  Program program;

  std::string architecture;
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t numLayers = 0;
  int64_t maxPositions = 0;
  int32_t bosId = -1;
  /// Every end-of-sequence id (the config may list several); eosIds[0] is
  /// the one reported.
  std::vector<int32_t> eosIds;

  std::string target;
  /// TargetDriver::isaDescription() once the program is bound.
  std::string isa;
};

/// Parses and validates the manifest of `model.bundle` and fills the rest of
/// `model`. Throws EngineError.
void loadManifest(Model &model);

} // namespace lowbit::rt::engine

#endif // LOWBITRT_ENGINE_MODEL_H
