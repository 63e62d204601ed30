//===- FftConvGPU.cpp - causal long convolution through FFTs on CUDA -----===//
//
// y[b,c,t] = sum_{s <= min(t, Lk-1)} k[c,s] u[b,c,t-s] + d[c] u[b,c,t]
// as a circular convolution of size N = 2^m >= max(16, L + Lk - 1) (no
// output sees a wrapped term), per row (b, c):
//
//   z = u + i k (both real, zero-padded to N), one complex FFT Z = F z
//   (decimation in frequency: natural order in, bit-reversed out); then
//   U[f] = (Z[f] + conj Z[N-f]) / 2, K[f] = (Z[f] - conj Z[N-f]) / 2i, and
//   Y[f] = U[f] K[f], Y[N-f] = conj Y[f] (real signals), written at the
//   bit-reversed positions of f and N - f by the thread of the smaller one;
//   the inverse (decimation in time, conjugate twiddles: bit-reversed in,
//   natural out); y = Re / N + d u on the first L points.
//
// One kernel FFT per row instead of one per channel costs one more FFT's
// worth of work than the CPU scheme but needs no spectrum buffer.
//
// Stages: radix 2 (one butterfly a, b -> a + b, (a - b) W per work item) or
// radix 4 (two consecutive radix-2 stages on four elements in registers per
// work item, half the barriers / passes). Twiddles W_N^k = e^(-2 pi i k / N)
// come from two small constant tables (a memref.global, ~2 sqrt(N) entries:
// W^(aS) and W^b for k = aS + b, computed in float64 at compile time) and
// one complex product: no sin/cos, no libdevice.
//
// N <= smem_fft: one block per row, the row (2 N floats) in shared memory,
// a barrier between passes. Larger N: a device scratch buffer (gpu.alloc,
// rows x 2N floats) and one launch per pass over all rows (load, forward
// passes, product, inverse passes, store).
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToGPU/GpuEmit.h"
#include "compiler/Conversion/KjitToGPU/GpuKernelGenerators.h"
#include "dialects/kjit/IR/LongConvTuning.h"

#include "mlir/IR/BuiltinOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::kjit;
using namespace ::kjit::compiler::gpuemit;

namespace {

/// The twiddle table of size n: [coarse cos | coarse sin | fine cos | fine
/// sin], coarse[a] = angle 2 pi a S / n, fine[b] = angle 2 pi b / n.
struct Twiddles {
  int64_t n = 0, sBits = 0, coarse = 0, fine = 0;
  std::string name;
  memref::GlobalOp global;
};

FailureOr<Twiddles> getTwiddles(OpBuilder &b, Location loc, int64_t n,
                                std::string &reason) {
  Twiddles t;
  t.n = n;
  int64_t half = n / 2, bits = 0;
  while ((int64_t(1) << bits) < half)
    ++bits;
  t.sBits = (bits + 1) / 2;
  t.fine = int64_t(1) << t.sBits;
  t.coarse = std::max<int64_t>(1, ceilDiv(half, t.fine));
  t.name = "kjit_fft_twiddles_" + std::to_string(n);
  Operation *at = b.getInsertionBlock()->getParentOp();
  auto module = at ? at->getParentOfType<ModuleOp>() : ModuleOp();
  if (!module) {
    reason = "internal error: the kernel is not inside a module";
    return failure();
  }
  if (auto g = module.lookupSymbol<memref::GlobalOp>(t.name)) {
    t.global = g;
    return t;
  }
  std::vector<float> vals;
  const double twoPi = 2.0 * M_PI;
  for (int64_t a = 0; a < t.coarse; ++a)
    vals.push_back((float)std::cos(twoPi * double(a * t.fine) / double(n)));
  for (int64_t a = 0; a < t.coarse; ++a)
    vals.push_back((float)std::sin(twoPi * double(a * t.fine) / double(n)));
  for (int64_t i = 0; i < t.fine; ++i)
    vals.push_back((float)std::cos(twoPi * double(i) / double(n)));
  for (int64_t i = 0; i < t.fine; ++i)
    vals.push_back((float)std::sin(twoPi * double(i) / double(n)));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  int64_t size = (int64_t)vals.size();
  auto type = MemRefType::get({size}, b.getF32Type());
  auto init = DenseElementsAttr::get(
      RankedTensorType::get({size}, b.getF32Type()), ArrayRef<float>(vals));
  t.global = memref::GlobalOp::create(b, loc, t.name, b.getStringAttr("private"),
                                      type, init, /*constant=*/true,
                                      /*alignment=*/IntegerAttr());
  return t;
}

/// A complex row: re at base + i, im at base + n + i of `mem`.
struct Row {
  Value mem, base;
};

struct FftGen {
  const FftGeom &g;
  Twiddles tw;

