//===- WindowAttentionGPU.cpp - neighborhood attention on CUDA -----------===//
//
// Semantics exactly as WindowAttentionCPU.cpp (NATTEN): per spatial dim of
// size n, kernel k, dilation d, a query at i has group g = i mod d, position
// idx = i div d, group size n_g = ceil((n - g) / d);
//   non-causal: keys (start + t) d + g, t < k, start = clamp(idx - k/2, 0,
//               n_g - k) (shifted inward at the borders);
//   causal (1-D): keys (idx - t) d + g, t < min(idx + 1, k);
//   rpb index per dim (k - 1) + (key position - idx) in the group;
//   score = scale <q, key> (+ rpb); out = softmax(scores) . V (fp32).
//
// One block per (batch, head, tile of query_tile_h x query_tile queries);
// query qi of the tile belongs to thread qi mod threads. Shared memory:
// q and the output accumulators as [D][queries] (a thread's own column),
// the running max m and sum l per query, and with kv_stage = 1 one key row's
// K and V over the columns the tile's windows can reach ([cols][D + 1]).
// The block walks the key rows the tile can reach (block-uniform bounds):
// stage that row's K/V (all threads, coalesced along D), barrier; each
// thread, for each of its queries whose window holds the row, runs the
// online softmax (FlashAttention style) over that row's keys of its window:
//   m' = max(m, s); c = e^(m - m'); p = e^(s - m'); l = l c + p;
//   acc = acc c + p V;
// barrier. At the end out = acc / l. e^x is the hardware ex2 (approximate,
// ~2 ulp; the CPU kernel uses a polynomial of similar accuracy).
//
// vector_width = W > 1: every global access of q, K, V and out is W
// adjacent elements of D (vector<W x f32>, ld/st.global.v2/v4; W divides D,
// verifyConfig); shared memory is accessed per element. The sums keep the
// order of D, so every W gives the same results. The host takes the scalar
// kernel when a base pointer is not 4 W-byte aligned (dispatchVectorWidth).
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToGPU/GpuEmit.h"
#include "compiler/Conversion/KjitToGPU/GpuKernelGenerators.h"
#include "dialects/kjit/IR/AttentionTuning.h"

#include <cfloat>

using namespace mlir;
using namespace mlir::kjit;
using namespace ::kjit::compiler::gpuemit;

