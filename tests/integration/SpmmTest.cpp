//===- SpmmTest.cpp - JIT'd kjit.spmm against a dense reference -----------===//
//
// Every kernel is compiled through the public API (Jit::compileModule) and
// run on a fresh random CSR matrix and dense b; the output is compared with
// an independent reference: A expanded to a dense M x K matrix (duplicates
// added), times b, in double.
//
// Tolerance (stated once, used everywhere):
//     max |out - ref| <= 1e-4 * (1 + max |ref|), and no NaN/Inf.
// Values are uniform in [-1, 1], at most a few hundred terms per output;
// fp32 accumulation error stays around 1e-6 * (1 + max |ref|), any indexing
// error is O(1). Different legal configs sum every output in the same order
// (the row's nonzeros, in storage order, one FMA each), so they must agree
// bit for bit; the config-sample test checks that too.
//
// Seeds: a fresh seed per run (std::random_device), printed in every failure
// message; re-run with KJIT_TEST_SEED=<seed>.
//
// Malformed CSR (each kind) must come back as an error Status from
// Kernel::run, never a crash or an out-of-bounds read, and the kernel must
// still work afterwards.
//
//===----------------------------------------------------------------------===//
#include "tests/integration/TestSupport.h"
#include "kjit/kjit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {
using kjit::testing::baseSeed;
using kjit::testing::sharedJit;

constexpr double kRtol = 1e-4;

struct Csr {
  int64_t m = 0, k = 0;
  std::vector<int32_t> rowPtr, colIdx;
  std::vector<float> values;
  int64_t nnz() const { return int64_t(colIdx.size()); }
};

struct CsrOptions {
  double sparsity = 0.9;   ///< fraction of zeros
  bool emptyRows = false;  ///< force every third row empty
  bool shuffle = false;    ///< unsorted columns within a row
  bool duplicates = false; ///< repeat some entries (to be summed)
  bool sortRows = false;   ///< sort each row's columns last (duplicates kept)
};

Csr randomCsr(int64_t m, int64_t k, const CsrOptions &o, std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> p(0.0, 1.0);
  Csr a;
  a.m = m, a.k = k;
  a.rowPtr.push_back(0);
  for (int64_t i = 0; i < m; ++i) {
    std::vector<int32_t> cols;
    if (!(o.emptyRows && i % 3 == 1))
      for (int64_t j = 0; j < k; ++j)
        if (p(rng) >= o.sparsity)
          cols.push_back(int32_t(j));
    if (o.duplicates && !cols.empty()) {
      size_t n = cols.size();
      for (size_t d = 0; d < std::max<size_t>(1, n / 3); ++d)
        cols.push_back(cols[rng() % n]);
    }
    if (o.shuffle)
      std::shuffle(cols.begin(), cols.end(), rng);
    if (o.sortRows)
      std::sort(cols.begin(), cols.end());
    for (int32_t c : cols) {
      a.colIdx.push_back(c);
      a.values.push_back(u(rng));
    }
    a.rowPtr.push_back(int32_t(a.colIdx.size()));
  }
  return a;
}

std::vector<float> randomDense(size_t n, std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &e : v)
    e = u(rng);
  return v;
}

/// Dense reference: A expanded (duplicates added) times b, in double.
std::vector<double> reference(const Csr &a, const std::vector<float> &b,
                              int64_t n) {
  std::vector<double> dense(size_t(a.m * a.k), 0.0);
  for (int64_t i = 0; i < a.m; ++i)
    for (int32_t p = a.rowPtr[i]; p < a.rowPtr[i + 1]; ++p)
      dense[size_t(i * a.k + a.colIdx[p])] += double(a.values[p]);
  std::vector<double> out(size_t(a.m * n), 0.0);
  for (int64_t i = 0; i < a.m; ++i)
    for (int64_t kk = 0; kk < a.k; ++kk) {
      double w = dense[size_t(i * a.k + kk)];
      if (w == 0.0)
        continue;
      for (int64_t j = 0; j < n; ++j)
        out[size_t(i * n + j)] += w * double(b[size_t(kk * n + j)]);
    }
  return out;
}

std::string spmmModule(int64_t m, int64_t k, int64_t n, int64_t nnz) {
  std::ostringstream s;
  std::string rp = "tensor<" + std::to_string(m + 1) + "xi32>",
              ci = "tensor<" + std::to_string(nnz) + "xi32>",
              v = "tensor<" + std::to_string(nnz) + "xf32>",
              bt = "tensor<" + std::to_string(k) + "x" + std::to_string(n) +
                   "xf32>",
              ot = "tensor<" + std::to_string(m) + "x" + std::to_string(n) +
                   "xf32>";
  s << "func.func @main(%rp: " << rp << ", %ci: " << ci << ", %v: " << v
    << ", %b: " << bt << ") -> " << ot << " {\n"
    << "  %y = kjit.spmm %rp, %ci, %v, %b : " << rp << ", " << ci << ", " << v
    << ", " << bt << " -> " << ot << "\n"
    << "  return %y : " << ot << "\n}\n";
  return s.str();
}

