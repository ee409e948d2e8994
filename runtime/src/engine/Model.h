//===- Model.h - manifest, dispatch program and loaded model ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The in-memory form of a bundle's manifest (docs/bundle-manifest.md): the
/// model config and the validated dispatch program, with every tensor and
/// kernel resolved to a pointer, ready for the interpreter in Engine.cpp.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_ENGINE_MODEL_H
#define LOWBITRT_ENGINE_MODEL_H

#include "X86Driver.h"
#include "lowbitrt/Bundle.h"
#include "lowbitrt/Kernels.h"
#include "lowbitrt/Tokenizer.h"
#include "lowbitrt/lowbit_rt.h"

#include <array>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace lowbit::rt::engine {

/// A failure with the status the C API reports.
class EngineError : public std::exception {
public:
  EngineError(lowbit_rt_status status, std::string message)
      : status(status), message(std::move(message)) {}
  const char *what() const noexcept override { return message.c_str(); }

  lowbit_rt_status status;
  std::string message;
};

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
  /// linear: weight [rows = N, cols = K] and bias.
  const float *weight = nullptr;
  const float *bias = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  float eps = 0.0f;

  /// qmatmul.
  lowbitrt::x86::QMatmulCall qmatmul;

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
  /// The largest K of a qmatmul with a permutation (0: none).
  int64_t maxPermK = 0;
  /// The largest attention head dimension (0: no attention).
  int64_t maxHeadDim = 0;
};

/// A loaded model: the bundle (tensor pointers point into it), its config,
/// program, tokenizer and kernel library.
struct Model {
  std::unique_ptr<Bundle> bundle;
  std::unique_ptr<lowbitrt::x86::KernelLibrary> kernels;
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
  std::string isa;
};

/// Parses and validates the manifest of `model.bundle` and fills the rest of
/// `model`. Throws EngineError.
void loadManifest(Model &model);

} // namespace lowbit::rt::engine

#endif // LOWBITRT_ENGINE_MODEL_H
