//===- GpuTuningTest.cpp - GPU search spaces, legality and pruning -------===//
//
// For a CUDA TargetInfo (sm_90 and sm_80 facts from cudaTargetInfo) every
// op with a GPU generator has a GPU search space (no CPU knob in it), a
// legal default that survives the default pruning rules, and every
// survivor passes verifyConfig. The gpu-occupancy rule reads the chip's
// per-SM limits. No GPU needed.
//
//===----------------------------------------------------------------------===//
#include "autotune/Pruning.h"
#include "autotune/Space.h"
#include "autotune/Workload.h"
#include "compiler/Pipelines/NVVMPipeline.h"

#include <gtest/gtest.h>

#include <cstdio>

using namespace kjit;
using namespace kjit::autotune;

namespace {
struct Case {
  const char *name;
  const char *mlir;
};

const Case kCases[] = {
    {"dw_k51_nhwc", R"(func.func @main(%x: tensor<1x64x64x32xf32>, %w: tensor<32x51x51xf32>) -> tensor<1x64x64x32xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {padding = array<i64: 25, 25, 25, 25>} : (tensor<1x64x64x32xf32>, tensor<32x51x51xf32>) -> tensor<1x64x64x32xf32>
  return %y : tensor<1x64x64x32xf32>
})"},
    {"dw_k7_nchw", R"(func.func @main(%x: tensor<1x96x56x56xf32>, %w: tensor<96x7x7xf32>) -> tensor<1x96x56x56xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nchw", padding = array<i64: 3, 3, 3, 3>} : (tensor<1x96x56x56xf32>, tensor<96x7x7xf32>) -> tensor<1x96x56x56xf32>
  return %y : tensor<1x96x56x56xf32>
})"},
    {"inception", R"(func.func @main(%x: tensor<1x56x56x64xf32>, %a: tensor<8x3x3xf32>, %b: tensor<8x1x11xf32>, %c: tensor<8x11x1xf32>) -> tensor<1x56x56x64xf32> {
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 8, 8, 8>} : (tensor<1x56x56x64xf32>, tensor<8x3x3xf32>, tensor<8x1x11xf32>, tensor<8x11x1xf32>) -> tensor<1x56x56x64xf32>
  return %y : tensor<1x56x56x64xf32>
})"},
    {"attention_2d", R"(func.func @main(%q: tensor<1x4x56x56x32xf32>, %k: tensor<1x4x56x56x32xf32>, %v: tensor<1x4x56x56x32xf32>) -> tensor<1x4x56x56x32xf32> {
  %y = "kjit.window_attention"(%q, %k, %v) {kernel_size = array<i64: 7, 7>} : (tensor<1x4x56x56x32xf32>, tensor<1x4x56x56x32xf32>, tensor<1x4x56x56x32xf32>) -> tensor<1x4x56x56x32xf32>
  return %y : tensor<1x4x56x56x32xf32>
})"},
    {"butterfly", R"(func.func @main(%x: tensor<64x1024xf32>, %r: tensor<32x32x32xf32>, %l: tensor<32x32x32xf32>) -> tensor<64x1024xf32> {
  %y = "kjit.butterfly_matmul"(%x, %r, %l) : (tensor<64x1024xf32>, tensor<32x32x32xf32>, tensor<32x32x32xf32>) -> tensor<64x1024xf32>
  return %y : tensor<64x1024xf32>
})"},
    {"spmm", R"(func.func @main(%rp: tensor<257xi32>, %ci: tensor<4000xi32>, %v: tensor<4000xf32>, %b: tensor<256x196xf32>) -> tensor<256x196xf32> {
  %y = "kjit.spmm"(%rp, %ci, %v, %b) : (tensor<257xi32>, tensor<4000xi32>, tensor<4000xf32>, tensor<256x196xf32>) -> tensor<256x196xf32>
  return %y : tensor<256x196xf32>
})"},
    {"spgemm", R"(func.func @main(%arp: tensor<1025xi32>, %aci: tensor<16000xi32>, %av: tensor<16000xf32>, %brp: tensor<1025xi32>, %bci: tensor<16000xi32>, %bv: tensor<16000xf32>) -> (tensor<1025xi32>, tensor<?xi32>, tensor<?xf32>) {
  %c:3 = kjit.spgemm %arp, %aci, %av, %brp, %bci, %bv {shape = array<i64: 1024, 1024, 1024>} : tensor<1025xi32>, tensor<16000xi32>, tensor<16000xf32>, tensor<1025xi32>, tensor<16000xi32>, tensor<16000xf32> -> tensor<1025xi32>, tensor<?xi32>, tensor<?xf32>
  return %c#0, %c#1, %c#2 : tensor<1025xi32>, tensor<?xi32>, tensor<?xf32>
})"},
    // N of 16M: at most 8 blocks of scratch (1 GiB); the default and the
    // space adapt.
    {"spgemm_huge_n", R"(func.func @main(%arp: tensor<4097xi32>, %aci: tensor<40000xi32>, %av: tensor<40000xf32>, %brp: tensor<8xi32>, %bci: tensor<70xi32>, %bv: tensor<70xf32>) -> (tensor<4097xi32>, tensor<?xi32>, tensor<?xf32>) {
  %c:3 = kjit.spgemm %arp, %aci, %av, %brp, %bci, %bv {shape = array<i64: 4096, 7, 16777216>} : tensor<4097xi32>, tensor<40000xi32>, tensor<40000xf32>, tensor<8xi32>, tensor<70xi32>, tensor<70xf32> -> tensor<4097xi32>, tensor<?xi32>, tensor<?xf32>
  return %c#0, %c#1, %c#2 : tensor<4097xi32>, tensor<?xi32>, tensor<?xf32>
})"},
    {"fft_conv", R"(func.func @main(%u: tensor<2x64x1000xf32>, %k: tensor<64x1000xf32>) -> tensor<2x64x1000xf32> {
  %y = "kjit.fft_conv"(%u, %k) : (tensor<2x64x1000xf32>, tensor<64x1000xf32>) -> tensor<2x64x1000xf32>
  return %y : tensor<2x64x1000xf32>
})"},
};

