//===- SpgemmBench.cpp - kjit.spgemm vs SuiteSparse:GraphBLAS and Eigen ---===//
//
// C = A B with A, B: 16384 x 16384 CSR, 16 nonzeros per row at uniformly
// random columns (values uniform in [-1, 1]), fp32: 256 products and about
// 254 distinct columns per row of C (4.2 M entries). 1 and 2 threads.
// Peers in the same process:
//   - SuiteSparse:GraphBLAS (Debian libgraphblas 7.4): GrB_mxm with
//     GrB_PLUS_TIMES_SEMIRING_FP32 into a fresh matrix, timed alone (its
//     result may stay "jumbled": columns unsorted within rows, sorted later
//     on demand) and followed by GrB_Matrix_wait(C, GrB_MATERIALIZE) (which
//     sorts them). Threads through GxB_NTHREADS. Built only when GraphBLAS
//     is found at configure time; otherwise its columns read "n/a".
//   - Eigen 3.4: SparseMatrix<float, RowMajor> product (single-threaded;
//     sorted output), timed at 1 thread.
// kjit: Kernel::runAllocating (its result has sorted columns), default
// config (dense accumulator) with `threads` from the compile options; the
// hash and sort accumulators are timed at 1 thread for reference.
// Every timed run allocates its result and frees it (for every library).
// kjit's result is checked against Eigen's (row_ptr and col_idx exactly,
// values to 1e-4 relative) and GraphBLAS's nnz and value sum before timing.
// Each case: 1 warm-up + KJIT_BENCH_REPS (default 7) timed runs, median.
// Prints a markdown table.
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "kjit/kjit.h"

#include <Eigen/Sparse>

#ifdef KJIT_HAVE_GRAPHBLAS
extern "C" {
#include <GraphBLAS.h>
}
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {
using kjit::bench::medianMs;

constexpr int64_t kN = 16384, kPerRow = 16;

int reps() {
  const char *s = std::getenv("KJIT_BENCH_REPS");
  return s ? std::max(1, atoi(s)) : 7;
}

struct Csr {
  std::vector<int32_t> rowPtr, colIdx;
  std::vector<float> values;
  int64_t nnz() const { return int64_t(colIdx.size()); }
};

Csr randomCsr(std::mt19937_64 &rng) {
  std::uniform_int_distribution<int32_t> col(0, int32_t(kN - 1));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Csr a;
  a.rowPtr.push_back(0);
  for (int64_t i = 0; i < kN; ++i) {
    std::vector<int32_t> c;
    while ((int64_t)c.size() < kPerRow) {
      int32_t j = col(rng);
      if (std::find(c.begin(), c.end(), j) == c.end())
        c.push_back(j);
    }
    std::sort(c.begin(), c.end());
    for (int32_t j : c) {
      a.colIdx.push_back(j);
      a.values.push_back(u(rng));
    }
    a.rowPtr.push_back(int32_t(a.colIdx.size()));
  }
  return a;
}

std::string spgemmModule(int64_t nnzA, int64_t nnzB) {
  auto t = [](int64_t n, const char *e) {
    return "tensor<" + (n < 0 ? std::string("?") : std::to_string(n)) + "x" +
           e + ">";
  };
  std::string arp = t(kN + 1, "i32"), aci = t(nnzA, "i32"),
              av = t(nnzA, "f32"), brp = t(kN + 1, "i32"),
              bci = t(nnzB, "i32"), bv = t(nnzB, "f32"), cci = t(-1, "i32"),
              cv = t(-1, "f32");
  std::string n = std::to_string(kN);
  return "func.func @main(%arp: " + arp + ", %aci: " + aci + ", %av: " + av +
         ", %brp: " + brp + ", %bci: " + bci + ", %bv: " + bv + ") -> (" +
         arp + ", " + cci + ", " + cv +
         ") {\n  %c:3 = kjit.spgemm %arp, %aci, %av, %brp, %bci, %bv "
         "{shape = array<i64: " +
         n + ", " + n + ", " + n + ">} : " + arp + ", " + aci + ", " + av +
         ", " + brp + ", " + bci + ", " + bv + " -> " + arp + ", " + cci +
         ", " + cv + "\n  return %c#0, %c#1, %c#2 : " + arp + ", " + cci +
         ", " + cv + "\n}\n";
}

using EigenCsr = Eigen::SparseMatrix<float, Eigen::RowMajor, int32_t>;

EigenCsr toEigen(Csr &a) {
  return Eigen::Map<EigenCsr>(kN, kN, a.nnz(), a.rowPtr.data(),
                              a.colIdx.data(), a.values.data());
}

/// "" when kjit's C equals Eigen's (structure exactly, values to 1e-4).
std::string compare(const std::vector<kjit::Tensor> &c, const EigenCsr &e) {
  const int32_t *rp = c[0].data<int32_t>(), *ci = c[1].data<int32_t>();
  const float *v = c[2].data<float>();
  if (c[1].numElements() != e.nonZeros())
    return "nnz " + std::to_string(c[1].numElements()) + " vs Eigen's " +
           std::to_string(e.nonZeros());
  double maxErr = 0, maxRef = 0;
  for (int64_t i = 0; i <= kN; ++i)
    if (rp[i] != e.outerIndexPtr()[i])
      return "row_ptr differs at " + std::to_string(i);
  for (int64_t p = 0; p < e.nonZeros(); ++p) {
    if (ci[p] != e.innerIndexPtr()[p])
      return "col_idx differs at " + std::to_string(p);
    maxErr = std::max(maxErr, std::fabs(double(v[p]) - e.valuePtr()[p]));
    maxRef = std::max(maxRef, std::fabs(double(e.valuePtr()[p])));
  }
  if (maxErr > 1e-4 * (1 + maxRef))
    return "values differ by " + std::to_string(maxErr);
  return "";
}

#ifdef KJIT_HAVE_GRAPHBLAS
GrB_Matrix toGraphBLAS(const Csr &a) {
  std::vector<GrB_Index> I, J;
  for (int64_t i = 0; i < kN; ++i)
    for (int32_t p = a.rowPtr[i]; p < a.rowPtr[i + 1]; ++p) {
      I.push_back(GrB_Index(i));
      J.push_back(GrB_Index(a.colIdx[p]));
    }
  GrB_Matrix m;
  GrB_Matrix_new(&m, GrB_FP32, kN, kN);
  GrB_Matrix_build_FP32(m, I.data(), J.data(), a.values.data(),
                        GrB_Index(a.nnz()), GrB_PLUS_FP32);
  GrB_Matrix_wait(m, GrB_MATERIALIZE);
  return m;
}
#endif

struct Row {
  std::string what;
  int threads;
  double kjit = 0, grbUnsorted = -1, grbSorted = -1, eigen = -1;
};

std::string ms(double v) {
  if (v < 0)
    return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", v);
  return buf;
}

} // namespace

