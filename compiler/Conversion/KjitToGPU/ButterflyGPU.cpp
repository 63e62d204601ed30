//===- ButterflyGPU.cpp - Monarch product (kjit.butterfly_matmul) on CUDA -===//
//
// Per row (ARCHITECTURE.md): X = x.reshape(m1, m2); X1[i][j] = sum_k
// r[i][j][k] X[i][k]; y[i' m2 + j] = sum_i l[j][i'][i] X1[i][j].
//
// variant "fused": one block per rows_per_block rows. The rows of x are
// copied to shared memory (X), one barrier, stage 1 writes X1 to shared
// memory, one barrier, stage 2 writes y (consecutive threads: consecutive
// outputs, coalesced stores).
//
// variant "split" (rows longer than shared memory allows): two launches.
// The first, per (row, chunk of X rows i), stages those X rows and writes
// their X1 rows into y. The second, per (row, chunk of columns j), stages
// X1[:, j-chunk] from y, one barrier, and writes y[:, j-chunk]: column j of
// y depends only on column j of X1, so the block overwrites exactly what it
// read (in place, after its barrier). Launches on one stream run in order.
//
// vector_width = W > 1 (W divides m2, so also n and every X row): the rows
// of x are read into shared memory W floats per access (both variants) and
// the fused stage 2 gives a thread item W adjacent outputs y[i' m2 + j ..
// + W - 1] (W accumulators, one vector store); shared memory is per lane.
// The host takes the scalar kernels when x or y is not 4 W-byte aligned
// (dispatchVectorWidth).
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToGPU/GpuEmit.h"
#include "compiler/Conversion/KjitToGPU/GpuKernelGenerators.h"
#include "dialects/kjit/IR/LongConvTuning.h"

using namespace mlir;
using namespace mlir::kjit;
using namespace ::kjit::compiler::gpuemit;

