//===- KernelGen.cpp - x86 qmatmul kernel generator -------------*- C++ -*-===//
//
// Part of the lowbit project.
//
//===----------------------------------------------------------------------===//
//
// Structure of a generated kernel (all sizes static except B and the row
// range):
//
//   for each chunk of up to kChunkRows batch rows:
//     prepare activations into stack scratch (int8: quantized rows, block
//       scales and per-group sums; fp32: per-group sums), once per chunk
//     for each row tile t of 16 rows in [nBegin, nEnd):
//       for each batch tile of `batchTile` rows (padded rows are computed on
//       zero activations and not stored):
//         for each pass over the tile's halves (256-bit: two halves of 8
//         rows; batch tiles <= 2 do both in one pass, larger ones one half
//         per pass to keep their accumulators in registers):
//           for each group: for each block of 32 columns: prefetch (one-pass
//           kernels) the ISA's prefetch distance ahead, unpack the codes (one
//           32-bit lane per row, four columns per lane), multiply-add into
//           int32 (int8 path) or f32 (fp32 path) accumulators, sharing each
//           activation broadcast between the halves; scale per block (int8)
//           and per group; store 16 (or a partial range of) outputs, adding
//           the bias when it is not null.
//
// Weights are streamed once per chunk of kChunkRows batch rows; inside a chunk
// a 16-row tile's codes are re-read from cache for every batch tile. Batch-1
// kernels read each tile once, front to back, with software prefetch (on a
// 2-core AVX2 EPYC, 15-25% faster GEMV than the same pass without prefetch;
// bench/RESULTS.md): the codes 2 KiB (256-bit) or 4 KiB (512-bit, into L2)
// ahead and, for short tiles, on into the
// next tile, with each group's scales a tile ahead.
//
//===----------------------------------------------------------------------===//

#include "KernelGen.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Analysis/CGSCCPassManager.h"
#include "llvm/Analysis/LoopAnalysisManager.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/IntrinsicsX86.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"

using namespace llvm;

namespace lowbit::x86 {

//===----------------------------------------------------------------------===//
// Keys
//===----------------------------------------------------------------------===//

StringRef isaName(Isa isa) {
  switch (isa) {
  case Isa::AVX2:
    return "avx2";
  case Isa::AVXVNNI:
    return "avxvnni";
  case Isa::AVX512:
    return "avx512";
  case Isa::AVX512VNNI:
    return "avx512vnni";
  }
  return "unknown";
}

StringRef pathName(ArithPath path) {
  return path == ArithPath::FP32 ? "fp32" : "int8";
}

std::string KernelKey::symbolName() const {
  std::string s;
  raw_string_ostream os(s);
  os << "lowbit_x86_b" << bits << "_g";
  if (groupSize < 0)
    os << "pc";
  else
    os << groupSize;
  os << (symmetric ? "_sym" : "_asym")
     << (scaleType == ScaleType::F32 ? "_f32" : "_f16");
  if (superGroup > 0)
    os << "_sg" << superGroup;
  os << "_k" << K << "_n" << N << "_bt" << batchTile << "_" << isaName(isa)
     << "_" << pathName(path);
  if (emulate)
    os << "_emu";
  return s;
}

Expected<PackedLayout> KernelKey::layout() const {
  return PackedLayout::get(bits, groupSize, symmetric, scaleType, K, N,
                           superGroup);
}

Error KernelKey::verify() const {
  if (Error e = layout().takeError())
    return e;
  if (batchTile < 1 || batchTile > 16)
    return createStringError("batch tile %u out of range [1, 16]", batchTile);
  return Error::success();
}

//===----------------------------------------------------------------------===//
// Emitter
//===----------------------------------------------------------------------===//

namespace {

/// Software prefetch of kernels that stream whole tiles in one pass (batch
/// tiles <= 2): how far ahead of the block being read, and into which cache
/// level.
struct StreamPrefetch {
  int64_t distance; // Bytes.
  int locality;     // llvm.prefetch locality: 3 = L1 (prefetcht0), 2 = L2.
};

/// 256-bit kernels: into L1, 2 KiB ahead. Measured best for batch-1 GEMV on
/// a 2-core AVX2 EPYC (1 KiB and 4 KiB a few percent behind, none ~15%
/// behind), and on a 2-core Zen 4 EPYC the AVX2 kernels also do as well with
/// it as with the 512-bit setting below (bench/RESULTS.md).
constexpr StreamPrefetch kPrefetch256 = {2048, 3};
/// 512-bit kernels: into L2, 4 KiB ahead. The faster 512-bit loop outran an
/// L1 prefetch 2 KiB ahead: on a 2-core Zen 4 EPYC (AVX-512 VNNI) batch-1
/// GEMV reached 37-45% of the read bandwidth with it and 64-75% with this
/// (1 thread; 3 KiB and 6 KiB, and L2 prefetches 2 KiB ahead, were behind;
/// bench/RESULTS.md).
constexpr StreamPrefetch kPrefetch512 = {4096, 2};

struct IsaInfo {
  unsigned lanes; // 32-bit lanes per vector register.
  bool vnni;
  const char *cpu;
  const char *features;
  StreamPrefetch prefetch;
};

IsaInfo getIsaInfo(Isa isa) {
  switch (isa) {
  case Isa::AVX2:
    return {8, false, "x86-64-v3", "+avx2,+fma,+f16c", kPrefetch256};
  case Isa::AVXVNNI:
    return {8, true, "x86-64-v3", "+avx2,+fma,+f16c,+avxvnni", kPrefetch256};
  case Isa::AVX512:
    return {16, false, "x86-64-v4",
            "+avx512f,+avx512bw,+avx512vl,+avx512dq,+avx2,+fma,+f16c",
            kPrefetch512};
  case Isa::AVX512VNNI:
    return {16, true, "x86-64-v4",
            "+avx512f,+avx512bw,+avx512vl,+avx512dq,+avx512vnni,+avx2,+fma,"
            "+f16c",
            kPrefetch512};
  }
  return {8, false, "x86-64-v3", "+avx2,+fma,+f16c", kPrefetch256};
}

/// Batch rows prepared (and weights streamed) per chunk.
constexpr int64_t kChunkRows = 32;
/// Tiles of at most this size also keep the code prefetch going into the next
/// tile's codes (skipping the scales at the tile's end) and prefetch each
/// group's scales a tile ahead (into L2). Before, the first ~2 KiB of codes
/// and the scales of the early groups of every tile were not prefetched. On
/// the 2-core EPYC this made K = 4096 GEMV (33-36 KB tiles) 3-7% faster;
/// with K = 11008 (96-99 KB tiles, where that gap matters less) it was
/// neutral for g128 and 5-9% slower for g32, whose one-block groups pay the
/// extra instructions in every block.
constexpr int64_t kTilePrefetchMaxBytes = 64 * 1024;

class KernelEmitter {
public:
  KernelEmitter(Module &module, const KernelKey &key, const PackedLayout &l)
      : m(module), ctx(module.getContext()), key(key), l(l),
        info(getIsaInfo(key.isa)), b(ctx) {
    if (key.emulate) {
      IsaInfo avx2 = getIsaInfo(Isa::AVX2);
      info.cpu = avx2.cpu;
      info.features = avx2.features;
      info.prefetch = avx2.prefetch;
    }
    lanes = info.lanes;
    bt = key.batchTile;
    chains = bt == 1 ? 4 : bt == 2 ? 2 : 1;
    chunkRows = alignTo(kChunkRows, bt);
    fusedSubs = bt <= 2 ? kTileRows / lanes : 1;
    prefetchDist = fusedSubs == kTileRows / lanes ? info.prefetch.distance : 0;
    tilePrefetch = prefetchDist > 0 && l.tileBytes() <= kTilePrefetchMaxBytes;
    i8 = b.getInt8Ty();
    i16 = b.getInt16Ty();
    i32 = b.getInt32Ty();
    i64 = b.getInt64Ty();
    f32 = b.getFloatTy();
    ptr = b.getPtrTy();
    vi32 = FixedVectorType::get(i32, lanes);
    vf32 = FixedVectorType::get(f32, lanes);
    vi8 = FixedVectorType::get(i8, 4 * lanes);
    vi16 = FixedVectorType::get(i16, 2 * lanes);
    int8Path = key.path == ArithPath::Int8;
    // vpmaddubsw adds two u8 * s8 products with signed 16-bit saturation:
    // 8-bit codes need activations in [-63, 63] to stay below 32767.
    qmax = (int8Path && !info.vnni && l.bits == 8) ? 63 : 127;
  }

