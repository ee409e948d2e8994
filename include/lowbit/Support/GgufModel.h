//===- GgufModel.h - Models stored as GGUF ----------------------*- C++ -*-===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// A GGUF file of a llama or qwen2 model seen as a Hugging Face checkpoint:
// the hyper-parameters from its metadata, and its tensors under their
// Hugging Face names, dequantized to F32 in Hugging Face layout (llama.cpp's
// reordering of the q/k projection rows for llama is undone).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_SUPPORT_GGUFMODEL_H
#define LOWBIT_SUPPORT_GGUFMODEL_H

#include "lowbit/Support/Gguf.h"
#include "lowbit/Support/HFConfig.h"
#include "lowbit/Support/ParamStore.h"

#include <map>
#include <mutex>
#include <optional>

namespace lowbit {

/// The model configuration in the metadata of `file` (architectures "llama"
/// and "qwen2"); errors name the file and the key.
llvm::Expected<ModelConfig> modelConfigFromGguf(const GgufFile &file);

/// The Hugging Face name of a llama/qwen2 GGUF tensor name
/// ("blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight"), or
/// std::nullopt for names with no counterpart.
std::optional<std::string> hfTensorName(llvm::StringRef ggufName);

/// Undoes llama.cpp's q/k row order: `rows` rows of `cols` floats, `heads`
/// heads; GGUF row h*D + 2i + j holds Hugging Face row h*D + j*D/2 + i.
void unpermuteLlamaRows(const float *in, float *out, int64_t rows, int64_t cols,
                        int64_t heads);

/// The tensors of a GGUF model under their Hugging Face names, as F32.
/// Every tensor is checked when the file is opened (a Hugging Face name, a
/// dequantizable type, the shape the configuration implies); each is
/// dequantized on its first lookup and kept. Lookups are thread-safe.
class GgufStore : public ParamStore {
public:
  static llvm::Expected<std::unique_ptr<GgufStore>> open(llvm::StringRef path);
  /// The store of an opened file.
  static llvm::Expected<std::unique_ptr<GgufStore>>
  create(std::unique_ptr<GgufFile> file);
  ~GgufStore() override;

  const TensorView *lookup(llvm::StringRef name) const override;
  std::vector<std::string> names() const override;

  const GgufFile &file() const { return *gguf; }
  const ModelConfig &config() const { return modelConfig; }

private:
  GgufStore() = default;
  struct Source {
    const GgufTensor *tensor;
    /// Heads to unpermute by (llama q/k projections), else 0.
    int64_t permuteHeads = 0;
  };
  struct Loaded {
    OwnedTensor tensor;
    TensorView view;
  };
  std::unique_ptr<GgufFile> gguf;
  ModelConfig modelConfig;
  std::map<std::string, Source, std::less<>> sources;
  mutable std::mutex mutex;
  mutable std::map<std::string, std::unique_ptr<Loaded>, std::less<>> loaded;
};

} // namespace lowbit

#endif // LOWBIT_SUPPORT_GGUFMODEL_H
