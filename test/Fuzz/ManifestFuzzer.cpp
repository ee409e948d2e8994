//===- ManifestFuzzer.cpp - libFuzzer target for the manifest parser ------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The input is the text of a bundle manifest (docs/bundle-manifest.md). It
/// is written with BundleWriter into an in-memory bundle next to a fixed set
/// of tensors (a one-layer Llama-style model, see make_manifest_corpus.py),
/// the bundle is opened with Bundle::fromMemory and engine::loadManifest
/// parses and validates the manifest and its dispatch program.
///
/// The only accepted failure is an EngineError with status FORMAT or
/// UNSUPPORTED and a message (what lowbit_rt_model_open reports for a bad
/// manifest); any other exception escapes and crashes the fuzzer. A manifest
/// that loads must give a program the interpreter can run safely: every
/// buffer id in range with the dtype and columns its op needs, every weight
/// pointer inside the bundle with the size the op reads, finite
/// hyper-parameters, and every attention op bound to a matching KV cache.
///
/// The bundle deliberately has no code blob: fuzzer-made bytes must never
/// reach KernelLibrary::load (memfd + dlopen). loadManifest only loads a
/// kernel library when Bundle::code(target) is non-null, so a program with a
/// qmatmul op is validated up to its kernel list and then rejected for the
/// missing code blob; the fuzzer checks that no library was loaded.
///
/// Build: the ManifestFuzzer target of test/Fuzz/CMakeLists.txt. Run:
///   ManifestFuzzer -dict=test/Fuzz/manifest.dict -max_total_time=60 \
///     corpus-dir test/Fuzz/corpus/manifest
///
//===----------------------------------------------------------------------===//

#include "Model.h"
#include "lowbitrt/Bundle.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace lowbit::rt;
using namespace lowbit::rt::engine;

