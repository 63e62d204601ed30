//===- SpgemmCPU.cpp - CSR x CSR -> CSR (kjit.spgemm) on the CPU ----------===//
//
// C (M x N) = A (CSR M x K) * B (CSR K x N), row-wise Gustavson in the
// style of SMASH (symbolic pass, allocation, numeric pass), with the result
// allocated by the kernel (the dynamic-output protocol: c_row_ptr is a
// caller-provided out-param, c_col_idx and c_values are returned).
//
//   0. Validate both CSRs (CsrValidation.h). A malformed one is reported
//      through kjit_rt_report_error; the kernel then returns empty
//      (allocated, zero-length) col_idx and values, so the caller frees the
//      same way on every path.
//   1. Products per row: flops[i] = sum over A's row i of the length of the
//      B row each nonzero selects; an exclusive prefix of flops[i] + 1 gives
//      the "flops" partition (binary search per task boundary, as spmm's
//      "nnz" partition).
//   2. Symbolic pass (tasks on an OpenMP team when threads > 1): each row's
//      distinct columns with the chosen accumulator -> c_row_ptr[i + 1].
//   3. Prefix sum (calling thread) -> c_row_ptr; memref.alloc of col_idx and
//      values with the total (more than INT32_MAX entries is a reported
//      error).
//   4. Numeric pass: each row written at c_row_ptr[i], columns ascending.
// symbolic = "bound" (the default) skips 2 and 3: one numeric pass into
// buffers of min(products, N) entries per row (boundPasses()).
//
// Accumulators (knob "accumulator"):
//   dense: per task N floats (zero between rows) and an N-bit bitmap. A
//          product adds into its column and sets its bit (the word being
//          set held in a register); the symbolic pass counts with popcount;
//          the row is emitted with count-trailing-zeros over its touched
//          words (resetting what it reads), scanned from the first to the
//          last or, when few lie far apart, sorted from the list of words
//          the row set: sorted output without sorting the entries.
//   hash:  per row a linear-probing table of hash_scale x min(products, N)
//          slots (rounded up to a power of two), then the row's entries
//          packed (column << 32 | value bits) and shell-sorted.
//   sort:  the row's products packed and shell-sorted, then runs of equal
//          columns summed (ESC).
// Rows of at most short_row products take the sort path whatever the
// accumulator (knob "short_row").
// Duplicate and unsorted columns in the inputs need nothing: every product
// adds. Cancellation leaves an explicit zero (the column was touched).
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToCPU/CsrValidation.h"
#include "compiler/Conversion/KjitToCPU/EmitHelpers.h"
#include "compiler/Conversion/KjitToCPU/KernelErrorCodes.h"
#include "compiler/Conversion/KjitToCPU/KernelGenerators.h"

#include "dialects/kjit/IR/SparseTuning.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <climits>

using namespace mlir;
using namespace mlir::kjit;
using ::kjit::compiler::emitCsrCheck;
using ::kjit::compiler::emitIfValues;
using ::kjit::compiler::emitTaskLoop;
using ::kjit::compiler::KernelEmitter;
namespace ke = ::kjit::kernel_errors;
using Acc = SpgemmConfig::Accumulator;

namespace {

class SpgemmGen : public KernelEmitter {
public:
  SpgemmGen(OpBuilder &b, Location loc, const SpgemmConfig &cfg,
            const SpgemmGeom &g, ValueRange in, Value cRowPtr)
      : KernelEmitter(b, loc, 4), cfg(cfg), g(g), aRp(in[0]), aCi(in[1]),
        aV(in[2]), bRp(in[3]), bCi(in[4]), bV(in[5]), cRp(cRowPtr) {
    i1 = b.getI1Type();
    i32 = b.getI32Type();
    i64 = b.getI64Type();
    ix = b.getIndexType();
  }

  SpgemmConfig cfg;
  SpgemmGeom g;
  Value aRp, aCi, aV, bRp, bCi, bV, cRp;
  Value cCi, cV; ///< allocated in step 3
  Value prefix;  ///< memref<M+1 x index>: exclusive prefix of flops + 1
  Value capacity;  ///< index: sum over rows of min(products, N)
  Value capPrefix; ///< its exclusive prefix (symbolic = "bound", tasks > 1)
  Type i1, i32, i64, ix;

