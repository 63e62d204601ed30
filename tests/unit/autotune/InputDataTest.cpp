//===- InputDataTest.cpp - measurement inputs are valid for the op -------===//
//
// kjit.spmm's measurement inputs must be a valid CSR (zero-filled indices
// are malformed: every spmm candidate used to fail to measure), checked
// here structurally at odd sizes and through a real measurement.
//
//===----------------------------------------------------------------------===//
#include "autotune/InputData.h"
#include "autotune/Measurer.h"
#include "autotune/Workload.h"
#include "compiler/Compiler.h"

#include <gtest/gtest.h>

using namespace kjit;
using namespace kjit::autotune;

namespace {
std::string spmmText(int m, int k, int n, int nnz) {
  auto t = [](std::string s) { return "tensor<" + s + ">"; };
  auto d = [](int v) { return std::to_string(v); };
  std::string rp = t(d(m + 1) + "xi32"), ci = t(d(nnz) + "xi32"),
              v = t(d(nnz) + "xf32"), b = t(d(k) + "x" + d(n) + "xf32"),
              y = t(d(m) + "x" + d(n) + "xf32");
  return "func.func @main(%rp: " + rp + ", %ci: " + ci + ", %v: " + v +
         ", %b: " + b + ") -> " + y + " {\n  %y = kjit.spmm %rp, %ci, %v, %b : " +
         rp + ", " + ci + ", " + v + ", " + b + " -> " + y +
         "\n  return %y : " + y + "\n}\n";
}
} // namespace

TEST(InputData, SpmmGetsAValidCsr) {
  struct {
    int m, k, nnz;
  } cases[] = {{13, 11, 40}, {1, 7, 7}, {97, 5, 485}, {31, 1, 0},
               {64, 257, 1}, {1000, 3, 2999}};
  std::mt19937 rng(7);
  for (auto c : cases) {
    SCOPED_TRACE(std::to_string(c.m) + "x" + std::to_string(c.k) + " nnz " +
                 std::to_string(c.nnz));
    std::vector<ArgInfo> in = {{DType::i32, {c.m + 1}},
                               {DType::i32, {c.nnz}},
                               {DType::f32, {c.nnz}},
                               {DType::f32, {c.k, 9}}};
    std::vector<std::vector<uint8_t>> bufs;
    for (const ArgInfo &a : in) {
      int64_t n = 1;
      for (int64_t s : a.shape)
        n *= s;
      bufs.emplace_back(n * 4 + 64, 0xAB);
    }
    fillOpInputs("kjit.spmm", in, bufs, rng);
    auto *rp = reinterpret_cast<int32_t *>(bufs[0].data());
    auto *ci = reinterpret_cast<int32_t *>(bufs[1].data());
    EXPECT_EQ(rp[0], 0);
    EXPECT_EQ(rp[c.m], c.nnz);
    int nonEmpty = 0;
    for (int r = 0; r < c.m; ++r) {
      ASSERT_LE(rp[r], rp[r + 1]) << "row " << r;
      nonEmpty += rp[r + 1] > rp[r];
      for (int p = rp[r]; p < rp[r + 1]; ++p) {
        ASSERT_GE(ci[p], 0);
        ASSERT_LT(ci[p], c.k);
        if (p > rp[r])
          ASSERT_LT(ci[p - 1], ci[p]) << "row " << r << " not sorted/distinct";
      }
    }
    // Spread over the rows, not piled into the first ones.
    if (c.nnz >= 4 * c.m)
      EXPECT_GT(nonEmpty, c.m / 2);
    auto *v = reinterpret_cast<float *>(bufs[2].data());
    for (int p = 0; p < c.nnz; ++p)
      ASSERT_TRUE(v[p] >= -1 && v[p] < 1);
  }
}

TEST(InputData, SpmmCandidatesMeasure) {
  auto ws = extractWorkloads(spmmText(37, 29, 19, 150));
  ASSERT_TRUE(bool(ws)) << llvm::toString(ws.takeError());
  JitOptions o;
  o.diskCache = false;
  o.tuningDb = "off";
  o.onlineTuneBudgetSeconds = 0;
  Jit jit(Target::host(), o);
  auto p = ParsedWorkload::parse(ws->front());
  ASSERT_TRUE(bool(p)) << llvm::toString(p.takeError());
  compiler::CpuTarget cpu = compiler::CpuTarget::host();
  RuntimeMeasurer measurer(jit, cpu.info);
  Measurement m = measurer.measure(
      ws->front(), Candidate{(*p)->defaultConfig(cpu.info)});
  EXPECT_TRUE(m.ok()) << statusName(m.status) << ": " << m.message;
  EXPECT_GT(m.medianSeconds, 0);
}
