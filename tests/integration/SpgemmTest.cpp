//===- SpgemmTest.cpp - JIT'd kjit.spgemm against a std::map reference ----===//
//
// Every kernel is compiled through the public API (Jit::compileModule) and
// run with Kernel::runAllocating (the output's nnz is only known at run
// time) on fresh random CSR matrices; the result is compared with an
// independent reference: per row a std::map<column, double> that every
// product A(i,k) * B(k,j) adds into (duplicates summed, columns ordered).
//
// What must match:
//   - row_ptr and col_idx exactly (the touched columns, ascending, explicit
//     zeros from cancellation included);
//   - values within max |c - ref| <= 1e-4 * (1 + max |ref|), no NaN/Inf.
//     Values are uniform in [-1, 1] with at most a few hundred products per
//     entry: fp32 error stays near 1e-6 * (1 + max |ref|); an indexing error
//     is O(1). Accumulators add in different orders, so configs are compared
//     to the reference, not bit for bit to each other.
//
// Seeds: a fresh seed per run, printed in every failure; replay with
// KJIT_TEST_SEED=<seed>.
//
// Malformed CSR (each kind, in a and in b) must come back as an error
// Status from runAllocating, never a crash or an out-of-bounds read, and the
// kernel must still work afterwards.
//
//===----------------------------------------------------------------------===//
#include "tests/integration/SpgemmTestSupport.h"
#include "tests/integration/TestSupport.h"
#include "kjit/kjit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {
using kjit::testing::baseSeed;
using kjit::testing::sharedJit;
using namespace kjit::testing::spgemm;

kjit::Result<kjit::Kernel> compileSpgemm(const Csr &a, const Csr &b,
                                         const std::string &config,
                                         int threads) {
  kjit::CompileOptions o;
  o.config = config;
  o.threads = threads;
  return sharedJit().compileModule(
      spgemmModule(a.rows, a.cols, b.cols, a.nnz(), b.nnz()), o);
}


struct Case {
  int64_t m, k, n;
  CsrOptions a, b;
};

std::string where(const Case &c, const std::string &config, int threads,
                  uint64_t seed, const Csr &a, const Csr &b) {
  std::ostringstream o;
  o << "M=" << c.m << " K=" << c.k << " N=" << c.n << " nnzA=" << a.nnz()
    << " nnzB=" << b.nnz() << " threads=" << threads << " config='" << config
    << "' seed=" << seed << " (KJIT_TEST_SEED=" << baseSeed() << ")";
  return o.str();
}

void checkCase(const Case &c, const std::string &config, int threads,
               uint64_t salt) {
  uint64_t seed = baseSeed() ^ (salt * 0x9E3779B97F4A7C15ull);
  std::mt19937_64 rng(seed);
  Csr a = randomCsr(c.m, c.k, c.a, rng);
  Csr b = randomCsr(c.k, c.n, c.b, rng);
  std::string ctx = where(c, config, threads, seed, a, b);
  auto k = compileSpgemm(a, b, config, threads);
  ASSERT_TRUE(bool(k)) << ctx << ": " << k.status().message();
  ASSERT_EQ(k->outputs().size(), 3u);
  EXPECT_TRUE(k->outputs()[1].isDynamic() && k->outputs()[2].isDynamic() &&
              !k->outputs()[0].isDynamic());
  auto out = k->runAllocating(views(a, b));
  ASSERT_TRUE(bool(out)) << ctx << ": " << out.errorMessage();
  EXPECT_EQ(compare(*out, reference(a, b)), "") << ctx;
}

const char *kAccumulators[] = {"dense", "hash", "sort"};

std::string accConfig(const std::string &acc, const std::string &extra = "") {
  return "#kjit.config<{accumulator = \"" + acc + "\"" +
         (extra.empty() ? "" : ", " + extra) + "}>";
}

