//===- ButterflyMatmulCPU.cpp - Monarch product, rows in the lanes --------===//
//
// y = Monarch(r, l) x per row (ARCHITECTURE.md, kjit.butterfly_matmul). Per
// task (row_tile consecutive rows of x):
//
//   1. pack the rows transposed into P[N][row_tile] (vw x vw vector
//      transposes): row r of the tile is lane r % vw of vector r / vw, so one
//      vector holds the same element of vw rows;
//   2. stage 1, m1 block matmuls m2 x m2: Q[i*m2+p] = sum_q r[i][p][q] *
//      P[i*m2+q], a register micro-tile of block_tile outputs x row_block row
//      vectors (accumulators as scf.for iter_args over q), each step one
//      vector load per row vector and one broadcast weight per output;
//   3. stage 2, m2 block matmuls m1 x m1 on X2 = X1^T: with the transpose
//      fused it is only addressing (X2[j][i] = Q[i*m2+j]); with
//      transpose = "separate" Q is first copied into P as X2[j*m1+i].
//      Results go to y's order directly: Y[i'*m2+j] = sum_i l[j][i'][i] X2[j][i];
//   4. transpose the tile back into y (masked for N % vw, rows past B are
//      computed on a clamped copy of row B-1 and never stored).
//
// The micro-tile is block_tile outputs x row_block vectors (the defaults
// size it from the target's register file: 14 x 2 with 32 registers, 6 x 2
// with 16). With weights = "packed", r and l are first copied (once per
// call, before the tasks) into the order the micro-tile reads them: for each
// block and each tile of block_tile outputs, the tile's weights k-major
// (packed[k][o]), so the broadcasts of a reduction step are one contiguous
// run and a 512 x 512 block streams as one sequence instead of block_tile
// rows 2 KiB apart (which share a few L1 sets). Large blocks are cache
// blocked by the row tile: a tile of row_tile rows reuses each weight tile
// for all its row vectors (row_tile / vector_width / row_block micro-tiles
// per weight tile, in L1), so bigger row tiles divide the weight traffic.
//
// Tasks run on an OpenMP team when threads > 1.
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToCPU/EmitHelpers.h"
#include "compiler/Conversion/KjitToCPU/KernelGenerators.h"

#include "dialects/kjit/IR/LongConvTuning.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace mlir::kjit;

namespace {

class BflyGen {
public:
  BflyGen(OpBuilder &b, Location loc, const BflyConfig &cfg, const BflyGeom &g,
          Value x, Value r, Value l, Value y)
      : b(b), loc(loc), cfg(cfg), g(g), vw(cfg.vectorWidth), x(x), r(r), l(l),
        rp(r), lp(l), y(y) {
    f32 = b.getF32Type();
    vecT = VectorType::get({vw}, f32);
    maskT = VectorType::get({vw}, b.getI1Type());
    rt = cfg.rowTile;
    rv = rt / vw;
  }

  OpBuilder &b;
  Location loc;
  BflyConfig cfg;
  BflyGeom g;
  int64_t vw;
  Value x, r, l;
  /// The weights the block matmuls read: r and l, or their packed copies.
  Value rp, lp;
  Value y;
  Type f32;
  VectorType vecT, maskT;
  int64_t rt = 0, rv = 0;