  // --- scalar helpers ------------------------------------------------------
  Value ci(Type t, int64_t v) { return arith::ConstantIntOp::create(b, loc, t, v); }
  Value ld(Value mem, Value i) {
    return memref::LoadOp::create(b, loc, mem, ValueRange{i});
  }
  void st(Value v, Value mem, Value i) {
    memref::StoreOp::create(b, loc, v, mem, ValueRange{i});
  }
  Value idx(Value v) { return arith::IndexCastOp::create(b, loc, ix, v); }
  Value cast(Type t, Value v) { return arith::IndexCastOp::create(b, loc, t, v); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value select(Value c0, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c0, x, y);
  }
  Value maxI(Value x, Value y) { return arith::MaxUIOp::create(b, loc, x, y); }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value orI(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value shl(Value x, Value y) { return arith::ShLIOp::create(b, loc, x, y); }
  Value shr(Value x, Value y) { return arith::ShRUIOp::create(b, loc, x, y); }
  Value subI(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value addI(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mulI(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value allocDyn(Type elem, Value n) {
    return memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, elem), ValueRange{n},
        b.getI64IntegerAttr(64));
  }
  Value allocStatic(Type elem, int64_t n) {
    return memref::AllocOp::create(b, loc, MemRefType::get({n}, elem),
                                   b.getI64IntegerAttr(64));
  }
  void fill(Value mem, Value n, Value v) {
    loop(c(0), n, c(1), [&](Value i) { st(v, mem, i); });
  }
  /// scf.while: `cond(args)` decides, `body(args)` gives the next args.
  SmallVector<Value>
  whileLoop(ValueRange init,
            function_ref<Value(ValueRange)> cond,
            function_ref<SmallVector<Value>(ValueRange)> body) {
    SmallVector<Type> types(TypeRange(init).begin(), TypeRange(init).end());
    SmallVector<Location> locs(types.size(), loc);
    auto w = scf::WhileOp::create(b, loc, types, init);
    OpBuilder::InsertionGuard guard(b);
    Block *before = b.createBlock(&w.getBefore(), {}, types, locs);
    scf::ConditionOp::create(b, loc, cond(before->getArguments()),
                             before->getArguments());
    Block *after = b.createBlock(&w.getAfter(), {}, types, locs);
    scf::YieldOp::create(b, loc, body(after->getArguments()));
    return SmallVector<Value>(w.getResults());
  }

  /// Tasks of the passes: the config's, except one on one thread (tasks
  /// would run one after the other: splitting the rows only costs scratch
  /// set-ups and, with symbolic = "bound", the move of their blocks).
  int64_t tasks() const {
    return cfg.threads <= 1 ? std::min<int64_t>(g.m, 1) : cfg.tasks(g);
  }

  /// `init` plus the products of A's nonzeros [s, e): the lengths of the
  /// rows of B they select.
  Value productsIn(Value s, Value e, Value init) {
    return loop(s, e, c(1), {init}, [&](Value p, ValueRange acc) {
      Value k = idx(ld(aCi, p));
      Value len = sub(idx(ld(bRp, add(k, 1))), idx(ld(bRp, k)));
      return SmallVector<Value>{add(acc[0], len)};
    })[0];
  }

  /// Products of row i (flops): prefix[i + 1] - prefix[i] - 1.
  Value rowFlops(Value i) {
    return sub(sub(ld(prefix, add(i, 1)), ld(prefix, i)), c(1));
  }

  /// Calls `product(j, k-position q, a value)` for every product of row i:
  /// j = B's column (index), q = B's position; carries `init`.
  SmallVector<Value>
  forProducts(Value i, ValueRange init, bool needA,
              function_ref<SmallVector<Value>(Value j, Value q, Value a,
                                              ValueRange acc)>
                  product) {
    Value s = idx(ld(aRp, i)), e = idx(ld(aRp, add(i, 1)));
    return loop(s, e, c(1), init, [&](Value p, ValueRange acc) {
      if (cfg.prefetchDistance > 0 && g.nnzB > 0) {
        // The row of B a later nonzero of A selects (rows of B are visited
        // in A's column order: random, mostly cache misses).
        Value ahead = minI(add(p, cfg.prefetchDistance), c(g.nnzA - 1));
        Value kn = idx(ld(aCi, ahead));
        Value q0 = minI(idx(ld(bRp, kn)), c(g.nnzB - 1));
        memref::PrefetchOp::create(b, loc, bCi, ValueRange{q0},
                                   /*isWrite=*/false, /*localityHint=*/3,
                                   /*isDataCache=*/true);
        if (needA)
          memref::PrefetchOp::create(b, loc, bV, ValueRange{q0},
                                     /*isWrite=*/false, /*localityHint=*/3,
                                     /*isDataCache=*/true);
      }
      Value k = idx(ld(aCi, p));
      Value a = needA ? ld(aV, p) : Value();
      Value qs = idx(ld(bRp, k)), qe = idx(ld(bRp, add(k, 1)));
      return loop(qs, qe, c(1), acc, [&](Value q, ValueRange acc2) {
        return product(idx(ld(bCi, q)), q, a, acc2);
      });
    });
  }
  Value bProduct(Value a, Value q) {
    return arith::MulFOp::create(b, loc, a, ld(bV, q));
  }

  // --- 1. products per row ---------------------------------------------------

  /// Also sums the capacity of symbolic = "bound" (min(products, N) per
  /// row: a row has at most N distinct columns) into `capacity`, and with
  /// several tasks keeps its exclusive prefix (each task's first offset).
  void computePrefix() {
    prefix = allocStatic(ix, g.m + 1);
    bool perTask = cfg.boundedSymbolic && tasks() > 1;
    if (perTask)
      capPrefix = allocStatic(ix, g.m + 1);
    st(c(0), prefix, c(0));
    capacity = loop(c(0), c(g.m), c(1), {c(0)}, [&](Value i, ValueRange cap) {
      if (perTask)
        st(cap[0], capPrefix, i);
      Value f = productsIn(idx(ld(aRp, i)), idx(ld(aRp, add(i, 1))), c(1));
      st(add(ld(prefix, i), f), prefix, add(i, 1));
      return SmallVector<Value>{add(cap[0], minI(sub(f, c(1)), c(g.n)))};
    })[0];
  }

  /// First row of task t: "flops": the smallest r with prefix[r] >=
  /// t * prefix[M] / tasks (prefix strictly increases, so t = 0 gives 0 and
  /// t = tasks gives M); "rows": t * M / tasks.
  Value bound(Value t, int64_t tasks) {
    if (!cfg.balanceFlops || tasks == 1)
      return arith::DivUIOp::create(b, loc, mul(t, g.m), c(tasks));
    Value target = arith::DivUIOp::create(
        b, loc, mulI(t, ld(prefix, c(g.m))), c(tasks));
    return whileLoop(
        {c(0), c(g.m)},
        [&](ValueRange a) {
          return cmp(arith::CmpIPredicate::ult, a[0], a[1]);
        },
        [&](ValueRange a) {
          Value mid = divI(add(a[0], a[1]), 2);
          Value less = cmp(arith::CmpIPredicate::ult, ld(prefix, mid), target);
          return SmallVector<Value>{select(less, add(mid, 1), a[0]),
                                    select(less, a[1], mid)};
        })[0];
  }

  // --- scratch per task --------------------------------------------------------

  struct Scratch {
    Value acc, bits;       ///< dense
    Value words;           ///< dense: the words a row set, as listed
    Value keys, vals;      ///< hash
    Value list;            ///< hash, sort: packed entries
    Value shortList;       ///< short rows: their packed products
    SmallVector<Value> all;
  };

  int64_t words() const { return (g.n + 63) / 64; }

  Scratch allocScratch(Value r0, Value r1, bool numeric) {
    Scratch s;
    if (cfg.accumulator == Acc::Dense) {
      if (numeric) {
        s.acc = allocStatic(f32, std::max<int64_t>(g.n, 1));
        fill(s.acc, c(g.n),
             arith::ConstantFloatOp::create(b, loc, b.getF32Type(),
                                            APFloat(0.0f)));
      }
      // One spare word past the bitmap (denseProducts' first open word).
      s.bits = allocStatic(i64, words() + 1);
      fill(s.bits, c(words() + 1), ci(i64, 0));
      // Listed words, and a slot for the spare's unconditional store.
      s.words = allocStatic(i64, words() + 1);
    } else {
      Value maxF = loop(r0, r1, c(1), {c(0)}, [&](Value i, ValueRange a) {
                     return SmallVector<Value>{maxI(a[0], rowFlops(i))};
                   })[0];
      Value distinct = minI(maxF, c(g.n));
      if (cfg.accumulator == Acc::Hash) {
        Value cap = tableSize(distinct);
        s.keys = allocDyn(i32, cap);
        fill(s.keys, cap, ci(i32, -1));
        if (numeric) {
          s.vals = allocDyn(f32, cap);
          s.list = allocDyn(i64, maxI(distinct, c(1)));
        }
      } else {
        s.list = allocDyn(i64, maxI(maxF, c(1)));
      }
    }
    if (hasShortRows())
      s.shortList = allocStatic(i64, cfg.shortRow);
    for (Value v :
         {s.acc, s.bits, s.words, s.keys, s.vals, s.list, s.shortList})
      if (v)
        s.all.push_back(v);
    return s;
  }

  void freeScratch(Scratch &s) {
    for (Value v : s.all)
      dealloc(v);
  }

  /// hash_scale x n rounded up to a power of two (at least 1).
  Value tableSize(Value n) {
    Value want = maxI(mul(n, cfg.hashScale), c(1));
    return whileLoop(
        {c(1)},
        [&](ValueRange a) {
          return cmp(arith::CmpIPredicate::ult, a[0], want);
        },
        [&](ValueRange a) { return SmallVector<Value>{mul(a[0], 2)}; })[0];
  }

  // --- dense accumulator -------------------------------------------------------

  /// Bit j of the bitmap: (word index, mask as i64).
  std::pair<Value, Value> bitOf(Value j) {
    Value w = arith::ShRUIOp::create(b, loc, j, c(6));
    Value bit = shl(ci(i64, 1), cast(i64, andI(j, c(63))));
    return {w, bit};
  }

  /// Sets each product's bit (and, with `numeric`, adds it into acc).
  /// The word being set is kept in a register (its index and bits) and
  /// or-ed into the bitmap when a product falls in another word: the
  /// columns of a row of B mostly share words, and a load-or-store per
  /// product would chain through store forwarding. It starts at the spare
  /// word past the bitmap (index words()), so the first product always
  /// opens its word. Each word that goes from zero to set is listed in
  /// s.words. Returns (first touched word, last touched word, words
  /// listed); an empty row gives first > last.
  SmallVector<Value> denseProducts(Scratch &s, Value i, bool numeric) {
    SmallVector<Value> init = {c(words()), ci(i64, 0), c(words()), c(0), c(0)};
    SmallVector<Type> types = {ix, i64, ix, ix, ix};
    // Flushes the open word; returns the new count of listed words.
    auto flush = [&](Value w, Value bits, Value listed) {
      Value old = ld(s.bits, w);
      st(orI(old, bits), s.bits, w);
      Value fresh = andI(cmp(arith::CmpIPredicate::eq, old, ci(i64, 0)),
                         cmp(arith::CmpIPredicate::ne, bits, ci(i64, 0)));
      st(cast(i64, w), s.words, listed);
      return add(listed, idx(arith::ExtUIOp::create(b, loc, i64, fresh)));
    };
    SmallVector<Value> r = forProducts(
        i, init, numeric, [&](Value j, Value q, Value a, ValueRange acc) {
          auto [w, bit] = bitOf(j);
          if (numeric) {
            Value sum =
                arith::AddFOp::create(b, loc, ld(s.acc, j), bProduct(a, q));
            st(sum, s.acc, j);
          }
          return emitIfValues(
              b, loc, cmp(arith::CmpIPredicate::eq, w, acc[0]), types,
              [&]() -> SmallVector<Value> {
                SmallVector<Value> next(acc.begin(), acc.end());
                next[1] = orI(acc[1], bit);
                return next;
              },
              [&]() -> SmallVector<Value> {
                Value listed = flush(acc[0], acc[1], acc[4]);
                return {w, bit, minI(acc[2], w), maxI(acc[3], w), listed};
              });
        });
    return {r[2], r[3], flush(r[0], r[1], r[4])};
  }

  /// Distinct columns of row i: the set bits of its listed words
  /// (popcount), cleared as they are counted.
  Value denseCount(Scratch &s, Value i) {
    SmallVector<Value> r = denseProducts(s, i, false);
    return loop(c(0), r[2], c(1), {c(0)}, [&](Value t, ValueRange a) {
      Value w = idx(ld(s.words, t));
      Value word = ld(s.bits, w);
      st(ci(i64, 0), s.bits, w);
      Value n = LLVM::CtPopOp::create(b, loc, i64, word);
      return SmallVector<Value>{add(a[0], idx(n))};
    })[0];
  }

  /// Accumulates row i and writes it at `pos`, columns ascending. The dense
  /// accumulator is all zeros between rows (each emitted entry is reset), so
  /// a product just adds; its bit marks the column as touched (an explicit
  /// zero from cancellation is still emitted). The touched words are read
  /// in order either by scanning the bitmap from the first to the last, or,
  /// when very few words lie far apart (4 n^2 < the span: sorting n words
  /// costs about n^2 / 4 data-dependent branches, a scanned word about one
  /// predictable branch; measured: bcspwr10, 9 words over a span of 61, is
  /// 14% faster scanned), by sorting the listed words.
  Value denseRow(Scratch &s, Value i, Value pos) {
    SmallVector<Value> r = denseProducts(s, i, true);
    Value zero = arith::ConstantFloatOp::create(b, loc, b.getF32Type(),
                                                APFloat(0.0f));
    // Emits the set bits of word w at p; returns the next position.
    auto emitWord = [&](Value w, Value p) {
      Value word = ld(s.bits, w);
      st(ci(i64, 0), s.bits, w);
      Value base = mul(w, 64);
      return whileLoop(
          {word, p},
          [&](ValueRange a) {
            return cmp(arith::CmpIPredicate::ne, a[0], ci(i64, 0));
          },
          [&](ValueRange a) {
            Value tz = LLVM::CountTrailingZerosOp::create(
                b, loc, i64, a[0], b.getIntegerAttr(i1, 1));
            Value j = add(base, idx(tz));
            st(cast(i32, j), cCi, a[1]);
            st(ld(s.acc, j), cV, a[1]);
            st(zero, s.acc, j);
            Value rest = andI(a[0], subI(a[0], ci(i64, 1)));
            return SmallVector<Value>{rest, add(a[1], 1)};
          })[1];
    };
    Value n = r[2];
    Value span = sub(add(r[1], 1), minI(r[0], add(r[1], 1)));
    Value sortWords = cmp(arith::CmpIPredicate::ult, mul(mulI(n, n), 4), span);
    return emitIfValues(
        b, loc, sortWords, TypeRange{ix},
        [&]() -> SmallVector<Value> {
          shellSort(s.words, n);
          return {loop(c(0), n, c(1), {pos}, [&](Value t, ValueRange p) {
            return SmallVector<Value>{emitWord(idx(ld(s.words, t)), p[0])};
          })[0]};
        },
        [&]() -> SmallVector<Value> {
          return {
              loop(r[0], add(r[1], 1), c(1), {pos}, [&](Value w, ValueRange p) {
                return SmallVector<Value>{emitWord(w, p[0])};
              })[0]};
        })[0];
  }

  // --- hash accumulator --------------------------------------------------------

  /// Slot of column j in the table of `mask + 1` slots: its slot or the
  /// first empty one of its probe sequence.
  Value probe(Value keys, Value j32, Value mask) {
    // Fibonacci hashing on the low 32 bits.
    Value h = mulI(j32, ci(i32, (int64_t)(int32_t)0x9E3779B1u));
    Value h0 = andI(idx(arith::ShRUIOp::create(b, loc, h, ci(i32, 8))), mask);
    return whileLoop(
        {h0},
        [&](ValueRange a) {
          Value key = ld(keys, a[0]);
          return andI(cmp(arith::CmpIPredicate::ne, key, j32),
                      cmp(arith::CmpIPredicate::ne, key, ci(i32, -1)));
        },
        [&](ValueRange a) {
          return SmallVector<Value>{andI(add(a[0], 1), mask)};
        })[0];
  }

  Value rowMask(Value i) {
    return sub(tableSize(minI(rowFlops(i), c(g.n))), c(1));
  }

  Value hashCount(Scratch &s, Value i) {
    Value mask = rowMask(i);
    Value n = forProducts(i, {c(0)}, false,
                          [&](Value j, Value, Value, ValueRange a) {
                            Value j32 = cast(i32, j);
                            Value h = probe(s.keys, j32, mask);
                            Value fresh = cmp(arith::CmpIPredicate::eq,
                                              ld(s.keys, h), ci(i32, -1));
                            st(j32, s.keys, h);
                            return SmallVector<Value>{
                                add(a[0], select(fresh, c(1), c(0)))};
                          })[0];
    fill(s.keys, add(mask, 1), ci(i32, -1));
    return n;
  }

  /// (column << 32) | bits of v: sorts by column as a signed i64.
  Value packEntry(Value j, Value v) {
    Value hi = shl(cast(i64, j), ci(i64, 32));
    Value bits = arith::BitcastOp::create(b, loc, i32, v);
    Value lo = arith::ExtUIOp::create(b, loc, i64, bits);
    return orI(hi, lo);
  }
  std::pair<Value, Value> unpackEntry(Value x) {
    Value col = arith::TruncIOp::create(b, loc, i32, shr(x, ci(i64, 32)));
    Value v = arith::BitcastOp::create(
        b, loc, f32, arith::TruncIOp::create(b, loc, i32, x));
    return {col, v};
  }

  Value hashRow(Scratch &s, Value i, Value pos) {
    Value mask = rowMask(i);
    forProducts(i, {}, true, [&](Value j, Value q, Value a, ValueRange) {
      Value j32 = cast(i32, j);
      Value h = probe(s.keys, j32, mask);
      Value fresh =
          cmp(arith::CmpIPredicate::eq, ld(s.keys, h), ci(i32, -1));
      Value prod = bProduct(a, q);
      Value sum = arith::AddFOp::create(b, loc, ld(s.vals, h), prod);
      st(select(fresh, prod, sum), s.vals, h);
      st(j32, s.keys, h);
      return SmallVector<Value>{};
    });
    // Gather (and empty the table), sort, write.
    Value n = loop(c(0), add(mask, 1), c(1), {c(0)},
                   [&](Value h, ValueRange a) {
                     Value key = ld(s.keys, h);
                     Value used = cmp(arith::CmpIPredicate::ne, key,
                                      ci(i32, -1));
                     Value next = emitIfValues(
                         b, loc, used, TypeRange{ix},
                         [&]() -> SmallVector<Value> {
                           st(packEntry(idx(key), ld(s.vals, h)), s.list,
                              a[0]);
                           st(ci(i32, -1), s.keys, h);
                           return {add(a[0], 1)};
                         },
                         [&]() -> SmallVector<Value> { return {a[0]}; })[0];
                     return SmallVector<Value>{next};
                   })[0];
    shellSort(s.list, n);
    loop(c(0), n, c(1), [&](Value t) {
      auto [col, v] = unpackEntry(ld(s.list, t));
      st(col, cCi, add(pos, t));
      st(v, cV, add(pos, t));
    });
    return add(pos, n);
  }

  // --- sort accumulator --------------------------------------------------------

  /// The row's products (packed) in `list`, sorted; returns their count.
  Value sortedProducts(Value list, Value i, bool numeric) {
    Value n = forProducts(i, {c(0)}, numeric,
                          [&](Value j, Value q, Value a, ValueRange acc) {
                            Value v = numeric ? bProduct(a, q)
                                              : arith::ConstantFloatOp::create(
                                                    b, loc, b.getF32Type(),
                                                    APFloat(0.0f));
                            st(packEntry(j, v), list, acc[0]);
                            return SmallVector<Value>{add(acc[0], 1)};
                          })[0];
    shellSort(list, n);
    return n;
  }
  Value column(Value x) { return shr(x, ci(i64, 32)); }

  Value sortCount(Value list, Value i) {
    Value n = sortedProducts(list, i, false);
    return loop(c(0), n, c(1), {c(0)}, [&](Value t, ValueRange a) {
             Value first = cmp(arith::CmpIPredicate::eq, t, c(0));
             Value prev = ld(list, select(first, t, sub(t, c(1))));
             Value fresh = orI(first, cmp(arith::CmpIPredicate::ne,
                                          column(ld(list, t)), column(prev)));
             return SmallVector<Value>{add(a[0], select(fresh, c(1), c(0)))};
           })[0];
  }

  Value sortRow(Value list, Value i, Value pos) {
    Value n = sortedProducts(list, i, true);
    return loop(c(0), n, c(1), {pos}, [&](Value t, ValueRange p) {
      auto [col, v] = unpackEntry(ld(list, t));
      Value first = cmp(arith::CmpIPredicate::eq, t, c(0));
      Value prevAt = select(first, p[0], sub(p[0], c(1)));
      Value prevCol = ld(list, select(first, t, sub(t, c(1))));
      Value same = andI(
          arith::XOrIOp::create(b, loc, first, ci(i1, 1)),
          cmp(arith::CmpIPredicate::eq, column(prevCol), column(ld(list, t))));
      Value next = emitIfValues(
          b, loc, same, TypeRange{ix},
          [&]() -> SmallVector<Value> {
            Value sum = arith::AddFOp::create(b, loc, ld(cV, prevAt), v);
            st(sum, cV, prevAt);
            return {p[0]};
          },
          [&]() -> SmallVector<Value> {
            st(col, cCi, p[0]);
            st(v, cV, p[0]);
            return {add(p[0], 1)};
          })[0];
      return SmallVector<Value>{next};
    })[0];
  }

  // --- shell sort of list[0, n) (i64, ascending, signed) -----------------------

  /// Gaps n * (4/9)^k down to 1 (about Ciura's ratio), insertion sort per gap.
  void shellSort(Value list, Value n) {
    auto nextGap = [&](Value gap) {
      Value smaller = divI(mul(gap, 4), 9);
      Value one = cmp(arith::CmpIPredicate::ule, gap, c(1));
      return select(one, c(0), maxI(smaller, c(1)));
    };
    whileLoop(
        {nextGap(n)},
        [&](ValueRange a) {
          return cmp(arith::CmpIPredicate::ne, a[0], c(0));
        },
        [&](ValueRange a) {
          Value gap = a[0];
          loop(gap, n, c(1), [&](Value i) {
            Value x = ld(list, i);
            Value j = whileLoop(
                {i},
                [&](ValueRange w) {
                  Value far = cmp(arith::CmpIPredicate::uge, w[0], gap);
                  Value at = select(far, subI(w[0], gap), c(0));
                  Value greater = cmp(arith::CmpIPredicate::sgt,
                                      ld(list, at), x);
                  return andI(far, greater);
                },
                [&](ValueRange w) {
                  Value from = subI(w[0], gap);
                  st(ld(list, from), list, w[0]);
                  return SmallVector<Value>{from};
                })[0];
            st(x, list, j);
          });
          return SmallVector<Value>{nextGap(gap)};
        });
  }

  // --- the passes ----------------------------------------------------------------

  /// Runs `body(scratch, r0, r1)` for every task (its rows [r0, r1)).
  void forTasks(bool numeric, bool scratch,
                function_ref<void(Scratch &, Value, Value)> body) {
    int64_t nTasks = tasks();
    if (nTasks == 0)
      return;
    emitTaskLoop(b, loc, nTasks, cfg.threads, [&](Value t) {
      Value r0 = bound(t, nTasks), r1 = bound(add(t, 1), nTasks);
      Scratch s;
      if (scratch)
        s = allocScratch(r0, r1, numeric);
      body(s, r0, r1);
      freeScratch(s);
    });
  }

  /// Whether row i takes the short-row path: its products sorted and
  /// merged (short_row > 0 with the dense or hash accumulator, at most
  /// short_row products). A few products cost less to sort than a bitmap
  /// scan or a table to fill, gather and empty.
  bool hasShortRows() const {
    return cfg.shortRow > 0 && cfg.accumulator != Acc::Sort;
  }
  /// `shortFn()` for a short row, else `accFn()`; both give an index.
  Value byRowLength(Value i, function_ref<Value()> shortFn,
                    function_ref<Value()> accFn) {
    if (!hasShortRows())
      return accFn();
    Value isShort =
        cmp(arith::CmpIPredicate::ule, rowFlops(i), c(cfg.shortRow));
    return emitIfValues(
        b, loc, isShort, TypeRange{ix},
        [&]() -> SmallVector<Value> { return {shortFn()}; },
        [&]() -> SmallVector<Value> { return {accFn()}; })[0];
  }

  Value count(Scratch &s, Value i) {
    return byRowLength(
        i, [&] { return sortCount(s.shortList, i); },
        [&]() -> Value {
          switch (cfg.accumulator) {
          case Acc::Dense:
            return denseCount(s, i);
          case Acc::Hash:
            return hashCount(s, i);
          case Acc::Sort:
            return sortCount(s.list, i);
          }
          return Value();
        });
  }

  /// Writes row i at `pos` of (cCi, cV); returns the position after it.
  Value numericRow(Scratch &s, Value i, Value pos) {
    return byRowLength(
        i, [&] { return sortRow(s.shortList, i, pos); },
        [&]() -> Value {
          switch (cfg.accumulator) {
          case Acc::Dense:
            return denseRow(s, i, pos);
          case Acc::Hash:
            return hashRow(s, i, pos);
          case Acc::Sort:
            return sortRow(s.list, i, pos);
          }
          return Value();
        });
  }

  /// c_row_ptr[i + 1] holds row i's count: makes it the prefix sum, in i64.
  /// Returns (nnz as index, "too large" i1); more than INT32_MAX entries is
  /// reported (and nnz is 0).
  std::pair<Value, Value> prefixSum() {
    st(ci(i32, 0), cRp, c(0));
    Value total = loop(c(0), c(g.m), c(1), {ci(i64, 0)},
                       [&](Value i, ValueRange a) {
                         Value cnt = arith::ExtUIOp::create(
                             b, loc, i64, ld(cRp, add(i, 1)));
                         Value sum = addI(a[0], cnt);
                         st(arith::TruncIOp::create(b, loc, i32, sum), cRp,
                            add(i, 1));
                         return SmallVector<Value>{sum};
                       })[0];
    Value tooLarge =
        cmp(arith::CmpIPredicate::sgt, total, ci(i64, INT32_MAX));
    ifThen(tooLarge, [&] {
      ::kjit::compiler::emitReport(*this, ke::kSpgemm, ke::kOutputTooLarge,
                                   total, ci(i64, 0));
    });
    return {idx(select(tooLarge, ci(i64, 0), total)), tooLarge};
  }
  Value notI(Value x) { return arith::XOrIOp::create(b, loc, x, ci(i1, 1)); }

  /// i1: `n` > 0 entries were asked of `mems` and one of them came back
  /// without memory (malloc failed: the aligned pointer is null).
  Value noMemory(Value n, ArrayRef<Value> mems) {
    Value missing = ci(i1, 0);
    for (Value m : mems)
      missing = orI(missing,
                    cmp(arith::CmpIPredicate::eq,
                        memref::ExtractAlignedPointerAsIndexOp::create(b, loc,
                                                                       m),
                        c(0)));
    return andI(missing, cmp(arith::CmpIPredicate::ugt, n, c(0)));
  }

  /// i1: `n` > 0 entries were asked of `mems` and one of them came back
  /// without memory (malloc failed: the aligned pointer is null). Reported
  /// as kOutputAllocFailed (a = n); the caller skips the passes that write.
  Value allocFailed(Value n, ArrayRef<Value> mems) {
    Value failed = noMemory(n, mems);
    ifThen(failed, [&] {
      ::kjit::compiler::emitReport(*this, ke::kSpgemm, ke::kOutputAllocFailed,
                                   cast(i64, n), ci(i64, 0));
    });
    return failed;
  }

  /// symbolic = "exact": count, prefix sum, allocate, numeric.
  SmallVector<Value> exactPasses() {
    forTasks(false, true, [&](Scratch &s, Value r0, Value r1) {
      loop(r0, r1, c(1), [&](Value i) {
        st(cast(i32, count(s, i)), cRp, add(i, 1));
      });
    });
    auto [nnz, tooLarge] = prefixSum();
    cCi = allocDyn(i32, nnz);
    cV = allocDyn(f32, nnz);
    Value failed = allocFailed(nnz, {cCi, cV});
    ifThen(notI(orI(tooLarge, failed)), [&] {
      forTasks(true, true, [&](Scratch &s, Value r0, Value r1) {
        loop(r0, r1, c(1),
             [&](Value i) { numericRow(s, i, idx(ld(cRp, i))); });
      });
    });
    return {cCi, cV};
  }

  /// symbolic = "bound": no symbolic pass. col_idx and values come
  /// allocated for `capacity` entries (min(products, N) per row, an upper
  /// bound of the result); each task writes its rows packed from its first
  /// row's offset in that bound and records their counts; after the prefix
  /// sum the tasks' blocks are moved down in order (never up: a row has at
  /// most min(products, N) entries) and the buffers are returned with the
  /// result's length (the allocation keeps its capacity). One task writes
  /// packed from 0: no move, and only the result's pages are touched.
  SmallVector<Value> boundPasses(Value outC, Value outV) {
    cCi = outC;
    cV = outV;
    int64_t nTasks = tasks();
    auto taskBase = [&](Value r0) {
      return nTasks > 1 ? ld(capPrefix, r0) : c(0);
    };
    // One task: each row's end is its row_ptr entry already (no prefix
    // sum pass). Several: counts, then the prefix sum. No overflow either
    // way: nnz <= capacity <= kSpgemmMaxBoundProducts.
    forTasks(true, true, [&](Scratch &s, Value r0, Value r1) {
      loop(r0, r1, c(1), {taskBase(r0)}, [&](Value i, ValueRange p) {
        Value end = numericRow(s, i, p[0]);
        st(cast(i32, nTasks > 1 ? sub(end, p[0]) : end), cRp, add(i, 1));
        return SmallVector<Value>{end};
      });
    });
    Value nnz;
    if (nTasks > 1) {
      nnz = prefixSum().first;
    } else {
      st(ci(i32, 0), cRp, c(0));
      nnz = nTasks == 1 ? idx(ld(cRp, c(g.m))) : c(0);
    }
    if (nTasks > 1)
      loop(c(1), c(nTasks), c(1), [&](Value t) {
        Value r0 = bound(t, nTasks), r1 = bound(add(t, 1), nTasks);
        Value src = taskBase(r0), dst = idx(ld(cRp, r0));
        Value n = sub(idx(ld(cRp, r1)), dst);
        ifThen(cmp(arith::CmpIPredicate::ne, src, dst), [&] {
          loop(c(0), n, c(1), [&](Value k) {
            st(ld(outC, add(src, k)), outC, add(dst, k));
            st(ld(outV, add(src, k)), outV, add(dst, k));
          });
        });
      });
    auto shrink = [&](Value mem) -> Value {
      auto t = cast<MemRefType>(mem.getType());
      return memref::ReinterpretCastOp::create(
          b, loc, t, mem, OpFoldResult(b.getIndexAttr(0)),
          ArrayRef<OpFoldResult>{nnz},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    };
    return {shrink(outC), shrink(outV)};
  }

  /// Everything after validation; returns (col_idx, values).
  SmallVector<Value> compute() {
    computePrefix();
    Type ciT = MemRefType::get({ShapedType::kDynamic}, i32);
    Type vT = MemRefType::get({ShapedType::kDynamic}, f32);
    SmallVector<Value> out;
    if (cfg.boundedSymbolic) {
      // A bound over the limit (memory), or no memory for it: the exact
      // passes instead (they need only the result's).
      Value fits =
          cmp(arith::CmpIPredicate::ule, capacity, c(kSpgemmMaxBoundProducts));
      Value want = select(fits, capacity, c(0));
      Value outC = allocDyn(i32, want), outV = allocDyn(f32, want);
      Value useBound = andI(fits, notI(noMemory(want, {outC, outV})));
      out = emitIfValues(
          b, loc, useBound, TypeRange{ciT, vT},
          [&]() -> SmallVector<Value> { return boundPasses(outC, outV); },
          [&]() -> SmallVector<Value> {
            dealloc(outC);
            dealloc(outV);
            return exactPasses();
          });
    } else {
      out = exactPasses();
    }
    dealloc(prefix);
    if (capPrefix)
      dealloc(capPrefix);
    return out;
  }
};

} // namespace

namespace kjit::compiler {
LogicalResult generateSpgemmCpu(OpBuilder &b, Location loc, Operation *op,
                                ValueRange inputs, ValueRange outputs,
                                SmallVectorImpl<Value> &allocated,
                                ConfigAttr config, const TargetInfo &target,
                                std::string &reason) {
  auto geom = getSpgemmGeom(op, reason);
  if (failed(geom))
    return failure();
  auto cfgOr = SpgemmConfig::parse(config, defaultSpgemmConfig(*geom, target),
                                   reason);
  if (failed(cfgOr) ||
      failed(checkSpgemmConfig(*cfgOr, *geom, target, reason)))
    return failure();
  if (inputs.size() != 6 || outputs.size() != 1) {
    reason = "kjit.spgemm kernel takes 6 inputs, 1 static output (row_ptr) "
             "and allocates 2 (col_idx, values)";
    return failure();
  }
  SpgemmConfig cfg = *cfgOr;
  SpgemmGeom g = *geom;
  SpgemmGen gen(b, loc, cfg, g, inputs, outputs[0]);
  Value okA = emitCsrCheck(gen, ke::kSpgemmA, gen.aRp, gen.aCi, g.m, g.k,
                           g.nnzA);
  Value okB = emitCsrCheck(gen, ke::kSpgemmB, gen.bRp, gen.bCi, g.k, g.n,
                           g.nnzB);
  Type ciT = MemRefType::get({ShapedType::kDynamic}, b.getI32Type());
  Type vT = MemRefType::get({ShapedType::kDynamic}, b.getF32Type());
  SmallVector<Value> results = emitIfValues(
      b, loc, gen.andI(okA, okB), TypeRange{ciT, vT},
      [&]() -> SmallVector<Value> { return gen.compute(); },
      [&]() -> SmallVector<Value> {
        // Malformed input (reported): a zero row_ptr and empty outputs,
        // still allocated so that the caller frees on every path alike.
        gen.fill(gen.cRp, gen.c(g.m + 1), gen.ci(gen.i32, 0));
        return {gen.allocDyn(gen.i32, gen.c(0)),
                gen.allocDyn(gen.f32, gen.c(0))};
      });
  allocated.append(results.begin(), results.end());
  return success();
}
} // namespace kjit::compiler