/// Irregular shapes (prime sizes, M = 1, K = 1, empty rows, unsorted and
/// duplicate columns, wide N, N below the products per row) for one
/// accumulator; 1 or 3 threads, both symbolic modes and short_row off, 4
/// or the default, by case.
void irregularShapes(const char *acc, uint64_t salt) {
  CsrOptions plain;
  CsrOptions messy;
  messy.emptyRows = true;
  messy.shuffle = true;
  messy.duplicates = true;
  CsrOptions dense;
  dense.perRow = 12;
  const Case cases[] = {
      {1, 1, 1, plain, plain},
      {1, 7, 13, plain, plain},
      {13, 17, 11, messy, messy},
      {31, 29, 37, plain, messy},
      {7, 1, 19, dense, dense},
      {97, 101, 89, messy, dense},
      {53, 47, 1021, dense, plain},
      {2, 3, 211, dense, dense},
      // Wide and sparse: the dense accumulator tracks the touched words.
      {17, 19, 4099, plain, plain},
      // N far below the products per row: "bound" is exactly N per row.
      {29, 31, 3, dense, dense},
  };
  const char *shortRows[] = {", short_row = 0", ", short_row = 4", ""};
  int threads = 1;
  bool bound = true;
  int n = 0;
  for (const Case &c : cases) {
    checkCase(c,
              accConfig(acc, std::string(bound ? "symbolic = \"bound\""
                                               : "symbolic = \"exact\"") +
                                 shortRows[n++ % 3]),
              threads, salt++);
    threads = threads == 1 ? 3 : 1;
    bound = (salt % 3) != 0;
  }
}

TEST(Spgemm, IrregularShapesDense) { irregularShapes("dense", 1); }
TEST(Spgemm, IrregularShapesHash) { irregularShapes("hash", 20); }
TEST(Spgemm, IrregularShapesSort) { irregularShapes("sort", 40); }

TEST(Spgemm, EmptyOperands) {
  CsrOptions none;
  none.perRow = 0;
  CsrOptions plain;
  uint64_t salt = 100;
  for (const char *acc : kAccumulators) {
    checkCase({9, 5, 7, none, plain}, accConfig(acc), 2, salt++); // nnzA = 0
    checkCase({9, 5, 7, plain, none}, accConfig(acc), 2, salt++); // nnzB = 0
  }
}

/// Case c with accumulator `acc` and `extra` knobs in both symbolic modes,
/// at 1 and 3 threads (with "bound", 3 threads move their blocks down).
void inBothModes(const Case &c, const char *acc, const std::string &extra,
                 uint64_t &salt) {
  for (const char *sym : {"bound", "exact"})
    for (int threads : {1, 3})
      checkCase(c, accConfig(acc, extra + ", symbolic = \"" + sym + "\""),
                threads, salt++);
}

// Rows of every length in one product (empty, one product, a few, many),
// so that both sides of short_row's split run in one kernel; the long
// rows' accumulator sees rows that skip it in between. Both symbolic modes,
// 1 and 3 threads (the bound's task blocks move down).
TEST(Spgemm, ShortAndLongRowsMixed) {
  CsrOptions a;
  a.perRow = 2;
  a.emptyRows = true;
  a.duplicates = true;
  CsrOptions b;
  b.perRow = 5;
  b.shuffle = true;
  uint64_t salt = 150;
  for (const char *acc : {"dense", "hash"})
    inBothModes({89, 83, 97, a, b}, acc, "short_row = 8", salt);
}

// Very short rows (about one product, as in a road or power network):
// rows of 0, 1 and 2 products, the default short_row and without it.
TEST(Spgemm, VeryShortRows) {
  CsrOptions o;
  o.perRow = 1.2;
  o.emptyRows = true;
  uint64_t salt = 170;
  for (const char *acc : kAccumulators)
    for (const char *extra : {"", "short_row = 0"})
      checkCase({211, 211, 211, o, o}, accConfig(acc, extra), 1, salt++);
}

// N = 100003 with a few products per row: the dense accumulator's rows set
// a few words far apart and are emitted by sorting the words they list
// (4 n^2 < span) rather than scanning the span; short_row = 0 so that no
// row takes the sort path instead.
TEST(Spgemm, WideSparseRowsSortTheirWords) {
  CsrOptions a;
  a.perRow = 2;
  a.emptyRows = true;
  CsrOptions b;
  b.perRow = 3;
  b.duplicates = true;
  uint64_t salt = 190;
  inBothModes({41, 37, 100003, a, b}, "dense", "short_row = 0", salt);
}