  // --- small helpers -----------------------------------------------------
  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value a, Value d) { return arith::AddIOp::create(b, loc, a, d); }
  Value add(Value a, int64_t d) { return d == 0 ? a : add(a, c(d)); }
  Value mul(Value a, int64_t d) {
    return d == 1 ? a : arith::MulIOp::create(b, loc, a, c(d)).getResult();
  }
  Value minI(Value a, Value d) { return arith::MinSIOp::create(b, loc, a, d); }
  Value zeroVec() {
    return arith::ConstantOp::create(
        b, loc, vecT, DenseElementsAttr::get(vecT, b.getF32FloatAttr(0.0f)));
  }
  Value constMask(int64_t n) {
    return vector::ConstantMaskOp::create(b, loc, maskT, ArrayRef<int64_t>{n});
  }
  SmallVector<Value>
  loop(Value lb, Value ub, Value step, ValueRange init,
       function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto op = scf::ForOp::create(b, loc, lb, ub, step, init);
    {
      OpBuilder::InsertionGuard guard(b);
      Block *body0 = op.getBody();
      if (!body0->empty())
        body0->getTerminator()->erase();
      b.setInsertionPointToEnd(body0);
      SmallVector<Value> next =
          body(op.getInductionVar(), op.getRegionIterArgs());
      scf::YieldOp::create(b, loc, next);
    }
    return SmallVector<Value>(op.getResults());
  }
  void loop(Value lb, Value ub, Value step, function_ref<void(Value)> body) {
    loop(lb, ub, step, {}, [&](Value iv, ValueRange) {
      body(iv);
      return SmallVector<Value>();
    });
  }
  /// for (iv = lb; iv < ub; iv += step) over full steps; the static tail
  /// (ub - lb) % step is passed to `body` with its count.
  void tiled(int64_t lb, int64_t ub, int64_t step,
             function_ref<void(Value, int64_t)> body) {
    int64_t full = (ub - lb) / step;
    if (full == 1)
      body(c(lb), step);
    else if (full > 1)
      loop(c(lb), c(lb + full * step), c(step),
           [&](Value iv) { body(iv, step); });
    if ((ub - lb) % step)
      body(c(lb + full * step), (ub - lb) % step);
  }
  void ifThen(Value cond, function_ref<void()> thenFn) {
    auto op = scf::IfOp::create(b, loc, TypeRange{}, cond, false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&op.getThenRegion().front());
    thenFn();
  }
  Value load(Value mem, ValueRange idx) {
    return vector::LoadOp::create(b, loc, vecT, mem, idx);
  }
  void store(Value v, Value mem, ValueRange idx) {
    vector::StoreOp::create(b, loc, v, mem, idx);
  }
  Value alloc(ArrayRef<int64_t> shape) {
    return memref::AllocOp::create(b, loc, MemRefType::get(shape, f32),
                                   b.getI64IntegerAttr(64));
  }
  void dealloc(Value m) { memref::DeallocOp::create(b, loc, m); }

  /// Transposes vw vectors of vw lanes as a vw x vw matrix.
  SmallVector<Value> transpose(ArrayRef<Value> rows) {
    auto matT = VectorType::get({vw, vw}, f32);
    Value m = arith::ConstantOp::create(
        b, loc, matT, DenseElementsAttr::get(matT, b.getF32FloatAttr(0.0f)));
    for (int64_t i = 0; i < vw; ++i)
      m = vector::InsertOp::create(b, loc, rows[i], m, ArrayRef<int64_t>{i});
    Value t = vector::TransposeOp::create(b, loc, m, ArrayRef<int64_t>{1, 0});
    SmallVector<Value> out;
    for (int64_t i = 0; i < vw; ++i)
      out.push_back(vector::ExtractOp::create(b, loc, t, ArrayRef<int64_t>{i}));
    return out;
  }

  // --- per task ----------------------------------------------------------

  bool rowTail() const { return g.b % rt != 0; }

  /// P[n][row] = x[row0 + row][n]; rows past B read row B-1 (never stored).
  void pack(Value p, Value row0) {
    for (int64_t a = 0; a < rv; ++a) {
      SmallVector<Value> rowIdx;
      for (int64_t ln = 0; ln < vw; ++ln) {
        Value ri = add(row0, a * vw + ln);
        rowIdx.push_back(rowTail() ? minI(ri, c(g.b - 1)) : ri);
      }
      tiled(0, g.n, vw, [&](Value n0, int64_t cols) {
        Value mask = cols < vw ? constMask(cols) : Value();
        SmallVector<Value> rows;
        for (int64_t ln = 0; ln < vw; ++ln)
          rows.push_back(mask ? vector::MaskedLoadOp::create(
                                    b, loc, vecT, x, ValueRange{rowIdx[ln], n0},
                                    mask, zeroVec())
                                    .getResult()
                              : load(x, {rowIdx[ln], n0}));
        SmallVector<Value> px = transpose(rows);
        for (int64_t t = 0; t < cols; ++t)
          store(px[t], p, {add(n0, t), c(a * vw)});
      });
    }
  }