kjit::Result<kjit::Kernel> compileSpmm(int64_t m, int64_t k, int64_t n,
                                       int64_t nnz, const std::string &config,
                                       int threads) {
  kjit::CompileOptions o;
  o.config = config;
  o.threads = threads;
  return sharedJit().compileModule(spmmModule(m, k, n, nnz), o);
}

kjit::Status runSpmm(const kjit::Kernel &k, Csr &a, std::vector<float> &b,
                     int64_t n, std::vector<float> &out) {
  out.assign(size_t(a.m * n), std::nanf(""));
  return k.run({kjit::TensorView(a.rowPtr.data(), {a.m + 1}),
                kjit::TensorView(a.colIdx.data(), {a.nnz()}),
                kjit::TensorView(a.values.data(), {a.nnz()}),
                kjit::TensorView(b.data(), {a.k, n})},
               {kjit::TensorView(out.data(), {a.m, n})});
}

/// "" when `out` matches `ref` within the tolerance, else why not.
std::string compare(const std::vector<float> &out,
                    const std::vector<double> &ref) {
  double maxRef = 0, maxErr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(out[i]))
      return "non-finite output at " + std::to_string(i);
    maxRef = std::max(maxRef, std::fabs(ref[i]));
    maxErr = std::max(maxErr, std::fabs(double(out[i]) - ref[i]));
  }
  double tol = kRtol * (1 + maxRef);
  if (maxErr > tol)
    return "max|out-ref| = " + std::to_string(maxErr) + " > tol " +
           std::to_string(tol);
  return "";
}

struct Shape {
  int64_t m, k, n;
};

std::string where(const Shape &s, double sparsity, int threads,
                  const std::string &config, uint64_t seed) {
  std::ostringstream o;
  o << "M=" << s.m << " K=" << s.k << " N=" << s.n << " sparsity="
    << sparsity << " threads=" << threads << " config='" << config
    << "' seed=" << seed << " (KJIT_TEST_SEED=" << baseSeed() << ")";
  return o.str();
}

/// Compiles, runs and checks one case; returns the output.
std::vector<float> checkCase(const Shape &s, const CsrOptions &opt,
                             int threads, const std::string &config,
                             uint64_t salt) {
  uint64_t seed = baseSeed() ^ (salt * 0x9E3779B97F4A7C15ull);
  std::mt19937_64 rng(seed);
  Csr a = randomCsr(s.m, s.k, opt, rng);
  std::vector<float> b = randomDense(size_t(s.k * s.n), rng);
  std::string ctx = where(s, opt.sparsity, threads, config, seed) +
                    " nnz=" + std::to_string(a.nnz());
  auto k = compileSpmm(s.m, s.k, s.n, a.nnz(), config, threads);
  EXPECT_TRUE(bool(k)) << ctx << ": " << k.status().message();
  if (!k)
    return {};
  std::vector<float> out;
  kjit::Status st = runSpmm(*k, a, b, s.n, out);
  EXPECT_TRUE(st.isOk()) << ctx << ": " << st.message();
  std::string bad = compare(out, reference(a, b, s.n));
  EXPECT_EQ(bad, "") << ctx;
  return out;
}

// --------------------------------------------------------------------------
// Irregular shapes, sparsities, 1 and 2 threads, default configs.
// --------------------------------------------------------------------------
TEST(Spmm, IrregularShapesAndSparsities) {
  const Shape shapes[] = {{1, 1, 1},    {7, 5, 1},     {13, 11, 3},
                          {31, 17, 37}, {37, 29, 16},  {61, 53, 97},
                          {3, 101, 7},  {97, 13, 131}, {2, 3, 257}};
  uint64_t salt = 1;
  for (const Shape &s : shapes)
    for (double sp : {0.7, 0.9, 0.95})
      for (int threads : {1, 2}) {
        CsrOptions o;
        o.sparsity = sp;
        checkCase(s, o, threads, "", salt++);
      }
}