  Function *emit();

private:
  // Helpers.
  Value *cI64(int64_t v) { return b.getInt64(v); }
  Value *gep(Value *base, Value *byteOffset) {
    return b.CreateInBoundsGEP(i8, base, byteOffset);
  }
  Value *gep(Value *base, int64_t byteOffset) {
    return byteOffset == 0 ? base : gep(base, cI64(byteOffset));
  }
  Value *splatF(float v) { return ConstantFP::get(vf32, v); }
  Value *splatI(uint32_t v) { return ConstantInt::get(vi32, v); }
  AllocaInst *entryAlloca(Type *ty, int64_t count, uint64_t align,
                          const Twine &name);
  void emitLoop(Value *begin, Value *end, int64_t step,
                function_ref<void(Value *)> body, const Twine &name);
  void emitIf(Value *cond, function_ref<void()> thenBody, const Twine &name);

  /// Calls fn(g, len, kBegin, kpBegin, codeOff) for every group: a loop over
  /// the groups of full length and straight-line code for a ragged last one.
  void forEachGroup(function_ref<void(Value *g, int64_t len, Value *kBegin,
                                      Value *kpBegin, Value *codeOff)>
                        fn);
  /// Calls fn(blk, valid) for the blocks of a group of len columns.
  void forEachBlock(int64_t len,
                    function_ref<void(Value *blk, int64_t valid)> fn);

  Value *loadScaleVector(Value *at);
  void unpackBlock(Value *blockPtr, SmallVectorImpl<Value *> &quads);
  Value *dotQuad(Value *acc, Value *codes, Value *x4);
  /// An x86 dot-product intrinsic, or its portable equivalent when
  /// emulating.
  Value *x86Dot(Intrinsic::ID id, Type *resTy, ArrayRef<Value *> args);

  void emitPrepare(Value *chunkBegin, Value *chunkRowsPadded,
                   Value *chunkRowsValid);
  /// Computes the halves `subs` of a 16-row tile (each `lanes` rows) for one
  /// batch tile, reading each block of codes once for all of them.
  void emitTile(Value *chunkBegin, Value *tileIdx, Value *batchBegin,
                ArrayRef<unsigned> subs);
  void emitStore(Value *row, Value *n0, Value *v);

  Module &m;
  LLVMContext &ctx;
  const KernelKey &key;
  const PackedLayout &l;
  IsaInfo info;
  IRBuilder<> b;
  Function *fn = nullptr;
  BasicBlock *entry = nullptr;

  unsigned lanes, bt, chains;
  /// Halves of a 16-row tile computed in one pass over its codes (all for
  /// small batch tiles, where the pass is memory-bound; one at a time for
  /// large ones, where registers are the limit).
  unsigned fusedSubs;
  /// Software prefetch distance in bytes ahead of the block being read (0:
  /// none).
  int64_t prefetchDist;
  /// Whether the code prefetch continues into the next tile and the scales
  /// are prefetched a tile ahead (short tiles only).
  bool tilePrefetch;
  int64_t chunkRows;
  bool int8Path;
  int qmax;
  Type *i8, *i16, *i32, *i64, *f32, *ptr;
  FixedVectorType *vi32, *vf32, *vi8, *vi16;