  /// y[row0 + row][n] = O[n][row] for rows < B.
  void unpack(Value o, Value row0) {
    for (int64_t a = 0; a < rv; ++a) {
      SmallVector<Value> inside;
      for (int64_t ln = 0; ln < vw; ++ln)
        inside.push_back(
            rowTail() ? arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                              add(row0, a * vw + ln), c(g.b))
                            .getResult()
                      : Value());
      tiled(0, g.n, vw, [&](Value n0, int64_t cols) {
        SmallVector<Value> px;
        for (int64_t t = 0; t < vw; ++t)
          px.push_back(t < cols ? load(o, {add(n0, t), c(a * vw)})
                                : zeroVec());
        SmallVector<Value> lanes = transpose(px);
        Value mask = cols < vw ? constMask(cols) : Value();
        for (int64_t ln = 0; ln < vw; ++ln) {
          auto st = [&, ln] {
            SmallVector<Value> idx = {add(row0, a * vw + ln), n0};
            if (mask)
              vector::MaskedStoreOp::create(b, loc, y, idx, mask, lanes[ln]);
            else
              store(lanes[ln], y, idx);
          };
          if (inside[ln])
            ifThen(inside[ln], st);
          else
            st();
        }
      });
    }
  }

  /// nBlocks block matmuls (outs x red) with weights w[blk][o][k]:
  ///   dst[dstRow(blk, o)] = sum_k w[blk][o][k] * src[srcRow(blk, k)]
  /// over every row vector of the tile.
  void blockMatmul(int64_t nBlocks, int64_t outs, int64_t red, Value w,
                   Value src, function_ref<Value(Value, Value)> srcRow,
                   Value dst, function_ref<Value(Value, Value)> dstRow) {
    int64_t bt = std::min(cfg.blockTile, outs);
    int64_t rb = cfg.rowBlock;
    // Weight (blk, o0 + o, k): w[blk][o0 + o][k], or in the packed 1-D copy
    // (packWeights) at blk * packedBlockSize + o0 * red + k * bt + o.
    auto weight = [&](Value blk, Value o0, int64_t o, Value k) -> Value {
      if (!cfg.packWeights)
        return memref::LoadOp::create(b, loc, w,
                                      ValueRange{blk, add(o0, o), k});
      Value idx = add(add(add(mul(blk, packedBlockSize(outs, red)),
                              mul(o0, red)),
                          mul(k, bt)),
                      o);
      return memref::LoadOp::create(b, loc, w, ValueRange{idx});
    };
    loop(c(0), c(nBlocks), c(1), [&](Value blk) {
      tiled(0, outs, bt, [&](Value o0, int64_t oc) {
        tiled(0, rv, rb, [&](Value a0, int64_t ac) {
          SmallVector<Value> lane0;
          for (int64_t a = 0; a < ac; ++a)
            lane0.push_back(mul(add(a0, a), vw));
          SmallVector<Value> init(oc * ac, zeroVec());
          SmallVector<Value> accs =
              loop(c(0), c(red), c(1), init, [&](Value k, ValueRange in) {
                SmallVector<Value> acc(in.begin(), in.end());
                Value row = srcRow(blk, k);
                SmallVector<Value> xs;
                for (int64_t a = 0; a < ac; ++a)
                  xs.push_back(load(src, {row, lane0[a]}));
                for (int64_t o = 0; o < oc; ++o) {
                  Value s = weight(blk, o0, o, k);
                  Value wv = vector::BroadcastOp::create(b, loc, vecT, s);
                  for (int64_t a = 0; a < ac; ++a)
                    acc[o * ac + a] =
                        vector::FMAOp::create(b, loc, wv, xs[a], acc[o * ac + a]);
                }
                return acc;
              });
          for (int64_t o = 0; o < oc; ++o) {
            Value row = dstRow(blk, add(o0, o));
            for (int64_t a = 0; a < ac; ++a)
              store(accs[o * ac + a], dst, {row, lane0[a]});
          }
        });
      });
    });
  }

  /// Floats per block of a packed weight array: every tile of bt outputs
  /// takes red x bt (the last tile's unused slots are never read).
  int64_t packedBlockSize(int64_t outs, int64_t red) const {
    int64_t bt = std::min(cfg.blockTile, outs);
    return (outs + bt - 1) / bt * bt * red;
  }

  /// Copies w[blk][o][k] (nBlocks x outs x red) into a new buffer, tile by
  /// tile of bt outputs, k-major within a tile: the order blockMatmul reads.
  Value packWeights(Value w, int64_t nBlocks, int64_t outs, int64_t red) {
    int64_t bt = std::min(cfg.blockTile, outs);
    int64_t size = packedBlockSize(outs, red);
    Value buf = alloc({nBlocks * size});
    loop(c(0), c(nBlocks), c(1), [&](Value blk) {
      Value base = mul(blk, size);
      tiled(0, outs, bt, [&](Value o0, int64_t oc) {
        Value tileBase = add(base, mul(o0, red));
        loop(c(0), c(red), c(1), [&](Value k) {
          Value at = add(tileBase, mul(k, bt));
          for (int64_t o = 0; o < oc; ++o) {
            Value v = memref::LoadOp::create(b, loc, w,
                                             ValueRange{blk, add(o0, o), k});
            memref::StoreOp::create(b, loc, v, buf, ValueRange{add(at, o)});
          }
        });
      });
    });
    return buf;
  }

  /// Before the tasks: the packed copies of r and l (weights = "packed").
  void packAll() {
    if (!cfg.packWeights)
      return;
    rp = packWeights(r, g.m1, g.m2, g.m2);
    lp = packWeights(l, g.m2, g.m1, g.m1);
  }
  /// After the tasks.
  void releaseAll() {
    if (!cfg.packWeights)
      return;
    dealloc(rp);
    dealloc(lp);
  }

  void task(Value t) {
    Value row0 = mul(t, rt);
    Value p = alloc({g.n, rt}), q = alloc({g.n, rt});
    pack(p, row0);
    int64_t m1 = g.m1, m2 = g.m2;
    // Stage 1: X1[i][p] = sum_q r[i][p][q] X[i][q].
    blockMatmul(
        m1, m2, m2, rp, p, [&](Value i, Value k) { return add(mul(i, m2), k); },
        q, [&](Value i, Value o) { return add(mul(i, m2), o); });
    Value out;
    if (cfg.fuseTranspose) {
      // Stage 2 reads X2[j][i] = X1[i][j] in place.
      blockMatmul(
          m2, m1, m1, lp, q,
          [&](Value j, Value i) { return add(mul(i, m2), j); }, p,
          [&](Value j, Value o) { return add(mul(o, m2), j); });
      out = p;
    } else {
      // X2 = X1^T materialized in P, then stage 2 reads it contiguously.
      loop(c(0), c(m1), c(1), [&](Value i) {
        loop(c(0), c(m2), c(1), [&](Value j) {
          Value from = add(mul(i, m2), j), to = add(mul(j, m1), i);
          for (int64_t a = 0; a < rv; ++a)
            store(load(q, {from, c(a * vw)}), p, {to, c(a * vw)});
        });
      });
      blockMatmul(
          m2, m1, m1, lp, p,
          [&](Value j, Value i) { return add(mul(j, m1), i); }, q,
          [&](Value j, Value o) { return add(mul(o, m2), j); });
      out = q;
    }
    unpack(out, row0);
    dealloc(q);
    dealloc(p);
  }
};

} // namespace

namespace kjit::compiler {
LogicalResult generateButterflyMatmulCpu(OpBuilder &b, Location loc,
                                         Operation *op, ValueRange inputs,
                                         ValueRange outputs, ConfigAttr config,
                                         const TargetInfo &target,
                                         std::string &reason) {
  auto geom = getBflyGeom(op, reason);
  if (failed(geom))
    return failure();
  auto cfg = BflyConfig::parse(config, defaultBflyConfig(*geom, target), reason);
  if (failed(cfg) || failed(checkBflyConfig(*cfg, *geom, target, reason)))
    return failure();
  if (geom->b == 0 || geom->n == 0)
    return success();
  BflyGen gen(b, loc, *cfg, *geom, inputs[0], inputs[1], inputs[2],
              outputs[0]);
  int64_t tasks = (geom->b + cfg->rowTile - 1) / cfg->rowTile;
  gen.packAll();
  emitTaskLoop(b, loc, tasks, cfg->threads, [&](Value t) { gen.task(t); });
  gen.releaseAll();
  return success();
}
} // namespace kjit::compiler
