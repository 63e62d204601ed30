//===- CsrValidation.cpp - run-time checks of a CSR operand ---------------===//
#include "compiler/Conversion/KjitToCPU/CsrValidation.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <algorithm>
#include <climits>

using namespace mlir;
namespace ke = ::kjit::kernel_errors;

namespace kjit::compiler {

void declareReportFn(OpBuilder &b, Location loc) {
  auto module =
      b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  if (module.lookupSymbol<func::FuncOp>(ke::kReportFn))
    return;
  Type i64 = b.getI64Type();
  OpBuilder mb(module.getBodyRegion());
  auto decl = func::FuncOp::create(mb, loc, ke::kReportFn,
                                   b.getFunctionType({i64, i64, i64}, {}));
  decl.setPrivate();
}

Value emitToI64(KernelEmitter &e, Value v) {
  Type i64 = e.b.getI64Type();
  if (v.getType() == i64)
    return v;
  if (v.getType().isIndex())
    return arith::IndexCastOp::create(e.b, e.loc, i64, v);
  return arith::ExtSIOp::create(e.b, e.loc, i64, v);
}

SmallVector<Value> emitIfValues(OpBuilder &b, Location loc, Value cond,
                                TypeRange types,
                                function_ref<SmallVector<Value>()> thenFn,
                                function_ref<SmallVector<Value>()> elseFn) {
  auto op = scf::IfOp::create(b, loc, types, cond, /*withElseRegion=*/true);
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
  return SmallVector<Value>(op.getResults());
}

static Value ci64(KernelEmitter &e, int64_t v) {
  return arith::ConstantIntOp::create(e.b, e.loc, e.b.getI64Type(), v);
}

Value emitPack(KernelEmitter &e, Value hi, Value lo) {
  Value h = arith::ShLIOp::create(e.b, e.loc, emitToI64(e, hi), ci64(e, 32));
  Value l = arith::AndIOp::create(e.b, e.loc, emitToI64(e, lo),
                                  ci64(e, 0xffffffffLL));
  return arith::OrIOp::create(e.b, e.loc, h, l);
}

void emitReport(KernelEmitter &e, ke::Source source, ke::Kind kind, Value a,
                Value b) {
  func::CallOp::create(e.b, e.loc, ke::kReportFn, TypeRange{},
                       ValueRange{ci64(e, ke::code(source, kind)),
                                  emitToI64(e, a), emitToI64(e, b)});
}

namespace {
struct Checker {
  KernelEmitter &e;
  ke::Source source;
  Value rowPtr, colIdx;
  int64_t m, k, nnz;