  /// W_n^k (forward: e^-i...; inverse: conjugate), k in [0, n/2).
  std::pair<Value, Value> twiddle(Emit &e, Value table, Value k,
                                  bool inverse) {
    Value hi = e.div(k, tw.fine), lo = e.rem(k, tw.fine);
    Value ch = e.load(table, {hi});
    Value sh = e.load(table, {e.add(hi, tw.coarse)});
    Value cl = e.load(table, {e.add(lo, 2 * tw.coarse)});
    Value sl = e.load(table, {e.add(lo, 2 * tw.coarse + tw.fine)});
    Value c = e.fsub(e.fmul(ch, cl), e.fmul(sh, sl));
    Value s = e.fadd(e.fmul(sh, cl), e.fmul(ch, sl));
    if (!inverse)
      s = arith::NegFOp::create(e.b, e.loc, s);
    return {c, s};
  }
  std::pair<Value, Value> cmul(Emit &e, std::pair<Value, Value> x,
                               std::pair<Value, Value> w) {
    return {e.fsub(e.fmul(x.first, w.first), e.fmul(x.second, w.second)),
            e.fadd(e.fmul(x.first, w.second), e.fmul(x.second, w.first))};
  }
  std::pair<Value, Value> ld(Emit &e, const Row &r, Value i) {
    return {e.load(r.mem, {e.add(r.base, i)}),
            e.load(r.mem, {e.add(e.add(r.base, i), g.n)})};
  }
  void st(Emit &e, const Row &r, Value i, std::pair<Value, Value> v) {
    e.store(v.first, r.mem, {e.add(r.base, i)});
    e.store(v.second, r.mem, {e.add(e.add(r.base, i), g.n)});
  }
  std::pair<Value, Value> add(Emit &e, std::pair<Value, Value> a,
                              std::pair<Value, Value> b) {
    return {e.fadd(a.first, b.first), e.fadd(a.second, b.second)};
  }
  std::pair<Value, Value> sub(Emit &e, std::pair<Value, Value> a,
                              std::pair<Value, Value> b) {
    return {e.fsub(a.first, b.first), e.fsub(a.second, b.second)};
  }
  /// One radix-2 butterfly of the stage with half-size h, work item j.
  void radix2(Emit &e, Value table, const Row &r, Value j, int64_t h,
              bool inverse) {
    Value p = e.rem(j, h);
    Value i0 = e.add(e.mul(e.div(j, h), 2 * h), p), i1 = e.add(i0, h);
    auto w = twiddle(e, table, e.mul(p, g.n / (2 * h)), inverse);
    auto a = ld(e, r, i0), bb = ld(e, r, i1);
    if (!inverse) {
      st(e, r, i0, add(e, a, bb));
      st(e, r, i1, cmul(e, sub(e, a, bb), w));
    } else {
      auto t = cmul(e, bb, w);
      st(e, r, i0, add(e, a, t));
      st(e, r, i1, sub(e, a, t));
    }
  }
  /// Two stages (half-sizes H and H/2) on four elements, work item j.
  void radix4(Emit &e, Value table, const Row &r, Value j, int64_t H,
              bool inverse) {
    int64_t q = H / 2;
    Value p = e.rem(j, q);
    Value base = e.add(e.mul(e.div(j, q), 2 * H), p);
    Value i[4] = {base, e.add(base, q), e.add(base, H), e.add(base, H + q)};
    std::pair<Value, Value> x[4];
    for (int k = 0; k < 4; ++k)
      x[k] = ld(e, r, i[k]);
    auto wBig0 = twiddle(e, table, e.mul(p, g.n / (2 * H)), inverse);
    auto wBig1 = twiddle(e, table, e.mul(e.add(p, q), g.n / (2 * H)), inverse);
    auto wSmall = twiddle(e, table, e.mul(p, g.n / H), inverse);
    auto dif = [&](int a, int b, std::pair<Value, Value> w) {
      auto s = add(e, x[a], x[b]), d = cmul(e, sub(e, x[a], x[b]), w);
      x[a] = s;
      x[b] = d;
    };
    auto dit = [&](int a, int b, std::pair<Value, Value> w) {
      auto t = cmul(e, x[b], w);
      auto s = add(e, x[a], t), d = sub(e, x[a], t);
      x[a] = s;
      x[b] = d;
    };
    if (!inverse) {
      dif(0, 2, wBig0);
      dif(1, 3, wBig1);
      dif(0, 1, wSmall);
      dif(2, 3, wSmall);
    } else {
      dit(0, 1, wSmall);
      dit(2, 3, wSmall);
      dit(0, 2, wBig0);
      dit(1, 3, wBig1);
    }
    for (int k = 0; k < 4; ++k)
      st(e, r, i[k], x[k]);
  }
  /// The passes of one transform: (half-size, fused radix-4?) in order.
  SmallVector<std::pair<int64_t, bool>> passes(int64_t radix, bool inverse) {
    SmallVector<std::pair<int64_t, bool>> out;
    if (!inverse) {
      int64_t h = g.n / 2;
      while (h >= 1) {
        if (radix == 4 && h >= 2) {
          out.push_back({h, true});
          h /= 4;
        } else {
          out.push_back({h, false});
          h /= 2;
        }
      }
    } else {
      int64_t h = 1;
      while (h <= g.n / 2) {
        if (radix == 4 && 2 * h <= g.n / 2) {
          out.push_back({2 * h, true});
          h *= 4;
        } else {
          out.push_back({h, false});
          h *= 2;
        }
      }
    }
    return out;
  }
  void pass(Emit &e, Value table, const Row &r, Value j,
            std::pair<int64_t, bool> ps, bool inverse) {
    if (ps.second)
      radix4(e, table, r, j, ps.first, inverse);
    else
      radix2(e, table, r, j, ps.first, inverse);
  }
  Value bitrev(Emit &e, Value p) {
    Value r = e.c(0);
    for (int64_t i = 0; i < g.logN; ++i) {
      Value bit = e.rem(e.div(p, int64_t(1) << i), 2);
      r = e.add(r, e.mul(bit, int64_t(1) << (g.logN - 1 - i)));
    }
    return r;
  }
  /// The product at bit-reversed position p (and its mirror).
  void product(Emit &e, const Row &r, Value p) {
    Value f = bitrev(e, p);
    Value fm = e.rem(e.sub(e.c(g.n), f), g.n);
    Value pm = bitrev(e, fm);
    e.ifThen(e.cmp(arith::CmpIPredicate::ule, p, pm), [&] {
      auto z1 = ld(e, r, p), z2 = ld(e, r, pm);
      Value h = e.f(0.5);
      std::pair<Value, Value> u = {e.fmul(e.fadd(z1.first, z2.first), h),
                                   e.fmul(e.fsub(z1.second, z2.second), h)};
      std::pair<Value, Value> k = {e.fmul(e.fadd(z1.second, z2.second), h),
                                   e.fmul(e.fsub(z2.first, z1.first), h)};
      auto y = cmul(e, u, k);
      st(e, r, p, y);
      st(e, r, pm, {y.first, arith::NegFOp::create(e.b, e.loc, y.second)});
    });
  }
};
} // namespace

