//===- DepthwiseConvCPU.cpp - register-blocked depthwise conv ------------===//
//
// The code for one depthwise convolution (or each branch of the Inception
// mixer), per task (image n, channel block cb, band of output rows ht):
//
//   1. pack the input rows the band needs into P[rows][cols][VW]: channels
//      in the vector lanes, zero padding materialized, so the micro-kernel
//      has no bounds checks and one vector load per FMA;
//   2. for each block of oh_block output rows x ow_block output columns,
//      keep the oh_block*ow_block accumulators in vector registers (scf.for
//      iter_args) over all filter taps; with oh_block > 1 every loaded
//      input vector feeds oh_block FMAs (one per output row);
//   3. store the block (NHWC: straight to the output; NCHW: into a tile
//      that is transposed back at the end of the task).
//
// Taps that only ever meet zero padding are skipped: filter rows per block
// of output rows (bounds computed at run time from the input row), filter
// columns per block of output columns (static ranges: blocks near the left
// and right borders get their own copy of the micro-kernel). This is what
// keeps a kernel larger than its image (31x31 on 14x14) from spending most
// of its FMAs on zeros.
//
// NHWC with whole channel blocks and one output row per register block
// (e.g. stride 2) skips step 1: the micro-kernel reads the input in place,
// its filter rows clipped to the image and, in the border column blocks
// (each its own copy, filter row unrolled), the taps that fall outside it
// left out. Those kernels read each input once from memory instead of
// copying it into P and reading it back.
//
// Filters are packed once per call into [CB][KH][KW][VW]. Tasks run on an
// OpenMP team when the config asks for more than one thread.
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToCPU/KernelGenerators.h"
#include "compiler/Conversion/KjitToCPU/EmitHelpers.h"

#include "dialects/kjit/IR/ConvTuning.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace mlir::kjit;
using ::kjit::compiler::emitTaskLoop;

namespace {

/// Most copies of the micro-kernel per row block (border column blocks with
/// their own filter-column ranges, plus the interior).
constexpr size_t kMaxColumnRuns = 7;

/// Where a micro-kernel reads its input when it reads it in place (NHWC).
struct Direct {
  Value cinBase;    ///< first input channel of the block
  int64_t ow0 = -1; ///< static first output column, -1 when dynamic
};

struct Branch {
  DwGeom g;
  Value filter;       ///< C x KH x KW
  Value bias;         ///< C or null
  Value packedFilter; ///< CB x KH x KW x VW
  Value packedBias;   ///< CB x VW or null
  int64_t cb = 0, ht = 0, tasks = 0;
};

class DwGen : public ::kjit::compiler::KernelEmitter {
public:
  DwGen(OpBuilder &b, Location loc, const DwConfig &cfg, bool nhwc, Value x,
        Value y)
      : KernelEmitter(b, loc, cfg.vectorWidth), cfg(cfg), nhwc(nhwc), x(x),
        y(y) {
    auto xt = cast<MemRefType>(x.getType());
    inH = xt.getDimSize(nhwc ? 1 : 2);
    inW = xt.getDimSize(nhwc ? 2 : 3);
    inC = xt.getDimSize(nhwc ? 3 : 1);
  }

  DwConfig cfg;
  bool nhwc;
  Value x, y;
  int64_t inH, inW, inC;

  Value maxS(Value a, Value d) { return arith::MaxSIOp::create(b, loc, a, d); }
  Value minS(Value a, Value d) { return arith::MinSIOp::create(b, loc, a, d); }
  /// ceil(a / d) for a signed `a` and d > 0.
  Value ceilDivS(Value a, int64_t d) {
    return d == 1 ? a : arith::CeilDivSIOp::create(b, loc, a, c(d)).getResult();
  }

  /// Does some output row read a padding row (so clipping filter rows can
  /// save work)?
  static bool rowsReadPadding(const DwGeom &g) {
    return g.pt > 0 || (g.oh - 1) * g.sh + (g.kh - 1) * g.dh - g.pt >= g.h;
  }

