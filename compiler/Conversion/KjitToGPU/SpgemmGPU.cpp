//===- SpgemmGPU.cpp - CSR x CSR -> CSR (kjit.spgemm) on CUDA -------------===//
//
// C (M x N) = A (CSR M x K) * B (CSR K x N), row-wise Gustavson with the
// result allocated by the kernel (the dynamic-output protocol: c_row_ptr is
// a caller-provided out-param, c_col_idx and c_values are returned; on the
// GPU they are device buffers, gpu.alloc by kjit-host-allocs-to-gpu).
//
// Host code (the kernel function) runs six launches and one read-back:
//   1. init: markers := -1, accumulators := 0, c_row_ptr := 0, flags := 0.
//      Device scratch (memref.alloc here, device memory after
//      kjit-host-allocs-to-gpu): `blocks` marker rows (i32) and accumulator
//      rows (f32) of N entries, flags = [bad input, nnz] (i64).
//   2, 3. validate A, then B (thread per row, grid-stride): row_ptr[0] = 0,
//      row_ptr monotone, row_ptr[rows] = nnz, columns in range, with the
//      CPU's codes (KernelErrorCodes.h, kSpgemmA / kSpgemmB) in the device
//      error record `kjit_gpu_error`; any defect also sets flags[0]. A bad
//      row is never read through (its pair out of [0, nnz] or decreasing:
//      no entries).
//   4. count (symbolic): block b walks rows b, b + blocks, ...; `group`
//      threads share a nonzero of A and stride over the row of B it
//      selects. A product of column j exchanges the row's tag (the row
//      index) into the block's marker j: the thread that gets another
//      value back owns a new column. Each thread adds its count atomically
//      into c_row_ptr[i + 1]; a barrier ends each row (a thread already
//      tagging the block's next row would make this row's exchanges see a
//      foreign tag again). Skipped when flags[0] is set (the CPU's
//      output for malformed input: row_ptr all zero, nothing allocated).
//   5. scan (one block, chunks of `threads`): c_row_ptr := its inclusive
//      prefix (in i64); more than INT32_MAX entries is reported (kSpgemm,
//      kOutputTooLarge) and leaves row_ptr zero; flags[1] := nnz.
//   -  gpu.memcpy of flags to a host alloca, gpu.wait; nnz clamped to
//      [0, a static bound of the output's size] (corrupt device memory
//      cannot ask for a huge allocation); col_idx and values allocated
//      (max(nnz, 1) entries, viewed as nnz).
//   6. numeric: the same walk; each product adds into the block's
//      accumulator j (atomic) and exchanges the numeric tag -(i + 2) into
//      marker j; an owner appends j to the row's list in shared memory
//      (atomic counter) and updates the row's column range (atomic min /
//      max). Rows of at most sort_capacity distinct columns are written
//      sorted by rank (each entry's rank = the entries below it; columns
//      are distinct); longer rows by a block-wide scan over their column
//      range, compacting the marked columns. Every emitted accumulator is
//      reset to 0, so the accumulators are zero between rows. Writes are
//      bounded by the row's c_row_ptr range and by nnz.
// Duplicate and unsorted input columns need nothing (every product adds);
// cancellation leaves an explicit zero (the column is marked).
// The block's loops are uniform (every thread of a block walks the same
// rows and chunks), so every barrier is reached by all threads.
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToCPU/KernelErrorCodes.h"
#include "compiler/Conversion/KjitToGPU/GpuEmit.h"
#include "compiler/Conversion/KjitToGPU/GpuKernelGenerators.h"
#include "dialects/kjit/IR/SparseTuning.h"

#include "mlir/IR/BuiltinOps.h"

#include <climits>

using namespace mlir;
using namespace mlir::kjit;
using namespace ::kjit::compiler::gpuemit;
namespace ke = ::kjit::kernel_errors;

