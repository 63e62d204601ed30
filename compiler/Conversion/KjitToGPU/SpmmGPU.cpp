//===- SpmmGPU.cpp - CSR x dense (kjit.spmm) on CUDA ---------------------===//
//
// out (M x N) = A (CSR M x K) * b (K x N). Grid: ceil(M / rows) row blocks x
// ceil(N / n_tile) column tiles (SpmmGpuConfig). In a block, thread t works
// on row r0 + t / col_threads and columns n0 + ct + k col_threads
// (ct = t % col_threads, k < cols_per_thread): the threads of a row read
// the same index and value (broadcast) and consecutive columns of b and
// out (coalesced); the accumulators are scf.for iter_args. With
// vector_width W > 1 a column slot is W adjacent columns
// n0 + W (ct + k col_threads) + l: one vector<W x f32> load of b per nonzero
// and one store to out (ld/st.global.v2/v4); verifyConfig makes W divide N
// so a slot is wholly inside or outside the matrix. The host takes the
// scalar kernel (same slots, W scalar accesses) when b's or out's base is
// not 4 W-byte aligned (dispatchVectorWidth).
//
// Malformed CSR (the CPU kernel's checks, KernelErrorCodes.h): each row
// checks its own row_ptr pair (row 0 also row_ptr[0] = 0, the last row
// row_ptr[M] = nnz) and each nonzero its column. A row whose row_ptr pair
// is out of [0, nnz] or decreasing is skipped; a nonzero whose column is
// out of [0, K) adds nothing; nothing is ever read out of bounds. The
// defect goes to the device error record `kjit_gpu_error` (GpuErrorRecord,
// GpuKernelGenerators.h): the first thread to claim it writes (code, a, b)
// with the CPU's codes. When several defects exist, the one recorded is
// whichever thread claimed first (the CPU reports the first in order).
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToCPU/KernelErrorCodes.h"
#include "compiler/Conversion/KjitToGPU/GpuEmit.h"
#include "compiler/Conversion/KjitToGPU/GpuKernelGenerators.h"
#include "dialects/kjit/IR/SparseTuning.h"

#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace mlir::kjit;
using namespace ::kjit::compiler::gpuemit;
namespace ke = ::kjit::kernel_errors;

namespace kjit::compiler {

FailureOr<memref::GlobalOp> getGpuErrorRecord(OpBuilder &b, Location loc,
                                              std::string &reason) {
  Operation *at = b.getInsertionBlock()->getParentOp();
  auto module = at ? at->getParentOfType<ModuleOp>() : ModuleOp();
  if (!module) {
    reason = "internal error: the kernel is not inside a module";
    return failure();
  }
  if (auto g = module.lookupSymbol<memref::GlobalOp>(kGpuErrorRecord))
    return g;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  auto type = MemRefType::get({4}, b.getI64Type());
  auto init = DenseElementsAttr::get(
      RankedTensorType::get({4}, b.getI64Type()), b.getI64IntegerAttr(0));
  return memref::GlobalOp::create(b, loc, kGpuErrorRecord,
                                  /*sym_visibility=*/StringAttr(), type, init,
                                  /*constant=*/false,
                                  /*alignment=*/b.getI64IntegerAttr(8));
}

void emitGpuErrorReport(OpBuilder &b, Location loc, memref::GlobalOp record,
                        int64_t code, Value a, Value bb) {
  Emit e{b, loc};
  Value mem = memref::GetGlobalOp::create(b, loc, record.getType(),
                                          record.getSymName());
  auto i64 = b.getI64Type();
  Value one = arith::ConstantIntOp::create(b, loc, i64, 1);
  Value zero = arith::ConstantIntOp::create(b, loc, i64, 0);
  Value old = memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addi,
                                          one, mem, ValueRange{e.c(0)});
  e.ifThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, old, zero),
           [&] {
             e.store(arith::ConstantIntOp::create(b, loc, i64, code), mem,
                     {e.c(1)});
             e.store(a, mem, {e.c(2)});
             e.store(bb, mem, {e.c(3)});
           });
}