  /// Transposes `rows` (vw vectors of vw lanes) as a vw x vw matrix.
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

  // --- per call ----------------------------------------------------------

  /// Packs filter (and bias) of a branch into lane-blocked buffers: per
  /// channel block and filter row, vw channels x (up to) vw filter columns
  /// loaded as vectors and transposed (a scalar copy costs more than the
  /// convolution itself for a 31x31 filter on a 14x14 image).
  void packWeights(Branch &br) {
    const DwGeom &g = br.g;
    br.packedFilter = alloc({br.cb, g.kh, g.kw, vw});
    bool partial = g.c % vw != 0;
    loop(c(0), c(br.cb), c(1), [&](Value blk) {
      Value chBase = mul(blk, vw);
      Value cnt = partial ? minI(c(vw), sub(c(g.c), chBase)) : Value();
      loop(c(0), c(g.kh), c(1), [&](Value kh) {
        for (int64_t kw0 = 0; kw0 < g.kw; kw0 += vw) {
          int64_t cols = std::min(vw, g.kw - kw0);
          Value colMask = cols < vw ? constMask(cols) : Value();
          SmallVector<Value> rows;
          for (int64_t l = 0; l < vw; ++l) {
            auto loadLane = [&]() -> Value {
              SmallVector<Value> idx = {add(chBase, l), kh, c(kw0)};
              return colMask ? maskedLoad(br.filter, idx, colMask)
                             : load(br.filter, idx);
            };
            if (partial) {
              Value in = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::ult, c(l), cnt);
              rows.push_back(ifValue(in, loadLane, [&] { return zeroVec(); }));
            } else {
              rows.push_back(loadLane());
            }
          }
          SmallVector<Value> taps = transpose(rows);
          for (int64_t j = 0; j < cols; ++j)
            store(taps[j], br.packedFilter, {blk, kh, c(kw0 + j), c(0)});
        }
      });
    });
    if (!br.bias)
      return;
    br.packedBias = alloc({br.cb, vw});
    loop(0, br.cb, [&](Value blk) {
      Value chBase = mul(blk, vw);
      // The last block of a partial one: masked (lanes past C read 0).
      Value v;
      if (partial) {
        Value cnt = minI(c(vw), sub(c(g.c), chBase));
        Value m = vector::CreateMaskOp::create(b, loc, maskT, ValueRange{cnt});
        v = maskedLoad(br.bias, {chBase}, m);
      } else {
        v = load(br.bias, {chBase});
      }
      store(v, br.packedBias, {blk, c(0)});
    });
  }

  // --- per task ----------------------------------------------------------