TEST(Spgemm, DefaultConfig) {
  CsrOptions o;
  o.perRow = 5;
  o.duplicates = true;
  o.shuffle = true;
  checkCase({61, 67, 71, o, o}, "", 0, 200);
}

TEST(Spgemm, SampleOfLegalConfigs) {
  CsrOptions o;
  o.perRow = 6;
  o.emptyRows = true;
  o.duplicates = true;
  const char *extras[] = {
      "partition = \"rows\", threads = 2, symbolic = \"exact\"",
      "partition = \"flops\", threads = 4, tasks_per_thread = 3, symbolic "
      "= \"bound\"",
      "hash_scale = 1, threads = 1, symbolic = \"exact\"",
      "hash_scale = 16, threads = 2, tasks_per_thread = 64, symbolic = "
      "\"bound\"",
      "partition = \"rows\", threads = 7, tasks_per_thread = 2",
  };
  // Three of the five per accumulator, rotating (every extra is used).
  uint64_t salt = 300;
  for (int a = 0; a < 3; ++a)
    for (int e = 0; e < 3; ++e)
      checkCase({43, 41, 59, o, o},
                accConfig(kAccumulators[a], extras[(2 * a + e) % 5]), 0,
                salt++);
}

TEST(Spgemm, CancellationKeepsExplicitZeros) {
  // C = A B with A = [[1, 1, 0.5]], B rows: k0 = {2: 2, 4: 1}, k1 = {2: -2},
  // k2 = {4: -2, 0: 3}: C[0,2] = 2 - 2 = 0 and C[0,4] = 1 - 1 = 0 stay.
  Csr a{1, 3, {0, 3}, {0, 1, 2}, {1.0f, 1.0f, 0.5f}};
  Csr b{3, 5, {0, 2, 3, 5}, {4, 2, 2, 4, 0}, {1.0f, 2.0f, -2.0f, -2.0f, 3.0f}};
  // short_row = 0: the accumulator; the default (8 here: 5 products per
  // row expected): the sort path.
  for (const char *acc : kAccumulators)
    for (const char *extra : {"short_row = 0", ""}) {
      auto k = compileSpgemm(a, b, accConfig(acc, extra), 1);
      ASSERT_TRUE(bool(k)) << k.status().message();
      auto out = k->runAllocating(views(a, b));
      ASSERT_TRUE(bool(out)) << out.errorMessage();
      ASSERT_EQ((*out)[1].numElements(), 3) << acc;
      const int32_t *ci = (*out)[1].data<int32_t>();
      const float *v = (*out)[2].data<float>();
      EXPECT_EQ(ci[0], 0);
      EXPECT_EQ(ci[1], 2);
      EXPECT_EQ(ci[2], 4);
      EXPECT_EQ(v[0], 1.5f);
      EXPECT_EQ(v[1], 0.0f) << acc;
      EXPECT_EQ(v[2], 0.0f) << acc;
    }
}

TEST(Spgemm, RunWithCallerOutputsSaysUseRunAllocating) {
  std::mt19937_64 rng(baseSeed());
  Csr a = randomCsr(5, 6, {}, rng), b = randomCsr(6, 7, {}, rng);
  auto k = compileSpgemm(a, b, "", 1);
  ASSERT_TRUE(bool(k)) << k.status().message();
  std::vector<int32_t> rp(6), ci(100);
  std::vector<float> v(100);
  kjit::Status s = k->run(views(a, b),
                          {kjit::TensorView(rp.data(), {6}),
                           kjit::TensorView(ci.data(), {100}),
                           kjit::TensorView(v.data(), {100})});
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("runAllocating"), std::string::npos)
      << s.message();
}

