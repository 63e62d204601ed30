//===- SpmmCPU.cpp - CSR x dense (kjit.spmm) on the CPU ------------------===//
//
// out (M x N) = A (CSR M x K: row_ptr, col_idx, values) * b (K x N), in the
// style of Fast Sparse ConvNets (Elsen et al.): N in the vector lanes.
//
//   0. Validate the CSR (one pass over row_ptr, one over col_idx, in the
//      calling thread). When it is malformed, call
//      kjit_rt_report_error(code, a, b) (KernelErrorCodes.h) and return
//      without computing: no out-of-bounds read ever happens.
//   1. Rows are split into tasks: "rows" = row_tile consecutive rows per
//      task; "nnz" = the same number of tasks, with row boundaries found at
//      run time (binary search over row_ptr[r] + r) so that every task gets
//      about the same nonzeros + rows. Tasks run on an OpenMP team when
//      threads > 1.
//   2. Per task: for each cache tile of n_tile columns of b, for each row,
//      for each register block of n_block vectors of N: n_block accumulators
//      carried through the row's nonzeros (scf.for iter_args); each nonzero
//      is one scalar load of its column and value, one broadcast and n_block
//      vector FMAs against the row of b it selects. The N tail is a smaller
//      block whose last vector is masked.
//
// Unsorted and duplicate column indices need nothing: every nonzero adds its
// product. Empty rows store zeros.
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToCPU/CsrValidation.h"
#include "compiler/Conversion/KjitToCPU/EmitHelpers.h"
#include "compiler/Conversion/KjitToCPU/KernelErrorCodes.h"
#include "compiler/Conversion/KjitToCPU/KernelGenerators.h"

#include "dialects/kjit/IR/SparseTuning.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"


using namespace mlir;
using namespace mlir::kjit;
using ::kjit::compiler::emitCsrCheck;
using ::kjit::compiler::emitTaskLoop;
using ::kjit::compiler::KernelEmitter;
namespace ke = ::kjit::kernel_errors;

namespace {

class SpmmGen : public KernelEmitter {
public:
  SpmmGen(OpBuilder &b, Location loc, const SpmmConfig &cfg,
          const SpmmGeom &g, ValueRange inputs, Value out)
      : KernelEmitter(b, loc, cfg.vectorWidth), cfg(cfg), g(g),
        rowPtr(inputs[0]), colIdx(inputs[1]), values(inputs[2]),
        bMat(inputs[3]), out(out) {
    i32 = b.getI32Type();
    i64 = b.getI64Type();
  }

  SpmmConfig cfg;
  SpmmGeom g;
  Value rowPtr, colIdx, values, bMat, out;
  Type i32, i64;

  // --- scalar helpers ------------------------------------------------------
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value select(Value c0, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c0, x, y);
  }
  /// row_ptr[i] as i32.
  Value rp(Value i) {
    return memref::LoadOp::create(b, loc, rowPtr, ValueRange{i});
  }
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
  // --- 1. tasks ------------------------------------------------------------

  /// First row of task t of `tasks` under the "nnz" partition: the smallest
  /// r with row_ptr[r] + r >= t * (nnz + M) / tasks (strictly increasing in
  /// r, so boundaries are monotone; t = 0 gives 0, t = tasks gives M).
  Value balancedBound(Value t, int64_t tasks) {
    Value target =
        arith::DivUIOp::create(b, loc, mul(t, g.nnz + g.m), c(tasks));
    auto w = scf::WhileOp::create(b, loc, TypeRange{b.getIndexType(),
                                                    b.getIndexType()},
                                  ValueRange{c(0), c(g.m)});
    {
      OpBuilder::InsertionGuard guard(b);
      Type ix = b.getIndexType();
      Block *before = b.createBlock(&w.getBefore(), {}, {ix, ix}, {loc, loc});
      Value lo = before->getArgument(0), hi = before->getArgument(1);
      scf::ConditionOp::create(b, loc,
                               cmp(arith::CmpIPredicate::ult, lo, hi),
                               ValueRange{lo, hi});
      Block *after = b.createBlock(&w.getAfter(), {}, {ix, ix}, {loc, loc});
      lo = after->getArgument(0), hi = after->getArgument(1);
      Value mid = divI(add(lo, hi), 2);
      Value f = add(toIndex(rp(mid)), mid);
      Value less = cmp(arith::CmpIPredicate::ult, f, target);
      scf::YieldOp::create(
          b, loc, ValueRange{select(less, add(mid, 1), lo),
                             select(less, hi, mid)});
    }
    return w.getResult(0);
  }

