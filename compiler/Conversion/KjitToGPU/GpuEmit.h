//===- GpuEmit.h - small builder shared by the GPU generators --*- C++ -*-===//
//
// Index and f32 arithmetic, guarded loads, loops and `gpu.launch` with
// workgroup (shared-memory) buffers at one location. Every GPU generator
// (KjitToGPU/*GPU.cpp) emits through it.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_COMPILER_GPUEMIT_H
#define KJIT_COMPILER_GPUEMIT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <functional>

namespace kjit::compiler::gpuemit {

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Emit {
  mlir::OpBuilder &b;
  mlir::Location loc;
  using Value = mlir::Value;
  using P = mlir::arith::CmpIPredicate;

  Value c(int64_t v) { return mlir::arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return mlir::arith::AddIOp::create(b, loc, x, y); }
  Value add(Value x, int64_t y) { return y == 0 ? x : add(x, c(y)); }
  Value sub(Value x, Value y) { return mlir::arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return mlir::arith::MulIOp::create(b, loc, x, y); }
  Value mul(Value x, int64_t y) { return y == 1 ? x : mul(x, c(y)); }
  /// Unsigned division / remainder (operands known >= 0).
  Value div(Value x, int64_t y) {
    return y == 1 ? x : mlir::arith::DivUIOp::create(b, loc, x, c(y)).getResult();
  }
  Value rem(Value x, int64_t y) {
    return y == 1 ? c(0) : mlir::arith::RemUIOp::create(b, loc, x, c(y)).getResult();
  }
  Value divS(Value x, Value y) { return mlir::arith::DivSIOp::create(b, loc, x, y); }
  Value remS(Value x, Value y) { return mlir::arith::RemSIOp::create(b, loc, x, y); }
  Value minS(Value x, Value y) { return mlir::arith::MinSIOp::create(b, loc, x, y); }
  Value maxS(Value x, Value y) { return mlir::arith::MaxSIOp::create(b, loc, x, y); }
  Value cmp(P p, Value x, Value y) { return mlir::arith::CmpIOp::create(b, loc, p, x, y); }
  Value lt(Value x, int64_t y) { return cmp(P::slt, x, c(y)); }
  Value lt(Value x, Value y) { return cmp(P::slt, x, y); }
  Value ge(Value x, Value y) { return cmp(P::sge, x, y); }
  Value ge0(Value x) { return cmp(P::sge, x, c(0)); }
  Value eq(Value x, Value y) { return cmp(P::eq, x, y); }
  Value band(Value x, Value y) { return mlir::arith::AndIOp::create(b, loc, x, y); }
  Value bor(Value x, Value y) { return mlir::arith::OrIOp::create(b, loc, x, y); }
  Value inRange(Value x, int64_t hi) { return band(ge0(x), lt(x, hi)); }
  Value select(Value c0, Value x, Value y) {
    return mlir::arith::SelectOp::create(b, loc, c0, x, y);
  }
  Value toIndex(Value x) {
    return mlir::arith::IndexCastOp::create(b, loc, b.getIndexType(), x);
  }
  Value toI32(Value x) {
    return mlir::arith::IndexCastOp::create(b, loc, b.getI32Type(), x);
  }
  Value toI64(Value x) {
    return mlir::arith::IndexCastOp::create(b, loc, b.getI64Type(), x);
  }

  // f32
  Value f(double v) {
    return mlir::arith::ConstantOp::create(b, loc, b.getF32FloatAttr((float)v));
  }
  Value zeroF() { return f(0.0); }
  mlir::arith::FastMathFlagsAttr contract() {
    return mlir::arith::FastMathFlagsAttr::get(
        b.getContext(), mlir::arith::FastMathFlags::contract);
  }
  Value fadd(Value x, Value y) {
    return mlir::arith::AddFOp::create(b, loc, x, y, contract());
  }
  Value fsub(Value x, Value y) {
    return mlir::arith::SubFOp::create(b, loc, x, y, contract());
  }
  Value fmul(Value x, Value y) {
    return mlir::arith::MulFOp::create(b, loc, x, y, contract());
  }
  Value fdiv(Value x, Value y) { return mlir::arith::DivFOp::create(b, loc, x, y); }
  Value fma(Value x, Value y, Value acc) { return fadd(acc, fmul(x, y)); }
  Value fmax(Value x, Value y) { return mlir::arith::MaximumFOp::create(b, loc, x, y); }
  /// e^x through the hardware ex2 (no libdevice call): 2^(x log2 e).
  Value exp(Value x) {
    Value y = fmul(x, f(1.4426950408889634));
    return mlir::LLVM::InlineAsmOp::create(
               b, loc, b.getF32Type(), mlir::ValueRange{y},
               "ex2.approx.ftz.f32 $0, $1;", "=f,f", /*has_side_effects=*/false,
               /*is_align_stack=*/false, mlir::LLVM::tailcallkind::TailCallKind::None,
               mlir::LLVM::AsmDialectAttr(), mlir::ArrayAttr())
        .getResult(0);
  }

  Value load(Value mem, mlir::ValueRange idx) {
    return mlir::memref::LoadOp::create(b, loc, mem, idx);
  }
  void store(Value v, Value mem, mlir::ValueRange idx) {
    mlir::memref::StoreOp::create(b, loc, v, mem, idx);
  }
  /// `w` consecutive f32 of `mem` from `idx` along its last dimension: one
  /// vector.load of vector<w x f32> with alignment 4 w (ld.global.v2/v4 on
  /// NVPTX; the caller guarantees that alignment, see dispatchVectorWidth),
  /// split into its lanes; w = 1 is a scalar load.
  llvm::SmallVector<Value> loadLanes(Value mem, mlir::ValueRange idx,
                                     int64_t w) {
    if (w == 1)
      return {load(mem, idx)};
    auto vt = mlir::VectorType::get({w}, b.getF32Type());
    Value v = mlir::vector::LoadOp::create(b, loc, vt, mem, idx,
                                           /*nontemporal=*/false,
                                           llvm::MaybeAlign(4 * w));
    llvm::SmallVector<Value> lanes;
    for (int64_t i = 0; i < w; ++i)
      lanes.push_back(mlir::vector::ExtractOp::create(b, loc, v, i));
    return lanes;
  }
  /// Stores `lanes` to consecutive f32 of `mem` from `idx` (one aligned
  /// vector.store of their count; one lane is a scalar store).
  void storeLanes(mlir::ValueRange lanes, Value mem, mlir::ValueRange idx) {
    int64_t w = lanes.size();
    if (w == 1)
      return store(lanes[0], mem, idx);
    auto vt = mlir::VectorType::get({w}, b.getF32Type());
    Value v = mlir::vector::FromElementsOp::create(b, loc, vt, lanes);
    mlir::vector::StoreOp::create(b, loc, v, mem, idx, /*nontemporal=*/false,
                                  llvm::MaybeAlign(4 * w));
  }
  /// `cond ? loadLanes(mem, idx, w) : zeros` without reading out of bounds.
  llvm::SmallVector<Value> guardedLoadLanes(Value cond, Value mem,
                                            mlir::ValueRange idx, int64_t w) {
    llvm::SmallVector<mlir::Type> types(w, b.getF32Type());
    auto ifOp = mlir::scf::IfOp::create(b, loc, mlir::TypeRange(types), cond,
                                        /*withElseRegion=*/true);
    mlir::OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    mlir::scf::YieldOp::create(b, loc, mlir::ValueRange(loadLanes(mem, idx, w)));
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    llvm::SmallVector<Value> zeros(w, zeroF());
    mlir::scf::YieldOp::create(b, loc, mlir::ValueRange(zeros));
    return llvm::SmallVector<Value>(ifOp.getResults());
  }
  /// `cond ? load(mem[idx]) : 0` without reading out of bounds.
  Value guardedLoad(Value cond, Value mem, mlir::ValueRange idx) {
    auto ifOp = mlir::scf::IfOp::create(b, loc, mlir::TypeRange{b.getF32Type()},
                                        cond, /*withElseRegion=*/true);
    mlir::OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    mlir::scf::YieldOp::create(b, loc, load(mem, idx));
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    mlir::scf::YieldOp::create(b, loc, zeroF());
    return ifOp.getResult(0);
  }
  /// for (i = lo; i < hi; i += step) body(i)
  void forLoop(Value lo, Value hi, Value step,
               const std::function<void(Value)> &body) {
    auto f = mlir::scf::ForOp::create(b, loc, lo, hi, step);
    mlir::OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(f.getBody());
    body(f.getInductionVar());
  }
  /// A loop with iter_args; body returns the next values.
  mlir::ValueRange forLoop(
      Value lo, Value hi, Value step, mlir::ValueRange init,
      const std::function<llvm::SmallVector<Value>(Value, mlir::ValueRange)> &body) {
    auto f = mlir::scf::ForOp::create(b, loc, lo, hi, step, init);
    {
      mlir::OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(f.getBody());
      auto next = body(f.getInductionVar(), f.getRegionIterArgs());
      mlir::scf::YieldOp::create(b, loc, next);
    }
    return f.getResults();
  }
  void ifThen(Value cond, const std::function<void()> &then) {
    auto i = mlir::scf::IfOp::create(b, loc, mlir::TypeRange{}, cond,
                                     /*withElseRegion=*/false);
    mlir::OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&i.getThenRegion().front());
    then();
  }
  void barrier() { mlir::gpu::BarrierOp::create(b, loc); }