namespace {

using RMW = arith::AtomicRMWKind;
using Pred = arith::CmpIPredicate;

/// One CSR operand.
struct Csr {
  Value rp, ci, v;
  int64_t rows, cols, nnz;
  ke::Source source;
};

class SpgemmGpuGen {
public:
  SpgemmGpuGen(OpBuilder &b, Location loc, const SpgemmGpuConfig &cfg,
               const SpgemmGeom &g, memref::GlobalOp record)
      : b(b), loc(loc), cfg(cfg), g(g), record(record) {}

  OpBuilder &b;
  Location loc;
  SpgemmGpuConfig cfg;
  SpgemmGeom g;
  memref::GlobalOp record;
  Csr a, bm;
  Value cRp, mark, acc, flags;
  int64_t T = 0, G = 0;

  // --- scalar helpers (valid inside and outside kernels) ----------------------
  Type i1() { return b.getI1Type(); }
  Type i32() { return b.getI32Type(); }
  Type i64() { return b.getI64Type(); }
  Value ci32(int64_t v) { return arith::ConstantIntOp::create(b, loc, i32(), v); }
  Value ci64(int64_t v) { return arith::ConstantIntOp::create(b, loc, i64(), v); }
  Value icmp(Pred p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value ext(Value v) {
    if (v.getType().isIndex())
      return arith::IndexCastOp::create(b, loc, i64(), v);
    if (v.getType() == i64())
      return v;
    return arith::ExtSIOp::create(b, loc, i64(), v);
  }
  Value extU(Value v) { return arith::ExtUIOp::create(b, loc, i64(), v); }
  Value trunc32(Value v) { return arith::TruncIOp::create(b, loc, i32(), v); }
  Value pack(Value hi, Value lo) {
    Value h = arith::ShLIOp::create(b, loc, ext(hi), ci64(32));
    Value l = arith::AndIOp::create(b, loc, ext(lo), ci64(0xffffffffLL));
    return arith::OrIOp::create(b, loc, h, l);
  }
  Value notI(Value x) {
    return arith::XOrIOp::create(b, loc, x,
                                 arith::ConstantIntOp::create(b, loc, i1(), 1));
  }
  Value atomic(RMW kind, Value v, Value mem, Value i) {
    return memref::AtomicRMWOp::create(b, loc, kind, v, mem, ValueRange{i});
  }
  /// scf.if with results: `cond ? thenFn() : elseVals`.
  SmallVector<Value> ifValues(Value cond, ValueRange elseVals,
                              const std::function<SmallVector<Value>()> &thenFn) {
    if (elseVals.empty()) {
      // No results: the builder already added the terminators.
      Emit{b, loc}.ifThen(cond, [&] { (void)thenFn(); });
      return {};
    }
    auto op = scf::IfOp::create(b, loc, TypeRange(elseVals), cond,
                                /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard gd(b);
      b.setInsertionPointToStart(&op.getThenRegion().front());
      scf::YieldOp::create(b, loc, thenFn());
      b.setInsertionPointToStart(&op.getElseRegion().front());
      scf::YieldOp::create(b, loc, elseVals);
    }
    return SmallVector<Value>(op.getResults());
  }
  /// A for loop carrying `init` (possibly nothing).
  SmallVector<Value>
  loop(Emit &e, Value lo, Value hi, Value step, ValueRange init,
       const std::function<SmallVector<Value>(Value, ValueRange)> &body) {
    if (init.empty()) {
      e.forLoop(lo, hi, step, [&](Value i) { (void)body(i, {}); });
      return {};
    }
    return SmallVector<Value>(e.forLoop(lo, hi, step, init, body));
  }
  /// `x` (i32) in [0, hi) (as unsigned: negatives are huge).
  Value inRange32(Value x, int64_t hi) {
    return icmp(Pred::ult, x, ci32(std::min<int64_t>(hi, INT32_MAX)));
  }
  /// A row_ptr pair in [0, nnz] and not decreasing.
  Value soundPair(Value lo, Value hi, int64_t nnz) {
    Value x = arith::AndIOp::create(b, loc, icmp(Pred::sge, lo, ci32(0)),
                                    icmp(Pred::sle, lo, hi));
    return arith::AndIOp::create(b, loc, x, icmp(Pred::sle, hi, ci32(nnz)));
  }
  void report(Emit &e, Value cond, ke::Source src, ke::Kind kind, Value x,
              Value y) {
    e.ifThen(cond, [&] {
      ::kjit::compiler::emitGpuErrorReport(b, loc, record, ke::code(src, kind),
                                           ext(x), ext(y));
      atomic(RMW::ori, ci64(1), flags, e.c(0));
    });
  }
  Value inputOk(Emit &e) {
    return icmp(Pred::eq, e.load(flags, {e.c(0)}), ci64(0));
  }

  /// Inclusive scan of `x` over the block (Hillis-Steele in `buf`, one slot
  /// per thread); returns (inclusive value, block total). Starts and ends
  /// with a barrier-separated use of `buf`, so calls may follow each other.
  std::pair<Value, Value> blockScan(Emit &e, Value buf, Value tx, Value x) {
    e.store(x, buf, {tx});
    e.barrier();
    for (int64_t d = 1; d < T; d *= 2) {
      Value has = e.ge(tx, e.c(d));
      Value at = e.select(has, e.sub(tx, e.c(d)), tx);
      Value mine = e.load(buf, {tx});
      Value other = e.load(buf, {at});
      Value zero = x.getType() == i64() ? ci64(0) : ci32(0);
      Value v = arith::AddIOp::create(b, loc, mine,
                                      e.select(has, other, zero));
      e.barrier();
      e.store(v, buf, {tx});
      e.barrier();
    }
    Value incl = e.load(buf, {tx});
    Value total = e.load(buf, {e.c(T - 1)});
    e.barrier();
    return {incl, total};
  }

  /// Calls `fn(j, q, aValue, acc)` (j: B's column as index, q: B's
  /// position) for each in-range product of `row` this thread handles,
  /// carrying `init`. Nothing outside the operands is ever read: a row of A
  /// or B whose row_ptr pair is unsound has no entries, an out-of-range
  /// column of A selects no row, one of B is skipped.
  SmallVector<Value> forProducts(
      Emit &e, Value row, Value tx, ValueRange init, bool needA,
      const std::function<SmallVector<Value>(Value, Value, Value, ValueRange)>
          &fn) {
    if (g.k == 0 || g.nnzA == 0 || g.nnzB == 0 || g.n == 0)
      return SmallVector<Value>(init);
    Value lo = e.load(a.rp, {row}), hi = e.load(a.rp, {e.add(row, 1)});
    Value sound = soundPair(lo, hi, g.nnzA);
    Value p0 = e.select(sound, e.toIndex(lo), e.c(0));
    Value p1 = e.select(sound, e.toIndex(hi), e.c(0));
    Value grp = e.div(tx, cfg.group), lane = e.rem(tx, cfg.group);
    return loop(e, 
        e.add(p0, grp), p1, e.c(T / cfg.group), init,
        [&](Value p, ValueRange acc0) -> SmallVector<Value> {
          Value k = e.load(a.ci, {p});
          Value kOk = inRange32(k, g.k);
          Value kk = e.select(kOk, e.toIndex(k), e.c(0));
          Value qs = e.load(bm.rp, {kk}), qe = e.load(bm.rp, {e.add(kk, 1)});
          Value okB = arith::AndIOp::create(b, loc, kOk,
                                            soundPair(qs, qe, g.nnzB));
          Value q0 = e.select(okB, e.toIndex(qs), e.c(0));
          Value q1 = e.select(okB, e.toIndex(qe), e.c(0));
          Value av = needA ? e.load(a.v, {p}) : Value();
          return loop(e, 
              e.add(q0, lane), q1, e.c(cfg.group), acc0,
              [&](Value q, ValueRange acc1) -> SmallVector<Value> {
                Value j = e.load(bm.ci, {q});
                return ifValues(inRange32(j, g.n), acc1, [&] {
                  return fn(e.toIndex(j), q, av, acc1);
                });
              });
        });
  }

  // --- launches ------------------------------------------------------------------

  void initLaunch() {
    int64_t gn = G * std::max<int64_t>(g.n, 1);
    int64_t total = std::max(gn, g.m + 1);
    int64_t blocks = std::clamp<int64_t>(ceilDiv(total, T), 1, 4096);
    launch1d(b, loc, blocks, T, {}, [&](Emit &e, Value bx, Value tx, ValueRange) {
      Value gid = e.add(e.mul(bx, T), tx);
      e.forLoop(gid, e.c(total), e.c(blocks * T), [&](Value i) {
        e.ifThen(e.lt(i, gn), [&] {
          e.store(ci32(-1), mark, {i});
          e.store(e.zeroF(), acc, {i});
        });
        e.ifThen(e.lt(i, g.m + 1), [&] { e.store(ci32(0), cRp, {i}); });
      });
      e.ifThen(e.eq(gid, e.c(0)), [&] {
        e.store(ci64(0), flags, {e.c(0)});
        e.store(ci64(0), flags, {e.c(1)});
      });
    });
  }

  void validateLaunch(const Csr &m) {
    int64_t blocks = std::clamp<int64_t>(ceilDiv(m.rows, T), 1, 1024);
    launch1d(b, loc, blocks, T, {}, [&](Emit &e, Value bx, Value tx, ValueRange) {
      Value gid = e.add(e.mul(bx, T), tx);
      e.ifThen(e.eq(gid, e.c(0)), [&] {
        Value rp0 = e.load(m.rp, {e.c(0)});
        report(e, icmp(Pred::ne, rp0, ci32(0)), m.source, ke::kRowPtrStart,
               rp0, ci64(0));
        Value rpEnd = e.load(m.rp, {e.c(m.rows)});
        report(e, icmp(Pred::ne, rpEnd, ci32(m.nnz)), m.source,
               ke::kRowPtrEnd, pack(e.c(m.rows), rpEnd), ci64(m.nnz));
      });
      e.forLoop(gid, e.c(m.rows), e.c(blocks * T), [&](Value r) {
        Value lo = e.load(m.rp, {r}), hi = e.load(m.rp, {e.add(r, 1)});
        report(e, icmp(Pred::sgt, lo, hi), m.source, ke::kRowPtrNotMonotone,
               r, pack(lo, hi));
        if (m.nnz == 0)
          return;
        Value sound = soundPair(lo, hi, m.nnz);
        Value p0 = e.select(sound, e.toIndex(lo), e.c(0));
        Value p1 = e.select(sound, e.toIndex(hi), e.c(0));
        e.forLoop(p0, p1, e.c(1), [&](Value p) {
          Value col = e.load(m.ci, {p});
          report(e, notI(inRange32(col, m.cols)), m.source,
                 ke::kColumnOutOfRange, pack(r, col),
                 pack(p, e.c(std::min<int64_t>(m.cols, INT32_MAX))));
        });
      });
    });
  }

  void countLaunch() {
    launch1d(b, loc, G, T, {}, [&](Emit &e, Value bx, Value tx, ValueRange) {
      e.ifThen(inputOk(e), [&] {
        Value base = e.mul(bx, std::max<int64_t>(g.n, 1));
        e.forLoop(bx, e.c(g.m), e.c(G), [&](Value row) {
          Value tag = e.toI32(row);
          Value n = forProducts(
              e, row, tx, {ci32(0)}, /*needA=*/false,
              [&](Value j, Value, Value, ValueRange cnt) -> SmallVector<Value> {
                Value old = atomic(RMW::assign, tag, mark, e.add(base, j));
                Value fresh = icmp(Pred::ne, old, tag);
                Value one = arith::ExtUIOp::create(b, loc, i32(), fresh);
                return {arith::AddIOp::create(b, loc, cnt[0], one)};
              })[0];
          e.ifThen(icmp(Pred::ne, n, ci32(0)), [&] {
            atomic(RMW::addi, n, cRp, e.add(row, 1));
          });
          // No thread may tag the block's markers for its next row while
          // another still exchanges this row's tag (it would count a
          // column twice).
          e.barrier();
        });
      });
    });
  }

  void scanLaunch() {
    int64_t chunks = ceilDiv(g.m, T);
    launch1d(b, loc, 1, T, {Emit{b, loc}.shared(i64(), T)},
             [&](Emit &e, Value, Value tx, ValueRange wg) {
      Value buf = wg[0];
      Value carry =
          e.forLoop(e.c(0), e.c(chunks), e.c(1), {ci64(0)},
                    [&](Value c, ValueRange cr) -> SmallVector<Value> {
                      Value i = e.add(e.mul(c, T), tx);
                      Value in = e.lt(i, g.m);
                      Value x = ifValues(in, {ci64(0)}, [&] {
                        return SmallVector<Value>{
                            ext(e.load(cRp, {e.add(i, 1)}))};
                      })[0];
                      auto [incl, total] = blockScan(e, buf, tx, x);
                      e.ifThen(in, [&] {
                        Value s = arith::AddIOp::create(b, loc, cr[0], incl);
                        e.store(trunc32(s), cRp, {e.add(i, 1)});
                      });
                      return {arith::AddIOp::create(b, loc, cr[0], total)};
                    })[0];
      e.barrier();
      Value first = e.eq(tx, e.c(0));
      e.ifThen(first, [&] { e.store(ci32(0), cRp, {e.c(0)}); });
      Value over = icmp(Pred::sgt, carry, ci64(INT32_MAX));
      e.ifThen(over, [&] {
        e.ifThen(first, [&] {
          ::kjit::compiler::emitGpuErrorReport(
              b, loc, record, ke::code(ke::kSpgemm, ke::kOutputTooLarge),
              carry, ci64(0));
        });
        e.forLoop(tx, e.c(g.m), e.c(T),
                  [&](Value i) { e.store(ci32(0), cRp, {e.add(i, 1)}); });
      });
      e.ifThen(first, [&] {
        e.store(e.select(over, ci64(0), carry), flags, {e.c(1)});
      });
    });
  }

  void numericLaunch(Value cCi, Value cV, Value nnz) {
    const int64_t C = cfg.sortCapacity;
    Emit h{b, loc};
    SmallVector<Type> wgTypes = {h.shared(i32(), C), h.shared(i32(), T),
                                 h.shared(i32(), 4)};
    launch1d(b, loc, G, T, wgTypes,
             [&](Emit &e, Value bx, Value tx, ValueRange wg) {
      Value list = wg[0], sbuf = wg[1], ctr = wg[2];
      Value first = e.eq(tx, e.c(0));
      e.ifThen(inputOk(e), [&] {
        Value base = e.mul(bx, std::max<int64_t>(g.n, 1));
        e.forLoop(bx, e.c(g.m), e.c(G), [&](Value row) {
          // Numeric tags -(row + 2) differ from the count pass's (row) and
          // from the initial -1.
          Value tag = arith::SubIOp::create(b, loc, ci32(-2), e.toI32(row));
          e.ifThen(first, [&] {
            e.store(ci32(0), ctr, {e.c(0)});
            e.store(ci32(INT32_MAX), ctr, {e.c(1)});
            e.store(ci32(-1), ctr, {e.c(2)});
          });
          e.barrier();
          forProducts(e, row, tx, {}, /*needA=*/true,
                      [&](Value j, Value q, Value av,
                          ValueRange) -> SmallVector<Value> {
                        Value at = e.add(base, j);
                        Value prod = e.fmul(av, e.load(bm.v, {q}));
                        atomic(RMW::addf, prod, acc, at);
                        Value old = atomic(RMW::assign, tag, mark, at);
                        e.ifThen(icmp(Pred::ne, old, tag), [&] {
                          Value j32 = e.toI32(j);
                          Value slot = atomic(RMW::addi, ci32(1), ctr, e.c(0));
                          e.ifThen(icmp(Pred::slt, slot, ci32(C)), [&] {
                            e.store(j32, list, {e.toIndex(slot)});
                          });
                          atomic(RMW::mins, j32, ctr, e.c(1));
                          atomic(RMW::maxs, j32, ctr, e.c(2));
                        });
                        return {};
                      });
          e.barrier();
          Value cnt = e.load(ctr, {e.c(0)});
          Value start = e.load(cRp, {row});
          Value end = e.load(cRp, {e.add(row, 1)});
          Value len = e.maxS(e.toIndex(arith::SubIOp::create(b, loc, end, start)),
                             e.c(0));
          Value startI = e.toIndex(start);
          // Writes entry `rank` of the row (column j) and resets its
          // accumulator; never outside the row's range or the buffers.
          auto emitEntry = [&](Value rank, Value j) {
            Value at = e.add(base, j);
            Value pos = e.add(startI, rank);
            Value ok = e.band(e.band(e.lt(rank, len), e.ge0(pos)),
                              e.lt(pos, nnz));
            e.ifThen(ok, [&] {
              e.store(e.toI32(j), cCi, {pos});
              e.store(e.load(acc, {at}), cV, {pos});
            });
            e.store(e.zeroF(), acc, {at});
          };
          auto ifOp = scf::IfOp::create(b, loc, TypeRange{},
                                        icmp(Pred::sle, cnt, ci32(C)),
                                        /*withElseRegion=*/true);
          {
            // Short row: its columns are in `list`; rank sort.
            OpBuilder::InsertionGuard gd(b);
            b.setInsertionPointToStart(&ifOp.getThenRegion().front());
            Value n = e.toIndex(cnt);
            e.forLoop(tx, n, e.c(T), [&](Value k) {
              Value x = e.load(list, {k});
              Value rank =
                  e.forLoop(e.c(0), n, e.c(1), {e.c(0)},
                            [&](Value f, ValueRange r) -> SmallVector<Value> {
                              Value less =
                                  icmp(Pred::slt, e.load(list, {f}), x);
                              return {e.add(r[0], e.select(less, e.c(1),
                                                            e.c(0)))};
                            })[0];
              emitEntry(rank, e.toIndex(x));
            });
          }
          {
            // Long row: compact the marked columns of [min, max] in
            // chunks of T (a block-wide scan gives each its rank).
            OpBuilder::InsertionGuard gd(b);
            b.setInsertionPointToStart(&ifOp.getElseRegion().front());
            Value lo = e.toIndex(e.load(ctr, {e.c(1)}));
            Value hi = e.toIndex(e.load(ctr, {e.c(2)}));
            e.forLoop(
                lo, e.add(hi, 1), e.c(T), {e.c(0)},
                [&](Value c0, ValueRange carry) -> SmallVector<Value> {
                  Value j = e.add(c0, tx);
                  Value in = e.cmp(Pred::sle, j, hi);
                  Value js = e.select(in, j, lo);
                  Value marked = e.band(
                      in, icmp(Pred::eq, e.load(mark, {e.add(base, js)}), tag));
                  Value flag = arith::ExtUIOp::create(b, loc, i32(), marked);
                  auto [incl, total] = blockScan(e, sbuf, tx, flag);
                  Value rank = e.add(carry[0], e.toIndex(arith::SubIOp::create(
                                                   b, loc, incl, flag)));
                  e.ifThen(marked, [&] { emitEntry(rank, j); });
                  return {e.add(carry[0], e.toIndex(total))};
                });
          }
          // The row's shared state and accumulators are free again.
          e.barrier();
        });
      });
    });
  }

  /// The host sequence; returns (col_idx, values).
  SmallVector<Value> run() {
    T = cfg.threads;
    G = cfg.gridBlocks(g);
    Emit h{b, loc};
    int64_t gn = G * std::max<int64_t>(g.n, 1);
    mark = memref::AllocOp::create(b, loc, MemRefType::get({gn}, i32()));
    acc = memref::AllocOp::create(b, loc, MemRefType::get({gn}, b.getF32Type()));
    flags = memref::AllocOp::create(b, loc, MemRefType::get({2}, i64()));
    initLaunch();
    validateLaunch(a);
    validateLaunch(bm);
    countLaunch();
    scanLaunch();

    // nnz back to the host.
    auto flagsT = MemRefType::get({2}, i64());
    Value host = memref::AllocaOp::create(b, loc, flagsT);
    auto tokenT = gpu::AsyncTokenType::get(b.getContext());
    Value t0 = gpu::WaitOp::create(b, loc, tokenT, ValueRange{}).getAsyncToken();
    auto cp = gpu::MemcpyOp::create(b, loc, tokenT, ValueRange{t0}, host, flags);
    gpu::WaitOp::create(b, loc, Type(), ValueRange{cp.getAsyncToken()});
    // At most min(M x N, nnzA x min(nnzB, N), INT32_MAX) entries: every
    // row has at most N distinct columns and at most its products.
    int64_t bound = std::min<int64_t>(
        {g.m * g.n, g.nnzA * std::min(g.nnzB, g.n), (int64_t)INT32_MAX});
    Value raw = h.load(host, {h.c(1)});
    Value clamped = arith::MinSIOp::create(
        b, loc, arith::MaxSIOp::create(b, loc, raw, ci64(0)), ci64(bound));
    Value nnz = h.toIndex(clamped);
    Value cap = h.maxS(nnz, h.c(1));
    auto dynT = [&](Type t) { return MemRefType::get({ShapedType::kDynamic}, t); };
    auto view = [&](Value mem) -> Value {
      return memref::ReinterpretCastOp::create(
          b, loc, cast<MemRefType>(mem.getType()), mem,
          OpFoldResult(b.getIndexAttr(0)), ArrayRef<OpFoldResult>{nnz},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    };
    // max(nnz, 1) entries: no zero-byte device allocation.
    Value ciBuf = memref::AllocOp::create(b, loc, dynT(i32()), ValueRange{cap});
    Value vBuf = memref::AllocOp::create(b, loc, dynT(b.getF32Type()),
                                         ValueRange{cap});
    Value cCi = view(ciBuf), cV = view(vBuf);
    numericLaunch(cCi, cV, nnz);
    for (Value v : {mark, acc, flags})
      memref::DeallocOp::create(b, loc, v);
    return {cCi, cV};
  }
};

} // namespace

namespace kjit::compiler {
LogicalResult generateSpgemmGpu(OpBuilder &b, Location loc, Operation *op,
                                ValueRange inputs, ValueRange outputs,
                                SmallVectorImpl<Value> &allocated,
                                ConfigAttr config, const TargetInfo &target,
                                std::string &reason) {
  auto geom = getSpgemmGeom(op, reason);
  if (failed(geom))
    return failure();
  const SpgemmGeom g = *geom;
  auto cfgOr = SpgemmGpuConfig::parse(
      config, defaultSpgemmGpuConfig(g, target), reason);
  if (failed(cfgOr) ||
      failed(checkSpgemmGpuConfig(*cfgOr, g, target, reason)))
    return failure();
  if (inputs.size() != 6 || outputs.size() != 1) {
    reason = "kjit.spgemm kernel takes 6 inputs, 1 static output (row_ptr) "
             "and allocates 2 (col_idx, values)";
    return failure();
  }
  if (!allF32(llvm::to_vector(llvm::concat<Value>(inputs, outputs)), reason,
              "spgemm"))
    return failure();
  auto record = getGpuErrorRecord(b, loc, reason);
  if (failed(record))
    return failure();
  SpgemmGpuGen gen(b, loc, *cfgOr, g, *record);
  gen.a = {inputs[0], inputs[1], inputs[2], g.m, g.k, g.nnzA, ke::kSpgemmA};
  gen.bm = {inputs[3], inputs[4], inputs[5], g.k, g.n, g.nnzB, ke::kSpgemmB};
  gen.cRp = outputs[0];
  SmallVector<Value> res = gen.run();
  allocated.append(res.begin(), res.end());
  return success();
}
} // namespace kjit::compiler
