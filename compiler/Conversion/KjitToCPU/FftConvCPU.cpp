//===- FftConvCPU.cpp - causal long convolution through radix-2^r FFTs ---===//
//
// y[b,c,t] = sum_{s <= min(t, Lk-1)} k[c,s] u[b,c,t-s] + d[c] u[b,c,t]
// (ARCHITECTURE.md, kjit.fft_conv), computed as a circular convolution of
// size N = 2^m >= max(16, L + Lk - 1), so no output sees a wrapped term.
//
// A row is a complex array in split form (re[N], im[N], per-task scratch).
// The transforms never permute:
//
//   forward  = decimation in frequency (natural order in, bit-reversed out),
//              twiddle after the difference: x[j] = a + b, x[j+h] = (a-b) W;
//   product  = pointwise, in the forward's output order (the kernel's
//              spectrum was computed by the same code, so it is in the same
//              order, and it is pre-scaled by 1/N);
//   inverse  = decimation in time with conjugate twiddles (bit-reversed in,
//              natural out): b' = b conj(W), x[j] = a + b', x[j+h] = a - b'.
//
// Stages with half-size h >= vector_width run vectorized across butterflies
// (vw consecutive butterflies per vector, twiddles loaded from a per-stage
// table tw[h + i] = W_{2h}^i); `radix` 2^r fuses r consecutive stages into
// one pass over the row (2^r complex vectors live in registers). The last
// log2(vw) stages work on vw x vw blocks: the block is loaded as vw vectors
// and transposed, after which a butterfly of half h < vw is between vectors
// l and l + h of the block with a compile-time twiddle (a splat constant).
// Forward small stages, the product with the spectrum (kept in that
// transposed block order) and the inverse small stages run in one visit of
// the block; it is transposed back once.
//
// Twiddles: no sin/cos at run time. The top stage's table W_N^i, i < N/2,
// is built at the start of each call from two small float64 tables (a
// memref.global, ~2 sqrt(N) entries each: W_N^(aS) and W_N^b, i = aS + b)
// with one complex product in float64; the lower stages' tables are
// decimations of it (W_{2h}^i = W_N^(i N / 2h)).
//
// Per call: the twiddle tables; the spectra of the C kernels (tasks over
// channels); then tasks of rows_per_task rows (b, c) over the threads: load
// u (zero-padded), forward big stages, block pass, inverse big stages, and
// y = re + d u on the first L points. Tasks run on an OpenMP team when
// threads > 1 (emitTaskLoop).
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToCPU/EmitHelpers.h"
#include "compiler/Conversion/KjitToCPU/KernelGenerators.h"

#include "dialects/kjit/IR/LongConvTuning.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <cmath>
#include <cstring>
#include <map>

using namespace mlir;
using namespace mlir::kjit;
using ::kjit::compiler::emitTaskLoop;
using ::kjit::compiler::KernelEmitter;

namespace {

int64_t log2i(int64_t v) {
  int64_t r = 0;
  while ((int64_t(1) << r) < v)
    ++r;
  return r;
}

struct Cx {
  Value re, im;
};

class FftGen : public KernelEmitter {
public:
  FftGen(OpBuilder &b, Location loc, const FftConfig &cfg, const FftGeom &g,
         Value u, Value k, Value d, Value y)
      : KernelEmitter(b, loc, cfg.vectorWidth), cfg(cfg), g(g), u(u), k(k),
        d(d), y(y) {
    n = g.n;
    logVw = log2i(vw);
    rlog = log2i(cfg.radix);
  }

  FftConfig cfg;
  FftGeom g;
  Value u, k, d, y;
  int64_t n = 0, logVw = 0, rlog = 1;
  Value twRe, twIm, specRe, specIm;
  llvm::DenseMap<uint32_t, Value> fconsts;