  /// A 1-D f32 workgroup (shared memory) buffer type of `n` floats.
  mlir::MemRefType sharedF32(int64_t n) { return shared(b.getF32Type(), n); }
  /// A 1-D workgroup buffer type of `n` elements of `elem`.
  mlir::MemRefType shared(mlir::Type elem, int64_t n) {
    return mlir::MemRefType::get(
        {n}, elem, mlir::MemRefLayoutAttrInterface(),
        mlir::gpu::AddressSpaceAttr::get(b.getContext(),
                                         mlir::gpu::AddressSpace::Workgroup));
  }
};

/// Emits `gpu.launch` with a 1-D grid of `blocks` x `threads` and the given
/// workgroup buffers; `body(e, blockId, threadId, buffers)` fills it (the
/// terminator is added). Constants must be created inside the body (a value
/// from outside becomes a kernel argument).
inline void launch1d(mlir::OpBuilder &b, mlir::Location loc, int64_t blocks,
                     int64_t threads, llvm::ArrayRef<mlir::Type> workgroup,
                     const std::function<void(Emit &, mlir::Value, mlir::Value,
                                              mlir::ValueRange)> &body) {
  Emit e{b, loc};
  mlir::Value one = e.c(1);
  auto l = mlir::gpu::LaunchOp::create(
      b, loc, e.c(blocks), one, one, e.c(threads), one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, mlir::TypeRange(workgroup));
  mlir::OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(&l.getBody().front());
  Emit in{b, loc};
  body(in, l.getBlockIds().x, l.getThreadIds().x,
       l.getWorkgroupAttributions());
  mlir::gpu::TerminatorOp::create(b, loc);
}

