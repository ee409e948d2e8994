//===- ManifestChecks.cpp - cross-op consistency of a program -------------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// One walk over the ops in program order, tracking which op last wrote each
/// buffer, plus checks of the attention ops against the config and the KV
/// caches. See ManifestChecks.h and docs/bundle-manifest.md ("Validation").
///
//===----------------------------------------------------------------------===//

#include "ManifestChecks.h"

#include <string>
#include <vector>

using namespace lowbit::rt;
using namespace lowbit::rt::engine;
using json = nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string &msg) {
  throw EngineError(LOWBIT_RT_FORMAT, msg);
}

std::string num(int64_t v) { return std::to_string(v); }

/// The config's integer `key`, or -1 when absent or null.
int64_t configInt(const json &config, const char *key) {
  auto it = config.find(key);
  if (it == config.end() || !it->is_number_integer())
    return -1;
  return it->get<int64_t>();
}

} // namespace

void lowbit::rt::engine::checkProgramConsistency(const Model &model,
                                                 const json &config) {
  const Program &prog = model.program;
  const int64_t cfgHeads = configInt(config, "num_attention_heads");
  const int64_t cfgKVHeads = configInt(config, "num_key_value_heads");
  const int64_t cfgHeadDim = configInt(config, "head_dim");

  // The op that last wrote each buffer (-1: none yet; the inputs are
  // written by the runtime).
  std::vector<int> writer(prog.buffers.size(), -1);
  std::vector<bool> written(prog.buffers.size(), false);
  written[size_t(prog.tokens)] = written[size_t(prog.positions)] = true;
  // The attention op of each KV cache (-1: none).
  std::vector<int> cacheUser(prog.caches.size(), -1);

  for (size_t i = 0; i < prog.ops.size(); ++i) {
    const Op &op = prog.ops[i];
    const std::string &ctx = op.context;
    for (int j = 0; j < op.numIn; ++j) {
      int b = op.in[size_t(j)];
      if (!written[size_t(b)])
        fail(ctx + ": input buffer " + num(b) +
             " is read before any op writes it");
    }
    switch (op.def->kind) {
    case LOWBIT_HAL_OP_EMBEDDING:
    case LOWBIT_HAL_OP_QEMBEDDING:
      if (op.in[0] != prog.tokens)
        fail(ctx + ": input buffer " + num(op.in[0]) +
             " is not the program's tokens buffer " + num(prog.tokens));
      if (op.desc.rows != model.vocabSize)
        fail(ctx + ": the table has " + num(op.desc.rows) +
             " rows but config vocab_size is " + num(model.vocabSize));
      if (op.desc.cols != model.hiddenSize)
        fail(ctx + ": the table has " + num(op.desc.cols) +
             " columns but config hidden_size is " + num(model.hiddenSize));
      break;
    case LOWBIT_HAL_OP_ROTARY:
      if (op.in[1] != prog.positions)
        fail(ctx + ": positions buffer " + num(op.in[1]) +
             " is not the program's positions buffer " + num(prog.positions));
      break;
    case LOWBIT_HAL_OP_ATTENTION: {
      if (op.in[3] != prog.positions)
        fail(ctx + ": positions buffer " + num(op.in[3]) +
             " is not the program's positions buffer " + num(prog.positions));
      // q and k: a rotary that produced them rotated heads of its own size.
      const char *names[2] = {"q", "k"};
      for (int j = 0; j < 2; ++j) {
        int w = writer[size_t(op.in[size_t(j)])];
        if (w < 0)
          continue;
        const Op &src = prog.ops[size_t(w)];
        if (src.def->kind == LOWBIT_HAL_OP_ROTARY &&
            src.desc.head_dim != op.desc.head_dim)
          fail(ctx + ": " + names[j] + " comes from " + src.context +
               " with head_dim " + num(src.desc.head_dim) +
               ", but the attention has head_dim " + num(op.desc.head_dim));
      }
      if (cfgHeads >= 0 && op.desc.num_heads != cfgHeads)
        fail(ctx + ": num_heads " + num(op.desc.num_heads) +
             " differs from config num_attention_heads " + num(cfgHeads));
      if (cfgKVHeads >= 0 && op.desc.num_kv_heads != cfgKVHeads)
        fail(ctx + ": num_kv_heads " + num(op.desc.num_kv_heads) +
             " differs from config num_key_value_heads " + num(cfgKVHeads));
      if (cfgHeadDim >= 0 && op.desc.head_dim != cfgHeadDim)
        fail(ctx + ": head_dim " + num(op.desc.head_dim) +
             " differs from config head_dim " + num(cfgHeadDim));
      const CacheDesc &c = prog.caches[size_t(op.cache)];
      if (c.layer >= model.numLayers)
        fail(ctx + ": layer " + num(c.layer) +
             " is not below config num_hidden_layers " + num(model.numLayers));
      int &user = cacheUser[size_t(op.cache)];
      if (user >= 0)
        fail(ctx + ": the kv_cache of layer " + num(c.layer) +
             " is already used by " + prog.ops[size_t(user)].context +
             " (one attention op per cache)");
      user = int(i);
      break;
    }
    default:
      break;
    }
    writer[size_t(op.out)] = int(i);
    written[size_t(op.out)] = true;
  }
  for (size_t c = 0; c < prog.caches.size(); ++c)
    if (cacheUser[c] < 0)
      fail("program: kv_cache " + num(int64_t(c)) + " (layer " +
           num(prog.caches[c].layer) + ") is used by no attention op");
  if (!written[size_t(prog.output)] || writer[size_t(prog.output)] < 0)
    fail("program: output buffer " + num(prog.output) +
         " is not written by any op");
}