namespace {

void check(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

struct FixedTensor {
  const char *name;
  DType dtype;
  std::vector<int64_t> shape;
};

constexpr int64_t V = 32, D = 16, H = 2, KVH = 1, DH = 8, I = 32;
#define L0 "model.layers.0."

/// The tensors of every fuzzed bundle; mirrors TENSORS of
/// make_manifest_corpus.py.
const std::vector<FixedTensor> &fixedTensors() {
  static const std::vector<FixedTensor> tensors = {
      {"model.embed_tokens.weight", DType::F32, {V, D}},
      {L0 "input_layernorm.weight", DType::F32, {D}},
      {L0 "self_attn.q_proj.weight", DType::F32, {H * DH, D}},
      {L0 "self_attn.q_proj.bias", DType::F32, {H * DH}},
      {L0 "self_attn.k_proj.weight", DType::F32, {KVH * DH, D}},
      {L0 "self_attn.v_proj.weight", DType::F32, {KVH * DH, D}},
      {L0 "self_attn.o_proj.weight", DType::F32, {D, H * DH}},
      {L0 "post_attention_layernorm.weight", DType::F32, {D}},
      {L0 "mlp.gate_proj.weight", DType::F32, {I, D}},
      {L0 "mlp.up_proj.weight", DType::F32, {I, D}},
      {L0 "mlp.down_proj.weight", DType::F32, {D, I}},
      {L0 "mlp.down_proj.bias", DType::F32, {D}},
      {L0 "mlp.down_proj.qweight", DType::Bytes, {320}},
      {L0 "mlp.down_proj.perm", DType::I32, {I}},
      {L0 "mlp.down_proj.perm_bad", DType::I32, {I}},
      {"model.norm.weight", DType::F32, {D}},
      {"lm_head.weight", DType::F32, {V, D}},
  };
  return tensors;
}

/// The bytes of tensor `t`: small floats, a byte pattern, and for the i32
/// tensors a reversal permutation (`perm`) or one with a repeated entry.
std::vector<uint8_t> tensorBytes(const FixedTensor &t) {
  uint64_t n = 1;
  for (int64_t d : t.shape)
    n *= static_cast<uint64_t>(d);
  std::vector<uint8_t> bytes(n * dtypeSize(t.dtype));
  for (uint64_t i = 0; i < n; ++i) {
    if (t.dtype == DType::F32) {
      float v = static_cast<float>(int64_t(i % 17) - 8) / 64.0f;
      std::memcpy(&bytes[i * 4], &v, 4);
    } else if (t.dtype == DType::I32) {
      bool bad = std::string(t.name).find("perm_bad") != std::string::npos;
      int32_t v = static_cast<int32_t>(bad && i == 5 ? 4 : n - 1 - i);
      std::memcpy(&bytes[i * 4], &v, 4);
    } else {
      bytes[i] = static_cast<uint8_t>(i * 37 + 11);
    }
  }
  return bytes;
}

/// Checks a program that loaded: what the interpreter in Engine.cpp relies
/// on without further checks.
void checkModel(const Model &m, const Bundle &b) {
  check(!m.kernels, "no kernel library without a code blob");
  // The fixture's target is x86 (its device without a code blob reports no
  // ISA); a mutated "cpu" runs on the portable device.
  check((m.target == "x86" && m.isa == "none") ||
            (m.target == "cpu" && m.isa == "portable"),
        "target and its device");
  check(m.vocabSize >= 1 && m.hiddenSize >= 1 && m.numLayers >= 0 &&
            m.maxPositions >= 1,
        "config ranges");
  check(m.bosId >= -1, "bos id");
  for (int32_t id : m.eosIds)
    check(id >= 0, "eos id");

  const Program &p = m.program;
  const int64_t numBuffers = static_cast<int64_t>(p.buffers.size());
  for (const BufferDesc &d : p.buffers)
    check(d.cols >= 1, "buffer cols");
  auto buf = [&](int id) -> const BufferDesc & {
    check(id >= 0 && id < numBuffers, "buffer id in range");
    return p.buffers[static_cast<size_t>(id)];
  };
  auto f32 = [&](int id, int64_t cols) {
    const BufferDesc &d = buf(id);
    check(!d.isInt && (cols < 0 || d.cols == cols), "f32 buffer");
  };
  auto i32 = [&](int id) {
    const BufferDesc &d = buf(id);
    check(d.isInt && d.cols == 1, "i32 buffer");
  };
  i32(p.tokens);
  i32(p.positions);
  check(p.tokens != p.positions, "distinct inputs");
  f32(p.output, m.vocabSize);

  // A weight of `bytes` bytes lies inside the bundle.
  const uint8_t *lo = b.data(), *hi = b.data() + b.size();
  auto inside = [&](const void *w, uint64_t bytes) {
    auto *q = static_cast<const uint8_t *>(w);
    check(w && q >= lo && q <= hi &&
              bytes <= static_cast<uint64_t>(hi - q),
          "weight inside the bundle");
  };

  for (const Op &op : p.ops) {
    check(op.numIn >= 1 && op.numIn <= 4, "input count");
    for (int j = 0; j < op.numIn; ++j) {
      int in = op.in[static_cast<size_t>(j)];
      buf(in);
      check(in != op.out, "output is not an input");
    }
    buf(op.out);
    check(op.out != p.tokens && op.out != p.positions,
          "output is not a program input");
    const int x = op.in[0];
    // Per-op invariants from the op table's descriptor.
    check(op.def != nullptr, "op has a table entry");
    // Every weight the table declares is present unless optional, and
    // lies inside the bundle; no weight beyond the declared ones.
    for (int w = 0; w < lowbit::rt::ops::kMaxWeights; ++w) {
      const auto &role = op.def->weights[w];
      const void *ptr = op.weight[static_cast<size_t>(w)];
      if (!role.name) {
        check(ptr == nullptr, "no weight beyond the table's roles");
        continue;
      }
      if (!ptr) {
        check(role.optional, "required weight present");
        continue;
      }
      inside(ptr, op.weightBytes[static_cast<size_t>(w)]);
    }
    const lowbit_hal_op_desc &d = op.desc;
    switch (op.def->kind) {
    case LOWBIT_HAL_OP_EMBEDDING:
      i32(x);
      f32(op.out, d.cols);
      check(d.rows >= 0, "embedding rows");
      break;
    case LOWBIT_HAL_OP_RMS_NORM:
      f32(x, d.cols);
      f32(op.out, d.cols);
      check(std::isfinite(d.eps) && d.eps >= 0.0f, "rms_norm eps");
      break;
    case LOWBIT_HAL_OP_LINEAR:
      f32(x, d.cols);
      f32(op.out, d.rows);
      break;
    case LOWBIT_HAL_OP_QMATMUL:
      check(false, "qmatmul loaded without a kernel library");
      break;
    case LOWBIT_HAL_OP_ROTARY:
      f32(x, -1);
      i32(op.in[1]);
      f32(op.out, buf(x).cols);
      check(d.head_dim >= 2 && d.head_dim % 2 == 0 &&
                d.num_heads * d.head_dim == buf(x).cols,
            "rotary heads");
      break;
    case LOWBIT_HAL_OP_ATTENTION: {
      check(d.num_heads >= 1 && d.num_kv_heads >= 1 && d.head_dim >= 1 &&
                d.num_heads % d.num_kv_heads == 0,
            "attention heads");
      f32(op.in[0], d.num_heads * d.head_dim);
      f32(op.in[1], d.num_kv_heads * d.head_dim);
      f32(op.in[2], d.num_kv_heads * d.head_dim);
      i32(op.in[3]);
      f32(op.out, d.num_heads * d.head_dim);
      check(op.cache >= 0 && static_cast<size_t>(op.cache) < p.caches.size(),
            "attention cache index");
      const CacheDesc &c = p.caches[static_cast<size_t>(op.cache)];
      check(c.numKVHeads == d.num_kv_heads && c.headDim == d.head_dim,
            "attention cache shape");
      break;
    }
    default:
      f32(op.in[0], d.cols);
      f32(op.in[1], d.cols);
      f32(op.out, d.cols);
      break;
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // MANIFEST_FUZZER_VERBOSE=1 prints each input's outcome (seed triage).
  static const bool verbose = std::getenv("MANIFEST_FUZZER_VERBOSE");
  static const std::vector<std::vector<uint8_t>> tensorData = [] {
    std::vector<std::vector<uint8_t>> all;
    for (const FixedTensor &t : fixedTensors())
      all.push_back(tensorBytes(t));
    return all;
  }();

  BundleWriter w;
  w.setManifest(std::string(reinterpret_cast<const char *>(data), size));
  for (size_t i = 0; i < fixedTensors().size(); ++i) {
    const FixedTensor &t = fixedTensors()[i];
    w.addTensor(t.name, t.dtype, t.shape, tensorData[i].data(),
                tensorData[i].size());
  }
  // No addCode(): see the file comment.
  std::vector<uint8_t> image;
  std::string err;
  if (!w.writeToBuffer(image, err))
    return -1; // Not a JSON object: not a manifest any bundle can hold.

  Model model;
  model.bundle = Bundle::fromMemory(image.data(), image.size(), err);
  if (!model.bundle) {
    std::fprintf(stderr, "written bundle does not load: %s\n", err.c_str());
    std::abort();
  }
  check(model.bundle->codes().empty(), "the bundle has no code blob");

  try {
    loadManifest(model);
  } catch (const EngineError &e) {
    if (verbose)
      std::fprintf(stderr, "manifest rejected: %s\n", e.what());
    check(e.status == LOWBIT_RT_FORMAT || e.status == LOWBIT_RT_UNSUPPORTED,
          "error status");
    check(!e.message.empty(), "error message");
    check(!model.kernels, "no kernel library without a code blob");
    return 0;
  }
  checkModel(model, *model.bundle);
  if (verbose)
    std::fprintf(stderr, "manifest loaded: %zu ops\n",
                 model.program.ops.size());
  return 0;
}
