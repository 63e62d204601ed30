//===- SpgemmGpuTest.cpp - kjit.spgemm on a real GPU ------------------------===//
//
// Needs a CUDA driver and device (skips with the runtime's own "no CUDA
// driver: ..." message elsewhere) and the runtime's CUDA dynamic outputs
// (Kernel::runAllocating on Target::cuda). The GPU generator
// (KjitToGPU/SpgemmGPU.cpp) against an independent reference (per row a
// std::map<column, double>) on fresh random CSRs: odd and prime shapes,
// empty rows, unsorted and duplicate input columns, rows longer than
// sort_capacity (the compaction path), N of a million, cancellation (an
// explicit zero kept), several legal configs; malformed CSR (each kind, in
// a and in b) is an error naming the operand, and the kernel still works
// afterwards.
//
// Tolerance: columns and row_ptr exact; values max |c - ref| <=
// 1e-4 * (1 + max |ref|) (fp32 sums in any order of products in [-1, 1];
// an indexing error is O(1)).
//
//===----------------------------------------------------------------------===//
#include "CudaExecutor.h"
#include "GpuTestSupport.h"
#include "kjit/kjit.h"
#include "tests/integration/SpgemmTestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <sstream>

using namespace kjit;
using kjit::testing::seed;

namespace {
using namespace kjit::testing::spgemm;
using Opts = CsrOptions;
using Ref = RefCsr;

Jit &gpuJit() {
  static Jit jit = [] {
    JitOptions o;
    o.diskCache = false;
    return Jit(Target::cuda(0), o);
  }();
  return jit;
}

struct Case {
  const char *name;
  int64_t m, k, n;
  Opts a, b;
  const char *config; ///< "" = the default GPU config
};

TEST(SpgemmGpu, MatchesReference) {
  REQUIRE_GPU();
  const Case cases[] = {
      {"tiny", 1, 1, 1, {1}, {1}, ""},
      {"odd", 13, 11, 17, {3}, {3}, ""},
      {"prime_empty_rows", 31, 29, 101, {4, true}, {5, true}, ""},
      {"unsorted_duplicates", 37, 23, 41, {5, false, true, true},
       {4, false, true, true}, ""},
      {"long_rows_compaction", 53, 47, 997, {12}, {30},
       "#kjit.config<{sort_capacity = 32, threads = 64, group = 8}>"},
      {"configs_128", 97, 89, 211, {6}, {6},
       "#kjit.config<{threads = 128, blocks = 5, group = 2, "
       "sort_capacity = 64}>"},
      {"group_32", 61, 7, 3001, {3}, {200},
       "#kjit.config<{threads = 512, blocks = 7, group = 32}>"},
      {"n_million", 43, 19, 1000003, {3}, {9}, ""},
      {"k_zero_rows", 5, 3, 7, {2}, {0}, ""},
  };
  for (const Case &c : cases) {
    uint64_t s = seed() ^ std::hash<std::string>()(c.name);
    std::mt19937_64 rng(s);
    Csr a = randomCsr(c.m, c.k, c.a, rng), b = randomCsr(c.k, c.n, c.b, rng);
    SCOPED_TRACE(std::string(c.name) + " seed " + std::to_string(s) +
                 " (KJIT_TEST_SEED=" + std::to_string(seed()) + ")");
    CompileOptions o;
    o.config = c.config;
    auto k = gpuJit().compileModule(
        spgemmModule(c.m, c.k, c.n, a.nnz(), b.nnz()), o);
    ASSERT_TRUE(bool(k)) << k.errorMessage();
    auto out = k->runAllocating(views(a, b));
    ASSERT_TRUE(bool(out)) << out.errorMessage();
    EXPECT_EQ(compare(*out, reference(a, b)), "");
  }
}

TEST(SpgemmGpu, CancellationKeepsExplicitZeros) {
  REQUIRE_GPU();
  // Row 0 of a is [1, -1] on columns 0 and 1; rows 0 and 1 of b are equal:
  // c[0][j] = 0 for each of b's columns, kept as entries.
  Csr a{2, 2, {0, 2, 3}, {0, 1, 1}, {1.0f, -1.0f, 2.0f}};
  Csr b{2, 5, {0, 2, 4}, {1, 3, 1, 3}, {0.5f, 0.25f, 0.5f, 0.25f}};
  auto k = gpuJit().compileModule(spgemmModule(2, 2, 5, 3, 4));
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  auto out = k->runAllocating(views(a, b));
  ASSERT_TRUE(bool(out)) << out.errorMessage();
  EXPECT_EQ(compare(*out, reference(a, b)), "");
  ASSERT_EQ((*out)[1].numElements(), 4);
  EXPECT_EQ((*out)[2].data<float>()[0], 0.0f);
}

TEST(SpgemmGpu, MalformedCsrIsAnError) {
  REQUIRE_GPU();
  std::mt19937_64 rng(seed() ^ 0x5151);
  Opts o;
  o.perRow = 4;
  Csr a0, b0;
  do
    a0 = randomCsr(11, 13, o, rng);
  while (a0.rowPtr[11] == a0.rowPtr[10] || a0.nnz() < 3);
  do
    b0 = randomCsr(13, 17, o, rng);
  while (b0.rowPtr[13] == b0.rowPtr[12] || b0.nnz() < 3);
  auto k = gpuJit().compileModule(
      spgemmModule(11, 13, 17, a0.nnz(), b0.nnz()));
  ASSERT_TRUE(bool(k)) << k.errorMessage();
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
      EXPECT_NE(out.errorMessage().find(std::string("malformed CSR ") + which),
                std::string::npos)
          << mu.what << ": " << out.errorMessage();
      EXPECT_NE(out.errorMessage().find(mu.message), std::string::npos)
          << which << ": " << mu.what << ": " << out.errorMessage();
    }
  auto out = k->runAllocating(views(a0, b0));
  ASSERT_TRUE(bool(out)) << out.errorMessage();
  EXPECT_EQ(compare(*out, reference(a0, b0)), "");
}
} // namespace
