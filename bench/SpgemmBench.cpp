//===- SpgemmBench.cpp - kjit.spgemm vs SuiteSparse:GraphBLAS and Eigen ---===//
//
// Without arguments: C = A B with A, B: 16384 x 16384 CSR, 16 nonzeros per
// row at uniformly random columns (values uniform in [-1, 1]), fp32: 256
// products and about 254 distinct columns per row of C (4.2 M entries). 1
// and 2 threads, and config variants at 1 thread.
// With Matrix Market files as arguments (coordinate real/integer/pattern,
// general/symmetric; duplicates summed, pattern entries 1): C = A A, or
// A A^T when A is not square (as the PyTorch comparison,
// bench/spgemm_vs_torch.py), kjit's default config at each thread count of
// KJIT_BENCH_THREADS (default "1,2"), one markdown row per matrix and
// thread count with the minimum and the median of each.
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
// config with `threads` from the compile options; other variants for
// reference (random matrix only): symbolic = "exact" at 1 and 2 threads
// (the default is "bound"), short_row = 0, prefetch distances, the hash and
// sort accumulators at 1 thread.
// Every timed run allocates its result and frees it (for every library).
// kjit's result is checked against Eigen's (row_ptr and col_idx exactly,
// values to 1e-4 relative) and GraphBLAS's nnz and value sum before timing.
// Each case: 1 warm-up + KJIT_BENCH_REPS (default 7) timed runs, median;
// for the matrix files kjit and GraphBLAS's two variants are timed in turn
// (ABAB), minimum and median. Prints a markdown table.
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "kjit/kjit.h"
// Csr, views() and the module text, as the spgemm tests build them.
#include "tests/integration/SpgemmTestSupport.h"

#include <Eigen/Sparse>