  /// Fills row `r` of P with input row `ih` of channel block `cb`.
  void packRow(const Branch &br, Value p, Value r, Value n, Value ih,
               Value cbase, Value cnt, Value chMask) {
    const DwGeom &g = br.g;
    int64_t pc = dwPackedCols(g);
    int64_t left = std::min(g.pl, pc);
    int64_t valid = std::max<int64_t>(0, std::min(g.w, pc - g.pl));
    Value zero = zeroVec();
    loop(0, left, [&](Value col) { store(zero, p, {r, col, c(0)}); });
    loop(left + valid, pc, [&](Value col) { store(zero, p, {r, col, c(0)}); });
    if (valid == 0)
      return;
    if (nhwc) {
      loop(0, valid, [&](Value iw) {
        Value v = chMask ? maskedLoad(x, {n, ih, iw, cbase}, chMask)
                         : load(x, {n, ih, iw, cbase});
        store(v, p, {r, add(iw, g.pl), c(0)});
      });
      return;
    }
    // NCHW: vw channel rows of vw columns, transposed into vw pixels.
    auto chunk = [&](Value iw0, int64_t cols) {
      SmallVector<Value> rows;
      Value colMask = cols < vw ? constMask(cols) : Value();
      for (int64_t l = 0; l < vw; ++l) {
        auto loadLane = [&]() -> Value {
          SmallVector<Value> idx = {n, add(cbase, l), ih, iw0};
          return colMask ? maskedLoad(x, idx, colMask) : load(x, idx);
        };
        if (chMask) {
          Value in = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           c(l), cnt);
          rows.push_back(ifValue(in, loadLane, [&] { return zeroVec(); }));
        } else {
          rows.push_back(loadLane());
        }
      }
      SmallVector<Value> px = transpose(rows);
      for (int64_t j = 0; j < cols; ++j)
        store(px[j], p, {r, add(add(iw0, j), g.pl), c(0)});
    };
    int64_t full = valid / vw * vw;
    if (full > 0)
      loop(c(0), c(full), c(vw), [&](Value iw0) { chunk(iw0, vw); });
    if (valid % vw)
      chunk(c(full), valid % vw);
  }

  /// One register block: rc output rows x jc output columns.
  void microKernel(const Branch &br, Value p, Value out, Value n, Value cb,
                   Value oh0, Value ohRel, Value ow0, int64_t rc, int64_t jc,
                   int64_t kwLo, int64_t kwHi, Value coutBase, Value chMask,
                   const Direct *d = nullptr) {
    const DwGeom &g = br.g;
    Value init = br.packedBias ? load(br.packedBias, {cb, c(0)}) : zeroVec();
    SmallVector<Value> accs(rc * jc, init);

    // One filter-column sweep for the rows in `rowsKh` (row r, filter row).
    auto kwSweep = [&](Value prow, ArrayRef<std::pair<int64_t, Value>> rowsKh,
                       ValueRange in) {
      SmallVector<Value> acc(in.begin(), in.end());
      // In place: the input row of P row `prow`.
      Value ih = d ? add(prow, add(mul(oh0, g.sh), -g.pt)) : Value();
      auto step = [&](Value kw, SmallVector<Value> &a, int64_t kwStatic) {
        SmallVector<Value> ws;
        for (auto &[r, kh] : rowsKh)
          ws.push_back(load(br.packedFilter, {cb, kh, kw, c(0)}));
        Value colBase = mul(kw, g.dw);
        for (int64_t j = 0; j < jc; ++j) {
          if (d && d->ow0 >= 0 && kwStatic >= 0) {
            int64_t iw = (d->ow0 + j) * g.sw + kwStatic * g.dw - g.pl;
            if (iw < 0 || iw >= g.w)
              continue; // a padding column: no load, no FMA
          }
          Value col = add(add(mul(ow0, g.sw), colBase), j * g.sw);
          Value xv = d ? load(x, {n, ih, add(col, -g.pl), d->cinBase})
                       : load(p, {prow, col, c(0)});
          for (size_t k = 0; k < rowsKh.size(); ++k) {
            int64_t idx = rowsKh[k].first * jc + j;
            a[idx] = vector::FMAOp::create(b, loc, xv, ws[k], a[idx]);
          }
        }
      };
      // A border block read in place: every tap static, to leave out the
      // ones outside the image.
      int64_t u = d && d->ow0 >= 0 ? kwHi - kwLo + 1 : cfg.kwUnroll;
      int64_t main = kwLo + (kwHi - kwLo) / u * u;
      if (main > kwLo)
        acc = loop(c(kwLo), c(main), c(u), acc, [&](Value kw, ValueRange a) {
          SmallVector<Value> cur(a.begin(), a.end());
          for (int64_t i = 0; i < u; ++i)
            step(add(kw, i), cur, -1);
          return cur;
        });
      for (int64_t kw = main; kw < kwHi; ++kw)
        step(c(kw), acc, kw);
      return acc;
    };

    // Input row of P row 0 for this block's first output row.
    bool clipRows = rowsReadPadding(g);
    Value base = clipRows ? add(mul(add(oh0, ohRel), g.sh), -g.pt) : Value();
    if (rc == 1) {
      // Filter rows kh with 0 <= base + kh * dh < H.
      Value lo = c(0), hi = c(g.kh);
      if (clipRows) {
        lo = maxS(lo, ceilDivS(sub(c(0), base), g.dh));
        hi = minS(hi, ceilDivS(sub(c(g.h), base), g.dh));
      }
      accs = loop(lo, hi, c(1), accs, [&](Value kh, ValueRange a) {
        Value prow = add(mul(ohRel, g.sh), mul(kh, g.dh));
        return kwSweep(prow, {{0, kh}}, a);
      });
    } else {
      // stride_h = dilation_h = 1: input row ohRel + t feeds output row r
      // with filter row t - r.
      auto staticStep = [&](int64_t t) {
        SmallVector<std::pair<int64_t, Value>> rows;
        for (int64_t r = 0; r < rc; ++r)
          if (t - r >= 0 && t - r < g.kh)
            rows.push_back({r, c(t - r)});
        if (!rows.empty())
          accs = kwSweep(add(ohRel, t), rows, accs);
      };
      int64_t mainLo = rc - 1, mainHi = g.kh;
      for (int64_t t = 0; t < std::min(mainLo, g.kh + rc - 1); ++t)
        staticStep(t);
      if (mainHi > mainLo) {
        // Input rows t with 0 <= base + t < H (the few static steps above
        // and below may still read zero rows).
        Value lo = c(mainLo), hi = c(mainHi);
        if (clipRows) {
          lo = maxS(lo, sub(c(0), base));
          hi = minS(hi, sub(c(g.h), base));
        }
        accs = loop(lo, hi, c(1), accs, [&](Value t, ValueRange a) {
          SmallVector<std::pair<int64_t, Value>> rows;
          for (int64_t r = 0; r < rc; ++r)
            rows.push_back({r, add(t, -r)});
          return kwSweep(add(ohRel, t), rows, a);
        });
      }
      for (int64_t t = std::max(mainLo, mainHi); t < g.kh + rc - 1; ++t)
        staticStep(t);
    }

    for (int64_t r = 0; r < rc; ++r)
      for (int64_t j = 0; j < jc; ++j) {
        Value v = accs[r * jc + j];
        Value row = add(ohRel, r), col = add(ow0, j);
        if (nhwc) {
          SmallVector<Value> idx = {n, add(oh0, row), col, coutBase};
          if (chMask)
            maskedStore(v, out, idx, chMask);
          else
            store(v, out, idx);
        } else {
          store(v, out, {row, col, c(0)}); // the task's NCHW tile
        }
      }
  }

  /// Writes the task's tile O[rows][OW][vw] back to NCHW.
  void unpackNchw(const Branch &br, Value o, Value n, Value oh0, Value rows,
                  Value coutBase, Value cnt, bool partial) {
    const DwGeom &g = br.g;
    loop(c(0), rows, c(1), [&](Value i) {
      auto chunk = [&](Value ow0, int64_t cols) {
        SmallVector<Value> px;
        for (int64_t j = 0; j < vw; ++j)
          px.push_back(j < cols ? load(o, {i, add(ow0, j), c(0)}) : zeroVec());
        SmallVector<Value> lanes = transpose(px);
        Value colMask = cols < vw ? constMask(cols) : Value();
        for (int64_t l = 0; l < vw; ++l) {
          auto st = [&] {
            SmallVector<Value> idx = {n, add(coutBase, l), add(oh0, i), ow0};
            if (colMask)
              maskedStore(lanes[l], y, idx, colMask);
            else
              store(lanes[l], y, idx);
          };
          if (partial)
            ifThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         c(l), cnt),
                   st);
          else
            st();
        }
      };
      int64_t full = g.ow / vw * vw;
      if (full > 0)
        loop(c(0), c(full), c(vw), [&](Value ow0) { chunk(ow0, vw); });
      if (g.ow % vw)
        chunk(c(full), g.ow % vw);
    });
  }

  /// Task `t` (local to the branch) of a conv branch.
  void convTask(const Branch &br, Value t) {
    const DwGeom &g = br.g;
    Value n, cb, ht;
    if (!cfg.hOuter) { // t = (n * CB + cb) * HT + ht
      ht = remI(t, br.ht);
      Value rest = divI(t, br.ht);
      cb = remI(rest, br.cb);
      n = divI(rest, br.cb);
    } else { // t = (n * HT + ht) * CB + cb
      cb = remI(t, br.cb);
      Value rest = divI(t, br.cb);
      ht = remI(rest, br.ht);
      n = divI(rest, br.ht);
    }
    int64_t tile = std::min(cfg.ohTile, g.oh);
    Value oh0 = mul(ht, tile);
    // Every task has `tile` rows when the tiles divide the output height:
    // then the row counts below are constants and the remainder code for
    // a short last tile is not emitted at all.
    bool evenTiles = g.oh % tile == 0;
    Value rows = evenTiles ? c(tile) : minI(c(tile), sub(c(g.oh), oh0));
    Value chOff = mul(cb, vw);
    bool partial = g.c % vw != 0;
    Value cnt = minI(c(vw), sub(c(g.c), chOff));
    Value chMask =
        partial ? vector::CreateMaskOp::create(b, loc, maskT, ValueRange{cnt})
                      .getResult()
                : Value();
    Value cinBase = add(chOff, g.cIn0), coutBase = add(chOff, g.cOut0);

    int64_t rb = std::min(cfg.ohBlock, tile);
    int64_t jb = std::min(cfg.owBlock, g.ow);
    // Runs of full column blocks with the same filter-column range (and,
    // for reading in place, whether every tap of the block is inside).
    struct Run {
      int64_t b0, b1, lo, hi;
      bool inside;
    };
    int64_t nb = g.ow / jb;
    auto makeRuns = [&](bool byInside) {
      SmallVector<Run> runs;
      for (int64_t blk = 0; blk < nb; ++blk) {
        auto [lo, hi] = dwKwRange(g, blk * jb, jb);
        bool inside =
            blk * jb * g.sw - g.pl >= 0 &&
            (blk * jb + jb - 1) * g.sw + (g.kw - 1) * g.dw - g.pl < g.w;
        if (!runs.empty() && runs.back().lo == lo && runs.back().hi == hi &&
            (!byInside || runs.back().inside == inside))
          runs.back().b1 = blk + 1;
        else
          runs.push_back({blk, blk + 1, lo, hi, inside});
      }
      return runs;
    };
    // Read in place: NHWC, whole channel blocks, one row per register block,
    // filter rows short enough to unroll in the border blocks, and few
    // border blocks.
    bool direct = rb == 1 && dwCanReadInPlace(g, vw);
    SmallVector<Run> runs = makeRuns(direct);
    if (direct)
      direct =
          runs.size() <= kMaxColumnRuns && llvm::all_of(runs, [](const Run &r) {
            return r.inside || r.b1 - r.b0 == 1;
          });
    if (!direct && rb == 1 && dwCanReadInPlace(g, vw))
      runs = makeRuns(false);

    // 1. pack the rows of input this band of output rows reads.
    Value p =
        direct ? Value() : alloc({dwPackedRows(g, tile), dwPackedCols(g), vw});
    if (!direct) {
      Value need = add(mul(add(rows, -1), g.sh), (g.kh - 1) * g.dh + 1);
      Value ih0 = add(mul(oh0, g.sh), -g.pt);
      loop(c(0), need, c(1), [&](Value r) {
        Value ih = add(ih0, r);
        Value ge0 =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, ih, c(0));
        Value ltH = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, ih,
                                          c(inH));
        Value inside = arith::AndIOp::create(b, loc, ge0, ltH);
        ifThen(
            inside, [&] { packRow(br, p, r, n, ih, cinBase, cnt, chMask); },
            [&] {
              Value zero = zeroVec();
              loop(0, dwPackedCols(g), [&](Value col) {
                store(zero, p, {r, col, c(0)});
              });
            });
      });
    }

    // 2. register blocks.
    Value o = nhwc ? y : alloc({tile, g.ow, vw});
    // Bound the copies of the micro-kernel: merge neighbours (the union of
    // their ranges; extra taps read zero padding) down to a few runs.
    while (runs.size() > kMaxColumnRuns) {
      size_t best = 0;
      int64_t bestCost = INT64_MAX;
      for (size_t i = 0; i + 1 < runs.size(); ++i) {
        int64_t lo = std::min(runs[i].lo, runs[i + 1].lo),
                hi = std::max(runs[i].hi, runs[i + 1].hi);
        int64_t extra = (hi - lo) * (runs[i + 1].b1 - runs[i].b0) -
                        (runs[i].hi - runs[i].lo) * (runs[i].b1 - runs[i].b0) -
                        (runs[i + 1].hi - runs[i + 1].lo) *
                            (runs[i + 1].b1 - runs[i + 1].b0);
        if (extra < bestCost)
          bestCost = extra, best = i;
      }
      Run &a = runs[best], &r = runs[best + 1];
      a = {a.b0, r.b1, std::min(a.lo, r.lo), std::max(a.hi, r.hi),
           a.inside && r.inside};
      runs.erase(runs.begin() + best + 1);
    }
    auto rowBlock = [&](Value ohRel, int64_t rc) {
      for (const Run &r : runs) {
        if (r.b1 - r.b0 == 1) {
          Direct d{cinBase, r.b0 * jb};
          microKernel(br, p, o, n, cb, oh0, ohRel, c(r.b0 * jb), rc, jb, r.lo,
                      r.hi, coutBase, chMask, direct ? &d : nullptr);
          continue;
        }
        loop(c(r.b0), c(r.b1), c(1), [&](Value blk) {
          Direct d{cinBase, -1};
          microKernel(br, p, o, n, cb, oh0, ohRel, mul(blk, jb), rc, jb, r.lo,
                      r.hi, coutBase, chMask, direct ? &d : nullptr);
        });
      }
      if (g.ow % jb) {
        auto [lo, hi] = dwKwRange(g, nb * jb, g.ow % jb);
        Direct d{cinBase, nb * jb};
        microKernel(br, p, o, n, cb, oh0, ohRel, c(nb * jb), rc, g.ow % jb, lo,
                    hi, coutBase, chMask, direct ? &d : nullptr);
      }
    };
    Value fullRows = evenTiles ? c(tile / rb * rb) : mul(divI(rows, rb), rb);
    loop(c(0), fullRows, c(rb), [&](Value ohRel) { rowBlock(ohRel, rb); });
    if (rb > 1 && !(evenTiles && tile % rb == 0))
      loop(fullRows, rows, c(1), [&](Value ohRel) { rowBlock(ohRel, 1); });

    // 3. NCHW: transpose the tile back.
    if (!nhwc) {
      unpackNchw(br, o, n, oh0, rows, coutBase, cnt, partial);
      dealloc(o);
    }
    if (p)
      dealloc(p);
  }

  /// Identity channels [0, gid) of the Inception mixer for (n, h) = t.
  void identityTask(int64_t gid, int64_t batch, Value t) {
    Value n = divI(t, inH), h = remI(t, inH);
    if (nhwc) {
      loop(0, inW, [&](Value w) {
        for (int64_t c0 = 0; c0 < gid; c0 += vw) {
          int64_t k = std::min(vw, gid - c0);
          SmallVector<Value> idx = {n, h, w, c(c0)};
          if (k < vw) {
            Value m = constMask(k);
            maskedStore(maskedLoad(x, idx, m), y, idx, m);
          } else {
            store(load(x, idx), y, idx);
          }
        }
      });
      return;
    }
    loop(0, gid, [&](Value ch) {
      for (int64_t w0 = 0; w0 < inW; w0 += vw) {
        int64_t k = std::min(vw, inW - w0);
        SmallVector<Value> idx = {n, ch, h, c(w0)};
        if (k < vw) {
          Value m = constMask(k);
          maskedStore(maskedLoad(x, idx, m), y, idx, m);
        } else {
          store(load(x, idx), y, idx);
        }
      }
    });
  }
};

} // namespace