  // --- float helpers -----------------------------------------------------
  /// A splat f32 vector constant, hoisted to the kernel's entry block.
  Value fv(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    auto it = fconsts.find(bits);
    if (it != fconsts.end())
      return it->second;
    OpBuilder::InsertionGuard gd(b);
    b.setInsertionPointToStart(entry);
    Value cst = arith::ConstantOp::create(
        b, loc, vecT, DenseElementsAttr::get(vecT, b.getF32FloatAttr(v)));
    fconsts[bits] = cst;
    return cst;
  }
  Value addf(Value a, Value c) { return arith::AddFOp::create(b, loc, a, c); }
  Value subf(Value a, Value c) { return arith::SubFOp::create(b, loc, a, c); }
  Value mulf(Value a, Value c) { return arith::MulFOp::create(b, loc, a, c); }
  Value negf(Value a) { return arith::NegFOp::create(b, loc, a); }
  Value fma(Value a, Value c, Value acc) {
    return vector::FMAOp::create(b, loc, a, c, acc);
  }
  /// a * w.
  Cx cmul(Cx a, Cx w) {
    return {fma(a.re, w.re, negf(mulf(a.im, w.im))),
            fma(a.re, w.im, mulf(a.im, w.re))};
  }
  /// a * conj(w).
  Cx cmulConj(Cx a, Cx w) {
    return {fma(a.re, w.re, mulf(a.im, w.im)),
            fma(a.im, w.re, negf(mulf(a.re, w.im)))};
  }
  Cx cadd(Cx a, Cx c) { return {addf(a.re, c.re), addf(a.im, c.im)}; }
  Cx csub(Cx a, Cx c) { return {subf(a.re, c.re), subf(a.im, c.im)}; }
  /// W_{2h}^j = exp(-2 pi i j / 2h) as splat constants.
  Cx constTwiddle(int64_t j, int64_t h) {
    double ang = M_PI * double(j) / double(h);
    return {fv((float)std::cos(ang)), fv((float)-std::sin(ang))};
  }
  Cx loadCx(Value re, Value im, ValueRange idx) {
    return {load(re, idx), load(im, idx)};
  }
  void storeCx(Cx v, Value re, Value im, ValueRange idx) {
    store(v.re, re, idx);
    store(v.im, im, idx);
  }

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

  // --- twiddle tables ------------------------------------------------------

  /// twRe/twIm[h + i] = W_{2h}^i for every stage h >= vw, built per call.
  void emitTwiddles() {
    int64_t m = n / 2;
    int64_t lo = (log2i(m) + 1) / 2;
    int64_t S = int64_t(1) << lo, A = m / S;
    SmallVector<double> data(2 * A + 2 * S);
    for (int64_t a = 0; a < A; ++a) {
      double ang = 2.0 * M_PI * double(a * S) / double(n);
      data[a] = std::cos(ang);
      data[A + a] = -std::sin(ang);
    }
    for (int64_t i = 0; i < S; ++i) {
      double ang = 2.0 * M_PI * double(i) / double(n);
      data[2 * A + i] = std::cos(ang);
      data[2 * A + S + i] = -std::sin(ang);
    }
    auto f64 = b.getF64Type();
    auto gType = MemRefType::get({(int64_t)data.size()}, f64);
    Operation *parent = entry->getParentOp();
    auto fn = dyn_cast<func::FuncOp>(parent);
    if (!fn)
      fn = parent->getParentOfType<func::FuncOp>();
    auto module = fn->getParentOfType<ModuleOp>();
    std::string name = (fn.getSymName() + "__fft_twiddles").str();
    if (!module.lookupSymbol(name)) {
      OpBuilder mb(module.getBodyRegion());
      auto tensorT = RankedTensorType::get(gType.getShape(), f64);
      memref::GlobalOp::create(
          mb, loc, name, mb.getStringAttr("private"), gType,
          DenseElementsAttr::get(tensorT, ArrayRef<double>(data)),
          /*constant=*/true, mb.getI64IntegerAttr(64));
    }
    Value tab = memref::GetGlobalOp::create(b, loc, gType, name);
    twRe = alloc({n});
    twIm = alloc({n});
    auto ld = [&](Value idx) -> Value {
      return memref::LoadOp::create(b, loc, tab, ValueRange{idx});
    };
    auto st = [&](Value v, Value mem, Value idx) {
      memref::StoreOp::create(b, loc, v, mem, ValueRange{idx});
    };
    loop(c(0), c(A), c(1), [&](Value a) {
      Value ar = ld(a), ai = ld(add(a, A));
      loop(c(0), c(S), c(1), [&](Value i) {
        Value br = ld(add(i, 2 * A)), bi = ld(add(i, 2 * A + S));
        Value re = arith::SubFOp::create(
            b, loc, arith::MulFOp::create(b, loc, ar, br),
            arith::MulFOp::create(b, loc, ai, bi));
        Value im = arith::AddFOp::create(
            b, loc, arith::MulFOp::create(b, loc, ar, bi),
            arith::MulFOp::create(b, loc, ai, br));
        Value idx = add(add(mul(a, S), i), m);
        st(arith::TruncFOp::create(b, loc, f32, re), twRe, idx);
        st(arith::TruncFOp::create(b, loc, f32, im), twIm, idx);
      });
    });
    for (int64_t h = n / 4; h >= vw; h /= 2) {
      loop(c(0), c(h), c(1), [&](Value i) {
        Value from = add(mul(i, 2), 2 * h), to = add(i, h);
        for (Value t : {twRe, twIm})
          st(memref::LoadOp::create(b, loc, t, ValueRange{from}), t, to);
      });
    }
  }

  // --- passes over one row -------------------------------------------------