class GpuSpace : public ::testing::TestWithParam<Case> {};

TEST_P(GpuSpace, DefaultSurvivesPruningAndSurvivorsAreLegal) {
  auto ws = extractWorkloads(GetParam().mlir);
  ASSERT_TRUE((bool)ws) << llvm::toString(ws.takeError());
  auto pw = ParsedWorkload::parse(ws->front());
  ASSERT_TRUE((bool)pw) << llvm::toString(pw.takeError());
  for (const char *chip : {"sm_90", "sm_80"}) {
    SCOPED_TRACE(chip);
    TargetInfo t = *compiler::cudaTargetInfo(chip);
    SearchSpace space = (*pw)->searchSpace(t);
    ASSERT_FALSE(space.knobs.empty());
    // GPU vector widths are 1, 2 or 4 floats (CPU ones 4 to 16 lanes).
    for (const Knob &k : space.knobs)
      if (k.name == "vector_width")
        for (int64_t v : k.ints)
          EXPECT_TRUE(v == 1 || v == 2 || v == 4) << "a CPU width " << v;
    EnumeratedSpace s = (*pw)->enumerate(t);
    EXPECT_GT(s.legal.size(), 0u);
    PruningReport r;
    auto survivors = prune(s, defaultRules(), t, r);
    EXPECT_FALSE(r.fellBack) << formatReport(r);
    EXPECT_GT(r.survivors, 0u);
    std::printf("%s %s: raw %llu, legal %zu, survivors %llu\n",
                GetParam().name, chip, (unsigned long long)s.rawSize,
                s.legal.size(), (unsigned long long)r.survivors);
    std::string def = (*pw)->defaultConfig(t);
    EXPECT_FALSE((bool)(*pw)->verify(def, t)) << def;
    CostFeatures f = (*pw)->features(def, t);
    for (const auto &rule : defaultRules())
      EXPECT_FALSE(rule->prunes(f, t)) << rule->name() << ": " << def;
    for (const SpacePoint &p : survivors) {
      llvm::Error e = (*pw)->verify(p.candidate.configText, t);
      EXPECT_FALSE((bool)e) << p.candidate.configText;
      llvm::consumeError(std::move(e));
      EXPECT_GE(gpuOccupancy((*pw)->features(p.candidate.configText, t), t),
                1.0 / 16);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, GpuSpace, ::testing::ValuesIn(kCases),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

TEST(GpuOccupancy, ReadsThePerSmLimits) {
  TargetInfo t90 = *compiler::cudaTargetInfo("sm_90");
  TargetInfo t86 = *compiler::cudaTargetInfo("sm_86");
  CostFeatures f;
  f.threads = 256;
  f.workingSetBytes = 40 * 1024; // 5 blocks by shared memory on sm_90
  EXPECT_DOUBLE_EQ(gpuOccupancy(f, t90), 5.0 * 256 / 2048);
  EXPECT_DOUBLE_EQ(gpuOccupancy(f, t86), 2.0 * 256 / 1536);
  f.threads = 32;
  f.workingSetBytes = 120 * 1024; // one 32-thread block per SM
  EXPECT_TRUE(breaksGpuOccupancy(f, t90));
  TargetInfo cpu;
  EXPECT_DOUBLE_EQ(gpuOccupancy(f, cpu), 1.0);
}
} // namespace
