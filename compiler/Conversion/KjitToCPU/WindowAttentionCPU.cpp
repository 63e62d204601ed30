//===- WindowAttentionCPU.cpp - fused neighborhood attention -------------===//
//
// Semantics (NATTEN; ARCHITECTURE.md "Op semantics"), per spatial dim of
// size n, kernel k (odd), dilation d, for a query at position i:
//
//   group g = i mod d, position in the group idx = i div d, the group's size
//   n_g = ceil((n - g) / d)   (>= k: the verifier rejects n < k*d).
//   non-causal: start = clamp(idx - k/2, 0, n_g - k); the keys are the k
//               positions (start + t)*d + g, t = 0..k-1 (shifted inward at
//               the borders, so every query sees exactly k, k x k in 2-D).
//   causal (1-D only): the keys are idx, idx-1, ..., max(0, idx-k+1) of the
//               group, i.e. min(idx+1, k) keys (fewer at the start).
//   rpb (optional, heads x (2k-1)[x (2k-1)]): added to the score with index
//               (k-1) + (key_pos_in_group - query_pos_in_group) per dim.
//   score = scale * <q, key> (+ rpb), scale default 1/sqrt(D);
//   out   = softmax(scores) . V, softmax in fp32, numerically stable.
//
// Code, per task (batch b, group of heads_per_task heads, a tile of
// query_tile_h rows x query_tile columns of queries), per query:
//
//   q (pre-multiplied by scale) lives in ceil(D/vw) vectors; the head dim
//   tail is masked. The window is walked key row by key row (scf.for), each
//   row in chunks of key_chunk keys: the chunk's scores are computed (vector
//   FMAs over D + one horizontal add each) into one vector<key_chunk>, then
//   one online-softmax update (FlashAttention style):
//       m' = max(m, max(s)); c = exp(m - m'); p = exp(s - m');
//       l  = l*c + sum(p);   acc = acc*c + sum_j p_j * V_j
//   with m, l and the accumulators carried as scf.for iter_args. exp is a
//   vectorized Cephes-style polynomial (no libm call). No attention matrix
//   is materialized. At the end out = acc / l. Tasks run on an OpenMP team
//   when threads > 1.
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToCPU/EmitHelpers.h"
#include "compiler/Conversion/KjitToCPU/KernelGenerators.h"

#include "dialects/kjit/IR/AttentionTuning.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cfloat>

using namespace mlir;
using namespace mlir::kjit;
using ::kjit::compiler::emitTaskLoop;
using ::kjit::compiler::KernelEmitter;

namespace {

class WaGen : public KernelEmitter {
public:
  WaGen(OpBuilder &b, Location loc, const WaConfig &cfg, const WaGeom &g,
        Value q, Value k, Value v, Value rpb, Value out)
      : KernelEmitter(b, loc, cfg.vectorWidth), cfg(cfg), g(g), q(q), k(k),
        v(v), rpb(rpb), out(out) {
    nv = (g.d + vw - 1) / vw;
    tailLanes = g.d - (nv - 1) * vw; // lanes of the last head-dim vector
  }

  WaConfig cfg;
  WaGeom g;
  Value q, k, v, rpb, out;
  int64_t nv = 1, tailLanes = 1;
  Value tailMask;

  // --- scalar / vector arithmetic ---------------------------------------
  Value fc(float x) { return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(x)); }
  Value splat(VectorType t, float x) {
    return arith::ConstantOp::create(
        b, loc, t, DenseElementsAttr::get(t, b.getF32FloatAttr(x)));
  }
  Value isplat(VectorType t, int32_t x) {
    return arith::ConstantOp::create(
        b, loc, t, DenseElementsAttr::get(t, b.getI32IntegerAttr(x)));
  }
  Value bcast(VectorType t, Value s) {
    return vector::BroadcastOp::create(b, loc, t, s);
  }
  Value fma(Value a, Value x, Value acc) {
    return vector::FMAOp::create(b, loc, a, x, acc);
  }
  Value maxSI(Value a, Value d) { return arith::MaxSIOp::create(b, loc, a, d); }
  Value minSI(Value a, Value d) { return arith::MinSIOp::create(b, loc, a, d); }

