//===- Model.h - manifest, dispatch program and loaded model ----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The in-memory form of a bundle's manifest (docs/bundle-manifest.md): the
/// model config and the validated dispatch program, with every tensor
/// resolved to a pointer, and the execution plan (docs/runtime-hal.md):
/// every op bound to a kernel of the device that runs it (the primary device,
/// or `cpu` for ops the primary does not support), the weights imported into
/// that device, and the copies between devices, ready for Engine.cpp.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_ENGINE_MODEL_H
#define LOWBITRT_ENGINE_MODEL_H

#include "EngineError.h"
#include "lowbitrt/Bundle.h"
#include "lowbitrt/ChatTemplate.h"
#include "lowbitrt/Kernels.h"
#include "lowbitrt/OpTable.h"
#include "lowbitrt/Tokenizer.h"
#include "lowbitrt/hal.h"
#include "lowbitrt/lowbit_rt.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lowbit::rt::engine {

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

/// One validated op: its definition in the op table (lowbitrt/OpTable.h),
/// its buffers, its kernel descriptor and constant weights.
struct Op {
  const ops::OpDef *def = nullptr;
  std::array<int, ops::kMaxInputs> in{};
  int numIn = 0;
  int out = 0;

  /// The descriptor the shape rule filled (its pointers are set from the
  /// strings below when it is handed to a device).
  lowbit_hal_op_desc desc{};
  /// The constant weights (bundle memory), by OpDef::weights index (null:
  /// an absent optional one).
  std::array<const void *, ops::kMaxWeights> weight{};
  std::array<uint64_t, ops::kMaxWeights> weightBytes{};
  /// qmatmul: the codec of the packed weight.
  std::string layout;
  /// Ops with OpDef::deviceFields: the manifest object (JSON text) for the
  /// device's own fields.
  std::string json;
  /// "op 3 (qmatmul)".
  std::string context;
  /// Ops that bind a KV cache: index into Program::caches.
  int cache = 0;

  /// The plan: the index into Model::devices of the device that runs it, and
  /// its kernel there.
  int device = 0;
  lowbit_hal_kernel *kernel = nullptr;
  /// The constant bindings (weights imported into `device`), by binding
  /// index; program buffers and caches are bound per session.
  std::array<lowbit_hal_binding, ops::kMaxBindings> constants{};
  /// Copies of program buffers to `device` before the op runs.
  struct Transfer {
    int buffer = 0;
    int from = 0;
    int to = 0;
  };
  std::vector<Transfer> transfers;
};

/// The dispatch program.
struct Program {
  std::vector<BufferDesc> buffers;
  int tokens = 0;
  int positions = 0;
  int output = 0;
  std::vector<CacheDesc> caches;
  std::vector<Op> ops;
};

/// One device of a model: the primary (index 0) or the `cpu` fallback.
struct DeviceSlot {
  lowbit_hal_device *device = nullptr;
  /// The bundle's code blob named after the device, loaded (or null).
  lowbit_hal_executable *executable = nullptr;
  /// Imported bundle tensors, by address.
  std::vector<std::pair<const void *, lowbit_hal_buffer *>> imported;
  const lowbit_hal_device_vtable &v() const { return *device->vtable; }
};

/// Where each program buffer lives: a bit per device index.
struct BufferPlan {
  unsigned devices = 0;
};

/// A loaded model: the bundle (tensor pointers point into it), its config,
/// program, tokenizer and execution plan.
struct Model {
  Model() = default;
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;
  /// Frees kernels, imported buffers, executables and devices.
  ~Model();

  std::unique_ptr<Bundle> bundle;
  /// The devices: [0] the primary one, [1] `cpu` when some op falls back.
  std::vector<DeviceSlot> devices;
  /// The bundle's code blob for `target` (null: the bundle has none).
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
  /// The manifest's `tokenizer_config` (chat template, BOS/EOS texts), when
  /// it has one.
  std::optional<ChatConfig> tokenizerConfig;

  std::string target;
  /// The primary device's description once the program is bound (the
  /// chosen ISAs for x86; "none" without kernels that choose).
  std::string isa;
  /// The primary device's name and the fallback's ("" if none).
  std::string device;
  std::string fallbackDevice;

  /// The plan: where each buffer and cache lives, the devices that receive
  /// tokens and positions, the device the logits are read from, and the
  /// number of ops that fall back and of copies per step.
  std::vector<BufferPlan> bufferPlan;
  std::vector<int> cacheDevice;
  int outputDevice = 0;
  int fallbackOps = 0;
  int transfersPerStep = 0;

  /// The code-loading policy of OpenOptions, and whether the signature
  /// has been verified already (it covers every code blob).
  bool noNativeCode = false;
  std::vector<std::string> trustedKeys;
  bool signatureVerified = false;
};

/// How to open a model.
struct OpenOptions {
  /// The primary device; empty: the manifest's target.
  std::string device;
  /// A device to use as the primary instead of creating one (tests wrap a
  /// registered device this way); owned by the model. `device` is ignored.
  lowbit_hal_device *primary = nullptr;
  /// Never load a code blob: the primary device is `cpu` (lowbit_rt.h,
  /// no_native_code).
  bool noNativeCode = false;
  /// Trusted Ed25519 public key files; when not empty, a code blob is loaded
  /// only from a bundle whose signature verifies against one of them.
  std::vector<std::string> trustedKeys;
};

/// Parses and validates the manifest of `model.bundle`, creates the devices,
/// binds every op and fills the rest of `model`. Throws EngineError.
void loadManifest(Model &model, const OpenOptions &options = {});

/// lowbit_rt_model_open with \p options (tests give a wrapped primary
/// device this way).
lowbit_rt_status openModel(const char *path, const OpenOptions &options,
                           lowbit_rt_model **out);

/// The C API status of a HAL status.
lowbit_rt_status toRtStatus(lowbit_hal_status_code code);

/// Throws an EngineError for a failed HAL status (freeing it), prefixing its
/// message with \p context (if not empty).
[[noreturn]] void throwStatus(lowbit_hal_status status,
                              const std::string &context);
inline void throwIfFailed(lowbit_hal_status status) {
  if (status)
    throwStatus(status, std::string());
}
inline void throwIfFailed(lowbit_hal_status status,
                          const std::string &context) {
  if (status)
    throwStatus(status, context);
}

} // namespace lowbit::rt::engine

#endif // LOWBITRT_ENGINE_MODEL_H