namespace kjit::compiler {
static LogicalResult emitButterfly(OpBuilder &b, Location loc,
                                   const BflyGpuConfig &cfg, const BflyGeom &g,
                                   Value x, Value r, Value l, Value y,
                                   int64_t vw, std::string &reason);

LogicalResult generateButterflyGpu(OpBuilder &b, Location loc, Operation *op,
                                   ValueRange inputs, ValueRange outputs,
                                   ConfigAttr config, const TargetInfo &target,
                                   std::string &reason) {
  auto geom = getBflyGeom(op, reason);
  if (failed(geom))
    return failure();
  const BflyGeom g = *geom;
  auto cfgOr =
      BflyGpuConfig::parse(config, defaultBflyGpuConfig(g, target), reason);
  if (failed(cfgOr) || failed(checkBflyGpuConfig(*cfgOr, g, target, reason)))
    return failure();
  const BflyGpuConfig cfg = *cfgOr;
  if (!allF32(llvm::to_vector(llvm::concat<Value>(inputs, outputs)), reason,
              "butterfly"))
    return failure();
  Value x = inputs[0], r = inputs[1], l = inputs[2], y = outputs[0];
  if (g.b == 0 || g.n == 0)
    return success();
  LogicalResult result = success();
  dispatchVectorWidth(b, loc, cfg.vectorWidth, {x, y}, [&](int64_t vw) {
    if (succeeded(result))
      result = emitButterfly(b, loc, cfg, g, x, r, l, y, vw, reason);
  });
  return result;
}

/// The launches of one variant with `vw` floats per vector access.
static LogicalResult emitButterfly(OpBuilder &b, Location loc,
                                   const BflyGpuConfig &cfg, const BflyGeom &g,
                                   Value x, Value r, Value l, Value y,
                                   int64_t vw, std::string &reason) {
  const int64_t m1 = g.m1, m2 = g.m2, n = g.n, T = cfg.threads;
  Emit outer{b, loc};
  if (cfg.fused) {
    const int64_t R = cfg.rowsPerBlock;
    if (!gridFits(ceilDiv(g.b, R), reason))
      return failure();
    launch1d(b, loc, ceilDiv(g.b, R), T, {outer.sharedF32(2 * R * n)},
             [&](Emit &e, Value bx, Value tx, ValueRange wg) {
      Value s = wg.front();
      Value row0 = e.mul(bx, R);
      e.forLoop(tx, e.c(R * n / vw), e.c(T), [&](Value iv) {
        Value i = e.mul(iv, vw);
        Value row = e.add(row0, e.div(i, n));
        auto v = e.guardedLoadLanes(e.lt(row, g.b), x, {row, e.rem(i, n)}, vw);
        for (int64_t k = 0; k < vw; ++k)
          e.store(v[k], s, {e.add(i, k)});
      });
      e.barrier();
      // Stage 1: X1[rr][i m2 + j] = sum_k r[i][j][k] X[rr][i m2 + k].
      e.forLoop(tx, e.c(R * n), e.c(T), [&](Value o) {
        Value rr = e.div(o, n), q = e.rem(o, n);
        Value i = e.div(q, m2), j = e.rem(q, m2);
        Value base = e.add(e.mul(rr, n), e.mul(i, m2));
        Value acc = e.forLoop(e.c(0), e.c(m2), e.c(1), ValueRange{e.zeroF()},
                              [&](Value k, ValueRange a) -> SmallVector<Value> {
                                Value w = e.load(r, {i, j, k});
                                Value xv = e.load(s, {e.add(base, k)});
                                return {e.fma(w, xv, a[0])};
                              })[0];
        e.store(acc, s, {e.add(o, R * n)});
      });
      e.barrier();
      // Stage 2: y[rr][i' m2 + j] = sum_i l[j][i'][i] X1[rr][i m2 + j]
      // for vw adjacent j per item.
      e.forLoop(tx, e.c(R * n / vw), e.c(T), [&](Value ov) {
        Value o = e.mul(ov, vw);
        Value rr = e.div(o, n), q = e.rem(o, n);
        Value ip = e.div(q, m2), j = e.rem(q, m2);
        Value base = e.add(e.add(e.mul(rr, n), j), R * n);
        SmallVector<Value> init(vw, e.zeroF());
        SmallVector<Value> acc(e.forLoop(
            e.c(0), e.c(m1), e.c(1), ValueRange(init),
            [&](Value i, ValueRange a) -> SmallVector<Value> {
              Value at = e.add(base, e.mul(i, m2));
              SmallVector<Value> next;
              for (int64_t k = 0; k < vw; ++k) {
                Value w = e.load(l, {e.add(j, k), ip, i});
                Value xv = e.load(s, {e.add(at, k)});
                next.push_back(e.fma(w, xv, a[k]));
              }
              return next;
            }));
        Value row = e.add(row0, rr);
        e.ifThen(e.lt(row, g.b), [&] { e.storeLanes(acc, y, {row, q}); });
      });
    });
    return success();
  }

  // Split: stage 1 into y, then stage 2 in place per column chunk.
  const int64_t ic = cfg.rowChunk(g), jc = cfg.colChunk(g);
  const int64_t iChunks = ceilDiv(m1, ic), jChunks = ceilDiv(m2, jc);
  if (!gridFits(g.b * iChunks, reason) || !gridFits(g.b * jChunks, reason))
    return failure();
  launch1d(b, loc, g.b * iChunks, T, {outer.sharedF32(ic * m2)},
           [&](Emit &e, Value bx, Value tx, ValueRange wg) {
    Value s = wg.front();
    Value row = e.div(bx, iChunks), i0 = e.mul(e.rem(bx, iChunks), ic);
    e.forLoop(tx, e.c(ic * m2 / vw), e.c(T), [&](Value ov) {
      Value o = e.mul(ov, vw);
      Value col = e.add(e.mul(i0, m2), o); // X[i0 + o / m2][o % m2]
      auto v = e.guardedLoadLanes(e.lt(col, n), x, {row, col}, vw);
      for (int64_t k = 0; k < vw; ++k)
        e.store(v[k], s, {e.add(o, k)});
    });
    e.barrier();
    e.forLoop(tx, e.c(ic * m2), e.c(T), [&](Value o) {
      Value ii = e.div(o, m2), j = e.rem(o, m2), i = e.add(i0, ii);
      e.ifThen(e.lt(i, m1), [&] {
        Value base = e.mul(ii, m2);
        Value acc = e.forLoop(e.c(0), e.c(m2), e.c(1), ValueRange{e.zeroF()},
                              [&](Value k, ValueRange a) -> SmallVector<Value> {
                                Value w = e.load(r, {i, j, k});
                                Value xv = e.load(s, {e.add(base, k)});
                                return {e.fma(w, xv, a[0])};
                              })[0];
        e.store(acc, y, {row, e.add(e.mul(i, m2), j)});
      });
    });
  });
  launch1d(b, loc, g.b * jChunks, T, {outer.sharedF32(jc * m1)},
           [&](Emit &e, Value bx, Value tx, ValueRange wg) {
    Value s = wg.front();
    Value row = e.div(bx, jChunks), j0 = e.mul(e.rem(bx, jChunks), jc);
    // S[i][jj] = X1[i][j0 + jj] (jj fastest: coalesced reads of y).
    e.forLoop(tx, e.c(m1 * jc), e.c(T), [&](Value o) {
      Value jj = e.rem(o, jc), i = e.div(o, jc), j = e.add(j0, jj);
      Value v = e.guardedLoad(e.lt(j, m2), y, {row, e.add(e.mul(i, m2), j)});
      e.store(v, s, {o});
    });
    e.barrier();
    e.forLoop(tx, e.c(m1 * jc), e.c(T), [&](Value o) {
      Value jj = e.rem(o, jc), ip = e.div(o, jc), j = e.add(j0, jj);
      e.ifThen(e.lt(j, m2), [&] {
        Value acc = e.forLoop(e.c(0), e.c(m1), e.c(1), ValueRange{e.zeroF()},
                              [&](Value i, ValueRange a) -> SmallVector<Value> {
                                Value w = e.load(l, {j, ip, i});
                                Value xv =
                                    e.load(s, {e.add(e.mul(i, jc), jj)});
                                return {e.fma(w, xv, a[0])};
                              })[0];
        e.store(acc, y, {row, e.add(e.mul(ip, m2), j)});
      });
    });
  });
  return success();
}
} // namespace kjit::compiler
