//===- GptqCheck.cpp - RTN/GPTQ on tensors of a safetensors file ----------===//
//
// Part of lowbit.
//
//===----------------------------------------------------------------------===//
//
// A test driver for check_gptq.py:
//
//   lowbit-gptq-check IN.safetensors OUT.safetensors [options]
//
// IN holds `W` (F32 [N, K]) and either `H` (F32 [K, K]) or `X` (F32
// [rows, K], from which H is accumulated with HessianAccumulator). OUT
// receives `codes` (U8 [N, K]), `scales` (F32 [N, G]), `zeros` (U8 [N, G],
// asymmetric only), `perm` (I32 [K], when there is one), `g_idx` (I32 [K]),
// `dequant` (F32 [N, K]), `H` (F32 [K, K]) and, as metadata, `loss`,
// `relative_error`, `damp_percent` and `dead_columns`.
//
// Options: --method=gptq|rtn --bits=N --group-size=N --sym --mse
// --scale-type=f32|f16|bf16 --act-order --static-groups --block-size=N
// --damp=F --block-rows=N (HessianAccumulator block) --threads=N (0: all
// cores; results do not depend on it).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Gptq.h"
#include "lowbit/Numerics/Hessian.h"
#include "lowbit/Numerics/Quantize.h"
#include "lowbit/Support/Safetensors.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace lowbit;
using namespace lowbit::numerics;
using llvm::StringRef;

namespace {

struct Options {
  std::string input, output;
  std::string method = "gptq";
  GptqParams gptq;
  int64_t blockRows = HessianAccumulator::kDefaultBlockRows;
};

llvm::Error usage(const llvm::Twine &why) {
  return llvm::createStringError(
      why + "\nusage: lowbit-gptq-check IN.safetensors OUT.safetensors "
            "[--method=gptq|rtn] [--bits=N] [--group-size=N] [--sym] "
            "[--mse] [--scale-type=f32|f16|bf16] [--act-order] "
            "[--static-groups] [--block-size=N] [--damp=F] "
            "[--block-rows=N] [--threads=N]");
}

llvm::Error parseArgs(int argc, char **argv, Options &opts) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    StringRef arg(argv[i]);
    if (!arg.starts_with("--")) {
      positional.push_back(arg.str());
      continue;
    }
    auto [key, value] = arg.drop_front(2).split('=');
    QuantParams &q = opts.gptq.quant;
    bool bad = false;
    if (key == "method")
      opts.method = value.str();
    else if (key == "bits")
      bad = value.getAsInteger(10, q.bits);
    else if (key == "group-size")
      bad = value.getAsInteger(10, q.groupSize);
    else if (key == "sym")
      q.symmetric = true;
    else if (key == "mse")
      q.mseSearch = true;
    else if (key == "scale-type")
      q.scaleType = value == "f16"    ? ScaleType::F16
                    : value == "bf16" ? ScaleType::BF16
                                      : ScaleType::F32;
    else if (key == "act-order")
      opts.gptq.actOrder = true;
    else if (key == "static-groups")
      opts.gptq.staticGroups = true;
    else if (key == "block-size")
      bad = value.getAsInteger(10, opts.gptq.blockSize);
    else if (key == "damp")
      bad = value.getAsDouble(opts.gptq.dampPercent);
    else if (key == "block-rows")
      bad = value.getAsInteger(10, opts.blockRows) || opts.blockRows < 1;
    else if (key == "threads")
      bad = value.getAsInteger(10, opts.gptq.threads);
    else
      return usage("unknown option '" + arg + "'");
    if (bad)
      return usage("bad value in '" + arg + "'");
  }
  if (positional.size() != 2)
    return usage("expected an input and an output file");
  opts.input = positional[0];
  opts.output = positional[1];
  return llvm::Error::success();
}

/// The F32 tensor `name` of `file` with a 2-D shape, or an error.
llvm::Expected<std::vector<float>> readMatrix(const SafetensorsFile &file,
                                              StringRef name, int64_t &rows,
                                              int64_t &cols) {
  const TensorView *view = file.lookup(name);
  if (!view)
    return llvm::createStringError("no tensor '" + name + "' in " +
                                   file.name());
  if (view->shape.size() != 2)
    return llvm::createStringError("tensor '" + name + "' is not 2-D");
  rows = view->shape[0];
  cols = view->shape[1];
  return toF32(*view);
}

template <typename T>
OwnedTensor makeTensor(StringRef name, DType dtype, std::vector<int64_t> shape,
                       const std::vector<T> &v) {
  OwnedTensor t;
  t.name = name.str();
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(v.size() * sizeof(T));
  if (!v.empty())
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

std::string formatDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

llvm::Error run(const Options &opts) {
  auto file = SafetensorsFile::open(opts.input);
  if (!file)
    return file.takeError();
  int64_t N, K;
  auto W = readMatrix(**file, "W", N, K);
  if (!W)
    return W.takeError();

  std::vector<float> H;
  if ((*file)->lookup("H")) {
    int64_t r, c;
    auto h = readMatrix(**file, "H", r, c);
    if (!h)
      return h.takeError();
    if (r != K || c != K)
      return llvm::createStringError("H must be [K, K]");
    H = std::move(*h);
  } else if ((*file)->lookup("X")) {
    int64_t rows, c;
    auto x = readMatrix(**file, "X", rows, c);
    if (!x)
      return x.takeError();
    if (c != K)
      return llvm::createStringError("X must be [rows, K]");
    HessianAccumulator acc(K, opts.blockRows, opts.gptq.threads);
    acc.add(x->data(), rows);
    H = acc.finalize();
  }

  QuantResult result;
  std::map<std::string, std::string> meta;
  if (opts.method == "rtn") {
    if (llvm::Error err = rtnQuantize(W->data(), N, K, opts.gptq.quant, result))
      return err;
  } else if (opts.method == "gptq") {
    if (H.empty())
      return llvm::createStringError("gptq needs H or X");
    GptqStats stats;
    if (llvm::Error err =
            gptqQuantize(W->data(), N, K, H.data(), opts.gptq, result, &stats))
      return err;
    meta["loss"] = formatDouble(stats.loss);
    meta["relative_error"] = formatDouble(stats.relativeError);
    meta["damp_percent"] = formatDouble(stats.dampPercent);
    meta["dead_columns"] = std::to_string(stats.deadColumns);
  } else {
    return usage("unknown method '" + opts.method + "'");
  }
  if (llvm::Error err = validateQuantResult(result))
    return err;

  int64_t G = result.numGroups();
  std::vector<OwnedTensor> out;
  out.push_back(makeTensor("codes", DType::U8, {N, K}, result.codes));
  out.push_back(makeTensor("scales", DType::F32, {N, G}, result.scales));
  if (!result.zeros.empty())
    out.push_back(makeTensor("zeros", DType::U8, {N, G}, result.zeros));
  if (!result.perm.empty())
    out.push_back(makeTensor("perm", DType::I32, {K}, result.perm));
  out.push_back(makeTensor("g_idx", DType::I32, {K}, result.groupIndex()));
  out.push_back(makeTensor("dequant", DType::F32, {N, K}, dequantize(result)));
  if (!H.empty())
    out.push_back(makeTensor("H", DType::F32, {K, K}, H));
  return writeSafetensors(opts.output, out, meta);
}

} // namespace

int main(int argc, char **argv) {
  Options opts;
  llvm::Error err = parseArgs(argc, argv, opts);
  if (!err)
    err = run(opts);
  if (err) {
    llvm::errs() << "lowbit-gptq-check: " << llvm::toString(std::move(err))
                 << "\n";
    return 1;
  }
  return 0;
}