  /// One pass of r fused stages over re/im: halves s << (r-1) .. s (DIF,
  /// descending) or s .. s << (r-1) (DIT, ascending).
  void bigPass(Value re, Value im, int64_t s, int64_t r, bool inverse) {
    int64_t top = s << (r - 1), cnt = int64_t(1) << r;
    loop(c(0), c(n), c(2 * top), [&](Value j0) {
      loop(c(0), c(s), c(vw), [&](Value i) {
        Value base = add(j0, i);
        SmallVector<Cx> x;
        for (int64_t m = 0; m < cnt; ++m)
          x.push_back(loadCx(re, im, {add(base, m * s)}));
        std::map<std::pair<int64_t, int64_t>, Cx> tws;
        auto tw = [&](int64_t t, int64_t res) {
          auto key = std::make_pair(t, res);
          auto it = tws.find(key);
          if (it != tws.end())
            return it->second;
          Value idx = add(i, (s << t) + res * s);
          Cx w = loadCx(twRe, twIm, {idx});
          tws[key] = w;
          return w;
        };
        for (int64_t step = 0; step < r; ++step) {
          int64_t t = inverse ? step : r - 1 - step;
          int64_t bit = int64_t(1) << t;
          for (int64_t m = 0; m < cnt; ++m) {
            if (m & bit)
              continue;
            Cx a = x[m], bb = x[m + bit];
            Cx w = tw(t, m % bit);
            if (!inverse) {
              x[m] = cadd(a, bb);
              x[m + bit] = cmul(csub(a, bb), w);
            } else {
              Cx bw = cmulConj(bb, w);
              x[m] = cadd(a, bw);
              x[m + bit] = csub(a, bw);
            }
          }
        }
        for (int64_t m = 0; m < cnt; ++m)
          storeCx(x[m], re, im, {add(base, m * s)});
      });
    });
  }

  /// Forward stages with half >= vw (DIF, from N/2 down).
  void forwardBig(Value re, Value im) {
    int64_t h = n / 2;
    while (h >= vw) {
      int64_t r = std::min(rlog, log2i(h) - logVw + 1);
      int64_t s = h >> (r - 1);
      bigPass(re, im, s, r, /*inverse=*/false);
      h = s / 2;
    }
  }

  /// Inverse stages with half >= vw (DIT, from vw up).
  void inverseBig(Value re, Value im) {
    int64_t s = vw;
    while (s <= n / 2) {
      int64_t r = std::min(rlog, log2i(n / 2) - log2i(s) + 1);
      bigPass(re, im, s, r, /*inverse=*/true);
      s <<= r;
    }
  }

  /// The last log2(vw) forward stages on transposed vw x vw blocks. With
  /// `spectrum`, the result / N goes to spec[ch] (the kernel's spectrum);
  /// otherwise it is multiplied by spec[ch], the inverse small stages run
  /// and the block is transposed back into re/im.
  void blockPass(Value re, Value im, Value ch, bool spectrum) {
    int64_t blk = vw * vw;
    loop(c(0), c(n), c(blk), [&](Value base) {
      SmallVector<Value> rr, ii;
      for (int64_t l = 0; l < vw; ++l) {
        rr.push_back(load(re, {add(base, l * vw)}));
        ii.push_back(load(im, {add(base, l * vw)}));
      }
      SmallVector<Value> tr = transpose(rr), ti = transpose(ii);
      SmallVector<Cx> x;
      for (int64_t l = 0; l < vw; ++l)
        x.push_back({tr[l], ti[l]});
      for (int64_t h = vw / 2; h >= 1; h /= 2)
        for (int64_t l = 0; l < vw; ++l) {
          if (l & h)
            continue;
          Cx a = x[l], bb = x[l + h];
          int64_t j = l & (h - 1);
          x[l] = cadd(a, bb);
          Cx dif = csub(a, bb);
          x[l + h] = j == 0 ? dif : cmul(dif, constTwiddle(j, h));
        }
      if (spectrum) {
        Value scale = fv(1.0f / float(n));
        for (int64_t l = 0; l < vw; ++l) {
          Value idx = add(base, l * vw);
          store(mulf(x[l].re, scale), specRe, {ch, idx});
          store(mulf(x[l].im, scale), specIm, {ch, idx});
        }
        return;
      }
      for (int64_t l = 0; l < vw; ++l)
        x[l] = cmul(x[l], loadCx(specRe, specIm, {ch, add(base, l * vw)}));
      for (int64_t h = 1; h < vw; h *= 2)
        for (int64_t l = 0; l < vw; ++l) {
          if (l & h)
            continue;
          Cx a = x[l], bb = x[l + h];
          int64_t j = l & (h - 1);
          Cx bw = j == 0 ? bb : cmulConj(bb, constTwiddle(j, h));
          x[l] = cadd(a, bw);
          x[l + h] = csub(a, bw);
        }
      SmallVector<Value> xr, xi;
      for (int64_t l = 0; l < vw; ++l) {
        xr.push_back(x[l].re);
        xi.push_back(x[l].im);
      }
      SmallVector<Value> orr = transpose(xr), oi = transpose(xi);
      for (int64_t l = 0; l < vw; ++l) {
        store(orr[l], re, {add(base, l * vw)});
        store(oi[l], im, {add(base, l * vw)});
      }
    });
  }