TEST(Spmm, EmptyRowsAndNoNonzeros) {
  uint64_t salt = 100;
  for (int threads : {1, 2}) {
    CsrOptions o;
    o.emptyRows = true;
    o.sparsity = 0.8;
    checkCase({23, 19, 29}, o, threads, "", salt++);
    // Every row empty: nnz = 0, the output is all zeros.
    o.sparsity = 1.0;
    checkCase({11, 7, 5}, o, threads, "", salt++);
    checkCase({5, 9, 1}, o, threads, "", salt++);
  }
}

TEST(Spmm, UnsortedAndDuplicateColumnsAreSummed) {
  uint64_t salt = 200;
  for (int threads : {1, 2}) {
    CsrOptions o;
    o.sparsity = 0.7;
    o.shuffle = true;
    o.duplicates = true;
    checkCase({19, 23, 41}, o, threads, "", salt++);
    checkCase({4, 5, 3}, o, threads, "", salt++);
  }
}

// --------------------------------------------------------------------------
// A sample of legal configs gives the same numbers (bit for bit).
// --------------------------------------------------------------------------
TEST(Spmm, ConfigSampleAgrees) {
  const char *configs[] = {
      "#kjit.config<{vector_width = 4, n_block = 1, n_tile = 4, row_tile = 1, "
      "partition = \"rows\"}>",
      "#kjit.config<{vector_width = 8, n_block = 3, n_tile = 48, row_tile = 5, "
      "partition = \"rows\", prefetch_distance = 8}>",
      "#kjit.config<{vector_width = 8, n_block = 2, n_tile = 16, row_tile = 7, "
      "partition = \"nnz\"}>",
      "#kjit.config<{vector_width = 16, n_block = 1, n_tile = 32, "
      "row_tile = 100, partition = \"nnz\", prefetch_distance = 1}>",
      "#kjit.config<{vector_width = 16, n_block = 4, n_tile = 64, row_tile = 2, "
      "partition = \"nnz\"}>",
  };
  // 16-lane configs are illegal (and rejected) on targets without AVX-512.
  const bool wide = kjit::testing::targetHasAvx512();
  for (Shape s : {Shape{29, 31, 83}, Shape{17, 13, 5}}) {
    CsrOptions o;
    o.sparsity = 0.8;
    o.emptyRows = true;
    o.shuffle = true;
    std::vector<float> first;
    for (const char *c : configs)
      for (int threads : {1, 2}) {
        if (!wide && std::string(c).find("vector_width = 16") !=
                         std::string::npos)
          continue;
        // Same salt: same matrix for every config.
        std::vector<float> out = checkCase(s, o, threads, c, 300 + s.m);
        if (out.empty())
          continue;
        if (first.empty())
          first = out;
        else
          EXPECT_EQ(0, std::memcmp(first.data(), out.data(),
                                   out.size() * sizeof(float)))
              << "config " << c << " threads " << threads
              << " differs from the first config (seed " << baseSeed()
              << ")";
      }
  }
}

// --------------------------------------------------------------------------
// Packed tiles of b (pack_b = 1) and column-tile tasks (partition = "cols"):
// N = 1, N below one vector, prime sizes, a tile remainder, empty rows and
// nnz = 0; every config agrees with the reference and, bit for bit, with the
// others (packing changes where b is read from, not the order of the sums).
// The default config is among them: on a 2-core host it picks "cols" and
// pack_b for the last shape (10 column tiles of 64, nnz >= 2 K).
// --------------------------------------------------------------------------
TEST(Spmm, PackedTilesAndColumnTasks) {
  const char *configs[] = {
      "",
      "#kjit.config<{pack_b = 1, partition = \"cols\", vector_width = 8, "
      "n_block = 2, n_tile = 32, prefetch_distance = 3}>",
      "#kjit.config<{pack_b = 1, partition = \"nnz\", vector_width = 4, "
      "n_block = 3, n_tile = 12}>",
      "#kjit.config<{pack_b = 1, partition = \"rows\", row_tile = 4, "
      "vector_width = 8, n_block = 1, n_tile = 8, prefetch_distance = 1}>",
      "#kjit.config<{pack_b = 0, partition = \"cols\", vector_width = 8, "
      "n_block = 1, n_tile = 16, prefetch_distance = 5}>",
      "#kjit.config<{pack_b = 1, partition = \"cols\", vector_width = 16, "
      "n_block = 4, n_tile = 64, prefetch_distance = 2}>",
  };
  const bool wide = kjit::testing::targetHasAvx512();
  struct Case {
    Shape s;
    double sparsity;
    bool emptyRows;
  };
  const Case cases[] = {
      {{5, 3, 1}, 0.5, false},    // N = 1
      {{9, 7, 3}, 0.6, true},     // N below one vector, empty rows
      {{37, 41, 131}, 0.9, false}, // primes, a tile remainder
      {{11, 7, 5}, 1.0, false},   // nnz = 0
      {{40, 30, 600}, 0.7, true}, // many column tiles
  };
  uint64_t salt = 400;
  for (const Case &cs : cases) {
    CsrOptions o;
    o.sparsity = cs.sparsity;
    o.emptyRows = cs.emptyRows;
    o.shuffle = true;
    ++salt;
    std::vector<float> first;
    for (size_t ci = 0; ci < std::size(configs); ++ci)
      for (int threads : {1, 2}) {
        const char *c = configs[ci];
        if (!wide && std::string(c).find("vector_width = 16") !=
                         std::string::npos)
          continue;
        // The default on 1 and 2 threads; the others on one count each
        // (alternating), to keep the compiles few.
        if (ci > 0 && threads != int(ci % 2) + 1)
          continue;
        std::vector<float> out = checkCase(cs.s, o, threads, c, salt);
        if (out.empty())
          continue;
        if (first.empty())
          first = out;
        else
          EXPECT_EQ(0, std::memcmp(first.data(), out.data(),
                                   out.size() * sizeof(float)))
              << "M=" << cs.s.m << " K=" << cs.s.k << " N=" << cs.s.n
              << " config '" << c << "' threads " << threads
              << " differs from the first config (KJIT_TEST_SEED="
              << baseSeed() << ")";
      }
  }
}