namespace kjit::compiler {
LogicalResult generateWindowAttentionGpu(
    OpBuilder &b, Location loc, Operation *op, ValueRange inputs,
    ValueRange outputs, ConfigAttr config, const TargetInfo &target,
    std::string &reason) {
  auto wa = dyn_cast<WindowAttentionOp>(op);
  if (!wa) {
    reason = "not a kjit.window_attention";
    return failure();
  }
  auto geom = getWaGeom(wa, reason);
  if (failed(geom))
    return failure();
  const WaGeom g = *geom;
  auto cfgOr =
      WaGpuConfig::parse(config, defaultWaGpuConfig(g, target), reason);
  if (failed(cfgOr) || failed(checkWaGpuConfig(*cfgOr, g, target, reason)))
    return failure();
  const WaGpuConfig cfg = *cfgOr;
  if (!allF32(llvm::to_vector(llvm::concat<Value>(inputs, outputs)), reason,
              "window attention"))
    return failure();
  Value qM = inputs[0], kM = inputs[1], vM = inputs[2];
  Value rpbM = inputs.size() > 3 ? inputs[3] : Value();
  Value outM = outputs[0];

  const int64_t TW = waGpuTileW(cfg, g), TH = waGpuTileH(cfg, g);
  const int64_t Q = TW * TH, D = g.d, T = cfg.threads;
  const int64_t tilesW = ceilDiv(g.w, TW), tilesH = ceilDiv(g.h, TH);
  const int64_t blocks = g.batch * g.heads * tilesH * tilesW;
  if (!gridFits(blocks, reason))
    return failure();
  const bool stage = cfg.kvStage != 0;
  const int64_t KC = waGpuKeyCols(cfg, g), KS = waGpuKeyStride(g);
  const int64_t offAcc = D * Q, offM = 2 * D * Q, offL = offM + Q,
                offK = offL + Q, offV = offK + KC * KS;
  const int64_t floats = waGpuSharedBytes(cfg, g) / 4;
  const bool twoD = g.rank == 2;

  Emit outer{b, loc};
  SmallVector<Value> vectorBufs = {qM, kM, vM, outM};
  dispatchVectorWidth(b, loc, cfg.vectorWidth, vectorBufs, [&](int64_t vw) {
  const int64_t DV = D / vw; // vectors per row of D
  launch1d(b, loc, blocks, T, {outer.sharedF32(floats)},
           [&](Emit &e, Value bx, Value tx, ValueRange wg) {
    Value s = wg.front();
    auto at = [&](int64_t off, Value i) { return e.add(i, off); };
    // Index of element (row, col, d) of a [B, heads, (H,) W, D] tensor.
    Value bi, head;
    auto idx = [&](Value row, Value col, Value d) -> SmallVector<Value> {
      if (twoD)
        return {bi, head, row, col, d};
      return {bi, head, col, d};
    };
    Value tw = e.rem(bx, tilesW);
    Value r1 = e.div(bx, tilesW);
    Value th = e.rem(r1, tilesH);
    Value r2 = e.div(r1, tilesH);
    head = e.rem(r2, g.heads);
    bi = e.div(r2, g.heads);
    Value i0 = e.mul(th, TH), j0 = e.mul(tw, TW);
    Value zero = e.c(0);

    // Query qi of the tile: its image position and validity.
    auto queryPos = [&](Value qi) {
      Value i = e.add(i0, e.div(qi, TW)), j = e.add(j0, e.rem(qi, TW));
      Value valid = e.band(e.lt(i, g.h), e.lt(j, g.w));
      return std::make_tuple(i, j, valid);
    };
    // Window of position p along a dim: group, idx in group, start.
    struct Win {
      Value grp, idx, start;
    };
    auto window = [&](Value p, int64_t n, int64_t k, int64_t d) {
      Win w;
      w.grp = e.rem(p, d);
      w.idx = e.div(p, d);
      Value ng = e.div(e.sub(e.c(n + d - 1), w.grp), d);
      w.start = e.minS(e.maxS(e.sub(w.idx, e.c(k / 2)), zero),
                       e.sub(ng, e.c(k)));
      return w;
    };

    // 0. q into shared memory ([D][Q]), accumulators 0, m = -max, l = 0.
    e.forLoop(tx, e.c(Q * DV), e.c(T), [&](Value o) {
      Value qi = e.div(o, DV), d = e.mul(e.rem(o, DV), vw);
      auto [i, j, valid] = queryPos(qi);
      auto v = e.guardedLoadLanes(valid, qM, idx(i, j, d), vw);
      for (int64_t l = 0; l < vw; ++l) {
        Value so = e.add(e.mul(e.add(d, l), Q), qi);
        e.store(v[l], s, {so});
        e.store(e.zeroF(), s, {at(offAcc, so)});
      }
    });
    e.forLoop(tx, e.c(Q), e.c(T), [&](Value qi) {
      e.store(e.f(-FLT_MAX), s, {at(offM, qi)});
      e.store(e.zeroF(), s, {at(offL, qi)});
    });
    e.barrier();

    // Key rows the tile reaches (block-uniform).
    Value rowLo = zero, rowHi = e.c(1);
    if (twoD) {
      if (g.dh == 1) {
        Value last = e.minS(e.add(i0, TH - 1), e.c(g.h - 1));
        rowLo = window(i0, g.h, g.kh, 1).start;
        rowHi = e.add(window(last, g.h, g.kh, 1).start, g.kh);
      } else {
        rowLo = e.maxS(e.sub(i0, e.c((g.kh - 1) * g.dh)), zero);
        rowHi = e.minS(e.add(i0, TH + (g.kh - 1) * g.dh), e.c(g.h));
      }
    }
    // Staged key columns [colLo, colLo + KC) clipped to the row.
    Value colLo = e.maxS(e.sub(j0, e.c((g.kw - 1) * g.dw)), zero);
    colLo = e.minS(colLo, e.c(g.w - KC));
    Value scale = e.f(g.scale);

    e.forLoop(rowLo, rowHi, e.c(1), [&](Value kr) {
      if (stage) {
        e.forLoop(tx, e.c(KC * DV), e.c(T), [&](Value o) {
          Value cc = e.div(o, DV), d = e.mul(e.rem(o, DV), vw);
          SmallVector<Value> gi = idx(kr, e.add(colLo, cc), d);
          Value so = e.add(e.mul(cc, KS), d);
          auto kl = e.loadLanes(kM, gi, vw);
          auto vl = e.loadLanes(vM, gi, vw);
          for (int64_t l = 0; l < vw; ++l) {
            e.store(kl[l], s, {at(offK + l, so)});
            e.store(vl[l], s, {at(offV + l, so)});
          }
        });
        e.barrier();
      }
      // Elements d .. d + vw - 1 of a key's K or V row.
      auto keyAt = [&](Value base, int64_t off, Value mem, Value col,
                       Value d) -> SmallVector<Value> {
        if (!stage)
          return e.loadLanes(mem, idx(kr, col, d), vw);
        SmallVector<Value> lanes;
        for (int64_t l = 0; l < vw; ++l)
          lanes.push_back(e.load(s, {e.add(e.add(base, d), off + l)}));
        return lanes;
      };
      e.forLoop(tx, e.c(Q), e.c(T), [&](Value qi) {
        auto [i, j, valid] = queryPos(qi);
        Value member = valid;
        Value rowOff; // rpb row index (2-D)
        if (twoD) {
          Win wr = window(i, g.h, g.kh, g.dh);
          Value rel = e.sub(kr, wr.grp);
          Value pos = e.div(e.maxS(rel, zero), g.dh);
          Value t = e.sub(pos, wr.start);
          Value onGrid = e.band(e.ge0(rel), e.eq(e.rem(e.maxS(rel, zero), g.dh),
                                                  zero));
          member = e.band(member, e.band(onGrid, e.band(e.ge0(t),
                                                        e.lt(t, g.kh))));
          rowOff = e.add(e.sub(pos, wr.idx), g.kh - 1);
        }
        e.ifThen(member, [&] {
          Win wc = window(j, g.w, g.kw, g.dw);
          Value nKeys = g.causal ? e.minS(e.add(wc.idx, 1), e.c(g.kw))
                                 : e.c(g.kw);
          Value m0 = e.load(s, {at(offM, qi)});
          Value l0 = e.load(s, {at(offL, qi)});
          auto ml = e.forLoop(
              zero, nKeys, e.c(1), ValueRange{m0, l0},
              [&](Value t, ValueRange a) -> SmallVector<Value> {
                Value kp = g.causal ? e.sub(wc.idx, t) : e.add(wc.start, t);
                Value col = e.add(e.mul(kp, g.dw), wc.grp);
                Value kbase = stage ? e.mul(e.sub(col, colLo), KS) : Value();
                Value dot = e.forLoop(
                    zero, e.c(D), e.c(vw), ValueRange{e.zeroF()},
                    [&](Value d, ValueRange acc) -> SmallVector<Value> {
                      auto kv = keyAt(kbase, offK, kM, col, d);
                      Value sum = acc[0];
                      for (int64_t l = 0; l < vw; ++l) {
                        Value qv =
                            e.load(s, {e.add(e.mul(e.add(d, l), Q), qi)});
                        sum = e.fma(qv, kv[l], sum);
                      }
                      return {sum};
                    })[0];
                Value sc = e.fmul(dot, scale);
                if (rpbM) {
                  Value colOff = e.add(e.sub(kp, wc.idx), g.kw - 1);
                  SmallVector<Value> ri = {head};
                  if (twoD)
                    ri.push_back(rowOff);
                  ri.push_back(colOff);
                  sc = e.fadd(sc, e.load(rpbM, ri));
                }
                Value m = a[0], l = a[1];
                Value mNew = e.fmax(m, sc);
                Value corr = e.exp(e.fsub(m, mNew));
                Value p = e.exp(e.fsub(sc, mNew));
                Value lNew = e.fadd(e.fmul(l, corr), p);
                e.forLoop(zero, e.c(D), e.c(vw), [&](Value d) {
                  auto vv = keyAt(kbase, offV, vM, col, d);
                  for (int64_t l = 0; l < vw; ++l) {
                    Value so =
                        e.add(e.add(e.mul(e.add(d, l), Q), qi), offAcc);
                    Value acc = e.load(s, {so});
                    e.store(e.fadd(e.fmul(acc, corr), e.fmul(p, vv[l])), s,
                            {so});
                  }
                });
                return {mNew, lNew};
              });
          e.store(ml[0], s, {at(offM, qi)});
          e.store(ml[1], s, {at(offL, qi)});
        });
      });
      if (stage)
        e.barrier();
    });
    if (!stage)
      e.barrier();

    // out = acc / l (coalesced along D).
    e.forLoop(tx, e.c(Q * DV), e.c(T), [&](Value o) {
      Value qi = e.div(o, DV), d = e.mul(e.rem(o, DV), vw);
      auto [i, j, valid] = queryPos(qi);
      e.ifThen(valid, [&] {
        Value l = e.load(s, {at(offL, qi)});
        SmallVector<Value> res;
        for (int64_t k = 0; k < vw; ++k) {
          Value acc =
              e.load(s, {at(offAcc, e.add(e.mul(e.add(d, k), Q), qi))});
          res.push_back(e.fdiv(acc, l));
        }
        e.storeLanes(res, outM, idx(i, j, d));
      });
    });
  });
  });
  return success();
}
} // namespace kjit::compiler