/// The `vector_width` knob's alignment guard. A vector access of `width`
/// floats needs an address aligned to 4 width bytes (a misaligned
/// ld.global.v4 faults). The kernels keep every vector access at an element
/// offset that is a multiple of `width` (verifyConfig: the contiguous extent
/// and the channel offsets divide by it), so the base pointers decide: on
/// the host, before the launch, `emit(width)` runs when every memref of
/// `bufs` has an aligned base (memref.extract_aligned_pointer_as_index; kjit
/// stages buffers with cuMemAlloc, 256-byte aligned, but a caller's device
/// view may start at any float), else `emit(1)`, the scalar kernel with the
/// same results. A memref without the identity layout (a nonzero or dynamic
/// offset) takes the scalar kernel statically.
inline void dispatchVectorWidth(mlir::OpBuilder &b, mlir::Location loc,
                                int64_t width, mlir::ValueRange bufs,
                                const std::function<void(int64_t)> &emit) {
  if (width <= 1)
    return emit(1);
  for (mlir::Value v : bufs) {
    auto mt = llvm::dyn_cast<mlir::MemRefType>(v.getType());
    if (!mt || !mt.getLayout().isIdentity())
      return emit(1);
  }
  Emit e{b, loc};
  mlir::Value ok;
  for (mlir::Value v : bufs) {
    mlir::Value p =
        mlir::memref::ExtractAlignedPointerAsIndexOp::create(b, loc, v);
    mlir::Value aligned = e.eq(e.rem(p, 4 * width), e.c(0));
    ok = ok ? e.band(ok, aligned) : aligned;
  }
  auto ifOp = mlir::scf::IfOp::create(b, loc, mlir::TypeRange{}, ok,
                                      /*withElseRegion=*/true);
  mlir::OpBuilder::InsertionGuard g(b);
  b.setInsertionPoint(ifOp.getThenRegion().front().getTerminator());
  emit(width);
  b.setInsertionPoint(ifOp.getElseRegion().front().getTerminator());
  emit(1);
}

/// Grid size check shared by the generators (x dimension: < 2^31).
inline bool gridFits(int64_t blocks, std::string &reason) {
  if (blocks > 0 && blocks <= 2147483647)
    return true;
  reason = "the grid needs " + std::to_string(blocks) +
           " blocks; at most 2^31 - 1";
  return false;
}

/// Fails with `reason` unless every memref in `vals` has element type f32
/// (integer operands excepted through `intOk`).
inline bool allF32(mlir::ValueRange vals, std::string &reason,
                   const char *what) {
  for (mlir::Value v : vals) {
    auto mt = llvm::dyn_cast<mlir::MemRefType>(v.getType());
    if (!mt || !(mt.getElementType().isF32() ||
                 mt.getElementType().isInteger(32))) {
      reason = std::string("the GPU ") + what +
               " kernel handles f32 (and i32 index) memrefs only";
      return false;
    }
  }
  return true;
}

} // namespace kjit::compiler::gpuemit

#endif