  /// exp(x) lane-wise for x <= 88 (Cephes expf: 2^n * P(r), r in
  /// [-ln2/2, ln2/2]); exactly 0 below -87.3 (masked keys, first update).
  Value vexp(Value x) {
    auto t = cast<VectorType>(x.getType());
    auto it = VectorType::get(t.getShape(), b.getI32Type());
    Value under = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x,
                                        splat(t, -87.3f));
    x = arith::MaxNumFOp::create(b, loc, x, splat(t, -87.3f));
    x = arith::MinNumFOp::create(b, loc, x, splat(t, 88.3f));
    Value tt = arith::MulFOp::create(b, loc, x, splat(t, 1.44269504088896341f));
    Value pos = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, tt,
                                      splat(t, 0.0f));
    Value half = arith::SelectOp::create(b, loc, pos, splat(t, 0.5f),
                                         splat(t, -0.5f));
    Value n = arith::FPToSIOp::create(
        b, loc, it, arith::AddFOp::create(b, loc, tt, half));
    Value fn = arith::SIToFPOp::create(b, loc, t, n);
    Value r = fma(fn, splat(t, -0.693359375f), x);
    r = fma(fn, splat(t, 2.12194440e-4f), r);
    Value p = splat(t, 1.9875691500e-4f);
    for (float cst : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                      1.6666665459e-1f, 5.0000001201e-1f})
      p = fma(p, r, splat(t, cst));
    Value r2 = arith::MulFOp::create(b, loc, r, r);
    Value y = fma(p, r2, r);
    y = arith::AddFOp::create(b, loc, y, splat(t, 1.0f));
    Value e = arith::AddIOp::create(b, loc, n, isplat(it, 127));
    e = arith::ShLIOp::create(b, loc, e, isplat(it, 23));
    Value pow2 = arith::BitcastOp::create(b, loc, t, e);
    y = arith::MulFOp::create(b, loc, y, pow2);
    return arith::SelectOp::create(b, loc, under, splat(t, 0.0f), y);
  }

  // --- memory ------------------------------------------------------------
  SmallVector<Value> qkvIdx(Value bi, Value head, Value row, Value col,
                            int64_t d0) {
    if (g.rank == 2)
      return {bi, head, row, col, c(d0)};
    return {bi, head, col, c(d0)};
  }
  Value loadD(Value mem, ArrayRef<Value> idx, int64_t vi) {
    return vi == nv - 1 && tailMask ? maskedLoad(mem, idx, tailMask)
                                    : load(mem, idx);
  }

  // --- per query ---------------------------------------------------------
  struct Dim {
    Value idx;   ///< query position in its dilation group
    Value grp;   ///< dilation group
    Value start; ///< first key position in the group (non-causal)
  };
  Dim window(Value i, int64_t n, int64_t kk, int64_t d) {
    Dim r;
    r.grp = remI(i, d);
    r.idx = divI(i, d);
    // n_g = ceil((n - g) / d) = (n - g + d - 1) / d
    Value ng = divI(sub(c(n + d - 1), r.grp), d);
    Value s = sub(r.idx, c(kk / 2));
    r.start = minSI(maxSI(s, c(0)), sub(ng, c(kk)));
    return r;
  }

  struct State {
    Value m, l;
    SmallVector<Value> acc;
    SmallVector<Value> pack() const {
      SmallVector<Value> v = {m, l};
      v.append(acc.begin(), acc.end());
      return v;
    }
    static State unpack(ValueRange r) {
      State s;
      s.m = r[0];
      s.l = r[1];
      s.acc.assign(r.begin() + 2, r.end());
      return s;
    }
  };

  /// One online-softmax update over `cnt` keys of one key row; `tj0` is
  /// the first key's index within the row window.
  State chunk(State st, ArrayRef<Value> qv, Value bi, Value head, Value keyRow,
              Value rpbRow, const Dim &col, Value tj0, int64_t cnt) {
    auto sT = VectorType::get({cnt}, f32);
    SmallVector<Value> scores, kcols, valid;
    for (int64_t j = 0; j < cnt; ++j) {
      Value tj = add(tj0, j);
      Value pos, rpbCol, ok;
      if (g.causal) {
        // keys idx, idx-1, ...: the first key of a query is always valid.
        Value p = sub(col.idx, tj);
        ok = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, p, c(0));
        pos = maxSI(p, c(0));
        rpbCol = sub(c(g.kw - 1), tj);
      } else {
        pos = add(col.start, tj);
        rpbCol = sub(add(pos, g.kw - 1), col.idx);
      }
      Value kcol = add(mul(pos, g.dw), col.grp);
      kcols.push_back(kcol);
      Value prod;
      for (int64_t vi = 0; vi < nv; ++vi) {
        Value kv = loadD(k, qkvIdx(bi, head, keyRow, kcol, vi * vw), vi);
        prod = vi == 0 ? arith::MulFOp::create(b, loc, qv[vi], kv).getResult()
                       : fma(qv[vi], kv, prod);
      }
      Value s = vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                            prod, arith::FastMathFlags::reassoc);
      if (rpb) {
        SmallVector<Value> ri = {head};
        if (g.rank == 2)
          ri.push_back(rpbRow);
        ri.push_back(rpbCol);
        Value bias = memref::LoadOp::create(b, loc, rpb, ri);
        s = arith::AddFOp::create(b, loc, s, bias);
      }
      if (ok)
        s = arith::SelectOp::create(b, loc, ok, s, fc(-FLT_MAX));
      scores.push_back(s);
    }
    Value sv = vector::FromElementsOp::create(b, loc, sT, scores);
    Value cmax = vector::ReductionOp::create(b, loc,
                                             vector::CombiningKind::MAXNUMF, sv);
    Value mNew = arith::MaxNumFOp::create(b, loc, st.m, cmax);
    Value p = vexp(arith::SubFOp::create(b, loc, sv, bcast(sT, mNew)));
    auto oneT = VectorType::get({1}, f32);
    Value corrV = vexp(arith::SubFOp::create(b, loc, bcast(oneT, st.m),
                                             bcast(oneT, mNew)));
    Value corr = vector::ExtractOp::create(b, loc, corrV, ArrayRef<int64_t>{0});
    Value psum = vector::ReductionOp::create(
        b, loc, vector::CombiningKind::ADD, p, arith::FastMathFlags::reassoc);
    State nx;
    nx.m = mNew;
    nx.l = arith::AddFOp::create(
        b, loc, arith::MulFOp::create(b, loc, st.l, corr), psum);
    Value corrB = bcast(vecT, corr);
    for (int64_t vi = 0; vi < nv; ++vi)
      nx.acc.push_back(arith::MulFOp::create(b, loc, st.acc[vi], corrB));
    for (int64_t j = 0; j < cnt; ++j) {
      Value pj = bcast(
          vecT, vector::ExtractOp::create(b, loc, p, ArrayRef<int64_t>{j}));
      for (int64_t vi = 0; vi < nv; ++vi) {
        Value vv = loadD(v, qkvIdx(bi, head, keyRow, kcols[j], vi * vw), vi);
        nx.acc[vi] = fma(pj, vv, nx.acc[vi]);
      }
    }
    return nx;
  }

  /// One key row of the window: full chunks in a loop, the tail unrolled.
  State keyRow(State st, ArrayRef<Value> qv, Value bi, Value head,
               Value keyRowIdx, Value rpbRow, const Dim &col) {
    int64_t kc = std::min(cfg.keyChunk, g.kw);
    int64_t full = g.kw / kc, tail = g.kw % kc;
    if (full == 1) {
      st = chunk(st, qv, bi, head, keyRowIdx, rpbRow, col, c(0), kc);
    } else if (full > 1) {
      auto r = loop(c(0), c(full * kc), c(kc), st.pack(),
                    [&](Value tj0, ValueRange a) {
                      return chunk(State::unpack(a), qv, bi, head, keyRowIdx,
                                   rpbRow, col, tj0, kc)
                          .pack();
                    });
      st = State::unpack(r);
    }
    if (tail)
      st = chunk(st, qv, bi, head, keyRowIdx, rpbRow, col, c(full * kc), tail);
    return st;
  }

  void query(Value bi, Value head, Value i, const Dim *row, Value j) {
    Dim col = window(j, g.w, g.kw, g.dw);
    Value scale = bcast(vecT, fc(g.scale));
    SmallVector<Value> qv;
    for (int64_t vi = 0; vi < nv; ++vi)
      qv.push_back(arith::MulFOp::create(
          b, loc, loadD(q, qkvIdx(bi, head, i, j, vi * vw), vi), scale));
    State st;
    st.m = fc(-FLT_MAX);
    st.l = fc(0.0f);
    st.acc.assign(nv, zeroVec());
    if (g.rank == 2) {
      auto r = loop(c(0), c(g.kh), c(1), st.pack(), [&](Value ti, ValueRange a) {
        Value pos = add(row->start, ti);
        Value keyRowIdx = add(mul(pos, g.dh), row->grp);
        Value rpbRow = sub(add(pos, g.kh - 1), row->idx);
        return keyRow(State::unpack(a), qv, bi, head, keyRowIdx, rpbRow, col)
            .pack();
      });
      st = State::unpack(r);
    } else {
      st = keyRow(st, qv, bi, head, Value(), Value(), col);
    }
    Value inv = arith::DivFOp::create(b, loc, fc(1.0f), st.l);
    Value invB = bcast(vecT, inv);
    for (int64_t vi = 0; vi < nv; ++vi) {
      Value o = arith::MulFOp::create(b, loc, st.acc[vi], invB);
      SmallVector<Value> idx = qkvIdx(bi, head, i, j, vi * vw);
      if (vi == nv - 1 && tailMask)
        maskedStore(o, out, idx, tailMask);
      else
        store(o, out, idx);
    }
  }

  /// Task t = ((b * HG + hg) * RT + rt) * CT + ct.
  void task(Value t) {
    int64_t qt = std::min(cfg.queryTile, g.w);
    int64_t qh = std::min(cfg.queryTileH, g.h);
    int64_t ct = (g.w + qt - 1) / qt, rt = (g.h + qh - 1) / qh;
    int64_t hg = g.heads / cfg.headsPerTask;
    Value ctI = remI(t, ct);
    Value rest = divI(t, ct);
    Value rtI = remI(rest, rt);
    rest = divI(rest, rt);
    Value hgI = remI(rest, hg);
    Value bi = divI(rest, hg);
    Value j0 = mul(ctI, qt);
    Value j1 = minSI(add(j0, qt), c(g.w));
    Value i0 = mul(rtI, qh);
    Value i1 = minSI(add(i0, qh), c(g.h));
    loop(c(0), c(cfg.headsPerTask), c(1), [&](Value hh) {
      Value head = add(mul(hgI, cfg.headsPerTask), hh);
      if (g.rank == 2) {
        loop(i0, i1, c(1), [&](Value i) {
          Dim row = window(i, g.h, g.kh, g.dh);
          loop(j0, j1, c(1),
               [&](Value j) { query(bi, head, i, &row, j); });
        });
      } else {
        loop(j0, j1, c(1),
             [&](Value j) { query(bi, head, Value(), nullptr, j); });
      }
    });
  }
};

} // namespace

namespace kjit::compiler {
LogicalResult generateWindowAttentionCpu(OpBuilder &b, Location loc,
                                         Operation *op, ValueRange inputs,
                                         ValueRange outputs, ConfigAttr config,
                                         const TargetInfo &target,
                                         std::string &reason) {
  auto wa = cast<WindowAttentionOp>(op);
  auto geomOr = getWaGeom(wa, reason);
  if (failed(geomOr))
    return failure();
  auto cfgOr = WaConfig::parse(config, defaultWaConfig(*geomOr, target),
                               reason);
  if (failed(cfgOr) || failed(checkWaConfig(*cfgOr, *geomOr, target, reason)))
    return failure();
  const WaGeom &g = *geomOr;
  WaGen gen(b, loc, *cfgOr, g, inputs[0], inputs[1], inputs[2],
            inputs.size() > 3 ? inputs[3] : Value(), outputs[0]);
  if (gen.tailLanes < gen.vw)
    gen.tailMask = gen.constMask(gen.tailLanes);
  int64_t total = cfgOr->tasks(g);
  if (total > 0)
    emitTaskLoop(b, loc, total, cfgOr->threads,
                 [&](Value t) { gen.task(t); });
  return success();
}
} // namespace kjit::compiler