TEST(Spgemm, IllegalConfigsAreRejected) {
  std::mt19937_64 rng(baseSeed());
  Csr a = randomCsr(5, 6, {}, rng), b = randomCsr(6, 7, {}, rng);
  struct Bad {
    const char *config, *message;
  } bad[] = {
      {"#kjit.config<{accumulator = \"heap\"}>", "accumulator"},
      {"#kjit.config<{hash_scale = 3}>", "hash_scale must be a power of two"},
      {"#kjit.config<{threads = 0}>", "threads must be in [1, 256]"},
      {"#kjit.config<{tasks_per_thread = 65}>", "tasks_per_thread"},
      {"#kjit.config<{symbolic = \"guess\"}>", "symbolic"},
      {"#kjit.config<{short_row = 257}>", "short_row must be in [0, 256]"},
      {"#kjit.config<{short_row = -1}>", "short_row must be in [0, 256]"},
      {"#kjit.config<{n_block = 4}>", "n_block"},
  };
  for (const Bad &x : bad) {
    auto k = compileSpgemm(a, b, x.config, 0);
    ASSERT_FALSE(bool(k)) << x.config;
    EXPECT_NE(k.status().message().find(x.message), std::string::npos)
        << x.config << ": " << k.status().message();
  }
}

TEST(Spgemm, MalformedCsrIsAnError) {
  std::mt19937_64 rng(baseSeed() ^ 0x5151);
  CsrOptions o;
  o.perRow = 4;
  // The last row of each operand non-empty, so every mutation breaks it.
  Csr a0, b0;
  do
    a0 = randomCsr(11, 13, o, rng);
  while (a0.rowPtr[11] == a0.rowPtr[10] || a0.nnz() < 3);
  do
    b0 = randomCsr(13, 17, o, rng);
  while (b0.rowPtr[13] == b0.rowPtr[12] || b0.nnz() < 3);
  auto k = compileSpgemm(a0, b0, accConfig("dense", "threads = 2"), 0);
  ASSERT_TRUE(bool(k)) << k.status().message();

  struct Mutation {
    const char *what, *message;
    void (*apply)(Csr &);
  } mutations[] = {
      {"row_ptr[0] = 1", "row_ptr[0]=1, expected 0",
       [](Csr &m) { m.rowPtr[0] = 1; }},
      {"row_ptr not monotone", "row_ptr is not monotone",
       [](Csr &m) { m.rowPtr[2] = m.rowPtr[3] + 1; }},
      {"row_ptr[M] != nnz", "(the last entry) is not nnz",
       [](Csr &m) { m.rowPtr.back() -= 1; }},
      {"column too large", "is out of range",
       [](Csr &m) { m.colIdx[1] = int32_t(m.cols); }},
      {"negative column", "is out of range",
       [](Csr &m) { m.colIdx.back() = -3; }},
  };
  for (const char *which : {"a", "b"})
    for (const Mutation &mu : mutations) {
      Csr a = a0, b = b0;
      mu.apply(which[0] == 'a' ? a : b);
      auto out = k->runAllocating(views(a, b));
      ASSERT_FALSE(bool(out)) << which << ": " << mu.what;
      std::string want = std::string("malformed CSR ") + which;
      EXPECT_NE(out.errorMessage().find(want), std::string::npos)
          << mu.what << ": " << out.errorMessage();
      EXPECT_NE(out.errorMessage().find(mu.message), std::string::npos)
          << which << ": " << mu.what << ": " << out.errorMessage();
    }
  // Both broken: a's defect is the one reported.
  {
    Csr a = a0, b = b0;
    a.rowPtr[0] = 1;
    b.colIdx[0] = -1;
    auto out = k->runAllocating(views(a, b));
    ASSERT_FALSE(bool(out));
    EXPECT_NE(out.errorMessage().find("malformed CSR a"), std::string::npos)
        << out.errorMessage();
  }
  // And the kernel still works.
  auto out = k->runAllocating(views(a0, b0));
  ASSERT_TRUE(bool(out)) << out.errorMessage();
  EXPECT_EQ(compare(*out, reference(a0, b0)), "");
}