// --------------------------------------------------------------------------
// K blocks (k_tile): taken when every row is sorted by column (duplicates
// allowed), the unblocked code otherwise; either way the same sums in the
// same order, so bit-equal to k_tile = 0. Blocks of 1 row of b, blocks that
// do not divide K, more blocks than some rows have entries, empty rows,
// nnz = 0.
// --------------------------------------------------------------------------
TEST(Spmm, KBlocksSortedAndUnsortedRows) {
  const char *configs[] = {
      "#kjit.config<{k_tile = 0, pack_b = 0, vector_width = 8, n_block = 2, "
      "n_tile = 16}>",
      "#kjit.config<{k_tile = 1, pack_b = 1, partition = \"cols\", "
      "vector_width = 8, n_block = 1, n_tile = 8}>",
      "#kjit.config<{k_tile = 7, pack_b = 1, partition = \"nnz\", "
      "vector_width = 4, n_block = 3, n_tile = 24, prefetch_distance = 2}>",
      "#kjit.config<{k_tile = 16, pack_b = 0, partition = \"rows\", "
      "row_tile = 5, vector_width = 8, n_block = 2, n_tile = 32}>",
  };
  struct Case {
    Shape s;
    double sparsity;
    bool emptyRows;
  };
  const Case cases[] = {
      {{37, 41, 131}, 0.8, false}, // primes, tile remainders
      {{23, 19, 29}, 0.6, true},   // empty rows
      {{5, 3, 1}, 0.3, false},     // N = 1, K below k_tile
      {{11, 7, 5}, 1.0, false},    // nnz = 0
  };
  uint64_t salt = 500;
  for (const Case &cs : cases)
    for (int order = 0; order < 2; ++order) {
      CsrOptions o;
      o.sparsity = cs.sparsity;
      o.emptyRows = cs.emptyRows;
      o.duplicates = true;
      o.shuffle = true;
      o.sortRows = order == 0; // sorted with duplicates, then unsorted
      ++salt;
      std::vector<float> first;
      for (size_t ci = 0; ci < std::size(configs); ++ci)
        for (int threads : {1, 2}) {
          const char *c = configs[ci];
          // Unblocked on 1 thread, each K-block config on 2 (and "cols"
          // k_tile = 1 on 1 too).
          if ((ci == 0 && threads == 2) || (ci > 1 && threads == 1))
            continue;
          std::vector<float> out = checkCase(cs.s, o, threads, c, salt);
          if (out.empty())
            continue;
          if (first.empty())
            first = out;
          else
            EXPECT_EQ(0, std::memcmp(first.data(), out.data(),
                                     out.size() * sizeof(float)))
                << "M=" << cs.s.m << " K=" << cs.s.k << " N=" << cs.s.n
                << (order == 0 ? " sorted" : " unsorted") << " config '"
                << c << "' threads " << threads
                << " differs from k_tile = 0 (KJIT_TEST_SEED=" << baseSeed()
                << ")";
        }
    }
}

// --------------------------------------------------------------------------
// Malformed CSR: an error Status with a precise message, then a valid call.
// --------------------------------------------------------------------------
struct Malformed {
  const char *name;
  void (*corrupt)(Csr &);
  const char *mentions;
};