LogicalResult generateSpmmGpu(OpBuilder &b, Location loc, Operation *op,
                              ValueRange inputs, ValueRange outputs,
                              ConfigAttr config, const TargetInfo &target,
                              std::string &reason) {
  auto geom = getSpmmGeom(op, reason);
  if (failed(geom))
    return failure();
  const SpmmGeom g = *geom;
  auto cfgOr =
      SpmmGpuConfig::parse(config, defaultSpmmGpuConfig(g, target), reason);
  if (failed(cfgOr) || failed(checkSpmmGpuConfig(*cfgOr, g, target, reason)))
    return failure();
  const SpmmGpuConfig cfg = *cfgOr;
  if (!allF32(llvm::to_vector(llvm::concat<Value>(inputs, outputs)), reason,
              "spmm"))
    return failure();
  auto record = getGpuErrorRecord(b, loc, reason);
  if (failed(record))
    return failure();

  const int64_t rowsPB = cfg.rowsPerBlock(), nTile = cfg.nTile();
  const int64_t rowBlocks = ceilDiv(std::max<int64_t>(g.m, 1), rowsPB);
  const int64_t colTiles = ceilDiv(std::max<int64_t>(g.n, 1), nTile);
  if (!gridFits(rowBlocks * colTiles, reason))
    return failure();
  Value rowPtr = inputs[0], colIdx = inputs[1], values = inputs[2],
        bMat = inputs[3], out = outputs[0];

  const int64_t W = cfg.vectorWidth;
  dispatchVectorWidth(b, loc, W, {bMat, out}, [&](int64_t vw) {
  launch1d(b, loc, rowBlocks * colTiles, cfg.threads, {},
           [&](Emit &e, Value bx, Value tx, ValueRange) {
    auto i32 = b.getI32Type(), i64 = b.getI64Type();
    auto ci32 = [&](int64_t v) -> Value {
      return arith::ConstantIntOp::create(b, loc, i32, v);
    };
    auto ci64 = [&](int64_t v) -> Value {
      return arith::ConstantIntOp::create(b, loc, i64, v);
    };
    auto ext = [&](Value v) -> Value {
      if (v.getType().isIndex())
        return e.toI64(v);
      if (v.getType() == i64)
        return v;
      return arith::ExtSIOp::create(b, loc, i64, v);
    };
    auto pack = [&](Value hi, Value lo) -> Value {
      Value h = arith::ShLIOp::create(b, loc, ext(hi), ci64(32));
      Value l = arith::AndIOp::create(b, loc, ext(lo), ci64(0xffffffffLL));
      return arith::OrIOp::create(b, loc, h, l);
    };
    auto icmp = [&](arith::CmpIPredicate p, Value x, Value y) -> Value {
      return arith::CmpIOp::create(b, loc, p, x, y);
    };
    auto report = [&](Value cond, ke::Kind kind, Value a, Value bb) {
      e.ifThen(cond, [&] {
        emitGpuErrorReport(b, loc, *record, ke::code(ke::kSpmm, kind), ext(a),
                           ext(bb));
      });
    };

    Value ct = e.rem(tx, cfg.colThreads), rl = e.div(tx, cfg.colThreads);
    Value tile = e.rem(bx, colTiles), rb = e.div(bx, colTiles);
    Value row = e.add(e.mul(rb, rowsPB), rl);
    Value n0 = e.add(e.mul(tile, nTile), e.mul(ct, W));
    e.ifThen(e.lt(row, g.m), [&] {
      Value lo = e.load(rowPtr, {row});
      Value hi = e.load(rowPtr, {e.add(row, 1)});
      // Checks are reported by one thread per row (the first column tile).
      Value reporter = e.band(e.eq(ct, e.c(0)), e.eq(tile, e.c(0)));
      Value isFirst = e.eq(row, e.c(0)), isLast = e.eq(row, e.c(g.m - 1));
      report(e.band(reporter,
                    e.band(isFirst, icmp(arith::CmpIPredicate::ne, lo,
                                         ci32(0)))),
             ke::kRowPtrStart, lo, ci64(0));
      report(e.band(reporter, icmp(arith::CmpIPredicate::sgt, lo, hi)),
             ke::kRowPtrNotMonotone, row, pack(lo, hi));
      report(e.band(reporter,
                    e.band(isLast, icmp(arith::CmpIPredicate::ne, hi,
                                        ci32(g.nnz)))),
             ke::kRowPtrEnd, pack(e.c(g.m), hi), ci64(g.nnz));
      Value sound = e.band(
          e.band(icmp(arith::CmpIPredicate::sge, lo, ci32(0)),
                 icmp(arith::CmpIPredicate::sle, lo, hi)),
          icmp(arith::CmpIPredicate::sle, hi, ci32(g.nnz)));
      // A bad row still stores zeros (never garbage from a prior call).
      Value p0 = e.select(sound, e.toIndex(lo), e.c(0));
      Value p1 = e.select(sound, e.toIndex(hi), e.c(0));
      SmallVector<Value> init(cfg.colsPerThread * W, e.zeroF());
      // Slot k: columns n0 + k col_threads W + [0, W), all < N or none.
      auto slot = [&](int64_t k) { return e.add(n0, k * cfg.colThreads * W); };
      auto acc = e.forLoop(
          p0, p1, e.c(1), init,
          [&](Value p, ValueRange a) -> SmallVector<Value> {
            Value col = e.load(colIdx, {p});
            Value bad = icmp(arith::CmpIPredicate::uge, col, ci32(g.k));
            report(e.band(reporter, bad), ke::kColumnOutOfRange,
                   pack(row, col), pack(p, e.c(g.k)));
            Value ok = arith::XOrIOp::create(
                b, loc, bad, arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
            Value kcol = e.select(ok, e.toIndex(col), e.c(0));
            Value v = e.load(values, {p});
            v = e.select(ok, v, e.zeroF());
            SmallVector<Value> next;
            for (int64_t k = 0; k < cfg.colsPerThread; ++k) {
              Value n = slot(k);
              SmallVector<Value> x;
              if (vw == W) {
                x = e.guardedLoadLanes(e.lt(n, g.n), bMat, {kcol, n}, W);
              } else {
                for (int64_t l = 0; l < W; ++l) {
                  Value nl = e.add(n, l);
                  x.push_back(e.guardedLoad(e.lt(nl, g.n), bMat, {kcol, nl}));
                }
              }
              for (int64_t l = 0; l < W; ++l)
                next.push_back(e.fma(v, x[l], a[k * W + l]));
            }
            return next;
          });
      for (int64_t k = 0; k < cfg.colsPerThread; ++k) {
        Value n = slot(k);
        e.ifThen(e.lt(n, g.n), [&] {
          SmallVector<Value> lanes(acc.begin() + k * W,
                                   acc.begin() + (k + 1) * W);
          if (vw == W) {
            e.storeLanes(lanes, out, {row, n});
            return;
          }
          for (int64_t l = 0; l < W; ++l)
            e.store(lanes[l], out, {row, e.add(n, l)});
        });
      }
    });
  });
  });
  return success();
}
} // namespace kjit::compiler