// A kernel-allocated result returned twice: two buffers (each output is
// freed by its own Tensor), equal contents.
TEST(Spgemm, SameResultReturnedTwiceIsTwoBuffers) {
  std::mt19937_64 rng(baseSeed() ^ 0x77);
  Csr a = randomCsr(6, 5, {}, rng), b = randomCsr(5, 9, {}, rng);
  std::string text = spgemmModule(6, 5, 9, a.nnz(), b.nnz());
  std::string ci = tensorT(-1, "i32");
  // ... -> (row_ptr, col_idx, values, col_idx again)
  size_t arrow = text.find(") -> (");
  size_t close = text.find(") {", arrow);
  text.insert(close, ", " + ci);
  size_t ret = text.find("  return %c#0, %c#1, %c#2 : ");
  text.replace(ret, std::string("  return %c#0, %c#1, %c#2").size(),
               "  return %c#0, %c#1, %c#2, %c#1");
  size_t end = text.find("\n}", ret);
  text.insert(end, ", " + ci);
  auto k = sharedJit().compileModule(text);
  ASSERT_TRUE(bool(k)) << k.status().message() << "\n" << text;
  ASSERT_EQ(k->outputs().size(), 4u);
  auto out = k->runAllocating(views(a, b));
  ASSERT_TRUE(bool(out)) << out.errorMessage();
  RefCsr ref = reference(a, b);
  std::vector<kjit::Tensor> first3;
  for (int i = 0; i < 3; ++i)
    first3.push_back(std::move((*out)[i]));
  const kjit::Tensor &again = (*out)[3];
  EXPECT_EQ(compare(first3, ref), "");
  ASSERT_EQ(again.numElements(), first3[1].numElements());
  if (again.numElements() > 0)
    EXPECT_NE(again.data(), first3[1].data());
  for (int64_t p = 0; p < again.numElements(); ++p)
    EXPECT_EQ(again.data<int32_t>()[p], ref.colIdx[p]);
}

// runAllocating also serves kernels whose outputs are all static.
TEST(Spgemm, RunAllocatingStaticOutputs) {
  const std::string text =
      "func.func @main(%rp: tensor<4xi32>, %ci: tensor<4xi32>, %v: "
      "tensor<4xf32>, %b: tensor<5x3xf32>) -> tensor<3x3xf32> {\n"
      "  %y = kjit.spmm %rp, %ci, %v, %b : tensor<4xi32>, tensor<4xi32>, "
      "tensor<4xf32>, tensor<5x3xf32> -> tensor<3x3xf32>\n"
      "  return %y : tensor<3x3xf32>\n}\n";
  auto k = sharedJit().compileModule(text);
  ASSERT_TRUE(bool(k)) << k.status().message();
  std::vector<int32_t> rp = {0, 2, 2, 4}, ci = {4, 0, 1, 4};
  std::vector<float> v = {1, 2, 3, 4};
  std::mt19937_64 rng(baseSeed());
  std::vector<float> bm = kjit::testing::randomVector(15, rng);
  std::vector<kjit::TensorView> in = {
      kjit::TensorView(rp.data(), {4}), kjit::TensorView(ci.data(), {4}),
      kjit::TensorView(v.data(), {4}), kjit::TensorView(bm.data(), {5, 3})};
  auto out = k->runAllocating(in);
  ASSERT_TRUE(bool(out)) << out.errorMessage();
  ASSERT_EQ(out->size(), 1u);
  ASSERT_EQ((*out)[0].shape(), (std::vector<int64_t>{3, 3}));
  std::vector<float> y(9);
  ASSERT_TRUE(k->run(in, {kjit::TensorView(y.data(), {3, 3})}).isOk());
  for (int i = 0; i < 9; ++i)
    EXPECT_EQ((*out)[0].data<float>()[i], y[i]);
  // Row 0 = 1 * b[4] + 2 * b[0], computed here independently.
  for (int j = 0; j < 3; ++j)
    EXPECT_NEAR(y[j], 1 * bm[12 + j] + 2 * bm[j], 1e-5);
}

} // namespace
