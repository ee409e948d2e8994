//===- CtsCode.cpp - code blobs for the conformance suite's cases ---------===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The compiler side of each driver that runs generated code: given the
/// qmatmul cases of the suite, build the code blob and the op fields the
/// driver's kernel_create reads. One entry per such driver; a new driver
/// that loads code adds its provider here (docs/adding-a-target.md).
///
//===----------------------------------------------------------------------===//

#include "CtsDevice.h"

#include "KernelGen.h"

#include "llvm/Support/Error.h"

#include <nlohmann/json.hpp>

using namespace lowbit::cts;
using json = nlohmann::json;

namespace {

json schemeFields(const QMatmulCase &c) {
  return {{"weight", "w"},
          {"N", c.N},
          {"K", c.K},
          {"bits", c.bits},
          {"group_size", c.groupSize},
          {"symmetric", c.symmetric},
          {"scale_type", c.f16Scales ? "f16" : "f32"}};
}

/// x86: the generated AVX2 fp32 kernels (batch tiles 1 and 4) of every
/// case, in one kernel library.
std::vector<CaseCode> x86Code(const std::vector<QMatmulCase> &cases,
                              std::string &error) {
  namespace x86 = lowbit::x86;
  std::vector<x86::KernelKey> keys;
  std::vector<std::string> seen;
  std::vector<CaseCode> out;
  for (const QMatmulCase &c : cases) {
    json op = schemeFields(c);
    op["path"] = "fp32";
    json kernels = json::array();
    for (unsigned tile : {1u, 4u}) {
      x86::KernelKey key;
      key.bits = unsigned(c.bits);
      key.groupSize = c.groupSize;
      key.symmetric = c.symmetric;
      key.scaleType = c.f16Scales ? x86::ScaleType::F16 : x86::ScaleType::F32;
      key.K = c.K;
      key.N = c.N;
      key.batchTile = tile;
      key.isa = x86::Isa::AVX2;
      key.path = x86::ArithPath::FP32;
      std::string sym = key.symbolName();
      kernels.push_back(
          {{"isa", "avx2"}, {"batch_tile", tile}, {"symbol", sym}});
      if (std::find(seen.begin(), seen.end(), sym) == seen.end()) {
        seen.push_back(sym);
        keys.push_back(key);
      }
    }
    op["kernels"] = kernels;
    CaseCode code;
    code.format = "x86-elf-so-v1";
    code.opJson = op.dump();
    out.push_back(std::move(code));
  }
  auto lib = x86::buildKernelLibrary(keys);
  if (!lib) {
    error = llvm::toString(lib.takeError());
    return {};
  }
  for (CaseCode &c : out)
    c.blob = *lib;
  return out;
}

} // namespace

std::vector<CaseCode>
lowbit::cts::codeFor(const std::string &driver,
                     const std::vector<QMatmulCase> &cases,
                     std::string &error) {
  if (driver == "x86")
    return x86Code(cases, error);
  // No provider: no executable, the scheme fields only.
  std::vector<CaseCode> out;
  for (const QMatmulCase &c : cases) {
    CaseCode code;
    code.opJson = schemeFields(c).dump();
    out.push_back(std::move(code));
  }
  return out;
}
