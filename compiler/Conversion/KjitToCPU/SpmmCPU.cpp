//===- SpmmCPU.cpp - CSR x dense (kjit.spmm) on the CPU ------------------===//
//
// out (M x N) = A (CSR M x K: row_ptr, col_idx, values) * b (K x N), in the
// style of Fast Sparse ConvNets (Elsen et al.): N in the vector lanes.
//
//   0. Validate the CSR (one pass over row_ptr, one over col_idx, in the
//      calling thread). When it is malformed, call
//      kjit_rt_report_error(code, a, b) (KernelErrorCodes.h) and return
//      without computing: no out-of-bounds read ever happens.
//   1. Tasks: "rows" = row_tile consecutive rows per task; "nnz" = the same
//      number of tasks, with row boundaries found at run time (binary search
//      over row_ptr[r] + r) so that every task gets about the same nonzeros
//      + rows; "cols" = one column tile of b per task, over all rows. Tasks
//      run on an OpenMP team when threads > 1.
//   2. Per task: for each column tile of n_tile columns of b (L2-sized: all
//      the task's rows stream through it), with pack_b first copied into the
//      thread's 64-byte aligned K x n_tile slot of one buffer allocated per
//      call (so each vector load is one cache line and the tile spans few
//      pages: b's rows are N floats apart and b itself may be misaligned;
//      measured 24 -> 14 ms at 90% sparsity, 1024 x 1024 x 3136); then for
//      each row, for each register block of n_block vectors of N: n_block
//      accumulators carried through the row's nonzeros (scf.for iter_args);
//      each nonzero is one scalar load of its column and value, one
//      broadcast and n_block vector FMAs against the row of the tile it
//      selects (prefetch_distance > 0: and a prefetch of every cache line of
//      the block in the row a later nonzero selects). The N tail is a
//      smaller block whose last vector is masked (the store only, when
//      packed: the slot has zeros past the tile's columns).
//   3. k_tile > 0 (K blocks), when every row is sorted by column (checked
//      per call; else step 2 as is): a per-call M x (K blocks + 1) table of
//      where each row's nonzeros cross each block boundary, then per column
//      tile: for each K block (k_tile rows of the tile, meant for L1), every
//      row of the task adds that block's nonzeros, the accumulators starting
//      from out after the first block: the same FMAs in the same order as
//      unblocked, so bit-equal results.
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

  /// The source of b's vectors for one column tile: b itself from column
  /// j0, or the packed tile buffer (slot `slot`, from column 0).
  struct Src {
    Value mem, slot, j0;
  };
  Value packBuf = nullptr; ///< slots x K x n_tile, when cfg.packB
  /// k_tile: seg[i, kb] = the first nonzero of row i whose column is >=
  /// kb * k_tile (rows sorted by column); kBlocks + 1 entries per row. Null:
  /// no K blocking.
  Value seg = nullptr;
  int64_t kBlocks = 1;

  /// 1 when every row's columns are non-decreasing (i1).
  Value rowsSorted() {
    Value f = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
    Value bad =
        loop(c(0), c(g.m), c(1), {f}, [&](Value r, ValueRange acc) {
          Value s = toIndex(rp(r)), e = toIndex(rp(add(r, 1)));
          Value last = arith::SubIOp::create(b, loc, e, c(1));
          // [s, e - 1) is empty for rows with < 2 entries (e - 1 <= s).
          Value ub = arith::MaxSIOp::create(b, loc, last, s);
          return loop(s, ub, c(1), {acc[0]}, [&](Value q, ValueRange a) {
            Value x = memref::LoadOp::create(b, loc, colIdx, ValueRange{q});
            Value y = memref::LoadOp::create(b, loc, colIdx,
                                             ValueRange{add(q, 1)});
            return SmallVector<Value>{arith::OrIOp::create(
                b, loc, a[0], cmp(arith::CmpIPredicate::sgt, x, y))};
          });
        })[0];
    return arith::XOrIOp::create(
        b, loc, bad, arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
  }

  /// Fills seg (rows sorted): one pass over each row.
  void fillSeg() {
    loop(c(0), c(g.m), c(1), [&](Value i) {
      Value s = toIndex(rp(i)), e = toIndex(rp(add(i, 1)));
      memref::StoreOp::create(b, loc, s, seg, ValueRange{i, c(0)});
      // p carried over the K blocks: the first position in [p, e) whose
      // column >= kb * k_tile.
      loop(c(1), c(kBlocks), c(1), {s}, [&](Value kb, ValueRange pin) {
        Value bound = arith::IndexCastOp::create(b, loc, i32,
                                                 mul(kb, cfg.kTile));
        Type ix = b.getIndexType();
        auto w = scf::WhileOp::create(b, loc, TypeRange{ix}, ValueRange{pin[0]});
        {
          OpBuilder::InsertionGuard guard(b);
          Block *before = b.createBlock(&w.getBefore(), {}, {ix}, {loc});
          Value q = before->getArgument(0);
          Value in = cmp(arith::CmpIPredicate::slt, q, e);
          // Never past the last entry (q == e may be nnz).
          Value qs = minI(q, c(std::max<int64_t>(g.nnz - 1, 0)));
          Value col = memref::LoadOp::create(b, loc, colIdx, ValueRange{qs});
          Value below = cmp(arith::CmpIPredicate::slt, col, bound);
          scf::ConditionOp::create(b, loc, andI(in, below), ValueRange{q});
          Block *after = b.createBlock(&w.getAfter(), {}, {ix}, {loc});
          scf::YieldOp::create(b, loc,
                               ValueRange{add(after->getArgument(0), 1)});
        }
        Value p = w.getResult(0);
        memref::StoreOp::create(b, loc, p, seg, ValueRange{i, kb});
        return SmallVector<Value>{p};
      });
      memref::StoreOp::create(b, loc, e, seg, ValueRange{i, c(kBlocks)});
    });
  }

  void task(Value t, int64_t tasks) {
    // emitTaskLoop deals task t to thread t mod min(threads, tasks): that
    // thread's slot of the pack buffer.
    int64_t slots = std::min(cfg.threads, tasks);
    Value slot = slots > 1 ? remI(t, slots) : c(0);
    if (cfg.partition == SpmmConfig::Partition::Cols) {
      // One column tile over all rows.
      Value j0 = mul(t, cfg.nTile);
      int64_t full = g.n / cfg.nTile, rem = g.n % cfg.nTile;
      if (rem == 0) {
        tile(c(0), c(g.m), j0, cfg.nTile, slot);
      } else {
        Value last = cmp(arith::CmpIPredicate::eq, t, c(full));
        ifThen(
            last, [&] { tile(c(0), c(g.m), j0, rem, slot); },
            [&] { tile(c(0), c(g.m), j0, cfg.nTile, slot); });
      }
      return;
    }
    Value r0, r1;
    if (cfg.partition == SpmmConfig::Partition::Nnz && tasks > 1) {
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
      loop(c(0), c(full), c(1), [&](Value tl) {
        tile(r0, r1, mul(tl, cfg.nTile), cfg.nTile, slot);
      });
    if (rem > 0)
      tile(r0, r1, c(full * cfg.nTile), rem, slot);
  }

  /// Rows [r0, r1) times the `cols` columns of b from j0 (packed first when
  /// cfg.packB).
  void tile(Value r0, Value r1, Value j0, int64_t cols, Value slot) {
    if (!cfg.packB) {
      rows(r0, r1, j0, cols, Src{bMat, Value(), j0});
      return;
    }
    // Copy b[:, j0 : j0 + cols] into the slot, row k at [slot, k, 0]; the
    // lanes past `cols` in the last vector get zeros (loaded unmasked later,
    // never stored to out).
    int64_t vecs = (cols + vw - 1) / vw, lastLanes = cols % vw;
    Value mask = lastLanes ? constMask(lastLanes) : Value();
    loop(c(0), c(g.k), c(1), [&](Value k) {
      for (int64_t q = 0; q < vecs; ++q) {
        Value jq = add(j0, q * vw);
        Value x = mask && q == vecs - 1 ? maskedLoad(bMat, {k, jq}, mask)
                                        : load(bMat, {k, jq});
        store(x, packBuf, {slot, k, c(q * vw)});
      }
    });
    rows(r0, r1, j0, cols, Src{packBuf, slot, c(0)});
  }

  // --- 2. one cache tile of columns over the task's rows -------------------

  void rows(Value r0, Value r1, Value j0, int64_t cols, const Src &src) {
    int64_t w = cfg.blockCols();
    int64_t blocks = cols / w, rem = cols % w;
    // One row's blocks over nonzeros [s, e); `acc`: add to out (else store).
    auto row = [&](Value i, Value s, Value e, Value acc) {
      if (blocks == 1)
        block(i, s, e, j0, c(0), cfg.nBlock, 0, src, acc);
      else if (blocks > 1)
        loop(c(0), c(blocks), c(1), [&](Value blk) {
          Value off = mul(blk, w);
          block(i, s, e, add(j0, off), off, cfg.nBlock, 0, src, acc);
        });
      if (rem > 0)
        block(i, s, e, add(j0, blocks * w), c(blocks * w),
              (rem + vw - 1) / vw, rem % vw, src, acc);
    };
    if (!seg) {
      loop(r0, r1, c(1), [&](Value i) {
        row(i, toIndex(rp(i)), toIndex(rp(add(i, 1))), Value());
      });
      return;
    }
    // K blocks outer: k_tile rows of the tile stay in L1 while every row of
    // the task adds its nonzeros of that block; out carries the sums from
    // one block to the next (same FMAs in the same order as unblocked).
    loop(c(0), c(kBlocks), c(1), [&](Value kb) {
      Value acc = cmp(arith::CmpIPredicate::ne, kb, c(0));
      loop(r0, r1, c(1), [&](Value i) {
        Value s = memref::LoadOp::create(b, loc, seg, ValueRange{i, kb});
        Value e =
            memref::LoadOp::create(b, loc, seg, ValueRange{i, add(kb, 1)});
        row(i, s, e, acc);
      });
    });
  }

  /// One register block of row i: `nv` vectors of out from column j0, from
  /// column off of the tile; the last one holds `lastLanes` columns when
  /// nonzero (masked; a packed tile has room and zeros past them, so only
  /// the direct source needs the masked load).
  void block(Value i, Value s, Value e, Value j0, Value off, int64_t nv,
             int64_t lastLanes, const Src &src, Value acc) {
    Value mask = lastLanes ? constMask(lastLanes) : Value();
    bool packed = src.slot != nullptr;
    SmallVector<Value> cols, srcCols;
    for (int64_t q = 0; q < nv; ++q) {
      cols.push_back(add(j0, q * vw));
      srcCols.push_back(add(add(src.j0, off), q * vw));
    }
    auto at = [&](Value row, Value col) -> SmallVector<Value> {
      if (packed)
        return {src.slot, row, col};
      return {row, col};
    };
    SmallVector<Value> accs(nv, zeroVec());
    if (acc) // a later K block: start from out (the earlier blocks' sums)
      for (int64_t q = 0; q < nv; ++q) {
        Value o = mask && q == nv - 1 ? maskedLoad(out, {i, cols[q]}, mask)
                                      : load(out, {i, cols[q]});
        accs[q] = arith::SelectOp::create(b, loc, acc, o, accs[q]);
      }
    accs = loop(s, e, c(1), accs, [&](Value p, ValueRange a) {
      Value col = toIndex(memref::LoadOp::create(b, loc, colIdx, ValueRange{p}));
      Value v = memref::LoadOp::create(b, loc, values, ValueRange{p});
      Value vb = vector::BroadcastOp::create(b, loc, vecT, v);
      if (cfg.prefetchDistance > 0) {
        // The row of b a later nonzero (of the whole matrix) selects: every
        // cache line of this block's columns of it.
        Value ahead = minI(add(p, cfg.prefetchDistance), c(g.nnz - 1));
        Value pc = toIndex(
            memref::LoadOp::create(b, loc, colIdx, ValueRange{ahead}));
        int64_t perLine = std::max<int64_t>(1, 16 / vw);
        for (int64_t q = 0; q < nv; q += perLine)
          memref::PrefetchOp::create(b, loc, src.mem, at(pc, srcCols[q]),
                                     /*isWrite=*/false, /*localityHint=*/3,
                                     /*isDataCache=*/true);
      }
      SmallVector<Value> next;
      for (int64_t q = 0; q < nv; ++q) {
        bool masked = mask && q == nv - 1 && !packed;
        Value x = masked ? maskedLoad(src.mem, at(col, srcCols[q]), mask)
                         : load(src.mem, at(col, srcCols[q]));
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
    if (cfg.packB)
      gen.packBuf = gen.alloc({std::min(cfg.threads, tasks), g.k, cfg.nTile});
    auto compute = [&] {
      emitTaskLoop(b, loc, tasks, cfg.threads,
                   [&](Value t) { gen.task(t, tasks); });
    };
    if (cfg.kTile > 0 && cfg.kTile < g.k && g.nnz > 0) {
      // K blocks need each row's nonzeros sorted by column; rows that are
      // not (legal CSR) take the unblocked code.
      gen.ifThen(
          gen.rowsSorted(),
          [&] {
            gen.kBlocks = (g.k + cfg.kTile - 1) / cfg.kTile;
            gen.seg = memref::AllocOp::create(
                b, loc,
                MemRefType::get({g.m, gen.kBlocks + 1}, b.getIndexType()),
                b.getI64IntegerAttr(64));
            gen.fillSeg();
            compute();
            memref::DeallocOp::create(b, loc, gen.seg);
            gen.seg = nullptr;
            gen.kBlocks = 1;
          },
          compute);
    } else {
      compute();
    }
    if (cfg.packB)
      gen.dealloc(gen.packBuf);
  });
  return success();
}
} // namespace kjit::compiler
