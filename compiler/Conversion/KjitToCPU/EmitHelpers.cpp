//===- EmitHelpers.cpp - small builders shared by the CPU generators -----===//
#include "compiler/Conversion/KjitToCPU/EmitHelpers.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;

namespace kjit::compiler {

KernelEmitter::KernelEmitter(OpBuilder &b, Location loc, int64_t vw)
    : b(b), loc(loc), vw(vw) {
  f32 = b.getF32Type();
  vecT = VectorType::get({vw}, f32);
  maskT = VectorType::get({vw}, b.getI1Type());
  entry = b.getInsertionBlock();
}

Value KernelEmitter::c(int64_t v) {
  auto it = constants.find(v);
  if (it != constants.end())
    return it->second;
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(entry);
  Value k = arith::ConstantIndexOp::create(b, loc, v);
  constants[v] = k;
  return k;
}
Value KernelEmitter::add(Value a, Value d) {
  return arith::AddIOp::create(b, loc, a, d);
}
Value KernelEmitter::add(Value a, int64_t d) {
  return d == 0 ? a : add(a, c(d));
}
Value KernelEmitter::mul(Value a, int64_t d) {
  return d == 1 ? a : arith::MulIOp::create(b, loc, a, c(d)).getResult();
}
Value KernelEmitter::sub(Value a, Value d) {
  return arith::SubIOp::create(b, loc, a, d);
}
Value KernelEmitter::minI(Value a, Value d) {
  return arith::MinSIOp::create(b, loc, a, d);
}
Value KernelEmitter::divI(Value a, int64_t d) {
  return d == 1 ? a : arith::DivUIOp::create(b, loc, a, c(d)).getResult();
}
Value KernelEmitter::remI(Value a, int64_t d) {
  return arith::RemUIOp::create(b, loc, a, c(d));
}
Value KernelEmitter::zeroVec() {
  if (zeroVector)
    return zeroVector;
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(entry);
  zeroVector = arith::ConstantOp::create(
      b, loc, vecT, DenseElementsAttr::get(vecT, b.getF32FloatAttr(0.0f)));
  return zeroVector;
}
Value KernelEmitter::constMask(int64_t n) {
  return vector::ConstantMaskOp::create(b, loc, maskT, ArrayRef<int64_t>{n});
}

SmallVector<Value> KernelEmitter::loop(
    Value lb, Value ub, Value step, ValueRange init,
    function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  // Build the body after the loop exists (not through a body builder,
  // which runs while the region is still detached from any op).
  auto op = scf::ForOp::create(b, loc, lb, ub, step, init);
  {
    OpBuilder::InsertionGuard g(b);
    Block *body0 = op.getBody();
    if (!body0->empty())
      body0->getTerminator()->erase();
    b.setInsertionPointToEnd(body0);
    SmallVector<Value> next = body(op.getInductionVar(), op.getRegionIterArgs());
    scf::YieldOp::create(b, loc, next);
  }
  return SmallVector<Value>(op.getResults());
}
void KernelEmitter::loop(Value lb, Value ub, Value step,
                         function_ref<void(Value)> body) {
  loop(lb, ub, step, {}, [&](Value iv, ValueRange) {
    body(iv);
    return SmallVector<Value>();
  });
}
void KernelEmitter::loop(int64_t lb, int64_t ub,
                         function_ref<void(Value)> body) {
  if (ub > lb)
    loop(c(lb), c(ub), c(1), body);
}
void KernelEmitter::ifThen(Value cond, function_ref<void()> thenFn,
                           function_ref<void()> elseFn) {
  bool hasElse = static_cast<bool>(elseFn);
  auto op = scf::IfOp::create(b, loc, TypeRange{}, cond,
                              /*withElseRegion=*/hasElse);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&op.getThenRegion().front());
    thenFn();
  }
  if (hasElse) {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&op.getElseRegion().front());
    elseFn();
  }
}
Value KernelEmitter::ifValue(Value cond, function_ref<Value()> thenFn,
                             function_ref<Value()> elseFn) {
  auto op = scf::IfOp::create(b, loc, TypeRange{vecT}, cond, true);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&op.getThenRegion().front());
    scf::YieldOp::create(b, loc, thenFn());
  }
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&op.getElseRegion().front());
    scf::YieldOp::create(b, loc, elseFn());
  }
  return op.getResult(0);
}
Value KernelEmitter::load(Value mem, ValueRange idx) {
  return vector::LoadOp::create(b, loc, vecT, mem, idx);
}
void KernelEmitter::store(Value v, Value mem, ValueRange idx) {
  vector::StoreOp::create(b, loc, v, mem, idx);
}
Value KernelEmitter::maskedLoad(Value mem, ValueRange idx, Value mask) {
  return vector::MaskedLoadOp::create(b, loc, vecT, mem, idx, mask, zeroVec());
}
void KernelEmitter::maskedStore(Value v, Value mem, ValueRange idx,
                                Value mask) {
  vector::MaskedStoreOp::create(b, loc, mem, idx, mask, v);
}
Value KernelEmitter::alloc(ArrayRef<int64_t> shape) {
  return memref::AllocOp::create(b, loc, MemRefType::get(shape, f32),
                                 b.getI64IntegerAttr(64));
}
void KernelEmitter::dealloc(Value m) { memref::DeallocOp::create(b, loc, m); }

void emitTaskLoop(OpBuilder &b, Location loc, int64_t total, int64_t threads,
                  function_ref<void(Value)> body) {
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto forEach = [&](Value lb, Value step) {
    auto op = scf::ForOp::create(b, loc, lb, cst(total), step);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(op.getBody()->getTerminator());
    body(op.getInductionVar());
  };
  threads = std::min(threads, total);
  if (threads <= 1) {
    forEach(cst(0), cst(1));
    return;
  }
  auto module =
      b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  auto fnType = b.getFunctionType({}, {b.getI32Type()});
  if (!module.lookupSymbol<func::FuncOp>("omp_get_thread_num")) {
    OpBuilder mb(module.getBodyRegion());
    auto decl = func::FuncOp::create(mb, loc, "omp_get_thread_num", fnType);
    decl.setPrivate();
  }
  omp::ParallelOperands clauses;
  clauses.numThreads =
      arith::ConstantIntOp::create(b, loc, b.getI32Type(), threads);
  auto par = omp::ParallelOp::create(b, loc, clauses);
  OpBuilder::InsertionGuard g(b);
  Block *blk = b.createBlock(&par.getRegion());
  b.setInsertionPointToStart(blk);
  Value tid = func::CallOp::create(b, loc, "omp_get_thread_num",
                                   TypeRange{b.getI32Type()}, ValueRange{})
                  .getResult(0);
  Value tidx = arith::IndexCastOp::create(b, loc, b.getIndexType(), tid);
  forEach(tidx, cst(threads));
  omp::TerminatorOp::create(b, loc);
}

} // namespace kjit::compiler