namespace kjit::compiler {
LogicalResult generateFftConvGpu(OpBuilder &b, Location loc, Operation *op,
                                 ValueRange inputs, ValueRange outputs,
                                 ConfigAttr config, const TargetInfo &target,
                                 std::string &reason) {
  auto geom = getFftGeom(op, reason);
  if (failed(geom))
    return failure();
  const FftGeom g = *geom;
  auto cfgOr =
      FftGpuConfig::parse(config, defaultFftGpuConfig(g, target), reason);
  if (failed(cfgOr) || failed(checkFftGpuConfig(*cfgOr, g, target, reason)))
    return failure();
  const FftGpuConfig cfg = *cfgOr;
  if (!allF32(llvm::to_vector(llvm::concat<Value>(inputs, outputs)), reason,
              "fft_conv"))
    return failure();
  Value u = inputs[0], k = inputs[1];
  Value dVec = inputs.size() > 2 ? inputs[2] : Value();
  Value y = outputs[0];
  const int64_t rows = g.rows(), n = g.n, T = cfg.threads;
  if (rows == 0)
    return success();
  auto twOr = getTwiddles(b, loc, n, reason);
  if (failed(twOr))
    return failure();
  Twiddles tw = *twOr;
  FftGen gen{g, tw};
  auto table = [&](Emit &e) -> Value {
    return memref::GetGlobalOp::create(e.b, e.loc, tw.global.getType(),
                                       tw.global.getSymName());
  };
  // Element t of row `row` of z = u + i k (zero past L / Lk).
  auto loadZ = [&](Emit &e, const Row &r, Value row, Value t) {
    Value bb = e.div(row, g.c), ch = e.rem(row, g.c);
    Value re = e.guardedLoad(e.lt(t, g.l), u, {bb, ch, t});
    Value im = e.guardedLoad(e.lt(t, g.lk), k, {ch, t});
    gen.st(e, r, t, {re, im});
  };
  auto storeY = [&](Emit &e, const Row &r, Value row, Value t) {
    Value bb = e.div(row, g.c), ch = e.rem(row, g.c);
    Value v = e.fmul(e.load(r.mem, {e.add(r.base, t)}), e.f(1.0 / double(n)));
    if (dVec)
      v = e.fadd(v, e.fmul(e.load(dVec, {ch}), e.load(u, {bb, ch, t})));
    e.store(v, y, {bb, ch, t});
  };
  auto fwd = gen.passes(cfg.radix, false), inv = gen.passes(cfg.radix, true);
  auto items = [&](std::pair<int64_t, bool> ps) {
    return ps.second ? n / 4 : n / 2;
  };
  Emit outer{b, loc};

  if (cfg.inShared(g)) {
    if (!gridFits(rows, reason))
      return failure();
    launch1d(b, loc, rows, T, {outer.sharedF32(2 * n)},
             [&](Emit &e, Value bx, Value tx, ValueRange wg) {
      Row r{wg.front(), e.c(0)};
      Value tab = table(e);
      e.forLoop(tx, e.c(n), e.c(T), [&](Value t) { loadZ(e, r, bx, t); });
      e.barrier();
      for (auto ps : fwd) {
        e.forLoop(tx, e.c(items(ps)), e.c(T),
                  [&](Value j) { gen.pass(e, tab, r, j, ps, false); });
        e.barrier();
      }
      e.forLoop(tx, e.c(n), e.c(T), [&](Value p) { gen.product(e, r, p); });
      e.barrier();
      for (auto ps : inv) {
        e.forLoop(tx, e.c(items(ps)), e.c(T),
                  [&](Value j) { gen.pass(e, tab, r, j, ps, true); });
        e.barrier();
      }
      e.forLoop(tx, e.c(g.l), e.c(T), [&](Value t) { storeY(e, r, bx, t); });
    });
    return success();
  }

  // Multi-launch: rows in a device scratch buffer, one launch per pass.
  if ((double)rows * 2 * n > 9.0e15) {
    reason = "the scratch buffer is too large";
    return failure();
  }
  auto scratchType = MemRefType::get({rows * 2 * n}, b.getF32Type());
  // The async forms, each on its own stream waited for at once: what
  // upstream gpu-to-llvm lowers to mgpuMemAlloc / mgpuMemFree.
  auto tokenType = gpu::AsyncTokenType::get(b.getContext());
  auto waitAsync = [&]() -> Value {
    return gpu::WaitOp::create(b, loc, tokenType, ValueRange{}).getAsyncToken();
  };
  auto alloc = gpu::AllocOp::create(b, loc, scratchType, tokenType,
                                    ValueRange{waitAsync()}, ValueRange{},
                                    ValueRange{}, /*hostShared=*/false);
  gpu::WaitOp::create(b, loc, Type(), ValueRange{alloc.getAsyncToken()});
  Value scratch = alloc.getMemref();
  // A launch of `perRow` work items per row over all rows.
  auto overRows = [&](int64_t perRow,
                      const std::function<void(Emit &, const Row &, Value,
                                               Value)> &body) -> bool {
    int64_t total = rows * perRow, blocks = ceilDiv(total, T);
    if (!gridFits(blocks, reason))
      return false;
    launch1d(b, loc, blocks, T, {},
             [&](Emit &e, Value bx, Value tx, ValueRange) {
      Value gid = e.add(e.mul(bx, T), tx);
      e.ifThen(e.lt(gid, total), [&] {
        Value row = e.div(gid, perRow), j = e.rem(gid, perRow);
        // The kernel reads the scratch buffer through its argument.
        Row r{scratch, e.mul(row, 2 * n)};
        body(e, r, row, j);
      });
    });
    return true;
  };
  bool ok = overRows(n, [&](Emit &e, const Row &r, Value row, Value t) {
    loadZ(e, r, row, t);
  });
  for (auto ps : fwd)
    ok = ok && overRows(items(ps), [&](Emit &e, const Row &r, Value, Value j) {
           gen.pass(e, table(e), r, j, ps, false);
         });
  ok = ok && overRows(n, [&](Emit &e, const Row &r, Value, Value p) {
         gen.product(e, r, p);
       });
  for (auto ps : inv)
    ok = ok && overRows(items(ps), [&](Emit &e, const Row &r, Value, Value j) {
           gen.pass(e, table(e), r, j, ps, true);
         });
  ok = ok && overRows(g.l, [&](Emit &e, const Row &r, Value row, Value t) {
         storeY(e, r, row, t);
       });
  if (!ok)
    return failure();
  auto dealloc = gpu::DeallocOp::create(b, loc, tokenType,
                                        ValueRange{waitAsync()}, scratch);
  gpu::WaitOp::create(b, loc, Type(), ValueRange{dealloc.getAsyncToken()});
  return success();
}
} // namespace kjit::compiler