TEST(Spmm, MalformedCsrIsAnErrorNotACrash) {
  const int64_t m = 9, k = 7, n = 19;
  const Malformed cases[] = {
      {"row_ptr[0] != 0", [](Csr &a) { a.rowPtr[0] = 1; }, "row_ptr[0]=1"},
      {"row_ptr[0] < 0", [](Csr &a) { a.rowPtr[0] = -4; }, "row_ptr[0]=-4"},
      {"not monotone",
       [](Csr &a) { a.rowPtr[4] = a.rowPtr[5] + 1; },
       "row_ptr is not monotone at row 4"},
      {"negative entry",
       [](Csr &a) { a.rowPtr[1] = -100000; },
       "not monotone at row 0 (row_ptr[0]=0 > row_ptr[1]=-100000)"},
      {"last entry below nnz",
       [](Csr &a) { a.rowPtr[9] = a.rowPtr[8]; },
       "is not nnz="},
      {"last entry far beyond nnz",
       [](Csr &a) { a.rowPtr[9] = 2000000000; },
       "row_ptr[9]=2000000000"},
      {"column == K", [](Csr &a) { a.colIdx[5] = 7; },
       "column index 7 at position 5"},
      {"column < 0", [](Csr &a) { a.colIdx.back() = -1; },
       "column index -1 at position"},
      {"column huge", [](Csr &a) { a.colIdx[0] = 2147483647; },
       "column index 2147483647 at position 0 (row 0) is out of range [0, 7)"},
  };
  for (int threads : {1, 2}) {
    uint64_t seed = baseSeed() ^ 0xC5;
    std::mt19937_64 rng(seed);
    CsrOptions o;
    o.sparsity = 0.5;
    Csr good = randomCsr(m, k, o, rng);
    // Rows 0 and m-1 have entries: the mutations above must each break the
    // CSR (with an empty last row, "last entry below nnz" changed nothing).
    while (good.rowPtr[1] == 0 || good.rowPtr[m] == good.rowPtr[m - 1] ||
           good.nnz() < 8)
      good = randomCsr(m, k, o, rng);
    std::vector<float> b = randomDense(size_t(k * n), rng);
    auto kern = compileSpmm(m, k, n, good.nnz(), "", threads);
    ASSERT_TRUE(bool(kern)) << kern.status().message();
    std::vector<double> ref = reference(good, b, n);
    for (const Malformed &c : cases) {
      Csr bad = good;
      c.corrupt(bad);
      std::vector<float> out;
      kjit::Status st = runSpmm(*kern, bad, b, n, out);
      EXPECT_FALSE(st.isOk()) << c.name << ": accepted (seed " << seed << ")";
      EXPECT_NE(st.message().find("kjit.spmm: malformed CSR"),
                std::string::npos)
          << c.name << ": " << st.message();
      EXPECT_NE(st.message().find(c.mentions), std::string::npos)
          << c.name << ": '" << st.message() << "' does not mention '"
          << c.mentions << "'";
      // The slot is per call: a valid call right after succeeds.
      st = runSpmm(*kern, good, b, n, out);
      EXPECT_TRUE(st.isOk()) << c.name << " then valid: " << st.message();
      EXPECT_EQ(compare(out, ref), "") << c.name << " then valid";
    }
  }
}

TEST(Spmm, MalformedMessageIsPrecise) {
  // Hand-made: row_ptr = [0, 2, 1, 3], nnz = 3, K = 4.
  Csr a;
  a.m = 3, a.k = 4;
  a.rowPtr = {0, 40, 39, 3};
  a.colIdx = {0, 1, 2};
  a.values = {1, 2, 3};
  std::vector<float> b(4 * 2, 1.0f), out;
  auto k = compileSpmm(3, 4, 2, 3, "", 1);
  ASSERT_TRUE(bool(k)) << k.status().message();
  kjit::Status st = runSpmm(*k, a, b, 2, out);
  EXPECT_EQ(st.message(), "kjit.spmm: malformed CSR: row_ptr is not monotone "
                          "at row 1 (row_ptr[1]=40 > row_ptr[2]=39)");
  a.rowPtr = {0, 1, 2, 2};
  st = runSpmm(*k, a, b, 2, out);
  EXPECT_EQ(st.message(), "kjit.spmm: malformed CSR: row_ptr[3]=2 (the last "
                          "entry) is not nnz=3 (the length of col_idx and "
                          "values)");
  a.rowPtr = {0, 1, 2, 3};
  a.colIdx = {0, 3, 4};
  st = runSpmm(*k, a, b, 2, out);
  EXPECT_EQ(st.message(), "kjit.spmm: malformed CSR: column index 4 at "
                          "position 2 (row 2) is out of range [0, 4)");
}

} // namespace