  void task(Value t, int64_t tasks) {
    Value r0, r1;
    if (cfg.balanceNnz && tasks > 1) {
      r0 = balancedBound(t, tasks);
      r1 = balancedBound(add(t, 1), tasks);
    } else if (tasks == 1) {
      r0 = c(0), r1 = c(g.m);
    } else {
      r0 = mul(t, cfg.rowTile);
      r1 = minI(add(r0, cfg.rowTile), c(g.m));
    }
    int64_t full = g.n / cfg.nTile, rem = g.n % cfg.nTile;
    if (full > 0)
      loop(c(0), c(full), c(1), [&](Value tile) {
        rows(r0, r1, mul(tile, cfg.nTile), cfg.nTile);
      });
    if (rem > 0)
      rows(r0, r1, c(full * cfg.nTile), rem);
  }

  // --- 2. one cache tile of columns over the task's rows -------------------

  void rows(Value r0, Value r1, Value j0, int64_t cols) {
    int64_t w = cfg.blockCols();
    int64_t blocks = cols / w, rem = cols % w;
    loop(r0, r1, c(1), [&](Value i) {
      Value s = toIndex(rp(i)), e = toIndex(rp(add(i, 1)));
      if (blocks == 1)
        block(i, s, e, j0, cfg.nBlock, 0);
      else if (blocks > 1)
        loop(c(0), c(blocks), c(1), [&](Value blk) {
          block(i, s, e, add(j0, mul(blk, w)), cfg.nBlock, 0);
        });
      if (rem > 0)
        block(i, s, e, add(j0, blocks * w), (rem + vw - 1) / vw, rem % vw);
    });
  }

  /// One register block of row i: `nv` vectors from column j0; the last one
  /// holds `lastLanes` columns when nonzero (masked).
  void block(Value i, Value s, Value e, Value j0, int64_t nv,
             int64_t lastLanes) {
    Value mask = lastLanes ? constMask(lastLanes) : Value();
    SmallVector<Value> cols;
    for (int64_t q = 0; q < nv; ++q)
      cols.push_back(add(j0, q * vw));
    SmallVector<Value> accs(nv, zeroVec());
    accs = loop(s, e, c(1), accs, [&](Value p, ValueRange a) {
      Value col = toIndex(memref::LoadOp::create(b, loc, colIdx, ValueRange{p}));
      Value v = memref::LoadOp::create(b, loc, values, ValueRange{p});
      Value vb = vector::BroadcastOp::create(b, loc, vecT, v);
      if (cfg.prefetchDistance > 0) {
        // The row of b a later nonzero (of the whole matrix) selects.
        Value ahead = minI(add(p, cfg.prefetchDistance), c(g.nnz - 1));
        Value pc = toIndex(
            memref::LoadOp::create(b, loc, colIdx, ValueRange{ahead}));
        memref::PrefetchOp::create(b, loc, bMat, ValueRange{pc, j0},
                                   /*isWrite=*/false, /*localityHint=*/3,
                                   /*isDataCache=*/true);
      }
      SmallVector<Value> next;
      for (int64_t q = 0; q < nv; ++q) {
        bool masked = mask && q == nv - 1;
        Value x = masked ? maskedLoad(bMat, {col, cols[q]}, mask)
                         : load(bMat, {col, cols[q]});
        next.push_back(vector::FMAOp::create(b, loc, x, vb, a[q]));
      }
      return next;
    });
    for (int64_t q = 0; q < nv; ++q) {
      if (mask && q == nv - 1)
        maskedStore(accs[q], out, {i, cols[q]}, mask);
      else
        store(accs[q], out, {i, cols[q]});
    }
  }
};

} // namespace

namespace kjit::compiler {
LogicalResult generateSpmmCpu(OpBuilder &b, Location loc, Operation *op,
                              ValueRange inputs, ValueRange outputs,
                              ConfigAttr config, const TargetInfo &target,
                              std::string &reason) {
  auto geom = getSpmmGeom(op, reason);
  if (failed(geom))
    return failure();
  auto cfgOr = SpmmConfig::parse(config, defaultSpmmConfig(*geom, target),
                                 reason);
  if (failed(cfgOr) ||
      failed(checkSpmmConfig(*cfgOr, *geom, target, reason)))
    return failure();
  SpmmConfig cfg = *cfgOr;
  SpmmGeom g = *geom;
  if (inputs.size() != 4 || outputs.size() != 1) {
    reason = "kjit.spmm kernel takes 4 inputs and 1 output";
    return failure();
  }
  SpmmGen gen(b, loc, cfg, g, inputs, outputs[0]);
  Value sound = emitCsrCheck(gen, ke::kSpmm, gen.rowPtr, gen.colIdx, g.m,
                             g.k, g.nnz);
  gen.ifThen(sound, [&] {
    int64_t tasks = cfg.tasks(g);
    if (tasks == 0 || g.n == 0)
      return;
    emitTaskLoop(b, loc, tasks, cfg.threads,
                 [&](Value t) { gen.task(t, tasks); });
  });
  return success();
}
} // namespace kjit::compiler
