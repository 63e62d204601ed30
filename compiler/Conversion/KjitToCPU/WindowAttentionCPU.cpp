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
// query_tile_h rows x query_tile columns of queries):
//
//   K of the rows and columns the tile's windows can reach (within
//   (k-1)*dil of a query) is copied per head into a scratch, transposed
//   to [row][D][column] with the columns of each dilation group together
//   (causal: k-1 zero columns before each group), so that the keys of one
//   window row are contiguous. The scratch is zeroed once per task: lanes
//   past a window read zeros, never uninitialized memory, and are masked.
//
//   Queries of a row run in blocks of query_block neighbours (interleaved
//   independent chains; they share the key rows of their window). For
//   each key row (or, when a row is one chunk of <= 8 keys in 2-D, each
//   pair of key rows packed in one 16-lane vector), each chunk of
//   key_chunk keys is one online-softmax update (FlashAttention style):
//     s  = scale * sum_d q[d] * KT[d][keys]   (keys in the lanes: D FMAs
//          of a broadcast q element, a few partial sums, no horizontal add)
//          + rpb (one vector load per row: its index is contiguous in keys)
//     m' = max(m, max(s)); c = exp(m - m'); p = exp(s - m');
//     l  = l*c + sum(p);   acc = acc*c + sum_j p_j * V_j
//   with m, l and the accumulators of every query of the block carried as
//   scf.for iter_args. exp is a vectorized Cephes-style polynomial (no libm
//   call) over the whole score vector; c rides in a spare lane of it when
//   the chunk leaves one. No attention matrix is materialized. At the end
//   out = acc / l. Tasks run on an OpenMP team when threads > 1.
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

int64_t ceilDivI(int64_t a, int64_t b) { return (a + b - 1) / b; }

class WaGen : public KernelEmitter {
public:
  WaGen(OpBuilder &b, Location loc, const WaConfig &cfg, const WaGeom &g,
        Value q, Value k, Value v, Value rpb, Value out)
      : KernelEmitter(b, loc, cfg.vectorWidth), cfg(cfg), g(g), q(q), k(k),
        v(v), rpb(rpb), out(out) {
    nv = (g.d + vw - 1) / vw;
    tailLanes = g.d - (nv - 1) * vw; // lanes of the last head-dim vector
    WaScratch s = waScratch(cfg, g);
    kc = s.keyChunk;
    sl = s.scoreLanes;
    pad = s.pad;
    gs = s.groupCols;
    cp = s.cols;
    rs = s.rows;
    sT = VectorType::get({sl}, f32);
    qb = std::max<int64_t>(1, cfg.queryBlock);
    np = std::clamp<int64_t>(ceilDivI(8, qb), 1, std::min<int64_t>(4, g.d));
  }