  Value *xArg, *bArg, *packedArg, *biasArg, *yArg, *nBeginArg, *nEndArg;
  // Scratch: quantized activations [chunkRows, Kp], block scales
  // [chunkRows, Kp / 32], group sums [chunkRows, numGroups].
  AllocaInst *xq = nullptr, *sx = nullptr, *xs = nullptr;
  // Accumulators: per batch row, and per chain for the group sums.
  SmallVector<AllocaInst *> accF, accG;
  AllocaInst *storeTmp = nullptr;
};

AllocaInst *KernelEmitter::entryAlloca(Type *ty, int64_t count, uint64_t align,
                                       const Twine &name) {
  IRBuilder<> eb(entry, entry->getFirstInsertionPt());
  AllocaInst *a = eb.CreateAlloca(ty, eb.getInt64(count), name);
  a->setAlignment(Align(align));
  return a;
}

void KernelEmitter::emitLoop(Value *begin, Value *end, int64_t step,
                             function_ref<void(Value *)> body,
                             const Twine &name) {
  BasicBlock *pre = b.GetInsertBlock();
  BasicBlock *header = BasicBlock::Create(ctx, name + ".header", fn);
  BasicBlock *bodyBB = BasicBlock::Create(ctx, name + ".body", fn);
  BasicBlock *exit = BasicBlock::Create(ctx, name + ".exit", fn);
  b.CreateBr(header);
  b.SetInsertPoint(header);
  PHINode *iv = b.CreatePHI(i64, 2, name + ".iv");
  iv->addIncoming(begin, pre);
  b.CreateCondBr(b.CreateICmpSLT(iv, end), bodyBB, exit);
  b.SetInsertPoint(bodyBB);
  body(iv);
  Value *next = b.CreateAdd(iv, cI64(step), name + ".next", /*HasNUW=*/true,
                            /*HasNSW=*/true);
  iv->addIncoming(next, b.GetInsertBlock());
  b.CreateBr(header);
  b.SetInsertPoint(exit);
}

void KernelEmitter::emitIf(Value *cond, function_ref<void()> thenBody,
                           const Twine &name) {
  BasicBlock *thenBB = BasicBlock::Create(ctx, name + ".then", fn);
  BasicBlock *join = BasicBlock::Create(ctx, name + ".join", fn);
  b.CreateCondBr(cond, thenBB, join);
  b.SetInsertPoint(thenBB);
  thenBody();
  b.CreateBr(join);
  b.SetInsertPoint(join);
}

void KernelEmitter::forEachGroup(
    function_ref<void(Value *, int64_t, Value *, Value *, Value *)> fn) {
  int64_t ng = l.numGroups();
  int64_t g0 = l.groupCols();
  int64_t pad0 = alignTo(g0, kBlockCols);
  int64_t codeBytes0 = pad0 / kBlockCols * l.blockBytes();
  bool ragged = l.groupLen(ng - 1) != g0;
  int64_t uniform = ragged ? ng - 1 : ng;
  auto callFor = [&](Value *g, int64_t len) {
    fn(g, len, b.CreateMul(g, cI64(g0)), b.CreateMul(g, cI64(pad0)),
       b.CreateMul(g, cI64(codeBytes0)));
  };
  if (uniform == 1)
    callFor(cI64(0), g0);
  else if (uniform > 1)
    emitLoop(
        cI64(0), cI64(uniform), 1, [&](Value *g) { callFor(g, g0); }, "group");
  if (ragged)
    callFor(cI64(ng - 1), l.groupLen(ng - 1));
}

void KernelEmitter::forEachBlock(int64_t len,
                                 function_ref<void(Value *, int64_t)> fn) {
  int64_t full = len / kBlockCols, rest = len % kBlockCols;
  if (full == 1)
    fn(cI64(0), kBlockCols);
  else if (full > 1)
    emitLoop(
        cI64(0), cI64(full), 1, [&](Value *blk) { fn(blk, kBlockCols); },
        "block");
  if (rest)
    fn(cI64(full), rest);
}

Value *KernelEmitter::loadScaleVector(Value *at) {
  if (l.scaleType == ScaleType::F32)
    return b.CreateAlignedLoad(vf32, at, Align(4));
  Value *h = b.CreateAlignedLoad(FixedVectorType::get(b.getHalfTy(), lanes), at,
                                 Align(2));
  return b.CreateFPExt(h, vf32);
}

void KernelEmitter::unpackBlock(Value *blockPtr,
                                SmallVectorImpl<Value *> &quads) {
  // Chunk c of the block lives at blockPtr + 64c; this half of the tile reads
  // lanes * 4 bytes of it (blockPtr already includes the half's offset).
  auto chunk = [&](int64_t c) {
    return b.CreateAlignedLoad(vi32, gep(blockPtr, 64 * c), Align(1));
  };
  quads.clear();
  switch (l.bits) {
  case 8:
    for (int64_t c = 0; c < 8; ++c)
      quads.push_back(chunk(c));
    break;
  case 4:
    for (int64_t c = 0; c < 4; ++c) {
      Value *v = chunk(c);
      quads.push_back(b.CreateAnd(v, splatI(0x0f0f0f0f)));
      quads.push_back(
          b.CreateAnd(b.CreateLShr(v, splatI(4)), splatI(0x0f0f0f0f)));
    }
    break;
  case 2:
    for (int64_t c = 0; c < 2; ++c) {
      Value *v = chunk(c);
      for (unsigned t = 0; t < 4; ++t)
        quads.push_back(b.CreateAnd(t ? b.CreateLShr(v, splatI(2 * t)) : v,
                                    splatI(0x03030303)));
    }
    break;
  default: { // 3 bits.
    Value *hi = chunk(2);
    for (int64_t c = 0; c < 2; ++c) {
      Value *v = chunk(c);
      for (unsigned t = 0; t < 4; ++t) {
        unsigned q = 4 * c + t;
        Value *lo = b.CreateAnd(t ? b.CreateLShr(v, splatI(2 * t)) : v,
                                splatI(0x03030303));
        Value *h = q >= 2 ? (q > 2 ? b.CreateLShr(hi, splatI(q - 2)) : hi)
                          : b.CreateShl(hi, splatI(2 - q));
        quads.push_back(b.CreateOr(lo, b.CreateAnd(h, splatI(0x04040404))));
      }
    }
    break;
  }
  }
}

/// Sums groups of `group` consecutive lanes of v.
static Value *sumAdjacent(IRBuilder<> &b, Value *v, unsigned group) {
  unsigned n = cast<FixedVectorType>(v->getType())->getNumElements();
  Value *sum = nullptr;
  for (unsigned j = 0; j < group; ++j) {
    SmallVector<int> idx;
    for (unsigned i = 0; i < n / group; ++i)
      idx.push_back(int(i * group + j));
    Value *part = b.CreateShuffleVector(v, idx);
    sum = sum ? b.CreateAdd(sum, part) : part;
  }
  return sum;
}

Value *KernelEmitter::x86Dot(Intrinsic::ID id, Type *resTy,
                             ArrayRef<Value *> args) {
  if (!key.emulate)
    return b.CreateIntrinsic(resTy, id, args);
  auto wide = [&](unsigned n) { return FixedVectorType::get(i32, n); };
  unsigned n = 4 * lanes;
  if (id == Intrinsic::x86_avx512_vpdpbusd_512 ||
      id == Intrinsic::x86_avx512_vpdpbusd_256) {
    Value *p = b.CreateMul(b.CreateZExt(args[1], wide(n)),
                           b.CreateSExt(args[2], wide(n)));
    return b.CreateAdd(args[0], sumAdjacent(b, p, 4));
  }
  if (id == Intrinsic::x86_avx512_pmaddubs_w_512 ||
      id == Intrinsic::x86_avx2_pmadd_ub_sw) {
    Value *p = b.CreateMul(b.CreateZExt(args[0], wide(n)),
                           b.CreateSExt(args[1], wide(n)));
    Value *s = sumAdjacent(b, p, 2);
    s = b.CreateBinaryIntrinsic(Intrinsic::smax, s,
                                ConstantInt::get(wide(n / 2), -32768));
    s = b.CreateBinaryIntrinsic(Intrinsic::smin, s,
                                ConstantInt::get(wide(n / 2), 32767));
    return b.CreateTrunc(s, resTy);
  }
  // vpmaddwd.
  Value *p = b.CreateMul(b.CreateSExt(args[0], wide(2 * lanes)),
                         b.CreateSExt(args[1], wide(2 * lanes)));
  return sumAdjacent(b, p, 2);
}

Value *KernelEmitter::dotQuad(Value *acc, Value *codes, Value *x4) {
  // codes: u8 per byte; x4: s8 per byte; four products per 32-bit lane.
  Value *cb = b.CreateBitCast(codes, vi8);
  Value *xb = b.CreateBitCast(x4, vi8);
  Intrinsic::ID id = lanes == 16 ? Intrinsic::x86_avx512_vpdpbusd_512
                                 : Intrinsic::x86_avx512_vpdpbusd_256;
  return x86Dot(id, vi32, {acc, cb, xb});
}

//===----------------------------------------------------------------------===//
// Activation preparation
//===----------------------------------------------------------------------===//

void KernelEmitter::emitPrepare(Value *chunkBegin, Value *rowsPadded,
                                Value *rowsValid) {
  int64_t kp = l.paddedK(), nblk = kp / kBlockCols, ng = l.numGroups();
  auto *v32f = FixedVectorType::get(f32, kBlockCols);
  auto *v32i = FixedVectorType::get(i32, kBlockCols);
  auto *v32b = FixedVectorType::get(i8, kBlockCols);
  AllocaInst *gsum = entryAlloca(f32, 1, 4, "gsum");
  emitLoop(
      cI64(0), rowsPadded, 1,
      [&](Value *r) {
        Value *valid = b.CreateICmpSLT(r, rowsValid);
        // Padded batch rows read the last valid row and are never stored
        // (fp32) or are zeroed (int8).
        Value *xr = b.CreateAdd(
            chunkBegin,
            b.CreateSelect(valid, r, b.CreateSub(rowsValid, cI64(1))));
        Value *xRow = gep(xArg, b.CreateMul(xr, cI64(4 * l.K)));
        forEachGroup([&](Value *g, int64_t len, Value *kBegin, Value *kpBegin,
                         Value *) {
          b.CreateStore(ConstantFP::get(f32, 0.0), gsum);
          forEachBlock(len, [&](Value *blk, int64_t validCols) {
            Value *kOff =
                b.CreateAdd(kBegin, b.CreateMul(blk, cI64(kBlockCols)));
            Value *src = gep(xRow, b.CreateMul(kOff, cI64(4)));
            Value *v;
            if (validCols == kBlockCols) {
              v = b.CreateAlignedLoad(v32f, src, Align(4));
            } else {
              SmallVector<Constant *> mask;
              for (int64_t i = 0; i < kBlockCols; ++i)
                mask.push_back(b.getInt1(i < validCols));
              v = b.CreateMaskedLoad(v32f, src, Align(4),
                                     ConstantVector::get(mask),
                                     ConstantAggregateZero::get(v32f));
            }
            Value *sum;
            if (!int8Path) {
              FastMathFlags fmf;
              fmf.setAllowReassoc();
              IRBuilder<>::FastMathFlagGuard guard(b);
              b.setFastMathFlags(fmf);
              sum = b.CreateFAddReduce(ConstantFP::get(f32, -0.0), v);
            } else {
              // max |v| as an unsigned integer maximum of the bit patterns
              // (ordered like the non-negative floats they encode): a tree
              // of vector maxima, where llvm.vector.reduce.fmax's NaN rules
              // made a chain of ~90 scalar ops per block. A NaN (above +inf
              // as bits) becomes the block's scale, so it reaches the
              // outputs instead of being dropped.
              Value *amax = b.CreateBitCast(
                  b.CreateIntMaxReduce(
                      b.CreateBitCast(
                          b.CreateUnaryIntrinsic(Intrinsic::fabs, v), v32i),
                      /*IsSigned=*/false),
                  f32);
              Value *pos = b.CreateFCmpOGT(amax, ConstantFP::get(f32, 0.0));
              Value *inv = b.CreateSelect(
                  b.CreateAnd(pos, valid),
                  b.CreateFDiv(ConstantFP::get(f32, double(qmax)), amax),
                  ConstantFP::get(f32, 0.0));
              Value *scale = b.CreateSelect(
                  valid, b.CreateFDiv(amax, ConstantFP::get(f32, double(qmax))),
                  ConstantFP::get(f32, 0.0));
              // A NaN lane (its block's inv is 0) converts as 0, not as
              // fptosi's poison; the NaN scale carries it to the outputs.
              Value *scaled =
                  b.CreateFMul(v, b.CreateVectorSplat(kBlockCols, inv));
              scaled = b.CreateSelect(b.CreateFCmpORD(scaled, scaled), scaled,
                                      ConstantAggregateZero::get(v32f));
              Value *q = b.CreateFPToSI(
                  b.CreateUnaryIntrinsic(Intrinsic::rint, scaled), v32i);
              Value *kpOff =
                  b.CreateAdd(kpBegin, b.CreateMul(blk, cI64(kBlockCols)));
              Value *rowOff = b.CreateMul(r, cI64(kp));
              b.CreateAlignedStore(b.CreateTrunc(q, v32b),
                                   gep(xq, b.CreateAdd(rowOff, kpOff)),
                                   Align(1));
              Value *blkIdx =
                  b.CreateAdd(b.CreateMul(r, cI64(nblk)),
                              b.CreateUDiv(kpOff, cI64(kBlockCols)));
              b.CreateStore(scale, b.CreateInBoundsGEP(f32, sx, blkIdx));
              sum = b.CreateFMul(b.CreateSIToFP(b.CreateAddReduce(q), f32),
                                 scale);
            }
            b.CreateStore(b.CreateFAdd(b.CreateLoad(f32, gsum), sum), gsum);
          });
          b.CreateStore(b.CreateLoad(f32, gsum),
                        b.CreateInBoundsGEP(
                            f32, xs, b.CreateAdd(b.CreateMul(r, cI64(ng)), g)));
        });
      },
      "prep");
}

//===----------------------------------------------------------------------===//
// Tile computation
//===----------------------------------------------------------------------===//

void KernelEmitter::emitTile(Value *chunkBegin, Value *tileIdx,
                             Value *batchBegin, ArrayRef<unsigned> subs) {
  int64_t kp = l.paddedK(), nblk = kp / kBlockCols, ng = l.numGroups();
  unsigned ns = subs.size();
  unsigned per = int8Path ? 1 : chains;
  Value *tileBase = gep(packedArg, b.CreateMul(tileIdx, cI64(l.tileBytes())));
  SmallVector<Value *, 2> halfBase;
  for (unsigned sub : subs)
    halfBase.push_back(gep(tileBase, int64_t(sub) * lanes * 4));
  // Accumulator slots: per (half, batch row), and per chain for group sums.
  auto fIdx = [&](unsigned si, unsigned i) { return si * bt + i; };
  auto gIdx = [&](unsigned si, unsigned i, unsigned j) {
    return (si * bt + i) * per + j;
  };

  // Row pointers and scratch rows of this batch tile.
  SmallVector<Value *> xRows, sRows;
  for (unsigned i = 0; i < bt; ++i) {
    Value *r = b.CreateAdd(batchBegin, cI64(i)); // Row inside the chunk.
    sRows.push_back(r);
    if (!int8Path) {
      // Clamp to the last row of the input; results of padded rows are
      // discarded.
      Value *gr = b.CreateAdd(chunkBegin, r);
      Value *last = b.CreateSub(bArg, cI64(1));
      gr = b.CreateSelect(b.CreateICmpSLT(gr, last), gr, last);
      xRows.push_back(gep(xArg, b.CreateMul(gr, cI64(4 * l.K))));
    }
  }

  for (unsigned si = 0; si < ns; ++si)
    for (unsigned i = 0; i < bt; ++i)
      b.CreateStore(Constant::getNullValue(vf32), accF[fIdx(si, i)]);

  forEachGroup([&](Value *g, int64_t len, Value *kBegin, Value *kpBegin,
                   Value *codeOff) {
    for (unsigned k = 0; k < ns * bt * per; ++k)
      b.CreateStore(Constant::getNullValue(vf32), accG[k]);
    if (tilePrefetch) {
      // The scales (and offsets) of this group in the next tile, a whole
      // tile ahead, into L2: the code stream below skips them, and without
      // this the first groups of every tile waited on their scales.
      Value *sOff =
          b.CreateAdd(cI64(l.tileBytes() + l.scalesOffset()),
                      b.CreateMul(g, cI64(kTileRows * l.scaleSize())));
      for (int64_t o : {int64_t(0), l.offsetsOffset() - l.scalesOffset()}) {
        b.CreateIntrinsic(Intrinsic::prefetch, {ptr},
                          {gep(tileBase, b.CreateAdd(sOff, cI64(o))),
                           b.getInt32(0), b.getInt32(2), b.getInt32(1)});
        if (l.symmetric)
          break;
      }
    }
    forEachBlock(len, [&](Value *blk, int64_t validCols) {
      Value *blockOff =
          b.CreateAdd(codeOff, b.CreateMul(blk, cI64(l.blockBytes())));
      if (prefetchDist > 0) {
        // The whole 16-row tile is read in this pass: keep the code stream
        // prefetchDist bytes ahead (with tilePrefetch, continuing into the
        // next tile's codes past this tile's end, skipping its scales).
        Value *pfOff = b.CreateAdd(blockOff, cI64(prefetchDist));
        if (tilePrefetch) {
          Value *past = b.CreateICmpUGE(pfOff, cI64(l.codesBytes()));
          pfOff = b.CreateAdd(
              pfOff, b.CreateSelect(past, cI64(l.tileBytes() - l.codesBytes()),
                                    cI64(0)));
        }
        Value *pf = gep(tileBase, pfOff);
        for (int64_t o = 0; o < l.blockBytes(); o += 64)
          b.CreateIntrinsic(Intrinsic::prefetch, {ptr},
                            {gep(pf, o), b.getInt32(0),
                             b.getInt32(info.prefetch.locality),
                             b.getInt32(1)});
      }
      // fp32 path, 4-bit codes on 512-bit vectors: widened by a table lookup
      // of the raw chunks below, not unpacked into quads.
      const bool lut4 = !int8Path && l.bits == 4 && lanes == 16 && !key.emulate;
      SmallVector<SmallVector<Value *, 8>, 2> quads(ns);
      if (!lut4)
        for (unsigned si = 0; si < ns; ++si)
          unpackBlock(gep(halfBase[si], blockOff), quads[si]);
      int64_t numQuads = (validCols + 3) / 4;
      if (int8Path) {
        Value *kpOff = b.CreateAdd(kpBegin, b.CreateMul(blk, cI64(kBlockCols)));
        Value *blkIdx = b.CreateUDiv(kpOff, cI64(kBlockCols));
        for (unsigned i = 0; i < bt; ++i) {
          Value *xRow =
              gep(xq, b.CreateAdd(b.CreateMul(sRows[i], cI64(kp)), kpOff));
          // Broadcast activations, shared by the halves.
          SmallVector<Value *, 8> x4;
          for (int64_t c = 0; c < numQuads; ++c) {
            Value *w = b.CreateAlignedLoad(i32, gep(xRow, 4 * c), Align(1));
            x4.push_back(b.CreateVectorSplat(lanes, w));
          }
          Value *s = b.CreateLoad(
              f32, b.CreateInBoundsGEP(
                       f32, sx,
                       b.CreateAdd(b.CreateMul(sRows[i], cI64(nblk)), blkIdx)));
          Value *sv = b.CreateVectorSplat(lanes, s);
          for (unsigned si = 0; si < ns; ++si) {
            Value *total;
            if (info.vnni) {
              SmallVector<Value *, 4> acc(chains, Constant::getNullValue(vi32));
              for (int64_t c = 0; c < numQuads; ++c)
                acc[c % chains] = dotQuad(acc[c % chains], quads[si][c], x4[c]);
              total = acc[0];
              for (unsigned j = 1; j < chains; ++j)
                total = b.CreateAdd(total, acc[j]);
            } else {
              // vpmaddubsw pairs, summed in 16 bits while they cannot
              // overflow, then widened by vpmaddwd with ones.
              int64_t maxPair = 2 * ((1 << l.bits) - 1) * qmax;
              int64_t perSum = std::max<int64_t>(1, 32767 / maxPair);
              Intrinsic::ID ubsw = lanes == 16
                                       ? Intrinsic::x86_avx512_pmaddubs_w_512
                                       : Intrinsic::x86_avx2_pmadd_ub_sw;
              Intrinsic::ID wd = lanes == 16
                                     ? Intrinsic::x86_avx512_pmaddw_d_512
                                     : Intrinsic::x86_avx2_pmadd_wd;
              Value *ones = ConstantInt::get(vi16, 1);
              SmallVector<Value *, 4> acc(chains, Constant::getNullValue(vi32));
              SmallVector<Value *, 8> parts;
              int64_t flushes = 0;
              auto flush = [&]() {
                // Pairwise tree: short dependency chains.
                while (parts.size() > 1) {
                  SmallVector<Value *, 8> next;
                  for (size_t p = 0; p + 1 < parts.size(); p += 2)
                    next.push_back(b.CreateAdd(parts[p], parts[p + 1]));
                  if (parts.size() % 2)
                    next.push_back(parts.back());
                  parts = next;
                }
                Value *w = x86Dot(wd, vi32, {parts[0], ones});
                unsigned ch = flushes++ % chains;
                acc[ch] = b.CreateAdd(acc[ch], w);
                parts.clear();
              };
              for (int64_t c = 0; c < numQuads; ++c) {
                parts.push_back(x86Dot(ubsw, vi16,
                                       {b.CreateBitCast(quads[si][c], vi8),
                                        b.CreateBitCast(x4[c], vi8)}));
                if (int64_t(parts.size()) == perSum)
                  flush();
              }
              if (!parts.empty())
                flush();
              total = acc[0];
              for (unsigned j = 1; j < chains; ++j)
                total = b.CreateAdd(total, acc[j]);
            }
            AllocaInst *slot = accG[gIdx(si, i, 0)];
            Value *acc = b.CreateLoad(vf32, slot);
            acc = b.CreateIntrinsic(vf32, Intrinsic::fma,
                                    {b.CreateSIToFP(total, vf32), sv, acc});
            b.CreateStore(acc, slot);
          }
        }
        return;
      }
      // fp32 path: widen each column of the quad to f32 and FMA. 4-bit codes
      // on 512-bit vectors are widened by a 16-entry table lookup (vpermps
      // reads only the low 4 bits of each lane, so a shift of the raw 32-bit
      // chunk is the whole unpack): one op per column instead of a shift,
      // an and and a conversion, and the same floats (code 0..15 exactly).
      Value *codeTable = nullptr;
      SmallVector<SmallVector<Value *, 4>, 2> raw(ns);
      if (lut4) {
        SmallVector<Constant *, 16> t;
        for (int v = 0; v < 16; ++v)
          t.push_back(ConstantFP::get(f32, float(v)));
        codeTable = ConstantVector::get(t);
        for (unsigned si = 0; si < ns; ++si)
          for (int64_t c = 0; c < 4; ++c)
            raw[si].push_back(b.CreateAlignedLoad(
                vi32, gep(gep(halfBase[si], blockOff), 64 * c), Align(1)));
      }
      Value *kOff = b.CreateAdd(kBegin, b.CreateMul(blk, cI64(kBlockCols)));
      SmallVector<Value *> acc;
      for (unsigned k = 0; k < ns * bt * per; ++k)
        acc.push_back(b.CreateLoad(vf32, accG[k]));
      int64_t col = 0;
      for (int64_t c = 0; c < numQuads; ++c) {
        for (unsigned j = 0; j < 4 && col < validCols; ++j, ++col) {
          SmallVector<Value *, 2> qf;
          for (unsigned si = 0; si < ns; ++si) {
            if (lut4) {
              // Quad c holds the low (even c) or high (odd c) nibbles of
              // chunk c / 2; column j is byte j of it.
              Value *v = raw[si][c / 2];
              const unsigned shift = 8 * j + 4 * (c % 2);
              if (shift)
                v = b.CreateLShr(v, splatI(shift));
              qf.push_back(b.CreateIntrinsic(
                  vf32, Intrinsic::x86_avx512_permvar_sf_512, {codeTable, v}));
              continue;
            }
            Value *q = quads[si][c];
            if (j)
              q = b.CreateLShr(q, splatI(8 * j));
            if (j != 3)
              q = b.CreateAnd(q, splatI(0xff));
            qf.push_back(b.CreateSIToFP(q, vf32));
          }
          for (unsigned i = 0; i < bt; ++i) {
            Value *xv = b.CreateAlignedLoad(
                f32,
                gep(xRows[i],
                    b.CreateMul(b.CreateAdd(kOff, cI64(col)), cI64(4))),
                Align(4));
            Value *xs = b.CreateVectorSplat(lanes, xv);
            for (unsigned si = 0; si < ns; ++si) {
              unsigned ch = gIdx(si, i, col % chains);
              acc[ch] = b.CreateIntrinsic(vf32, Intrinsic::fma,
                                          {qf[si], xs, acc[ch]});
            }
          }
        }
      }
      for (unsigned k = 0; k < acc.size(); ++k)
        b.CreateStore(acc[k], accG[k]);
    });
    // Group epilogue: y += s * sum(q x) + m * sum(x).
    for (unsigned si = 0; si < ns; ++si) {
      Value *scaleAt = gep(
          tileBase,
          b.CreateAdd(cI64(l.scalesOffset()),
                      b.CreateMul(b.CreateAdd(b.CreateMul(g, cI64(kTileRows)),
                                              cI64(subs[si] * lanes)),
                                  cI64(l.scaleSize()))));
      // s: the stored scale, or with super-block scales d * c (the 8-bit
      // code of the group times its super-block's scale: exact). m: -s *
      // 2^(bits-1) when symmetric, else the stored offset, or with
      // super-block scales s * -z rounded to f32 (as the codec's
      // dequantizeRows).
      auto bytes = [&](Value *at) {
        return b.CreateAlignedLoad(FixedVectorType::get(b.getInt8Ty(), lanes),
                                   at, Align(1));
      };
      Value *offAt = gep(scaleAt, l.offsetsOffset() - l.scalesOffset());
      Value *s, *mv;
      if (l.superGroup > 0) {
        Value *superAt = gep(
            tileBase,
            b.CreateAdd(
                cI64(l.superScalesOffset()),
                b.CreateMul(
                    b.CreateAdd(b.CreateMul(b.CreateUDiv(g, cI64(l.superGroup)),
                                            cI64(kTileRows)),
                                cI64(subs[si] * lanes)),
                    cI64(l.superScaleSize()))));
        s = b.CreateFMul(loadScaleVector(superAt),
                         b.CreateSIToFP(bytes(scaleAt), vf32));
      } else {
        s = loadScaleVector(scaleAt);
      }
      if (l.symmetric)
        mv = b.CreateFMul(s, splatF(-float(1u << (l.bits - 1))));
      else if (l.superGroup > 0)
        mv = b.CreateFMul(s, b.CreateFNeg(b.CreateUIToFP(bytes(offAt), vf32)));
      else
        mv = loadScaleVector(offAt);
      for (unsigned i = 0; i < bt; ++i) {
        Value *sum = b.CreateLoad(vf32, accG[gIdx(si, i, 0)]);
        for (unsigned j = 1; j < per; ++j)
          sum = b.CreateFAdd(sum, b.CreateLoad(vf32, accG[gIdx(si, i, j)]));
        Value *xsum = b.CreateLoad(
            f32, b.CreateInBoundsGEP(
                     f32, xs, b.CreateAdd(b.CreateMul(sRows[i], cI64(ng)), g)));
        Value *acc = b.CreateLoad(vf32, accF[fIdx(si, i)]);
        acc = b.CreateIntrinsic(vf32, Intrinsic::fma, {sum, s, acc});
        acc = b.CreateIntrinsic(vf32, Intrinsic::fma,
                                {mv, b.CreateVectorSplat(lanes, xsum), acc});
        b.CreateStore(acc, accF[fIdx(si, i)]);
      }
    }
  });

  for (unsigned si = 0; si < ns; ++si) {
    Value *n0 = b.CreateAdd(b.CreateMul(tileIdx, cI64(kTileRows)),
                            cI64(subs[si] * lanes));
    for (unsigned i = 0; i < bt; ++i) {
      Value *row = b.CreateAdd(chunkBegin, sRows[i]);
      Value *v = b.CreateLoad(vf32, accF[fIdx(si, i)]);
      emitIf(
          b.CreateICmpSLT(row, bArg), [&]() { emitStore(row, n0, v); }, "row");
    }
  }
}

void KernelEmitter::emitStore(Value *row, Value *n0, Value *v) {
  Value *rowPtr = gep(yArg, b.CreateMul(row, cI64(4 * l.N)));
  Value *hasBias = b.CreateIsNotNull(biasArg);
  Value *full =
      b.CreateAnd(b.CreateICmpSGE(n0, nBeginArg),
                  b.CreateICmpSLE(b.CreateAdd(n0, cI64(lanes)), nEndArg));
  BasicBlock *fullBB = BasicBlock::Create(ctx, "store.full", fn);
  BasicBlock *partBB = BasicBlock::Create(ctx, "store.part", fn);
  BasicBlock *done = BasicBlock::Create(ctx, "store.done", fn);
  b.CreateCondBr(full, fullBB, partBB);

  b.SetInsertPoint(fullBB);
  {
    BasicBlock *withBias = BasicBlock::Create(ctx, "store.bias", fn);
    BasicBlock *write = BasicBlock::Create(ctx, "store.write", fn);
    BasicBlock *from = b.GetInsertBlock();
    b.CreateCondBr(hasBias, withBias, write);
    b.SetInsertPoint(withBias);
    Value *bv = b.CreateAlignedLoad(
        vf32, gep(biasArg, b.CreateMul(n0, cI64(4))), Align(4));
    Value *vb = b.CreateFAdd(v, bv);
    b.CreateBr(write);
    b.SetInsertPoint(write);
    PHINode *out = b.CreatePHI(vf32, 2);
    out->addIncoming(v, from);
    out->addIncoming(vb, withBias);
    b.CreateAlignedStore(out, gep(rowPtr, b.CreateMul(n0, cI64(4))), Align(4));
    b.CreateBr(done);
  }

  b.SetInsertPoint(partBB);
  b.CreateStore(v, storeTmp);
  emitLoop(
      cI64(0), cI64(lanes), 1,
      [&](Value *i) {
        Value *n = b.CreateAdd(n0, i);
        Value *in = b.CreateAnd(b.CreateICmpSGE(n, nBeginArg),
                                b.CreateICmpSLT(n, nEndArg));
        emitIf(
            in,
            [&]() {
              Value *e =
                  b.CreateLoad(f32, b.CreateInBoundsGEP(f32, storeTmp, i));
              BasicBlock *withBias = BasicBlock::Create(ctx, "pbias", fn);
              BasicBlock *write = BasicBlock::Create(ctx, "pwrite", fn);
              BasicBlock *from = b.GetInsertBlock();
              b.CreateCondBr(hasBias, withBias, write);
              b.SetInsertPoint(withBias);
              Value *eb = b.CreateFAdd(
                  e, b.CreateLoad(f32, b.CreateInBoundsGEP(f32, biasArg, n)));
              b.CreateBr(write);
              b.SetInsertPoint(write);
              PHINode *out = b.CreatePHI(f32, 2);
              out->addIncoming(e, from);
              out->addIncoming(eb, withBias);
              b.CreateStore(out, gep(rowPtr, b.CreateMul(n, cI64(4))));
            },
            "lane");
      },
      "part");
  b.CreateBr(done);
  b.SetInsertPoint(done);
}

Function *KernelEmitter::emit() {
  FunctionType *fty = FunctionType::get(
      b.getVoidTy(), {ptr, i64, ptr, ptr, ptr, i64, i64}, /*isVarArg=*/false);
  fn = Function::Create(fty, GlobalValue::ExternalLinkage, key.symbolName(), m);
  fn->setVisibility(GlobalValue::DefaultVisibility);
  fn->setDoesNotThrow();
  fn->addFnAttr("target-cpu", info.cpu);
  fn->addFnAttr("target-features", info.features);
  unsigned width = lanes * 32;
  fn->addFnAttr("prefer-vector-width", std::to_string(width));
  fn->addFnAttr("min-legal-vector-width", std::to_string(width));
  fn->addFnAttr("frame-pointer", "none");
  const char *names[] = {"x", "B", "packed", "bias", "y", "nBegin", "nEnd"};
  for (unsigned i = 0; i < 7; ++i)
    fn->getArg(i)->setName(names[i]);
  for (unsigned i : {0u, 2u, 3u})
    fn->addParamAttr(i, Attribute::ReadOnly);
  fn->addParamAttr(4, Attribute::NoAlias);
  xArg = fn->getArg(0);
  bArg = fn->getArg(1);
  packedArg = fn->getArg(2);
  biasArg = fn->getArg(3);
  yArg = fn->getArg(4);
  nBeginArg = fn->getArg(5);
  nEndArg = fn->getArg(6);

  entry = BasicBlock::Create(ctx, "entry", fn);
  b.SetInsertPoint(entry);
  int64_t kp = l.paddedK(), ng = l.numGroups();
  if (int8Path) {
    xq = entryAlloca(i8, chunkRows * kp, 64, "xq");
    sx = entryAlloca(f32, chunkRows * (kp / kBlockCols), 64, "sx");
  }
  xs = entryAlloca(f32, chunkRows * ng, 64, "xs");
  unsigned per = int8Path ? 1 : chains;
  for (unsigned i = 0; i < fusedSubs * bt; ++i)
    accF.push_back(entryAlloca(vf32, 1, 64, "accF"));
  for (unsigned i = 0; i < fusedSubs * bt * per; ++i)
    accG.push_back(entryAlloca(vf32, 1, 64, "accG"));
  storeTmp = entryAlloca(vf32, 1, 64, "storeTmp");

  // Empty ranges return at once.
  BasicBlock *work = BasicBlock::Create(ctx, "work", fn);
  BasicBlock *ret = BasicBlock::Create(ctx, "ret", fn);
  b.CreateCondBr(b.CreateAnd(b.CreateICmpSLT(nBeginArg, nEndArg),
                             b.CreateICmpSGT(bArg, cI64(0))),
                 work, ret);
  b.SetInsertPoint(ret);
  b.CreateRetVoid();
  b.SetInsertPoint(work);

  Value *tBegin = b.CreateSDiv(nBeginArg, cI64(kTileRows));
  Value *tEnd =
      b.CreateSDiv(b.CreateAdd(nEndArg, cI64(kTileRows - 1)), cI64(kTileRows));
  emitLoop(
      cI64(0), bArg, chunkRows,
      [&](Value *chunkBegin) {
        Value *left = b.CreateSub(bArg, chunkBegin);
        Value *rows = b.CreateSelect(b.CreateICmpSLT(left, cI64(chunkRows)),
                                     left, cI64(chunkRows));
        // Rows rounded up to the batch tile.
        Value *padded = b.CreateMul(
            b.CreateUDiv(b.CreateAdd(rows, cI64(bt - 1)), cI64(bt)), cI64(bt));
        emitPrepare(chunkBegin, padded, rows);
        emitLoop(
            tBegin, tEnd, 1,
            [&](Value *t) {
              emitLoop(
                  cI64(0), padded, bt,
                  [&](Value *bb) {
                    SmallVector<unsigned, 2> subs;
                    for (unsigned sub = 0; sub < kTileRows / lanes; ++sub) {
                      subs.push_back(sub);
                      if (subs.size() == fusedSubs) {
                        emitTile(chunkBegin, t, bb, subs);
                        subs.clear();
                      }
                    }
                  },
                  "batch");
            },
            "tile");
      },
      "chunk");
  b.CreateBr(ret);
  return fn;
}

} // namespace

//===----------------------------------------------------------------------===//
// Module generation and compilation
//===----------------------------------------------------------------------===//

static constexpr const char *kTriple = "x86_64-unknown-linux-gnu";

Expected<std::unique_ptr<Module>>
generateKernelModule(LLVMContext &ctx, ArrayRef<KernelKey> keys) {
  auto module = std::make_unique<Module>("lowbit_x86_kernels", ctx);
  module->setTargetTriple(Triple(kTriple));
  for (const KernelKey &key : keys) {
    if (Error e = key.verify())
      return std::move(e);
    if (module->getFunction(key.symbolName()))
      return createStringError("duplicate kernel key %s",
                               key.symbolName().c_str());
    Expected<PackedLayout> l = key.layout();
    if (!l)
      return l.takeError();
    KernelEmitter(*module, key, *l).emit();
  }
  std::string err;
  raw_string_ostream os(err);
  if (verifyModule(*module, &os))
    return createStringError("generated kernel module is invalid: %s",
                             err.c_str());
  return module;
}

static Expected<std::unique_ptr<TargetMachine>> createTargetMachine() {
  // Explicit initialization (no static constructors); idempotent.
  LLVMInitializeX86TargetInfo();
  LLVMInitializeX86Target();
  LLVMInitializeX86TargetMC();
  LLVMInitializeX86AsmPrinter();
  Triple triple(kTriple);
  std::string err;
  const Target *target = TargetRegistry::lookupTarget(triple, err);
  if (!target)
    return createStringError("x86 target unavailable: %s", err.c_str());
  TargetOptions options;
  std::unique_ptr<TargetMachine> tm(target->createTargetMachine(
      triple, "x86-64", "", options, Reloc::PIC_, CodeModel::Small,
      CodeGenOptLevel::Aggressive));
  if (!tm)
    return createStringError("cannot create the x86 target machine");
  return tm;
}

Expected<std::vector<char>> compileToObject(Module &module) {
  Expected<std::unique_ptr<TargetMachine>> tm = createTargetMachine();
  if (!tm)
    return tm.takeError();
  module.setDataLayout((*tm)->createDataLayout());
  module.setTargetTriple(Triple(kTriple));

  {
    LoopAnalysisManager lam;
    FunctionAnalysisManager fam;
    CGSCCAnalysisManager cgam;
    ModuleAnalysisManager mam;
    PassBuilder pb(tm->get());
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    ModulePassManager mpm =
        pb.buildPerModuleDefaultPipeline(OptimizationLevel::O3);
    mpm.run(module, mam);
  }

  SmallString<0> buffer;
  raw_svector_ostream os(buffer);
  legacy::PassManager pm;
  if ((*tm)->addPassesToEmitFile(pm, os, nullptr, CodeGenFileType::ObjectFile))
    return createStringError("the x86 target cannot emit object files");
  pm.run(module);
  return std::vector<char>(buffer.begin(), buffer.end());
}

namespace {
/// Removes a temporary file when it goes out of scope.
struct TempFile {
  SmallString<128> path;
  ~TempFile() {
    if (!path.empty())
      sys::fs::remove(path);
  }
};
} // namespace

Expected<std::vector<char>> linkSharedObject(ArrayRef<char> object) {
  const char *candidates[] = {"ld.lld", "ld.lld-22", "ld.lld-14", "ld"};
  std::string linker;
  for (const char *name : candidates) {
    if (ErrorOr<std::string> p = sys::findProgramByName(name)) {
      linker = *p;
      break;
    }
  }
  if (linker.empty())
    return createStringError(
        "no linker found to build the x86 kernel library: install lld "
        "(ld.lld) or binutils (ld) and put it on PATH");

  TempFile obj, so, log;
  if (std::error_code ec =
          sys::fs::createTemporaryFile("lowbit-x86", "o", obj.path))
    return createStringError(ec, "cannot create a temporary object file");
  if (std::error_code ec =
          sys::fs::createTemporaryFile("lowbit-x86", "so", so.path))
    return createStringError(ec, "cannot create a temporary library file");
  if (std::error_code ec =
          sys::fs::createTemporaryFile("lowbit-x86", "log", log.path))
    return createStringError(ec, "cannot create a temporary log file");
  {
    std::error_code ec;
    raw_fd_ostream os(obj.path, ec);
    if (ec)
      return createStringError(ec, "cannot write %s", obj.path.c_str());
    os.write(object.data(), object.size());
    // A full disk is an error, not a fatal "IO failure on output stream".
    os.close();
    if (os.has_error()) {
      std::error_code werr = os.error();
      os.clear_error();
      return createStringError(werr, "cannot write %s: %s", obj.path.c_str(),
                               werr.message().c_str());
    }
  }
  SmallVector<StringRef> args = {linker,        "-shared",        "-o",
                                 so.path,       obj.path,         "-z",
                                 "noexecstack", "--build-id=none"};
  std::optional<StringRef> redirects[] = {std::nullopt, log.path, log.path};
  std::string err;
  int rc =
      sys::ExecuteAndWait(linker, args, std::nullopt, redirects, 0, 0, &err);
  if (rc != 0) {
    std::string output;
    if (auto buf = MemoryBuffer::getFile(log.path))
      output = (*buf)->getBuffer().str();
    return createStringError("linking the x86 kernel library with %s failed "
                             "(exit %d): %s%s",
                             linker.c_str(), rc, err.c_str(), output.c_str());
  }
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf =
      MemoryBuffer::getFile(so.path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buf)
    return createStringError(buf.getError(), "cannot read %s", so.path.c_str());
  return std::vector<char>((*buf)->getBufferStart(), (*buf)->getBufferEnd());
}

Expected<std::vector<char>> buildKernelLibrary(ArrayRef<KernelKey> keys) {
  LLVMContext ctx;
  Expected<std::unique_ptr<Module>> module = generateKernelModule(ctx, keys);
  if (!module)
    return module.takeError();
  Expected<std::vector<char>> obj = compileToObject(**module);
  if (!obj)
    return obj.takeError();
  return linkSharedObject(*obj);
}

} // namespace lowbit::x86
