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

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <sstream>

using namespace kjit;
using kjit::testing::seed;

namespace {
struct Csr {
  int64_t rows = 0, cols = 0;
  std::vector<int32_t> rowPtr, colIdx;
  std::vector<float> values;
  int64_t nnz() const { return int64_t(colIdx.size()); }
};

struct Opts {
  double perRow = 3;
  bool emptyRows = false, shuffle = false, duplicates = false;
};

Csr randomCsr(int64_t rows, int64_t cols, const Opts &o,
              std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::poisson_distribution<int> count(o.perRow);
  Csr a;
  a.rows = rows, a.cols = cols;
  a.rowPtr.push_back(0);
  for (int64_t i = 0; i < rows; ++i) {
    std::vector<int32_t> c;
    if (cols > 0 && !(o.emptyRows && i % 3 == 1)) {
      int n = std::min<int64_t>(count(rng), cols);
      std::uniform_int_distribution<int64_t> col(0, cols - 1);
      std::map<int32_t, bool> seen;
      while ((int)seen.size() < n)
        seen[int32_t(col(rng))] = true;
      for (auto &[j, x] : seen)
        c.push_back(j);
      if (o.duplicates && !c.empty())
        for (int d = 0; d < std::max(1, n / 2); ++d)
          c.push_back(c[rng() % c.size()]);
      if (o.shuffle)
        std::shuffle(c.begin(), c.end(), rng);
    }
    for (int32_t j : c) {
      a.colIdx.push_back(j);
      a.values.push_back(u(rng));
    }
    a.rowPtr.push_back(int32_t(a.colIdx.size()));
  }
  return a;
}

struct Ref {
  std::vector<int32_t> rowPtr, colIdx;
  std::vector<double> values;
};

Ref reference(const Csr &a, const Csr &b) {
  Ref c;
  c.rowPtr.push_back(0);
  for (int64_t i = 0; i < a.rows; ++i) {
    std::map<int32_t, double> row;
    for (int32_t p = a.rowPtr[i]; p < a.rowPtr[i + 1]; ++p)
      for (int32_t q = b.rowPtr[a.colIdx[p]]; q < b.rowPtr[a.colIdx[p] + 1];
           ++q)
        row[b.colIdx[q]] += double(a.values[p]) * double(b.values[q]);
    for (auto [j, v] : row) {
      c.colIdx.push_back(j);
      c.values.push_back(v);
    }
    c.rowPtr.push_back(int32_t(c.colIdx.size()));
  }
  return c;
}

std::string tensorT(int64_t n, const char *elem) {
  return "tensor<" + (n < 0 ? std::string("?") : std::to_string(n)) + "x" +
         elem + ">";
}

std::string spgemmModule(int64_t m, int64_t k, int64_t n, int64_t nnzA,
                         int64_t nnzB) {
  std::string arp = tensorT(m + 1, "i32"), aci = tensorT(nnzA, "i32"),
              av = tensorT(nnzA, "f32"), brp = tensorT(k + 1, "i32"),
              bci = tensorT(nnzB, "i32"), bv = tensorT(nnzB, "f32");
  std::string outs = arp + ", " + tensorT(-1, "i32") + ", " + tensorT(-1, "f32");
  std::ostringstream s;
  s << "func.func @main(%arp: " << arp << ", %aci: " << aci << ", %av: " << av
    << ", %brp: " << brp << ", %bci: " << bci << ", %bv: " << bv << ") -> ("
    << outs << ") {\n  %c:3 = kjit.spgemm %arp, %aci, %av, %brp, %bci, %bv "
    << "{shape = array<i64: " << m << ", " << k << ", " << n << ">} : " << arp
    << ", " << aci << ", " << av << ", " << brp << ", " << bci << ", " << bv
    << " -> " << outs << "\n  return %c#0, %c#1, %c#2 : " << outs << "\n}\n";
  return s.str();
}

std::vector<TensorView> views(Csr &a, Csr &b) {
  return {TensorView(a.rowPtr.data(), {a.rows + 1}),
          TensorView(a.colIdx.data(), {a.nnz()}),
          TensorView(a.values.data(), {a.nnz()}),
          TensorView(b.rowPtr.data(), {b.rows + 1}),
          TensorView(b.colIdx.data(), {b.nnz()}),
          TensorView(b.values.data(), {b.nnz()})};
}

/// "" when the outputs match the reference, else why not.
std::string compare(const std::vector<Tensor> &out, const Ref &ref) {
  if (out.size() != 3)
    return "expected 3 outputs, got " + std::to_string(out.size());
  const Tensor &rp = out[0], &ci = out[1], &v = out[2];
  if (rp.numElements() != int64_t(ref.rowPtr.size()))
    return "row_ptr has " + std::to_string(rp.numElements()) + " entries";
  for (size_t i = 0; i < ref.rowPtr.size(); ++i)
    if (rp.data<int32_t>()[i] != ref.rowPtr[i])
      return "row_ptr[" + std::to_string(i) + "] = " +
             std::to_string(rp.data<int32_t>()[i]) + ", expected " +
             std::to_string(ref.rowPtr[i]);
  int64_t nnz = int64_t(ref.colIdx.size());
  if (ci.numElements() != nnz || v.numElements() != nnz)
    return "col_idx/values have " + std::to_string(ci.numElements()) + "/" +
           std::to_string(v.numElements()) + " entries, expected " +
           std::to_string(nnz);
  double maxRef = 0, maxErr = 0;
  for (int64_t p = 0; p < nnz; ++p) {
    if (ci.data<int32_t>()[p] != ref.colIdx[p])
      return "col_idx[" + std::to_string(p) + "] = " +
             std::to_string(ci.data<int32_t>()[p]) + ", expected " +
             std::to_string(ref.colIdx[p]);
    float x = v.data<float>()[p];
    if (!std::isfinite(x))
      return "non-finite value at " + std::to_string(p);
    maxRef = std::max(maxRef, std::fabs(ref.values[p]));
    maxErr = std::max(maxErr, std::fabs(double(x) - ref.values[p]));
  }
  if (maxErr > 1e-4 * (1 + maxRef))
    return "max|c-ref| = " + std::to_string(maxErr);
  return "";
}

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