namespace kjit::compiler {
LogicalResult generateDepthwiseCpu(OpBuilder &b, Location loc, Operation *op,
                                   ValueRange inputs, ValueRange outputs,
                                   ConfigAttr config, const TargetInfo &target,
                                   std::string &reason) {
  auto branchesOr = getDwBranches(op, reason);
  if (failed(branchesOr))
    return failure();
  auto cfgOr =
      DwConfig::parse(config, defaultDwConfig(*branchesOr, target), reason);
  if (failed(cfgOr) ||
      failed(checkDwConfig(*cfgOr, *branchesOr, target, reason)))
    return failure();
  DwConfig cfg = *cfgOr;

  bool nhwc;
  SmallVector<Branch> branches;
  int64_t identity = 0;
  if (auto dw = dyn_cast<DepthwiseConv2dOp>(op)) {
    nhwc = dw.getLayout() == "nhwc";
    Branch br;
    br.g = (*branchesOr)[0];
    br.filter = inputs[1];
    br.bias = inputs.size() > 2 ? inputs[2] : Value();
    branches.push_back(br);
  } else {
    auto inc = cast<InceptionDepthwiseConv2dOp>(op);
    nhwc = inc.getLayout() == "nhwc";
    ArrayRef<int64_t> g = inc.getBranchChannels();
    auto xt = cast<MemRefType>(inputs[0].getType());
    identity = xt.getDimSize(nhwc ? 3 : 1) - g[0] - g[1] - g[2];
    size_t next = 0;
    for (int i = 0; i < 3; ++i) {
      if (g[i] == 0)
        continue;
      Branch br;
      br.g = (*branchesOr)[next++];
      br.filter = inputs[1 + i];
      branches.push_back(br);
    }
  }

  DwGen gen(b, loc, cfg, nhwc, inputs[0], outputs[0]);
  int64_t total = 0;
  SmallVector<int64_t> starts;
  for (Branch &br : branches) {
    br.cb = (br.g.c + cfg.vectorWidth - 1) / cfg.vectorWidth;
    int64_t tile = std::min(cfg.ohTile, br.g.oh);
    br.ht = (br.g.oh + tile - 1) / tile;
    br.tasks = br.g.n * br.cb * br.ht;
    gen.packWeights(br);
    starts.push_back(total);
    total += br.tasks;
  }
  int64_t identityTasks =
      identity > 0 ? branches.empty() ? 0 : branches[0].g.n * gen.inH : 0;
  if (identity > 0 && branches.empty()) {
    auto xt = cast<MemRefType>(inputs[0].getType());
    identityTasks = xt.getDimSize(0) * gen.inH;
  }
  starts.push_back(total);
  total += identityTasks;

  // Dispatch task t to its branch (an if-chain over the task ranges).
  std::function<void(Value, size_t)> dispatch = [&](Value t, size_t i) {
    if (i == branches.size()) {
      gen.identityTask(identity, 0, gen.add(t, -starts[i]));
      return;
    }
    Value local = gen.add(t, -starts[i]);
    bool last = i + 1 == branches.size() && identityTasks == 0;
    if (last) {
      gen.convTask(branches[i], local);
      return;
    }
    Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, t,
                                          gen.c(starts[i + 1]));
    gen.ifThen(
        inRange, [&] { gen.convTask(branches[i], local); },
        [&] { dispatch(t, i + 1); });
  };
  if (total > 0)
    emitTaskLoop(b, loc, total, cfg.threads, [&](Value t) { dispatch(t, 0); });

  for (Branch &br : branches) {
    gen.dealloc(br.packedFilter);
    if (br.packedBias)
      gen.dealloc(br.packedBias);
  }
  return success();
}
} // namespace kjit::compiler