int main() {
  std::mt19937_64 rng(12345);
  Csr a = randomCsr(rng), b = randomCsr(rng);
  std::vector<kjit::TensorView> in = {
      kjit::TensorView(a.rowPtr.data(), {kN + 1}),
      kjit::TensorView(a.colIdx.data(), {a.nnz()}),
      kjit::TensorView(a.values.data(), {a.nnz()}),
      kjit::TensorView(b.rowPtr.data(), {kN + 1}),
      kjit::TensorView(b.colIdx.data(), {b.nnz()}),
      kjit::TensorView(b.values.data(), {b.nnz()})};

  EigenCsr aE = toEigen(a), bE = toEigen(b);
  EigenCsr cE = aE * bE;
  std::fprintf(stderr, "C: %lld entries\n", (long long)cE.nonZeros());
#ifdef KJIT_HAVE_GRAPHBLAS
  double eigenSum = 0;
  for (int64_t p = 0; p < cE.nonZeros(); ++p)
    eigenSum += cE.valuePtr()[p];
#endif
  double eigenMs = medianMs(reps(), [&] {
    EigenCsr c = aE * bE;
    if (c.nonZeros() == 0)
      std::abort();
  });

#ifdef KJIT_HAVE_GRAPHBLAS
  GrB_init(GrB_NONBLOCKING);
  GrB_Matrix aG = toGraphBLAS(a), bG = toGraphBLAS(b);
#endif

  kjit::Jit jit;
  std::vector<Row> rows;
  struct Variant {
    const char *what, *config;
    int threads;
  } variants[] = {{"kjit (default: dense)", "", 1},
                  {"kjit (default: dense)", "", 2},
                  {"kjit symbolic=exact", "#kjit.config<{symbolic = \"exact\"}>", 1},
                  {"kjit symbolic=bound", "#kjit.config<{symbolic = \"bound\"}>", 1},
                  {"kjit prefetch_distance=0", "#kjit.config<{prefetch_distance = 0}>", 1},
                  {"kjit prefetch_distance=32", "#kjit.config<{prefetch_distance = 32}>", 1},
                  {"kjit accumulator=hash", "#kjit.config<{accumulator = \"hash\"}>", 1},
                  {"kjit accumulator=sort", "#kjit.config<{accumulator = \"sort\"}>", 1}};
  std::vector<std::string> configs;
  for (const Variant &var : variants) {
    kjit::CompileOptions co;
    co.threads = var.threads;
    co.config = var.config;
    auto k = jit.compileModule(spgemmModule(a.nnz(), b.nnz()), co);
    if (!k) {
      std::fprintf(stderr, "kjit compile failed: %s\n",
                   k.errorMessage().c_str());
      return 1;
    }
    configs.push_back(std::string(var.what) + ", " +
                      std::to_string(var.threads) + " thread(s): `" +
                      k->configs()[0] + "`");
    {
      auto c = k->runAllocating(in);
      if (!c) {
        std::fprintf(stderr, "kjit run failed: %s\n", c.errorMessage().c_str());
        return 1;
      }
      if (std::string bad = compare(*c, cE); !bad.empty()) {
        std::fprintf(stderr, "kjit vs Eigen: %s\n", bad.c_str());
        return 1;
      }
    }
    Row r;
    r.what = var.what;
    r.threads = var.threads;
    r.kjit = medianMs(reps(), [&] {
      auto c = k->runAllocating(in);
      if (!c)
        std::abort();
    });
    if (std::string(var.config).empty()) {
      if (var.threads == 1)
        r.eigen = eigenMs;
#ifdef KJIT_HAVE_GRAPHBLAS
      GxB_Global_Option_set_INT32(GxB_GLOBAL_NTHREADS, var.threads);
      auto product = [&](bool sorted) {
        GrB_Matrix c;
        GrB_Matrix_new(&c, GrB_FP32, kN, kN);
        GrB_mxm(c, nullptr, nullptr, GrB_PLUS_TIMES_SEMIRING_FP32, aG, bG,
                nullptr);
        if (sorted)
          GrB_Matrix_wait(c, GrB_MATERIALIZE);
        return c;
      };
      {
        GrB_Matrix c = product(true);
        GrB_Index nvals = 0;
        GrB_Matrix_nvals(&nvals, c);
        double sum = 0;
        GrB_Matrix_reduce_FP64(&sum, nullptr, GrB_PLUS_MONOID_FP64, c,
                               nullptr);
        GrB_Matrix_free(&c);
        if ((int64_t)nvals != cE.nonZeros() ||
            std::fabs(sum - eigenSum) > 1e-3 * (1 + std::fabs(eigenSum))) {
          std::fprintf(stderr, "GraphBLAS vs Eigen: nnz %llu vs %lld, sum %g "
                               "vs %g\n",
                       (unsigned long long)nvals, (long long)cE.nonZeros(),
                       sum, eigenSum);
          return 1;
        }
      }
      r.grbUnsorted = medianMs(reps(), [&] {
        GrB_Matrix c = product(false);
        GrB_Matrix_free(&c);
      });
      r.grbSorted = medianMs(reps(), [&] {
        GrB_Matrix c = product(true);
        GrB_Matrix_free(&c);
      });
#endif
    }
    std::fprintf(stderr, "%s, %d thread(s): kjit %.2f ms\n", var.what,
                 var.threads, r.kjit);
    rows.push_back(r);
  }

  std::printf("| kernel | threads | kjit (sorted) | GraphBLAS mxm (may be "
              "unsorted) | GraphBLAS mxm + wait (sorted) | Eigen (sorted, 1 "
              "thread) | GraphBLAS unsorted / kjit |\n"
              "|---|---|---|---|---|---|---|\n");
  for (const Row &r : rows) {
    std::string ratio = "n/a";
    if (r.grbUnsorted > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f×", r.grbUnsorted / r.kjit);
      ratio = buf;
    }
    std::printf("| %s | %d | %s | %s | %s | %s | %s |\n", r.what.c_str(),
                r.threads, ms(r.kjit).c_str(), ms(r.grbUnsorted).c_str(),
                ms(r.grbSorted).c_str(), ms(r.eigen).c_str(), ratio.c_str());
  }
  std::printf("\nkjit configs:\n");
  for (const std::string &c : configs)
    std::printf("- %s\n", c.c_str());
#ifdef KJIT_HAVE_GRAPHBLAS
  GrB_Matrix_free(&aG);
  GrB_Matrix_free(&bG);
  GrB_finalize();
#endif
  return 0;
}