#ifdef KJIT_HAVE_GRAPHBLAS
extern "C" {
#include <GraphBLAS.h>
}
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace {
using kjit::bench::medianMs;
using kjit::testing::spgemm::Csr;
using kjit::testing::spgemm::views;

constexpr int64_t kN = 16384, kPerRow = 16;

int reps() {
  const char *s = std::getenv("KJIT_BENCH_REPS");
  return s ? std::max(1, atoi(s)) : 7;
}

Csr randomCsr(std::mt19937_64 &rng) {
  std::uniform_int_distribution<int32_t> col(0, int32_t(kN - 1));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Csr a;
  a.rows = a.cols = kN;
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

/// CSR (sorted columns, duplicates summed) of (row, col, value) triplets.
Csr fromTriplets(int64_t rows, int64_t cols,
                 std::vector<std::tuple<int32_t, int32_t, float>> t) {
  std::sort(t.begin(), t.end(), [](const auto &x, const auto &y) {
    return std::tie(std::get<0>(x), std::get<1>(x)) <
           std::tie(std::get<0>(y), std::get<1>(y));
  });
  Csr a;
  a.rows = rows, a.cols = cols;
  a.rowPtr.assign(rows + 1, 0);
  for (size_t p = 0; p < t.size(); ++p) {
    auto [i, j, v] = t[p];
    if (p > 0 && std::get<0>(t[p - 1]) == i && std::get<1>(t[p - 1]) == j) {
      a.values.back() += v;
      continue;
    }
    a.colIdx.push_back(j);
    a.values.push_back(v);
    a.rowPtr[i + 1]++;
  }
  for (int64_t i = 0; i < rows; ++i)
    a.rowPtr[i + 1] += a.rowPtr[i];
  return a;
}

/// A Matrix Market coordinate file; false (and `why`) when it is not one.
bool readMtx(const std::string &path, Csr &out, std::string &why) {
  std::ifstream f(path);
  std::string line;
  if (!f || !std::getline(f, line)) {
    why = "cannot read";
    return false;
  }
  std::string banner = line;
  for (char &ch : banner)
    ch = char(std::tolower((unsigned char)ch));
  if (banner.rfind("%%matrixmarket matrix coordinate", 0) != 0) {
    why = "not a coordinate Matrix Market file";
    return false;
  }
  bool pattern = banner.find(" pattern") != std::string::npos;
  bool symmetric = banner.find(" symmetric") != std::string::npos;
  if (banner.find(" complex") != std::string::npos ||
      banner.find("skew") != std::string::npos ||
      banner.find("hermitian") != std::string::npos) {
    why = "complex, skew or Hermitian matrices are not read";
    return false;
  }
  while (std::getline(f, line) && (line.empty() || line[0] == '%')) {
  }
  int64_t rows = 0, cols = 0, entries = 0;
  std::istringstream(line) >> rows >> cols >> entries;
  std::vector<std::tuple<int32_t, int32_t, float>> t;
  for (int64_t e = 0; e < entries && std::getline(f, line); ++e) {
    std::istringstream in(line);
    int64_t i = 0, j = 0;
    double v = 1.0;
    in >> i >> j;
    if (!pattern)
      in >> v;
    if (i < 1 || i > rows || j < 1 || j > cols) {
      why = "entry out of range: " + line;
      return false;
    }
    t.emplace_back(int32_t(i - 1), int32_t(j - 1), float(v));
    if (symmetric && i != j)
      t.emplace_back(int32_t(j - 1), int32_t(i - 1), float(v));
  }
  out = fromTriplets(rows, cols, std::move(t));
  return true;
}

Csr transpose(const Csr &a) {
  std::vector<std::tuple<int32_t, int32_t, float>> t;
  for (int64_t i = 0; i < a.rows; ++i)
    for (int32_t p = a.rowPtr[i]; p < a.rowPtr[i + 1]; ++p)
      t.emplace_back(a.colIdx[p], int32_t(i), a.values[p]);
  return fromTriplets(a.cols, a.rows, std::move(t));
}

std::string spgemmModule(const Csr &a, const Csr &b) {
  return kjit::testing::spgemm::spgemmModule(a.rows, a.cols, b.cols, a.nnz(),
                                             b.nnz());
}

using EigenCsr = Eigen::SparseMatrix<float, Eigen::RowMajor, int32_t>;

EigenCsr toEigen(Csr &a) {
  return Eigen::Map<EigenCsr>(a.rows, a.cols, a.nnz(), a.rowPtr.data(),
                              a.colIdx.data(), a.values.data());
}

/// "" when kjit's C equals Eigen's (structure exactly, values to 1e-4).
/// Eigen's product drops no entries, so cancellations stay explicit in
/// both.
std::string compare(const std::vector<kjit::Tensor> &c, const EigenCsr &e) {
  const int32_t *rp = c[0].data<int32_t>(), *ci = c[1].data<int32_t>();
  const float *v = c[2].data<float>();
  if (c[1].numElements() != e.nonZeros())
    return "nnz " + std::to_string(c[1].numElements()) + " vs Eigen's " +
           std::to_string(e.nonZeros());
  double maxErr = 0, maxRef = 0;
  for (int64_t i = 0; i <= e.rows(); ++i)
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
  for (int64_t i = 0; i < a.rows; ++i)
    for (int32_t p = a.rowPtr[i]; p < a.rowPtr[i + 1]; ++p) {
      I.push_back(GrB_Index(i));
      J.push_back(GrB_Index(a.colIdx[p]));
    }
  GrB_Matrix m;
  GrB_Matrix_new(&m, GrB_FP32, a.rows, a.cols);
  GrB_Matrix_build_FP32(m, I.data(), J.data(), a.values.data(),
                        GrB_Index(a.nnz()), GrB_PLUS_FP32);
  GrB_Matrix_wait(m, GrB_MATERIALIZE);
  return m;
}

/// C = A B into a fresh matrix, sorted (materialized) or as mxm leaves it.
GrB_Matrix grbProduct(GrB_Matrix a, GrB_Matrix b, bool sorted) {
  GrB_Index m = 0, n = 0;
  GrB_Matrix_nrows(&m, a);
  GrB_Matrix_ncols(&n, b);
  GrB_Matrix c;
  GrB_Matrix_new(&c, GrB_FP32, m, n);
  GrB_mxm(c, nullptr, nullptr, GrB_PLUS_TIMES_SEMIRING_FP32, a, b, nullptr);
  if (sorted)
    GrB_Matrix_wait(c, GrB_MATERIALIZE);
  return c;
}

/// "" when GraphBLAS's C has Eigen's nnz and value sum.
std::string checkGraphBLAS(GrB_Matrix a, GrB_Matrix b, const EigenCsr &e) {
  double eigenSum = 0;
  for (int64_t p = 0; p < e.nonZeros(); ++p)
    eigenSum += e.valuePtr()[p];
  GrB_Matrix c = grbProduct(a, b, true);
  GrB_Index nvals = 0;
  GrB_Matrix_nvals(&nvals, c);
  double sum = 0;
  GrB_Matrix_reduce_FP64(&sum, nullptr, GrB_PLUS_MONOID_FP64, c, nullptr);
  GrB_Matrix_free(&c);
  if ((int64_t)nvals != e.nonZeros() ||
      std::fabs(sum - eigenSum) > 1e-3 * (1 + std::fabs(eigenSum)))
    return "nnz " + std::to_string(nvals) + " vs " +
           std::to_string(e.nonZeros()) + ", sum " + std::to_string(sum) +
           " vs " + std::to_string(eigenSum);
  return "";
}
#endif

/// Minimum and median wall time in ms of each function over reps() rounds
/// after a warm-up round; each round calls them in turn (ABAB), so that all
/// see the same machine load.
std::vector<std::pair<double, double>>
interleavedMs(const std::vector<std::function<void()>> &fns) {
  std::vector<std::vector<double>> t(fns.size());
  for (const auto &fn : fns)
    fn();
  for (int i = 0; i < reps(); ++i)
    for (size_t f = 0; f < fns.size(); ++f) {
      auto a = std::chrono::steady_clock::now();
      fns[f]();
      auto b = std::chrono::steady_clock::now();
      t[f].push_back(std::chrono::duration<double, std::milli>(b - a).count());
    }
  std::vector<std::pair<double, double>> out;
  for (auto &v : t) {
    std::sort(v.begin(), v.end());
    out.push_back({v.front(), v[v.size() / 2]});
  }
  return out;
}

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

/// "min / median" in ms with 3 decimals, or n/a.
std::string ms2(std::pair<double, double> v) {
  if (v.first < 0)
    return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f / %.3f", v.first, v.second);
  return buf;
}

std::vector<int> threadCounts() {
  const char *s = std::getenv("KJIT_BENCH_THREADS");
  std::vector<int> out;
  std::stringstream in(s ? s : "1,2");
  std::string item;
  while (std::getline(in, item, ','))
    if (int t = atoi(item.c_str()); t > 0)
      out.push_back(t);
  return out;
}

/// One row per matrix file and thread count: kjit's default config
/// against GraphBLAS (unsorted and sorted), min / median of each.
int benchFiles(int argc, char **argv) {
#ifdef KJIT_HAVE_GRAPHBLAS
  GrB_init(GrB_NONBLOCKING);
#endif
  kjit::Jit jit;
  std::printf("| matrix | M x N | nnz(A) | nnz(C) | threads | kjit default "
              "(sorted) min / median ms | GraphBLAS mxm (may be unsorted) | "
              "GraphBLAS mxm + wait (sorted) | GraphBLAS unsorted / kjit "
              "(min) | kjit config |\n|---|---|---|---|---|---|---|---|---|"
              "---|\n");
  for (int f = 1; f < argc; ++f) {
    std::string path = argv[f], why;
    std::string name = path.substr(path.find_last_of('/') + 1);
    Csr a;
    if (!readMtx(path, a, why)) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), why.c_str());
      return 1;
    }
    Csr b = a.rows == a.cols ? a : transpose(a);
    EigenCsr cE = toEigen(a) * toEigen(b);
#ifdef KJIT_HAVE_GRAPHBLAS
    GrB_Matrix aG = toGraphBLAS(a), bG = toGraphBLAS(b);
    if (std::string bad = checkGraphBLAS(aG, bG, cE); !bad.empty()) {
      std::fprintf(stderr, "%s: GraphBLAS vs Eigen: %s\n", name.c_str(),
                   bad.c_str());
      return 1;
    }
#endif
    for (int threads : threadCounts()) {
      kjit::CompileOptions co;
      co.threads = threads;
      auto k = jit.compileModule(spgemmModule(a, b), co);
      if (!k) {
        std::fprintf(stderr, "%s: kjit compile failed: %s\n", name.c_str(),
                     k.errorMessage().c_str());
        return 1;
      }
      std::vector<kjit::TensorView> in = views(a, b);
      auto c = k->runAllocating(in);
      if (!c) {
        std::fprintf(stderr, "%s: kjit run failed: %s\n", name.c_str(),
                     c.errorMessage().c_str());
        return 1;
      }
      if (std::string bad = compare(*c, cE); !bad.empty()) {
        std::fprintf(stderr, "%s: kjit vs Eigen: %s\n", name.c_str(),
                     bad.c_str());
        return 1;
      }
      std::vector<std::function<void()>> fns = {[&] {
        if (!k->runAllocating(in))
          std::abort();
      }};
#ifdef KJIT_HAVE_GRAPHBLAS
      GxB_Global_Option_set_INT32(GxB_GLOBAL_NTHREADS, threads);
      for (bool sorted : {false, true})
        fns.push_back([&, sorted] {
          GrB_Matrix m = grbProduct(aG, bG, sorted);
          GrB_Matrix_free(&m);
        });
#endif
      auto times = interleavedMs(fns);
      auto kt = times[0];
      std::pair<double, double> gu{-1, -1}, gs{-1, -1};
      if (times.size() == 3)
        gu = times[1], gs = times[2];
      char ratio[32] = "n/a";
      if (gu.first > 0)
        std::snprintf(ratio, sizeof ratio, "%.2f×", gu.first / kt.first);
      std::string cfg = k->configs()[0];
      std::printf("| %s | %lld x %lld | %lld | %lld | %d | %s | %s | %s | %s "
                  "| `%s` |\n",
                  name.c_str(), (long long)a.rows, (long long)b.cols,
                  (long long)a.nnz(), (long long)cE.nonZeros(), threads,
                  ms2(kt).c_str(), ms2(gu).c_str(), ms2(gs).c_str(), ratio,
                  cfg.c_str());
      std::fflush(stdout);
    }
#ifdef KJIT_HAVE_GRAPHBLAS
    GrB_Matrix_free(&aG);
    GrB_Matrix_free(&bG);
#endif
  }