  OpBuilder &b() { return e.b; }
  Location loc() { return e.loc; }
  Value ci32(int64_t v) {
    return arith::ConstantIntOp::create(b(), loc(), b().getI32Type(), v);
  }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b(), loc(), p, x, y);
  }
  Value andI(Value x, Value y) {
    return arith::AndIOp::create(b(), loc(), x, y);
  }
  Value select(Value c0, Value x, Value y) {
    return arith::SelectOp::create(b(), loc(), c0, x, y);
  }
  Value rp(Value i) {
    return memref::LoadOp::create(b(), loc(), rowPtr, ValueRange{i});
  }
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b(), loc(), b().getIndexType(), v);
  }
  void report(ke::Kind kind, Value a, Value bb) {
    emitReport(e, source, kind, a, bb);
  }
  /// col (i32) outside [0, K).
  Value columnBad(Value col) {
    if (k <= INT32_MAX) // unsigned: negative columns are huge
      return cmp(arith::CmpIPredicate::uge, col, ci32(k));
    return cmp(arith::CmpIPredicate::slt, col, ci32(0));
  }

  Value check() {
    Value rp0 = rp(e.c(0));
    Value startOk = cmp(arith::CmpIPredicate::eq, rp0, ci32(0));
    // The first row r with row_ptr[r] > row_ptr[r + 1], or M.
    Value firstDrop =
        e.loop(e.c(0), e.c(m), e.c(1), {e.c(m)},
               [&](Value r, ValueRange acc) {
                 Value drop = cmp(arith::CmpIPredicate::sgt, rp(r),
                                  rp(e.add(r, 1)));
                 Value first = andI(
                     drop, cmp(arith::CmpIPredicate::eq, acc[0], e.c(m)));
                 return SmallVector<Value>{select(first, r, acc[0])};
               })[0];
    Value monotone = cmp(arith::CmpIPredicate::eq, firstDrop, e.c(m));
    Value rpEnd = rp(e.c(m));
    Value endOk = cmp(arith::CmpIPredicate::eq, rpEnd, ci32(nnz));
    Value rowPtrOk = andI(andI(startOk, monotone), endOk);
    Value falseV = arith::ConstantIntOp::create(b(), loc(), b().getI1Type(), 0);
    return emitIfValues(
        b(), loc(), rowPtrOk, TypeRange{b().getI1Type()},
        [&]() -> SmallVector<Value> {
          // row_ptr is sound, so rows cover col_idx exactly: one flat,
          // vectorizable pass (an OR of "out of range").
          Value anyBad =
              e.loop(e.c(0), e.c(nnz), e.c(1), {falseV},
                     [&](Value p, ValueRange acc) {
                       Value col = memref::LoadOp::create(b(), loc(), colIdx,
                                                          ValueRange{p});
                       return SmallVector<Value>{arith::OrIOp::create(
                           b(), loc(), acc[0], columnBad(col))};
                     })[0];
          e.ifThen(anyBad, [&] { reportColumn(); });
          Value trueV =
              arith::ConstantIntOp::create(b(), loc(), b().getI1Type(), 1);
          return {arith::XOrIOp::create(b(), loc(), anyBad, trueV)};
        },
        [&]() -> SmallVector<Value> {
          e.ifThen(
              startOk,
              [&] {
                e.ifThen(
                    monotone,
                    [&] {
                      report(ke::kRowPtrEnd, emitPack(e, e.c(m), rpEnd),
                             ci64(e, nnz));
                    },
                    [&] {
                      report(ke::kRowPtrNotMonotone, firstDrop,
                             emitPack(e, rp(firstDrop),
                                      rp(e.add(firstDrop, 1))));
                    });
              },
              [&] { report(ke::kRowPtrStart, rp0, ci64(e, 0)); });
          return {arith::ConstantIntOp::create(b(), loc(), b().getI1Type(), 0)};
        })[0];
  }

  /// Slow path, only on error: the first bad column and its row.
  void reportColumn() {
    SmallVector<Value> found = e.loop(
        e.c(0), e.c(m), e.c(1), {e.c(nnz), e.c(m)},
        [&](Value r, ValueRange acc) {
          Value s = toIndex(rp(r)), en = toIndex(rp(e.add(r, 1)));
          Value p =
              e.loop(s, en, e.c(1), {acc[0]}, [&](Value q, ValueRange a) {
                 Value col =
                     memref::LoadOp::create(b(), loc(), colIdx, ValueRange{q});
                 Value first =
                     andI(columnBad(col),
                          cmp(arith::CmpIPredicate::eq, a[0], e.c(nnz)));
                 return SmallVector<Value>{select(first, q, a[0])};
               })[0];
          Value newRow =
              andI(cmp(arith::CmpIPredicate::ne, p, e.c(nnz)),
                   cmp(arith::CmpIPredicate::eq, acc[1], e.c(m)));
          return SmallVector<Value>{p, select(newRow, r, acc[1])};
        });
    Value col =
        memref::LoadOp::create(b(), loc(), colIdx, ValueRange{found[0]});
    report(ke::kColumnOutOfRange, emitPack(e, found[1], col),
           emitPack(e, found[0], ci64(e, std::min<int64_t>(k, INT32_MAX))));
  }
};
} // namespace

Value emitCsrCheck(KernelEmitter &e, ke::Source source, Value rowPtr,
                   Value colIdx, int64_t rows, int64_t cols, int64_t nnz) {
  declareReportFn(e.b, e.loc);
  return Checker{e, source, rowPtr, colIdx, rows, cols, nnz}.check();
}

} // namespace kjit::compiler