  WaConfig cfg;
  WaGeom g;
  Value q, k, v, rpb, out;
  int64_t nv = 1, tailLanes = 1;
  Value tailMask;
  // Scratch geometry (WaScratch): keys per chunk, score lanes, leading pad
  // columns per dilation group (causal), columns per group, row length,
  // rows; queries per register block; partial sums per score.
  int64_t kc = 1, sl = 4, pad = 0, gs = 1, cp = 16, rs = 1, qb = 1, np = 1;
  VectorType sT;
  Value kt;   ///< K transposed: [rows][D][cols], keys of a group contiguous
  Value pbuf; ///< probabilities of the current chunk, [qb][16]

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
  /// n = round(x log2 e) by the 1.5 * 2^23 trick: the FMA's rounding gives
  /// the nearest integer, whose low bits are n (also the exponent bits).
  Value vexp(Value x) {
    auto t = cast<VectorType>(x.getType());
    auto it = VectorType::get(t.getShape(), b.getI32Type());
    Value under = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x,
                                        splat(t, -87.3f));
    x = arith::MaxNumFOp::create(b, loc, x, splat(t, -87.3f));
    x = arith::MinNumFOp::create(b, loc, x, splat(t, 88.3f));
    Value magic = splat(t, 12582912.0f);
    Value tm = fma(x, splat(t, 1.44269504088896341f), magic);
    Value fn = arith::SubFOp::create(b, loc, tm, magic);
    Value r = fma(fn, splat(t, -0.693359375f), x);
    r = fma(fn, splat(t, 2.12194440e-4f), r);
    Value p = splat(t, 1.9875691500e-4f);
    for (float cst : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                      1.6666665459e-1f, 5.0000001201e-1f})
      p = fma(p, r, splat(t, cst));
    Value r2 = arith::MulFOp::create(b, loc, r, r);
    Value y = fma(p, r2, r);
    y = arith::AddFOp::create(b, loc, y, splat(t, 1.0f));
    Value e = arith::BitcastOp::create(b, loc, it, tm);
    e = arith::ShLIOp::create(b, loc, e, isplat(it, 23));
    e = arith::AddIOp::create(b, loc, e, isplat(it, 127 << 23));
    Value pow2 = arith::BitcastOp::create(b, loc, t, e);
    y = arith::MulFOp::create(b, loc, y, pow2);
    return arith::SelectOp::create(b, loc, under, splat(t, 0.0f), y);
  }

  // --- memory ------------------------------------------------------------
  SmallVector<Value> qkvIdx(Value bi, Value head, Value row, Value col,
                            Value d0) {
    if (g.rank == 2)
      return {bi, head, row, col, d0};
    return {bi, head, col, d0};
  }
  SmallVector<Value> qkvIdx(Value bi, Value head, Value row, Value col,
                            int64_t d0) {
    return qkvIdx(bi, head, row, col, c(d0));
  }
  Value loadD(Value mem, ArrayRef<Value> idx, int64_t vi) {
    return vi == nv - 1 && tailMask ? maskedLoad(mem, idx, tailMask)
                                    : load(mem, idx);
  }
  Value toI32(Value x) {
    return arith::IndexCastOp::create(b, loc, b.getI32Type(), x);
  }

  // --- windows -----------------------------------------------------------
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

  /// One query of a register block: its column window, where its keys
  /// start in a scratch row, and its online-softmax state.
  struct Query {
    Value col;   ///< query column (last spatial dim)
    Dim w;       ///< its column window
    Value base;  ///< scratch column of window key 0 (causal: of idx-k+1)
    Value first; ///< causal: position (in the group) of window key 0
  };
  struct State {
    Value m, l;
    SmallVector<Value> acc;
  };
  SmallVector<Value> pack(ArrayRef<State> sts) const {
    SmallVector<Value> r;
    for (const State &s : sts) {
      r.push_back(s.m);
      r.push_back(s.l);
      r.append(s.acc.begin(), s.acc.end());
    }
    return r;
  }
  SmallVector<State> unpack(ValueRange r, size_t n) const {
    SmallVector<State> sts(n);
    size_t at = 0;
    for (State &s : sts) {
      s.m = r[at++];
      s.l = r[at++];
      s.acc.assign(r.begin() + at, r.begin() + at + nv);
      at += nv;
    }
    return sts;
  }

  /// Lanes < cnt of a score vector (a constant mask).
  Value laneMask(int64_t cnt) {
    auto mT = VectorType::get({sl}, b.getI1Type());
    return vector::ConstantMaskOp::create(b, loc, mT, ArrayRef<int64_t>{cnt});
  }
  Value iotaI32() {
    auto it = VectorType::get({sl}, b.getI32Type());
    SmallVector<int32_t> lanes;
    for (int64_t i = 0; i < sl; ++i)
      lanes.push_back(int32_t(i));
    return arith::ConstantOp::create(b, loc, it,
                                     DenseIntElementsAttr::get(it, lanes));
  }

  /// A key row of the window as seen by one online-softmax update.
  struct Seg {
    Value ktRow, vRow, rpbRow;
  };

  /// One online-softmax update of every query of the block over `cnt`
  /// keys (window keys tj0 .. tj0+cnt-1) of each of `segs` key rows (one,
  /// or two rows of a narrow window packed in one 16-lane vector). Scores
  /// are vectors with the keys in lanes: s = sum_d q[d] * KT[d][base+tj0
  /// ...] (D FMAs with a broadcast q element, np partial sums), no
  /// horizontal adds.
  SmallVector<State> chunk(ArrayRef<State> sts, ArrayRef<Query> qs, Value bi,
                           Value head, Value qRow, ArrayRef<Seg> segs,
                           Value tj0, int64_t cnt) {
    size_t nq = qs.size(), ns = segs.size();
    int64_t lanes = sl * ns;
    auto uT = VectorType::get({lanes}, f32);
    SmallVector<Value> offs;
    for (const Query &qq : qs)
      offs.push_back(add(qq.base, tj0));
    // Scores, d outermost so the block's chains interleave.
    SmallVector<SmallVector<Value>> part(nq * ns, SmallVector<Value>(np));
    for (int64_t d = 0; d < g.d; ++d) {
      for (size_t qi = 0; qi < nq; ++qi) {
        Value qd = memref::LoadOp::create(
            b, loc, q, qkvIdx(bi, head, qRow, qs[qi].col, d));
        for (size_t si = 0; si < ns; ++si) {
          Value kv = vector::LoadOp::create(
              b, loc, sT, kt, ValueRange{segs[si].ktRow, c(d), offs[qi]});
          Value &acc = part[qi * ns + si][d % np];
          acc = acc ? fma(bcast(sT, qd), kv, acc)
                    : arith::MulFOp::create(b, loc, bcast(sT, qd), kv)
                          .getResult();
        }
      }
    }
    Value scaleV = splat(sT, g.scale);
    // Lanes holding a key: lane mod sl < cnt.
    Value fullMask;
    if (cnt < sl) {
      auto mT = VectorType::get({lanes}, b.getI1Type());
      SmallVector<bool> on;
      for (int64_t l = 0; l < lanes; ++l)
        on.push_back(l % sl < cnt);
      fullMask = arith::ConstantOp::create(
          b, loc, mT, DenseElementsAttr::get(mT, ArrayRef<bool>(on)));
    }
    SmallVector<State> nx(nq);
    for (size_t qi = 0; qi < nq; ++qi) {
      const Query &qq = qs[qi];
      SmallVector<Value> segScores;
      for (size_t si = 0; si < ns; ++si) {
        SmallVector<Value> ps;
        for (Value p : part[qi * ns + si])
          if (p)
            ps.push_back(p);
        while (ps.size() > 1) {
          SmallVector<Value> nxt;
          for (size_t i = 0; i + 1 < ps.size(); i += 2)
            nxt.push_back(arith::AddFOp::create(b, loc, ps[i], ps[i + 1]));
          if (ps.size() % 2)
            nxt.push_back(ps.back());
          ps = nxt;
        }
        Value s = arith::MulFOp::create(b, loc, ps[0], scaleV);
        if (rpb) {
          // rpb index (k-1) + (key - query) per dim: contiguous in lanes.
          Value off =
              g.causal ? tj0
                       : add(sub(add(qq.w.start, tj0), qq.w.idx), g.kw - 1);
          SmallVector<Value> ri = {head};
          if (g.rank == 2)
            ri.push_back(segs[si].rpbRow);
          ri.push_back(off);
          Value bias = vector::MaskedLoadOp::create(
              b, loc, sT, rpb, ri, laneMask(cnt), splat(sT, 0.0f));
          s = arith::AddFOp::create(b, loc, s, bias);
        }
        segScores.push_back(s);
      }
      Value s = segScores[0];
      if (ns == 2) {
        SmallVector<int64_t> idx;
        for (int64_t l = 0; l < lanes; ++l)
          idx.push_back(l);
        s = vector::ShuffleOp::create(b, loc, segScores[0], segScores[1], idx);
      }
      Value valid = fullMask;
      if (g.causal) {
        // key position first + tj0 + lane must be >= 0 (1-D: one segment).
        Value lo = toI32(sub(c(0), add(qq.first, tj0)));
        auto it = VectorType::get({sl}, b.getI32Type());
        valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                      iotaI32(), bcast(it, lo));
        if (fullMask)
          valid = arith::AndIOp::create(b, loc, valid, fullMask);
      }
      if (valid)
        s = arith::SelectOp::create(b, loc, valid, s, splat(uT, -FLT_MAX));
      const State &st = sts[qi];
      // No NaN handling in the max (a NaN score gives NaN either way):
      // a shuffle tree instead of a serial compare/select chain.
      Value cmax = vector::ReductionOp::create(
          b, loc, vector::CombiningKind::MAXNUMF, s,
          arith::FastMathFlags::nnan);
      Value mNew =
          arith::MaxNumFOp::create(b, loc, st.m, cmax, arith::FastMathFlags::nnan);
      // corr = exp(m - m') rides in a spare lane (lane cnt) of the score
      // vector's exp when there is one, else a 1-lane exp.
      bool spare = cnt < sl;
      Value x = s;
      if (spare) {
        auto mT = VectorType::get({lanes}, b.getI1Type());
        SmallVector<bool> on(lanes, false);
        on[cnt] = true;
        Value isCorr = arith::ConstantOp::create(
            b, loc, mT, DenseElementsAttr::get(mT, ArrayRef<bool>(on)));
        x = arith::SelectOp::create(b, loc, isCorr, bcast(uT, st.m), s);
      }
      Value e = vexp(arith::SubFOp::create(b, loc, x, bcast(uT, mNew)));
      Value corr;
      if (spare) {
        corr = vector::ExtractOp::create(b, loc, e, ArrayRef<int64_t>{cnt});
      } else {
        auto oneT = VectorType::get({1}, f32);
        Value corrV = vexp(arith::SubFOp::create(b, loc, bcast(oneT, st.m),
                                                 bcast(oneT, mNew)));
        corr = vector::ExtractOp::create(b, loc, corrV, ArrayRef<int64_t>{0});
      }
      // Lanes past the chunk (the corr lane) and masked keys (causal: all
      // keys so far masked gives m' = -FLT_MAX and exp(0) = 1) are 0.
      Value p = valid ? arith::SelectOp::create(b, loc, valid, e,
                                                splat(uT, 0.0f))
                            .getResult()
                      : e;
      Value psum = vector::ReductionOp::create(
          b, loc, vector::CombiningKind::ADD, p, arith::FastMathFlags::reassoc);
      nx[qi].m = mNew;
      nx[qi].l = arith::AddFOp::create(
          b, loc, arith::MulFOp::create(b, loc, st.l, corr), psum);
      Value corrB = bcast(vecT, corr);
      for (int64_t vi = 0; vi < nv; ++vi)
        nx[qi].acc.push_back(arith::MulFOp::create(b, loc, st.acc[vi], corrB));
      vector::StoreOp::create(b, loc, p, pbuf, ValueRange{c(qi), c(0)});
      for (size_t si = 0; si < ns; ++si) {
        for (int64_t j = 0; j < cnt; ++j) {
          Value pj = bcast(vecT, memref::LoadOp::create(
                                     b, loc, pbuf,
                                     ValueRange{c(qi), c(si * sl + j)}));
          Value pos = g.causal ? maxSI(add(add(qq.first, tj0), j), c(0))
                               : add(add(qq.w.start, tj0), j);
          Value kcol = add(mul(pos, g.dw), qq.w.grp);
          for (int64_t vi = 0; vi < nv; ++vi) {
            Value vv =
                loadD(v, qkvIdx(bi, head, segs[si].vRow, kcol, vi * vw), vi);
            nx[qi].acc[vi] = fma(pj, vv, nx[qi].acc[vi]);
          }
        }
      }
    }
    return nx;
  }

  /// One key row of the window (or two, packed): full chunks in a loop,
  /// the tail unrolled.
  SmallVector<State> keyRow(SmallVector<State> sts, ArrayRef<Query> qs,
                            Value bi, Value head, Value qRow,
                            ArrayRef<Seg> segs) {
    int64_t full = g.kw / kc, tail = g.kw % kc;
    size_t nq = qs.size();
    if (full == 1) {
      sts = chunk(sts, qs, bi, head, qRow, segs, c(0), kc);
    } else if (full > 1) {
      auto r = loop(c(0), c(full * kc), c(kc), pack(sts),
                    [&](Value tj0, ValueRange a) {
                      return pack(chunk(unpack(a, nq), qs, bi, head, qRow,
                                        segs, tj0, kc));
                    });
      sts = unpack(r, nq);
    }
    if (tail)
      sts = chunk(sts, qs, bi, head, qRow, segs, c(full * kc), tail);
    return sts;
  }

  /// Two key rows per online-softmax update: 2-D, one chunk per row, and
  /// two rows' score vectors fit 16 lanes.
  bool pairRows() const {
    return g.rank == 2 && g.kh >= 2 && kc == g.kw && 2 * sl <= 16;
  }

  /// `n` queries of row i (2-D) at columns j, j+1, ..., j+n-1: they share
  /// the key rows of their window and run interleaved.
  void queries(Value bi, Value head, Value i, const Dim *row, Value rlo,
               Value j, int64_t n) {
    SmallVector<Query> qs;
    for (int64_t x = 0; x < n; ++x) {
      Query qq;
      qq.col = add(j, x);
      qq.w = window(qq.col, g.w, g.kw, g.dw);
      Value grpBase = add(mul(qq.w.grp, gs), pad);
      if (g.causal) {
        qq.first = sub(qq.w.idx, c(g.kw - 1));
        qq.base = add(grpBase, qq.first);
      } else {
        qq.base = add(grpBase, qq.w.start);
      }
      qs.push_back(qq);
    }
    SmallVector<State> sts(n);
    for (State &st : sts) {
      st.m = fc(-FLT_MAX);
      st.l = fc(0.0f);
      st.acc.assign(nv, zeroVec());
    }
    if (g.rank == 2) {
      auto seg = [&](Value ti) {
        Value pos = add(row->start, ti);
        Value keyRowIdx = add(mul(pos, g.dh), row->grp);
        return Seg{sub(keyRowIdx, rlo), keyRowIdx,
                   sub(add(pos, g.kh - 1), row->idx)};
      };
      // A narrow window (one chunk of <= 8 keys per row): two key rows
      // per update, in one 16-lane score vector.
      int64_t step = pairRows() ? 2 : 1;
      int64_t mainRows = g.kh / step * step;
      auto r = loop(c(0), c(mainRows), c(step), pack(sts),
                    [&](Value ti, ValueRange a) {
                      SmallVector<Seg> segs = {seg(ti)};
                      if (step == 2)
                        segs.push_back(seg(add(ti, 1)));
                      return pack(keyRow(unpack(a, n), qs, bi, head, i, segs));
                    });
      sts = unpack(r, n);
      if (mainRows < g.kh)
        sts = keyRow(sts, qs, bi, head, i, {seg(c(mainRows))});
    } else {
      sts = keyRow(sts, qs, bi, head, Value(), {Seg{c(0), Value(), Value()}});
    }
    for (int64_t x = 0; x < n; ++x) {
      Value inv = arith::DivFOp::create(b, loc, fc(1.0f), sts[x].l);
      Value invB = bcast(vecT, inv);
      for (int64_t vi = 0; vi < nv; ++vi) {
        Value o = arith::MulFOp::create(b, loc, sts[x].acc[vi], invB);
        SmallVector<Value> idx = qkvIdx(bi, head, i, qs[x].col, vi * vw);
        if (vi == nv - 1 && tailMask)
          maskedStore(o, out, idx, tailMask);
        else
          store(o, out, idx);
      }
    }
  }

  /// Copies K rows [rlo, rhi) x columns [clo, chi) of one head into the
  /// scratch, transposed: kt[r - rlo][d][(c mod dw)*gs + pad + c div dw].
  void transposeK(Value bi, Value head, Value rlo, Value rhi, Value clo,
                  Value chi) {
    auto body = [&](Value r) {
      loop(clo, chi, c(1), [&](Value col) {
        Value sc = add(add(mul(remI(col, g.dw), gs), pad), divI(col, g.dw));
        Value ktRow = g.rank == 2 ? sub(r, rlo) : c(0);
        auto one = [&](Value d) {
          Value x = memref::LoadOp::create(b, loc, k,
                                           qkvIdx(bi, head, r, col, d));
          memref::StoreOp::create(b, loc, x, kt, ValueRange{ktRow, d, sc});
        };
        if (g.d <= 64)
          for (int64_t d = 0; d < g.d; ++d)
            one(c(d));
        else
          loop(c(0), c(g.d), c(1), one);
      });
    };
    if (g.rank == 2)
      loop(rlo, rhi, c(1), body);
    else
      body(Value());
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
    // Every key of a query lies within (k-1)*dil of it (its window is k
    // consecutive positions of its group and contains it).
    Value rlo = maxSI(sub(i0, c((g.kh - 1) * g.dh)), c(0));
    Value rhi = minSI(add(i1, (g.kh - 1) * g.dh), c(g.h));
    Value clo = maxSI(sub(j0, c((g.kw - 1) * g.dw)), c(0));
    Value chi = minSI(add(j1, (g.kw - 1) * g.dw), c(g.w));

    kt = memref::AllocOp::create(b, loc, MemRefType::get({rs, g.d, cp}, f32),
                                 b.getI64IntegerAttr(64));
    pbuf = memref::AllocOp::create(b, loc, MemRefType::get({qb, 16}, f32),
                                   b.getI64IntegerAttr(64));
    // Zero the scratch once: lanes past a window read padding, never
    // uninitialized memory.
    auto zT = VectorType::get({16}, f32);
    Value z16 = splat(zT, 0.0f);
    loop(c(0), c(rs), c(1), [&](Value r) {
      loop(c(0), c(g.d), c(1), [&](Value d) {
        loop(c(0), c(cp), c(16), [&](Value x) {
          vector::StoreOp::create(b, loc, z16, kt, ValueRange{r, d, x});
        });
      });
    });
    loop(c(0), c(cfg.headsPerTask), c(1), [&](Value hh) {
      Value head = add(mul(hgI, cfg.headsPerTask), hh);
      transposeK(bi, head, rlo, rhi, clo, chi);
      auto rowBody = [&](Value i, const Dim *row) {
        if (qb > 1) {
          Value nb = arith::DivUIOp::create(b, loc, sub(j1, j0), c(qb));
          Value jEnd = add(j0, arith::MulIOp::create(b, loc, nb, c(qb)));
          loop(j0, jEnd, c(qb),
               [&](Value j) { queries(bi, head, i, row, rlo, j, qb); });
          loop(jEnd, j1, c(1),
               [&](Value j) { queries(bi, head, i, row, rlo, j, 1); });
        } else {
          loop(j0, j1, c(1),
               [&](Value j) { queries(bi, head, i, row, rlo, j, 1); });
        }
      };
      if (g.rank == 2) {
        loop(i0, i1, c(1), [&](Value i) {
          Dim row = window(i, g.h, g.kh, g.dh);
          rowBody(i, &row);
        });
      } else {
        rowBody(Value(), nullptr);
      }
    });
    memref::DeallocOp::create(b, loc, kt);
    memref::DeallocOp::create(b, loc, pbuf);
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
