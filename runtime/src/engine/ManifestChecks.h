//===- ManifestChecks.h - cross-op consistency of a program -----*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The per-op validation in Model.cpp checks each op against its own buffers
/// and tensors. checkProgramConsistency() then checks the ops against each
/// other and against the config, so a manifest whose ops each look right but
/// disagree (a rotary of head size 4 feeding an attention of head size 8, an
/// embedding table with fewer rows than the vocabulary, two attention ops
/// sharing one KV cache, a buffer read before any op wrote it) is rejected
/// when the bundle is opened instead of computing garbage or failing in the
/// middle of a generation.
///
//===----------------------------------------------------------------------===//

#ifndef LOWBITRT_ENGINE_MANIFESTCHECKS_H
#define LOWBITRT_ENGINE_MANIFESTCHECKS_H

#include "Model.h"

#include <nlohmann/json.hpp>

namespace lowbit::rt::engine {

/// Checks the parsed program of \p model against itself and against the
/// manifest's `config` object \p config (already type-checked). Throws an
/// EngineError (LOWBIT_RT_FORMAT) naming the ops, fields and values that
/// disagree.
void checkProgramConsistency(const Model &model, const nlohmann::json &config);

} // namespace lowbit::rt::engine

#endif // LOWBITRT_ENGINE_MANIFESTCHECKS_H
