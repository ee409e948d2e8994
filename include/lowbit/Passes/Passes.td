//===- Passes.td - lowbit passes ---------------------------*- tablegen -*-===//
//
// Every lowbit pass is declared here (keep alphabetical by flag), implemented
// in one file under passes/<Group>/ and registered by registerLowbitPasses().
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_PASSES_PASSES_TD
#define LOWBIT_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

def LowbitFuseDequantMatmul : Pass<"lowbit-fuse-dequant-matmul"> {
  let summary = "fuse lowbit.dequantize into the lowbit.linear and "
                "lowbit.embedding that use it";
  let description = [{
    Rewrites `lowbit.linear %x, (lowbit.dequantize %q)` into
    `lowbit.qmatmul %x, %q`, so no float copy of the weight is ever
    materialized and targets see the scheme at the matmul. Likewise
    `lowbit.embedding (lowbit.dequantize %q), %ids` becomes
    `lowbit.qembedding %q, %ids` (not for act-order tables), so a tied
    embedding and its quantized output projection read one table. A
    dequantized weight that still has other users keeps its
    `lowbit.dequantize`.

    Before:

    ```mlir
    %w = lowbit.dequantize %q : !lowbit.qweight<32x64, #s> -> tensor<32x64xf32>
    %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
    ```

    After:

    ```mlir
    %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<32x64, #s>) -> tensor<?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def LowbitGptqQuantize : Pass<"lowbit-gptq-quantize", "::mlir::ModuleOp"> {
  let summary = "quantize linear weights with GPTQ on calibration data";
  let description = [{
    GPTQ (Frantar et al., 2022): each linear weight inside the decoder blocks
    is quantized column by column, and the error of every column is spread
    over the columns not yet quantized using the inverse Hessian
    `H = 2 X^T X / n` of the layer's calibration inputs. Calibration is
    sequential: block `i` is quantized on the activations produced by the
    already-quantized blocks before it, and inside a block layers are
    quantized in true-sequential order (q/k/v, then o, then gate/up, then
    down), each on inputs computed with the layers before it quantized.
    With `run-in-parts` (default) the block runs once per calibration row:
    up to a group's first layer (whose input is the group's statistic), then,
    once the group is quantized, on from there with the quantized weights
    (docs/calibration.md). Calibration computes attention in float through
    BLAS (the FP reference of evaluations keeps double). Options add
    dampening, the lazy-update block size, act-order
    (descending Hessian diagonal, groups formed along that order) and
    static groups (act-order visiting order, groups in the original order).

    Float weights are read through the parameter scopes the module records
    (docs/parameters.md); layers quantized by an earlier pass are skipped,
    so GPTQ after `lowbit-rtn-quantize{only=mlp\.}` quantizes the rest. The
    quantized tensors go into the output scope `scope` (default `gptq`),
    which the pass records on the module with the relative path
    `output-params` and saves there when it ends (`write-params`); a later
    pass or tool finds them through that record. When it succeeds the pass
    records itself for the provenance of the bundle emitted later in the
    same process (its options in canonical form, without `scope`,
    `output-params`, `write-params` and `report`; `calib` by base name, the
    file by its hash).

    Before:

    ```mlir
    %w = lowbit.param "checkpoint"::"model.layers.0.mlp.up_proj.weight" : tensor<172x64xf32>
    %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<172x64xf32>) -> tensor<?x172xf32>
    ```

    After (`bits=4 group-size=32`):

    ```mlir
    // lowbit.parameter_scopes gains gptq = #lowbit.scope<"safetensors", "q.safetensors">
    %q = lowbit.qparam "gptq"::"model.layers.0.mlp.up_proj" : !lowbit.qweight<172x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f32, zero_type = ui8>>
    %w = lowbit.dequantize %q : !lowbit.qweight<172x64, #scheme> -> tensor<172x64xf32>
    %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<172x64xf32>) -> tensor<?x172xf32>
    ```
  }];
  let options = [
  Option<"bits", "bits", "unsigned", "4", "code width, 2 to 8">,
    Option<"groupSize", "group-size", "int64_t", "128",
           "group length along the input dimension, or -1 for per-channel">,
    Option<"symmetric", "symmetric", "bool", "false",
           "implicit zero point 2^(bits-1) instead of a stored one">,
    Option<"symGrid", "sym-grid", "std::string", "\"absmax\"",
           "symmetric grid: absmax (GPTQ's reference: [-max|w|, max|w|] "
           "over 2^bits - 1 steps) or extreme (the group's signed extreme "
           "on code 0, step max|w| / 2^(bits-1), signed scales; as "
           "llama.cpp's Q4_0)">,
    Option<"mse", "mse", "bool", "false",
           "search the clipping range that minimizes the quantization error">,
    Option<"scaleType", "scale-type", "std::string", "\"f32\"",
           "element type of the stored scales: f32, f16 or bf16">,
    Option<"superGroup", "super-group", "int64_t", "0",
           "0, or S >= 2: store the group scales as 8-bit codes under one "
           "f16/bf16 scale (scale-type) per S groups of a row (k-quant "
           "style super-blocks; GPTQ then fixes the group parameters before "
           "its sweep, as static-groups does)">,
    ListOption<"overrides", "override", "std::string",
               "per-layer overrides REGEX[:bits=B][:group-size=G][:skip] "
               "on the Hugging Face weight name">,
    Option<"only", "only", "std::string", "\"\"",
           "quantize only the weights whose name this regex matches "
           "(search), e.g. 'mlp\\.'">,
    Option<"scope", "scope", "std::string", "\"gptq\"",
           "parameter scope the quantized tensors are written to">,
    Option<"outputParams", "output-params", "std::string", "\"\"",
           "safetensors file of the output scope, relative to the IR file's "
           "directory (needed unless the weights are inline)">,
    Option<"writeParams", "write-params", "bool", "true",
           "save the output scope to output-params when the pass ends "
           "(false: keep it in memory for later passes of this process)">,
    Option<"report", "report", "std::string", "\"\"",
           "JSON file for the per-layer report">,
    Option<"calib", "calib", "std::string", "\"\"",
           "calibration data: int32 token file (.bin) or UTF-8 text">,
    Option<"numSamples", "nsamples", "int64_t", "128",
           "calibration rows (0: all)">,
    Option<"seqLen", "seqlen", "int64_t", "256", "tokens per calibration row">,
    Option<"seed", "seed", "uint64_t", "0", "seed of the row selection">,
    Option<"damp", "damp", "double", "0.01",
           "dampening, as a fraction of the mean Hessian diagonal">,
    Option<"blockSize", "block-size", "int64_t", "128",
           "columns per lazy-update block">,
    Option<"actOrder", "act-order", "bool", "false",
           "quantize columns in order of descending Hessian diagonal">,
    Option<"staticGroups", "static-groups", "bool", "false",
           "with act-order, form groups in the original column order">,
    Option<"trueSequential", "true-sequential", "bool", "true",
           "quantize q/k/v, o, gate/up and down one after another inside a "
           "block">,
    Option<"runInParts", "run-in-parts", "bool", "true",
           "with true-sequential, run each block once, in parts (false: "
           "once per group plus once to advance; same results, less memory "
           "for the paused rows, more compute)">
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitSensitivity : Pass<"lowbit-sensitivity", "::mlir::ModuleOp"> {
  let summary = "measure how much quantizing each weight alone costs the "
                "model's output";
  let description = [{
    An analysis: the IR is not changed. For every linear weight in the
    decoder blocks (and, with `lm-head`, the output projection) and every
    candidate scheme (`bits` x `group-sizes`, symmetric or not, `scale-type`
    scales; round-to-nearest, or `rounding=gptq` for the decoder linears),
    the pass estimates the effect of quantizing
    that weight alone on the model's output over calibration data, and
    writes it to `report` (JSON, format `lowbit-sensitivity-v1`):

    * `proxy`: the mean squared output error of the layer per calibration
      token, `tr(dW H dW^T) / n` with `H = X^T X` of the layer's inputs in
      the float model (`dW` = rounded - float weight);
    * `measured_kl` (where measured): the mean KL divergence
      `KL(p_float || p_quantized)` of the next-token distributions over the
      calibration tokens, the model run with only that weight quantized
      (from the saved input of its block: earlier blocks are not rerun);
    * `predicted_kl`: the proxy scaled by the tensor's gain, measured at the
      anchor scheme (`anchor-bits`, `anchor-group-size`): gain =
      measured_kl / proxy there. One measurement per tensor turns the cheap
      proxy into a KL estimate for every scheme.

    `measure=anchor` (default) measures the anchor scheme only, `all` every
    scheme (slow: for validating the prediction; the report then holds the
    Spearman rank correlation of predicted and of raw proxy against measured
    KL), `none` only proxies (no gains, no predicted KL). The candidate
    schemes carry their bits per weight as stored by the scheme (codes plus
    scales and zero points, `QWeightType::getBitsPerWeight`) for budget
    searches.
  }];
  let options = [
    ListOption<"bits", "bits", "unsigned",
               "candidate code widths, 2 to 8 (default 2,3,4,8)">,
    ListOption<"groupSizes", "group-sizes", "int64_t",
               "candidate group lengths, -1 for per-channel (default "
               "32,64,128)">,
    Option<"symmetric", "symmetric", "bool", "true",
           "implicit zero point 2^(bits-1) instead of a stored one">,
    Option<"symGrid", "sym-grid", "std::string", "\"absmax\"",
           "symmetric grid: absmax or extreme (see lowbit-rtn-quantize)">,
    Option<"scaleType", "scale-type", "std::string", "\"f16\"",
           "element type of the stored scales: f32, f16 or bf16">,
    Option<"superGroup", "super-group", "int64_t", "0",
           "0, or S >= 2: store the group scales as 8-bit codes under one "
           "f16/bf16 scale (scale-type) per S groups of a row (k-quant "
           "style super-blocks; GPTQ then fixes the group parameters before "
           "its sweep, as static-groups does)">,
    Option<"lmHead", "lm-head", "bool", "true",
           "also the output projection (lm_head or a tied embedding table)">,
    Option<"rounding", "rounding", "std::string", "\"rtn\"",
           "how the decoder linears are rounded: rtn, or gptq (on each "
           "layer's float-model Hessian, as lowbit-gptq-quantize will; the "
           "output projection is always RTN)">,
    Option<"actOrder", "act-order", "bool", "false",
           "with rounding=gptq, GPTQ's act-order">,
    Option<"damp", "damp", "double", "0.01",
           "with rounding=gptq, GPTQ's dampening">,
    Option<"measure", "measure", "std::string", "\"anchor\"",
           "KL measurements: anchor, all or none">,
    Option<"anchorBits", "anchor-bits", "unsigned", "3",
           "code width of the anchor scheme (one of bits)">,
    Option<"anchorGroupSize", "anchor-group-size", "int64_t", "128",
           "group length of the anchor scheme (one of group-sizes)">,
    Option<"report", "report", "std::string", "\"\"",
           "JSON file for the results (required)">,
    Option<"calib", "calib", "std::string", "\"\"",
           "calibration data: int32 token file (.bin) or UTF-8 text">,
    Option<"numSamples", "nsamples", "int64_t", "8",
           "calibration rows (0: all)">,
    Option<"seqLen", "seqlen", "int64_t", "128", "tokens per calibration row">,
    Option<"seed", "seed", "uint64_t", "0", "seed of the row selection">
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitRtnQuantize : Pass<"lowbit-rtn-quantize", "::mlir::ModuleOp"> {
  let summary = "quantize linear weights by rounding to nearest";
  let description = [{
    Round-to-nearest quantization of every linear weight inside the decoder
    blocks (embeddings and lm_head stay in full precision). Per group along
    the input dimension (or per channel), the range [min(w, 0), max(w, 0)]
    (symmetric: [-max|w|, max|w|]) is mapped onto `2^bits` codes; with
    `mse`, a grid search shrinks the range to minimize the error. The codes,
    scales and zero points go into the output scope `scope` (default `rtn`;
    inline results for inline weights), which the pass records on the module
    with the relative path `output-params` and saves there when it ends
    (`write-params`), and the weight becomes a quantized parameter of that
    scope. `only=REGEX` restricts the pass to some layers (e.g. `mlp\.`);
    layers an earlier pass quantized are skipped. With `lm-head`, the pass
    quantizes the output projection of `@forward` instead (the `lm_head`
    linear, or a tied embedding's use as one: the quantized parameter is
    then named `lm_head`, and the lookup reads it too, through a second
    `lowbit.dequantize`, so the bundle holds one quantized table). With
    `embedding`, it quantizes the token-embedding table that only lookups
    read (an untied embedding; a tied one is the output projection's)
    instead: the quantized parameter is named like the table without
    `.weight`, and every `lowbit.embedding` reads it through a
    `lowbit.dequantize` (a `lowbit.qembedding` after fusion), so the bundle
    stores the table quantized rather than in f32.

    When it succeeds the pass records itself for the provenance of the
    bundle emitted later in the same process (its options in canonical
    form, without `scope`, `output-params`, `write-params` and `report`).

    Before:

    ```mlir
    %w = lowbit.param "checkpoint"::"model.layers.0.mlp.down_proj.weight" : tensor<64x172xf32>
    %y = lowbit.linear %x, %w : (tensor<?x172xf32>, tensor<64x172xf32>) -> tensor<?x64xf32>
    ```

    After (`bits=3 group-size=64`, a ragged last group of 44):

    ```mlir
    %q = lowbit.qparam "rtn"::"model.layers.0.mlp.down_proj" : !lowbit.qweight<64x172, #lowbit.scheme<bits = 3, group_size = 64, symmetric = false, scale_type = f32, zero_type = ui8>>
    %w = lowbit.dequantize %q : !lowbit.qweight<64x172, #scheme> -> tensor<64x172xf32>
    %y = lowbit.linear %x, %w : (tensor<?x172xf32>, tensor<64x172xf32>) -> tensor<?x64xf32>
    ```
  }];
  let options = [
  Option<"bits", "bits", "unsigned", "4", "code width, 2 to 8">,
    Option<"groupSize", "group-size", "int64_t", "128",
           "group length along the input dimension, or -1 for per-channel">,
    Option<"symmetric", "symmetric", "bool", "false",
           "implicit zero point 2^(bits-1) instead of a stored one">,
    Option<"symGrid", "sym-grid", "std::string", "\"absmax\"",
           "symmetric grid: absmax (GPTQ's reference: [-max|w|, max|w|] "
           "over 2^bits - 1 steps) or extreme (the group's signed extreme "
           "on code 0, step max|w| / 2^(bits-1), signed scales; as "
           "llama.cpp's Q4_0)">,
    Option<"mse", "mse", "bool", "false",
           "search the clipping range that minimizes the quantization error">,
    Option<"scaleType", "scale-type", "std::string", "\"f32\"",
           "element type of the stored scales: f32, f16 or bf16">,
    Option<"superGroup", "super-group", "int64_t", "0",
           "0, or S >= 2: store the group scales as 8-bit codes under one "
           "f16/bf16 scale (scale-type) per S groups of a row (k-quant "
           "style super-blocks; GPTQ then fixes the group parameters before "
           "its sweep, as static-groups does)">,
    ListOption<"overrides", "override", "std::string",
               "per-layer overrides REGEX[:bits=B][:group-size=G][:skip] "
               "on the Hugging Face weight name">,
    Option<"only", "only", "std::string", "\"\"",
           "quantize only the weights whose name this regex matches "
           "(search), e.g. 'mlp\\.'">,
    Option<"scope", "scope", "std::string", "\"rtn\"",
           "parameter scope the quantized tensors are written to">,
    Option<"outputParams", "output-params", "std::string", "\"\"",
           "safetensors file of the output scope, relative to the IR file's "
           "directory (needed unless the weights are inline)">,
    Option<"writeParams", "write-params", "bool", "true",
           "save the output scope to output-params when the pass ends "
           "(false: keep it in memory for later passes of this process)">,
    Option<"report", "report", "std::string", "\"\"",
           "JSON file for the per-layer report">,
    Option<"lmHead", "lm-head", "bool", "false",
           "quantize the output projection of @forward instead of the "
           "linears of the decoder blocks">,
    Option<"embedding", "embedding", "bool", "false",
           "quantize the float token-embedding table of @forward that only "
           "lookups read (an untied embedding) instead of the linears">
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitKeepGgufQuants
    : Pass<"lowbit-keep-gguf-quants", "::mlir::ModuleOp"> {
  let summary = "keep GGUF Q4_0, Q4_1 and Q8_0 linear weights as they are "
                "quantized";
  let description = [{
    A model read from a GGUF file (`#lowbit.scope<"gguf", ...>`) sees every
    tensor dequantized to f32. This pass keeps the quantized ones whose
    blocks map exactly onto a lowbit scheme: the weight of each
    `lowbit.linear` that is a `lowbit.param` of a `gguf` scope stored as

    * `Q4_0` (`d * (q - 8)`) becomes `bits = 4, group_size = 32,
      symmetric = true, scale_type = f16`,
    * `Q4_1` (`d * q + m`) becomes `bits = 4, group_size = 32,
      symmetric = false, scale_type = f16, zero_type = f16, zero_form = min`,
    * `Q8_0` (`q * d`) becomes `bits = 8, group_size = 32,
      symmetric = true, scale_type = f16` (codes `q + 128`),

    a `lowbit.qparam` of the output scope `scope` (named like RTN's: the
    weight name without `.weight`, `lm_head` for a tied embedding used as
    the output projection, whose lookup then reads the same quantized
    table through a second `lowbit.dequantize`) and a `lowbit.dequantize`. Codes, f16 scales and f16 minimums are decoded from
    the GGUF blocks (codecs gguf-q4_0-v1, gguf-q4_1-v1, gguf-q8_0-v1), so
    the dequantized weight equals the tensor the `gguf` scope serves bit for
    bit; for llama's q/k projections the rows are put back in Hugging Face
    order like the scope does (rows move, blocks stay intact). Float types
    (F32, F16, BF16) stay float. The other quantized types (Q5_0, Q5_1, the
    k-quants, ...), which no lowbit scheme reproduces exactly, stay float
    too by default; with `requant-bits=B` they are requantized from their
    dequantized values by round-to-nearest to B bits in symmetric groups of
    32 with f16 scales (RTN's tensors and naming; a tied table is shared
    with its lookup as above), instead of being widened to f32. The output
    scope's report lists every linear weight of a `gguf` scope with its GGUF
    type, whether it was kept and, if so, how it was requantized. An untied
    token-embedding table of a `gguf` scope (read only by
    `lowbit.embedding`) is treated like a linear weight: kept (or
    requantized) under its own name, every lookup reading it through a
    `lowbit.dequantize`.

    Before (`blk.0.attn_q.weight` stored as Q4_1):

    ```mlir
    %w = lowbit.param "checkpoint"::"model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32>
    %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
    ```

    After:

    ```mlir
    %q = lowbit.qparam "gguf_blocks"::"model.layers.0.self_attn.q_proj" : !lowbit.qweight<64x64, #lowbit.scheme<bits = 4, group_size = 32, symmetric = false, scale_type = f16, zero_type = f16, zero_form = min>>
    %w = lowbit.dequantize %q : !lowbit.qweight<64x64, #scheme> -> tensor<64x64xf32>
    %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let options = [
    Option<"scope", "scope", "std::string", "\"gguf_blocks\"",
           "parameter scope the kept codes, scales and minimums are written "
           "to">,
    Option<"outputParams", "output-params", "std::string", "\"\"",
           "safetensors file of the output scope, relative to the IR file's "
           "directory">,
    Option<"writeParams", "write-params", "bool", "true",
           "save the output scope to output-params when the pass ends "
           "(false: keep it in memory for later passes of this process)">,
    Option<"requantBits", "requant-bits", "unsigned", "0",
           "requantize linear weights of quantized GGUF types without an "
           "exact scheme by RTN to this many bits (2-8), symmetric groups of "
           "32, f16 scales (0: read them dequantized to f32)">
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

//===----------------------------------------------------------------------===//
// Bundle emission
//===----------------------------------------------------------------------===//

def LowbitEmitBundle : Pass<"lowbit-emit-bundle", "::mlir::ModuleOp"> {
  let summary = "write the module as a deployable .lowbit bundle";
  let description = [{
    Writes the bundle of a module at the kernel level (see
    `lowbit-to-bundle-pipeline`) for `target` to `output` (relative to the
    current directory): the dispatch program, the float weights and the
    packed weights (each `lowbit.pack` encoded with its layout's codec) read
    through the module's parameter scopes (docs/parameters.md), the code of
    every `lowbit.binary`, the config and the tokenizer. Each
    `lowbit.dispatch` becomes a `qmatmul` program op described by its kernel
    (shape, scheme, layout, `act_bits`) and the kernel's `lowbit.exports`.
    The pass is generic: it calls no target hook. A `lowbit.qmatmul` left in
    the module is an error (outline and translate it first), as is an
    executable for another target or without a binary. The IR is unchanged.

    The manifest's `provenance` is canonical (docs/bundle-format.md): the
    passes of this process that quantized the module, each in canonical
    textual form, and the BLAKE3 hash of every input file (the files of each
    parameter scope read from disk, by scope and base name; calibration
    data by base name). No paths, times or spellings of the command line,
    so equivalent invocations give byte-identical bundles. The sizes of
    what was written are recorded for the tool that ran the pass (its
    report).

    Before:

    ```mlir
    %p = lowbit.pack %q : !lowbit.qweight<32x64, #s> -> !lowbit.packed<32x64, #s, "x86-tile16-v1">
    %y = lowbit.dispatch @x86::@qmatmul_n32_k64_b4_g32(%x, %p) : (tensor<?x64xf32>, !lowbit.packed<32x64, #s, "x86-tile16-v1">) -> tensor<?x32xf32>
    ```

    After: the same IR; the bundle is written to `output`.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"x86\"",
           "target the bundle is for (the manifest's target; every "
           "executable must be for it)">,
    Option<"output", "output", "std::string", "\"\"",
           "bundle file to write">,
    Option<"signKey", "sign-key", "std::string", "\"\"",
           "Ed25519 private key (PEM file) that signs the bundle's code "
           "sections and manifest; empty: unsigned">
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}


//===----------------------------------------------------------------------===//
// Target (the kernel level; passes/Target)
//===----------------------------------------------------------------------===//

def LowbitLegalizeForTarget
    : Pass<"lowbit-legalize-for-target", "::mlir::ModuleOp"> {
  let summary = "check every op against a target and record the target";
  let description = [{
    Asks the target's `isLegal` hook about every op of the module. Each op
    the target cannot run gets an error naming the target and its reason;
    when all are legal the module gets the `lowbit.target` attribute
    `#lowbit.target<"<target>", features = [...]>` that the later kernel
    passes read. `features` defaults to the features the module already
    records for this target, else to every feature the target supports;
    listing some restricts the generated code to them (x86: the ISA levels
    whose features are all listed). A module that already records a
    different target is an error. With `act-bits=8`, every `lowbit.qmatmul`
    first gets `act_bits = 8` (its activations are quantized dynamically to
    int8), so legality, outlining and translation see the int8 path, except
    those whose weight (`lowbit.qparam` name) the regular expression
    `act-float` finds a match in: they keep float activations (e.g.
    `act-float=self_attn\.[qkv]_proj`, the attention projections, whose
    int8 inputs are the largest activation cost on some models).
    `act-float` without `act-bits=8`, an invalid expression, or one that
    matches no quantized matmul is an error.

    Before:

    ```mlir
    module {
      func.func @f(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
        %q = lowbit.qparam "k_proj" : !lowbit.qweight<32x64, #scheme>
        %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<32x64, #scheme>) -> tensor<?x32xf32>
        return %y : tensor<?x32xf32>
      }
    }
    ```

    After (`target=x86 features=avx2,f16c,fma`):

    ```mlir
    module attributes {lowbit.target = #lowbit.target<"x86", features = ["avx2", "f16c", "fma"]>} {
      ...
    }
    ```

    With `act-bits=8 act-float=^lm_head$`, a `lowbit.qmatmul` of the weight
    `"model.layers.0.self_attn.k_proj"` gets `{act_bits = 8 : i64}` and one
    of `"lm_head"` is left without it.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"x86\"",
           "name of the registered target">,
    ListOption<"features", "features", "std::string",
               "target features the generated code may use (default: all "
               "the target supports)">,
    Option<"actBits", "act-bits", "unsigned", "0",
           "quantize the activations of quantized matmuls to this many bits "
           "(0: float activations, 8: the int8 path)">,
    Option<"actFloat", "act-float", "std::string", "\"\"",
           "with act-bits=8: quantized matmuls whose weight name this "
           "regular expression finds a match in keep float activations">
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitMaterializePacks
    : Pass<"lowbit-materialize-packs", "::mlir::ModuleOp"> {
  let summary = "insert a lowbit.pack for each quantized weight and layout";
  let description = [{
    For every `lowbit.qmatmul` with a selected `lowbit.layout`, inserts
    `lowbit.pack` of its weight into that layout right after the weight is
    defined: one pack per quantized parameter and layout, however many
    matmuls share it (an existing pack of the same type is reused).
    `-lowbit-outline-kernels` makes the dispatches it creates read the pack;
    until then the pack has no users, so run the two passes back to back
    (no dead-code elimination in between). A `lowbit.qembedding` with a
    selected layout reads the pack at once (it is a graph op, not a kernel):
    a tied embedding and its output projection share one pack.

    Before:

    ```mlir
    %q = lowbit.qparam "k_proj" : !lowbit.qweight<32x64, #scheme>
    %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #scheme>) -> tensor<?x32xf32>
    ```

    After:

    ```mlir
    %q = lowbit.qparam "k_proj" : !lowbit.qweight<32x64, #scheme>
    %p = lowbit.pack %q : !lowbit.qweight<32x64, #scheme> -> !lowbit.packed<32x64, #scheme, "x86-tile16-v1">
    %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #scheme>) -> tensor<?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitOutlineKernels
    : Pass<"lowbit-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "outline qmatmuls into kernels of an executable and dispatch them";
  let description = [{
    Creates one `lowbit.executable` for the module's `lowbit.target`
    (named after the target) holding one `lowbit.kernel` per distinct
    specialisation (kind, N, K, scheme, layout, act_bits) of the module's
    `lowbit.qmatmul`s, in order of first use; identical specialisations share
    one kernel. Each qmatmul becomes a `lowbit.dispatch` of its kernel on the
    `lowbit.pack` of its weight (from `-lowbit-materialize-packs`).

    Before:

    ```mlir
    %p = lowbit.pack %q : !lowbit.qweight<32x64, #scheme> -> !lowbit.packed<32x64, #scheme, "x86-tile16-v1">
    %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #scheme>) -> tensor<?x32xf32>
    ```

    After:

    ```mlir
    lowbit.executable @x86 target(#target) {
      lowbit.kernel @qmatmul_n32_k64_b4_g32 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #scheme
    }
    ...
    %p = lowbit.pack %q : !lowbit.qweight<32x64, #scheme> -> !lowbit.packed<32x64, #scheme, "x86-tile16-v1">
    %y = lowbit.dispatch @x86::@qmatmul_n32_k64_b4_g32(%x, %p) : (tensor<?x64xf32>, !lowbit.packed<32x64, #scheme, "x86-tile16-v1">) -> tensor<?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitSelectLayouts : Pass<"lowbit-select-layouts", "::mlir::ModuleOp"> {
  let summary = "choose the packed weight layout of every qmatmul and "
                "quantized embedding table";
  let description = [{
    Asks the module's target (its `lowbit.target` attribute, set by
    `-lowbit-legalize-for-target`) which layout codec each
    `lowbit.qmatmul`'s weight is packed in, and records the answer on the
    op as `lowbit.layout`. A `lowbit.qembedding` gets the layout of a
    `lowbit.qmatmul` that reads the same table (a tied output projection),
    else the target's answer for it.

    Before:

    ```mlir
    %y = lowbit.qmatmul %x, %q : (tensor<?x64xf32>, !lowbit.qweight<32x64, #scheme>) -> tensor<?x32xf32>
    ```

    After (target x86):

    ```mlir
    %y = lowbit.qmatmul %x, %q {lowbit.layout = "x86-tile16-v1"} : (tensor<?x64xf32>, !lowbit.qweight<32x64, #scheme>) -> tensor<?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitTranslateExecutables
    : Pass<"lowbit-translate-executables", "::mlir::ModuleOp"> {
  let summary = "generate the code of every executable with its target";
  let description = [{
    Hands each `lowbit.executable` to its target's `serializeExecutable`
    hook, which generates code for the executable's `lowbit.kernel`s (x86:
    the LLVM-based kernel generator, one ELF shared object holding every
    kernel at every ISA level the target features allow), and stores the
    blob in the executable as a `lowbit.binary` tagged with the target's
    format. The bytes are a `dense_resource` blob; print with
    `--mlir-elide-resource-strings-if-larger=N` to keep the IR small. A
    binary of the same format is replaced.

    Before:

    ```mlir
    lowbit.executable @x86 target(#target) {
      lowbit.kernel @qmatmul_n32_k64_b4_g32 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #scheme
    }
    ```

    After:

    ```mlir
    lowbit.executable @x86 target(#target) {
      lowbit.kernel @qmatmul_n32_k64_b4_g32 qmatmul n = 32, k = 64, layout = "x86-tile16-v1", scheme = #scheme
      lowbit.binary "x86-elf-so-v1" dense_resource<x86_x86_elf_so_v1> : tensor<21472xui8>
    }
    ```
  }];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

#endif // LOWBIT_PASSES_PASSES_TD