#ifdef KJIT_HAVE_GRAPHBLAS
  GrB_finalize();
#endif
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc > 1)
    return benchFiles(argc, argv);
  std::mt19937_64 rng(12345);
  Csr a = randomCsr(rng), b = randomCsr(rng);
  std::vector<kjit::TensorView> in = views(a, b);

  EigenCsr aE = toEigen(a), bE = toEigen(b);
  EigenCsr cE = aE * bE;
  std::fprintf(stderr, "C: %lld entries\n", (long long)cE.nonZeros());
  double eigenMs = medianMs(reps(), [&] {
    EigenCsr c = aE * bE;
    if (c.nonZeros() == 0)
      std::abort();
  });

#ifdef KJIT_HAVE_GRAPHBLAS
  GrB_init(GrB_NONBLOCKING);
  GrB_Matrix aG = toGraphBLAS(a), bG = toGraphBLAS(b);
  if (std::string bad = checkGraphBLAS(aG, bG, cE); !bad.empty()) {
    std::fprintf(stderr, "GraphBLAS vs Eigen: %s\n", bad.c_str());
    return 1;
  }
#endif
  kjit::Jit jit;
  std::vector<Row> rows;
  struct Variant {
    const char *what, *config;
    int threads;
  } variants[] = {{"kjit (default: dense)", "", 1},
                  {"kjit (default: dense)", "", 2},
                  {"kjit symbolic=exact", "#kjit.config<{symbolic = \"exact\"}>", 1},
                  {"kjit symbolic=exact", "#kjit.config<{symbolic = \"exact\"}>", 2},
                  {"kjit short_row=0", "#kjit.config<{short_row = 0}>", 1},
                  {"kjit prefetch_distance=0", "#kjit.config<{prefetch_distance = 0}>", 1},
                  {"kjit prefetch_distance=32", "#kjit.config<{prefetch_distance = 32}>", 1},
                  {"kjit accumulator=hash", "#kjit.config<{accumulator = \"hash\"}>", 1},
                  {"kjit accumulator=sort", "#kjit.config<{accumulator = \"sort\"}>", 1}};
  std::vector<std::string> configs;
  for (const Variant &var : variants) {
    kjit::CompileOptions co;
    co.threads = var.threads;
    co.config = var.config;
    auto k = jit.compileModule(spgemmModule(a, b), co);
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
      r.grbUnsorted = medianMs(reps(), [&] {
        GrB_Matrix c = grbProduct(aG, bG, false);
        GrB_Matrix_free(&c);
      });
      r.grbSorted = medianMs(reps(), [&] {
        GrB_Matrix c = grbProduct(aG, bG, true);
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