  /// re = src[prefix.., 0..len) zero-padded to N; im = 0.
  void fillRow(Value re, Value im, Value src, SmallVector<Value> prefix,
               int64_t len) {
    auto at = [&](Value t) {
      SmallVector<Value> idx = prefix;
      idx.push_back(t);
      return idx;
    };
    int64_t full = len / vw * vw, tail = len % vw;
    if (full > 0)
      loop(c(0), c(full), c(vw), [&](Value t) {
        store(load(src, at(t)), re, {t});
        store(zeroVec(), im, {t});
      });
    int64_t zeroFrom = full;
    if (tail) {
      store(maskedLoad(src, at(c(full)), constMask(tail)), re, {c(full)});
      store(zeroVec(), im, {c(full)});
      zeroFrom += vw;
    }
    if (zeroFrom < n)
      loop(c(zeroFrom), c(n), c(vw), [&](Value t) {
        store(zeroVec(), re, {t});
        store(zeroVec(), im, {t});
      });
  }

  /// y[bi, ci, 0..L) = re + d[ci] u[bi, ci, ..].
  void writeRow(Value re, Value bi, Value ci) {
    Value dv;
    if (d)
      dv = vector::BroadcastOp::create(
          b, loc, vecT, memref::LoadOp::create(b, loc, d, ValueRange{ci}));
    int64_t full = g.l / vw * vw, tail = g.l % vw;
    auto one = [&](Value t, Value mask) {
      Value v = load(re, {t});
      if (dv) {
        Value uv = mask ? maskedLoad(u, {bi, ci, t}, mask) : load(u, {bi, ci, t});
        v = fma(dv, uv, v);
      }
      if (mask)
        maskedStore(v, y, {bi, ci, t}, mask);
      else
        store(v, y, {bi, ci, t});
    };
    if (full > 0)
      loop(c(0), c(full), c(vw), [&](Value t) { one(t, Value()); });
    if (tail)
      one(c(full), constMask(tail));
  }

  // --- the kernel ----------------------------------------------------------

  void emit() {
    emitTwiddles();
    specRe = alloc({g.c, n});
    specIm = alloc({g.c, n});
    // The kernels' spectra, one channel per task.
    emitTaskLoop(b, loc, g.c, cfg.threads, [&](Value ch) {
      Value re = alloc({n}), im = alloc({n});
      fillRow(re, im, k, {ch}, g.lk);
      forwardBig(re, im);
      blockPass(re, im, ch, /*spectrum=*/true);
      dealloc(im);
      dealloc(re);
    });
    int64_t rows = g.rows(), rpt = cfg.rowsPerTask;
    int64_t tasks = (rows + rpt - 1) / rpt;
    emitTaskLoop(b, loc, tasks, cfg.threads, [&](Value t) {
      Value re = alloc({n}), im = alloc({n});
      Value r0 = mul(t, rpt);
      Value r1 = rows % rpt ? minI(add(r0, rpt), c(rows)) : add(r0, rpt);
      loop(r0, r1, c(1), [&](Value row) {
        Value bi = divI(row, g.c), ci = remI(row, g.c);
        fillRow(re, im, u, {bi, ci}, g.l);
        forwardBig(re, im);
        blockPass(re, im, ci, /*spectrum=*/false);
        inverseBig(re, im);
        writeRow(re, bi, ci);
      });
      dealloc(im);
      dealloc(re);
    });
    dealloc(specIm);
    dealloc(specRe);
    dealloc(twIm);
    dealloc(twRe);
  }
};

} // namespace

namespace kjit::compiler {
LogicalResult generateFftConvCpu(OpBuilder &b, Location loc, Operation *op,
                                 ValueRange inputs, ValueRange outputs,
                                 ConfigAttr config, const TargetInfo &target,
                                 std::string &reason) {
  auto geom = getFftGeom(op, reason);
  if (failed(geom))
    return failure();
  auto cfg = FftConfig::parse(config, defaultFftConfig(*geom, target), reason);
  if (failed(cfg) || failed(checkFftConfig(*cfg, *geom, target, reason)))
    return failure();
  if (geom->b == 0 || geom->c == 0 || geom->l == 0)
    return success();
  FftGen gen(b, loc, *cfg, *geom, inputs[0], inputs[1],
             inputs.size() > 2 ? inputs[2] : Value(), outputs[0]);
  gen.emit();
  return success();
}
} // namespace kjit::compiler
