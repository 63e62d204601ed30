//===- GpuTuningTest.cpp - GPU search spaces, legality and pruning -------===//
//
// For a CUDA TargetInfo (sm_90 and sm_80 facts from cudaTargetInfo) every
// op with a GPU generator has a GPU search space (no CPU knob in it), a
// legal default that survives the default pruning rules, and every
// survivor passes verifyConfig. The gpu-occupancy rule reads the chip's
// per-SM limits. No GPU needed.
//
//===----------------------------------------------------------------------===//
#include "autotune/CostModel.h"
#include "autotune/Pruning.h"
#include "autotune/Tuner.h"
#include "autotune/Space.h"
#include "autotune/Workload.h"
#include "compiler/Compiler.h"
#include "compiler/Pipelines/NVVMPipeline.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

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
    // The default survives the whole pruning, relative rules included
    // (checked for the depthwise family, whose GPU rules are relative).
    std::string defCanon = *(*pw)->canonicalConfig(def);
    bool defKept = false;
    for (const SpacePoint &p : survivors)
      defKept |= *(*pw)->canonicalConfig(p.candidate.configText) == defCanon;
    if (ws->front().opName.find("depthwise") != std::string::npos)
      EXPECT_TRUE(defKept) << def << "\n" << formatReport(r);
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

//===----------------------------------------------------------------------===//
// Depthwise spaces on sm_90: survivor counts bounded, the default kept.
// The bounds are today's counts (285 / 237) plus a margin: vector_width
// (1/2/4) roughly doubled the large convs' survivors, since a narrower
// width keeps more threads busy on small tiles (widest-vector keeps it).
//===----------------------------------------------------------------------===//

struct DwSurvivorCase {
  const char *name;
  const char *mlir;
  size_t maxSurvivors;
};

const DwSurvivorCase kDwSurvivorCases[] = {
    // RepLKNet-31B stage 1: 31x31 on 56x56x128.
    {"k31_56x56x128", R"(func.func @main(%x: tensor<1x56x56x128xf32>, %w: tensor<128x31x31xf32>) -> tensor<1x56x56x128xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nhwc", padding = array<i64: 15, 15, 15, 15>} : (tensor<1x56x56x128xf32>, tensor<128x31x31xf32>) -> tensor<1x56x56x128xf32>
  return %y : tensor<1x56x56x128xf32>
})",
     300},
    // ConvNeXt-T stage 1: 7x7 on 56x56x96.
    {"k7_56x56x96", R"(func.func @main(%x: tensor<1x56x56x96xf32>, %w: tensor<96x7x7xf32>) -> tensor<1x56x56x96xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nhwc", padding = array<i64: 3, 3, 3, 3>} : (tensor<1x56x56x96xf32>, tensor<96x7x7xf32>) -> tensor<1x56x56x96xf32>
  return %y : tensor<1x56x56x96xf32>
})",
     250},
};

TEST(GpuDepthwisePruning, SurvivorCountsAndTheDefaultKept) {
  TargetInfo t = *compiler::cudaTargetInfo("sm_90");
  for (const DwSurvivorCase &c : kDwSurvivorCases) {
    SCOPED_TRACE(c.name);
    auto ws = extractWorkloads(c.mlir);
    ASSERT_TRUE((bool)ws) << llvm::toString(ws.takeError());
    auto pw = ParsedWorkload::parse(ws->front());
    ASSERT_TRUE((bool)pw) << llvm::toString(pw.takeError());
    EnumeratedSpace s = (*pw)->enumerate(t);
    PruningReport r;
    auto survivors = prune(s, defaultRules(), t, r);
    std::printf("%s sm_90: legal %zu, survivors %llu\n%s", c.name,
                s.legal.size(), (unsigned long long)r.survivors,
                formatReport(r).c_str());
    EXPECT_FALSE(r.fellBack);
    EXPECT_GE(r.survivors, 8u);
    EXPECT_LE(r.survivors, c.maxSurvivors);
    std::string def = *(*pw)->canonicalConfig((*pw)->defaultConfig(t));
    bool kept = false;
    for (const SpacePoint &p : survivors)
      kept |= *(*pw)->canonicalConfig(p.candidate.configText) == def;
    EXPECT_TRUE(kept) << "the default " << def << " was pruned";
    // Each GPU rule removed something here (the rules are not no-ops).
    std::map<std::string, uint64_t> removed(r.removed.begin(),
                                            r.removed.end());
    EXPECT_GT(removed["gpu-fill-threads"], 0u);
    EXPECT_GT(removed["gpu-sector-use"], 0u);
    EXPECT_GT(removed["gpu-fill-sms"], 0u);
    EXPECT_GT(removed["gpu-tile-shape"], 0u);
  }
}

//===----------------------------------------------------------------------===//
// The relative GPU rules, one by one.
//===----------------------------------------------------------------------===//

TEST(GpuRules, FillSmsAndThreads) {
  TargetInfo t = *compiler::cudaTargetInfo("sm_90"); // 132 SMs x 2048
  CostFeatures f;
  f.gpuBusyThreads = 1; // the op describes its grid
  f.parallelTasks = 100;
  EXPECT_TRUE(breaksGpuFillSms(f, t, 500));   // another fills the SMs
  EXPECT_FALSE(breaksGpuFillSms(f, t, 120));  // none does
  f.parallelTasks = 132;
  EXPECT_FALSE(breaksGpuFillSms(f, t, 500));
  CostFeatures silent; // an op that does not describe its grid
  silent.parallelTasks = 10;
  EXPECT_FALSE(breaksGpuFillSms(silent, t, 500));
  double cap = 132.0 * 2048;
  f.gpuBusyThreads = 0.4 * cap;
  EXPECT_TRUE(breaksGpuFillThreads(f, t, 2 * cap)); // < 1/2 of the machine
  f.gpuBusyThreads = 0.6 * cap;
  EXPECT_FALSE(breaksGpuFillThreads(f, t, 2 * cap));
  f.gpuBusyThreads = 1000;
  EXPECT_FALSE(breaksGpuFillThreads(f, t, 1900)); // 1/2 of the best
  EXPECT_TRUE(breaksGpuFillThreads(f, t, 2100));
  TargetInfo cpu;
  EXPECT_FALSE(breaksGpuFillThreads(f, cpu, 1e9));
  EXPECT_FALSE(breaksGpuFillSms(f, cpu, 1e9));
}

TEST(GpuRules, SectorUseAndInputReuse) {
  TargetInfo t = *compiler::cudaTargetInfo("sm_90");
  CostFeatures f;
  f.gpuLoadRunBytes = 16;
  EXPECT_TRUE(breaksGpuSectorUse(f, t, 32));
  EXPECT_FALSE(breaksGpuSectorUse(f, t, 16)); // nothing better
  f.movedBytes = 1000;
  f.flops = kGpuRidgeFlopsPerByte * 1000; // compute-bound...
  EXPECT_TRUE(breaksGpuSectorUse(f, t, 32)); // ...but every tap is global
  f.workingSetBytes = 4096;                  // staged in shared memory
  EXPECT_FALSE(breaksGpuSectorUse(f, t, 32));
  f.workingSetBytes = 0;
  f.gpuLoadRunBytes = 32;
  EXPECT_FALSE(breaksGpuSectorUse(f, t, 128));
  f.gpuBusyThreads = 1;
  f.movedBytes = 3000;
  f.flops = 1000; // memory-bound
  EXPECT_TRUE(breaksGpuInputReuse(f, t, 1000));
  EXPECT_FALSE(breaksGpuInputReuse(f, t, 1600));
  f.flops = kGpuRidgeFlopsPerByte * 3000; // compute-bound: traffic hidden
  EXPECT_FALSE(breaksGpuInputReuse(f, t, 1000));
}

TEST(GpuRules, TileShapeAmongAlikeCandidates) {
  TargetInfo t = *compiler::cudaTargetInfo("sm_90");
  CostFeatures square, tall;
  square.gpuBusyThreads = tall.gpuBusyThreads = 1;
  square.parallelTasks = tall.parallelTasks = 500;
  square.threads = tall.threads = 256;
  square.movedBytes = 1000;
  tall.movedBytes = 1200;
  EXPECT_EQ(gpuTileShapeKey(square), gpuTileShapeKey(tall));
  EXPECT_TRUE(breaksGpuTileShape(tall, t, 1000));
  EXPECT_FALSE(breaksGpuTileShape(tall, t, 1100));
  EXPECT_FALSE(breaksGpuTileShape(square, t, 1000));
  // Longer load runs (NCHW rows): another key, not compared.
  tall.gpuLoadRunBytes = 128;
  EXPECT_NE(gpuTileShapeKey(square), gpuTileShapeKey(tall));
  EnumeratedSpace s;
  for (double moved : {1000.0, 1200.0, 1050.0}) {
    SpacePoint p;
    p.features = square;
    p.features.movedBytes = moved;
    p.candidate.configText = std::to_string((int)moved);
    s.legal.push_back(p);
  }
  PruningReport r;
  auto out = prune(s, defaultRules(), t, r);
  ASSERT_EQ(out.size(), 2u) << formatReport(r);
  EXPECT_EQ(out[0].candidate.configText, "1000");
  EXPECT_EQ(out[1].candidate.configText, "1050");
}

TEST(GpuRules, RelativeRulesSeeWhatEarlierRulesKept) {
  TargetInfo t = *compiler::cudaTargetInfo("sm_90");
  EnumeratedSpace s;
  auto add = [&](const char *name, double tasks, double run) {
    SpacePoint p;
    p.candidate.configText = name;
    p.features.threads = 128;
    p.features.parallelTasks = tasks;
    p.features.gpuLoadRunBytes = run;
    p.features.gpuBusyThreads = 1;
    s.legal.push_back(p);
  };
  add("many-blocks-short-runs", 1000, 16); // removed by sector-use
  add("few-blocks", 50, 64);              // removed by fill-sms
  add("good", 500, 64);
  s.rawSize = 3;
  auto rules = defaultRules();
  PruningReport r;
  auto out = prune(s, rules, t, r);
  ASSERT_EQ(out.size(), 1u) << formatReport(r);
  EXPECT_EQ(out[0].candidate.configText, "good");
  std::map<std::string, uint64_t> removed(r.removed.begin(), r.removed.end());
  EXPECT_EQ(removed["gpu-fill-sms"], 1u);
  EXPECT_EQ(removed["gpu-sector-use"], 1u);
  // Not prepared: a relative rule removes nothing.
  for (const auto &rule : defaultRules())
    if (rule->name() == "gpu-sector-use")
      EXPECT_FALSE(rule->prunes(s.legal[0].features, t));
}

//===----------------------------------------------------------------------===//
// Registers: ptxas -v, the occupancy they allow, the gpu-registers stage.
//===----------------------------------------------------------------------===//

TEST(PtxasInfo, ParsesRegistersSpillsAndSharedMemory) {
  const char *log =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Function properties for helper\n"
      "    8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n"
      "ptxas info    : Compiling entry function 'k0' for 'sm_90'\n"
      "ptxas info    : Function properties for k0\n"
      "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 26 registers, used 1 barriers, 25088 bytes smem, "
      "400 bytes cmem[0]\n"
      "ptxas info    : Compiling entry function 'k1' for 'sm_90'\n"
      "ptxas info    : Function properties for k1\n"
      "    96 bytes stack frame, 96 bytes spill stores, 120 bytes spill "
      "loads\n"
      "ptxas info    : Used 255 registers, 368 bytes cmem[0]\n"
      "ptxas info    : Compile time = 117.002 ms\n";
  auto ks = compiler::parsePtxasInfo(log);
  ASSERT_EQ(ks.size(), 2u);
  EXPECT_EQ(ks[0].name, "k0");
  EXPECT_EQ(ks[0].registers, 26);
  EXPECT_EQ(ks[0].barriers, 1);
  EXPECT_EQ(ks[0].staticSharedBytes, 25088);
  EXPECT_EQ(ks[0].spillBytes(), 0);
  EXPECT_TRUE(ks[0].parsed);
  EXPECT_EQ(ks[1].name, "k1");
  EXPECT_EQ(ks[1].registers, 255);
  EXPECT_EQ(ks[1].staticSharedBytes, 0);
  EXPECT_EQ(ks[1].spillStoreBytes, 96);
  EXPECT_EQ(ks[1].spillLoadBytes, 120);
  EXPECT_EQ(ks[1].stackFrameBytes, 96);
  EXPECT_TRUE(compiler::parsePtxasInfo("garbage\n").empty());
}

TEST(GpuRegisters, OccupancyFromRegisters) {
  TargetInfo t = *compiler::cudaTargetInfo("sm_90"); // 64K registers
  CostFeatures f;
  f.threads = 256;
  EXPECT_GE(gpuBlocksByRegisters(f, t), 1e6); // unknown: no limit
  f.gpuRegisters = 32; // 8 warps x 1024 = 8192 per block: 8 blocks
  EXPECT_DOUBLE_EQ(gpuBlocksByRegisters(f, t), 8);
  EXPECT_DOUBLE_EQ(gpuOccupancy(f, t), 1.0);
  f.gpuRegisters = 33; // rounded to 40 per thread: 6 blocks
  EXPECT_DOUBLE_EQ(gpuBlocksByRegisters(f, t), 6);
  EXPECT_DOUBLE_EQ(gpuOccupancy(f, t), 6.0 * 256 / 2048);
  f.threads = 1024;
  f.gpuRegisters = 72; // 72 x 1024 > 65536: cannot launch
  EXPECT_TRUE(breaksGpuRegisterFile(f, t));
  f.gpuRegisters = 64;
  EXPECT_FALSE(breaksGpuRegisterFile(f, t));
  f.gpuSpillBytes = 8;
  EXPECT_TRUE(breaksGpuSpill(f, t));
  // Register-limited occupancy: 128 threads x 255 registers: 2 blocks,
  // 1/8 occupancy; under a quarter of 1.0, and registers are the limit.
  CostFeatures g;
  g.threads = 128;
  g.gpuRegisters = 255;
  EXPECT_DOUBLE_EQ(gpuOccupancy(g, t), 2.0 * 128 / 2048);
  EXPECT_TRUE(breaksGpuRegisterOccupancy(g, t, 1.0));
  EXPECT_FALSE(breaksGpuRegisterOccupancy(g, t, 0.4));
  // Shared memory, not registers, limits this one: kept.
  g.gpuRegisters = 32;
  g.workingSetBytes = 100 * 1024;
  EXPECT_FALSE(breaksGpuRegisterOccupancy(g, t, 1.0));
}

TEST(GpuRegisters, StageDropsWhatCannotLaunchSpillsOrStarves) {
  TargetInfo t = *compiler::cudaTargetInfo("sm_90");
  std::vector<SpacePoint> in;
  auto add = [&](const char *name, int threads) {
    SpacePoint p;
    p.candidate.configText = name;
    p.features.threads = threads;
    in.push_back(p);
  };
  add("ok", 256);
  add("no-launch", 1024);
  add("spills", 256);
  add("starved", 128);
  add("fails", 256);
  std::map<std::string, GpuResources> res = {
      {"ok", {32, 0, 4096}},
      {"no-launch", {128, 0, 0}},
      {"spills", {64, 16, 0}},
      {"starved", {255, 0, 0}}};
  int calls = 0;
  GpuResourceFn fn = [&](const std::string &c) -> llvm::Expected<GpuResources> {
    ++calls;
    auto it = res.find(c);
    if (it == res.end())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "codegen failed");
    return it->second;
  };
  PruningReport r;
  auto out = pruneByGpuRegisters(in, t, fn, GpuRegisterStageOptions(), r);
  EXPECT_EQ(calls, 5);
  ASSERT_EQ(out.size(), 2u) << formatReport(r);
  EXPECT_EQ(out[0].candidate.configText, "ok");
  EXPECT_EQ(out[0].features.gpuRegisters, 32);
  EXPECT_EQ(out[0].features.gpuStaticSharedBytes, 4096);
  EXPECT_EQ(out[1].candidate.configText, "fails"); // kept: not probed
  EXPECT_EQ(out[1].features.gpuRegisters, 0);
  ASSERT_FALSE(r.removed.empty());
  EXPECT_EQ(r.removed.back().first, "gpu-registers");
  EXPECT_EQ(r.removed.back().second, 3u);
  EXPECT_EQ(r.survivors, 2u);
  std::string text = formatReport(r);
  EXPECT_NE(text.find("registers/thread 32..255"), std::string::npos) << text;
  EXPECT_NE(text.find("1 failed to compile"), std::string::npos) << text;

  // More survivors than the cap: not run, said so, nothing compiled.
  GpuRegisterStageOptions small;
  small.maxCandidates = 2;
  calls = 0;
  PruningReport r2;
  auto out2 = pruneByGpuRegisters(in, t, fn, small, r2);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(out2.size(), in.size());
  EXPECT_NE(formatReport(r2).find("not run: 5 survivors"), std::string::npos);

  // No ptxas: stops at once and says why.
  GpuResourceFn none = [&](const std::string &) -> llvm::Expected<GpuResources> {
    ++calls;
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "no ptxas: install the CUDA toolkit");
  };
  calls = 0;
  PruningReport r3;
  auto out3 = pruneByGpuRegisters(in, t, none, GpuRegisterStageOptions(), r3);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(out3.size(), in.size());
  EXPECT_NE(formatReport(r3).find("not run: no ptxas"), std::string::npos);

  // A CPU target: the stage does nothing.
  PruningReport r4;
  EXPECT_EQ(pruneByGpuRegisters(in, TargetInfo(), fn, {}, r4).size(),
            in.size());
  EXPECT_TRUE(r4.removed.empty());
}

const char *kSmallDw = R"(func.func @main(%x: tensor<1x9x11x8xf32>, %w: tensor<8x5x5xf32>) -> tensor<1x9x11x8xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nhwc", padding = array<i64: 2, 2, 2, 2>} : (tensor<1x9x11x8xf32>, tensor<8x5x5xf32>) -> tensor<1x9x11x8xf32>
  return %y : tensor<1x9x11x8xf32>
})";

TEST(GpuRegisters, RealPtxasOnRealKernels) {
  if (compiler::ptxasPath().empty())
    GTEST_SKIP() << "ptxas not found (set KJIT_PTXAS)";
  auto ws = extractWorkloads(kSmallDw);
  ASSERT_TRUE((bool)ws) << llvm::toString(ws.takeError());
  GpuResourceFn fn = ptxasResources(ws->front(), "sm_90");
  const std::string staged = "#kjit.config<{block_h = 4 : i64, block_w = 4 "
                             ": i64, channels_per_block = 8 : i64, "
                             "smem_stage = 1 : i64, threads = 128 : i64}>";
  auto r = fn(staged);
  ASSERT_TRUE((bool)r) << llvm::toString(r.takeError());
  EXPECT_GT(r->registers, 0);
  EXPECT_LE(r->registers, 255);
  EXPECT_EQ(r->spillBytes, 0);
  // The halo tile: (4 + 4) x (4 + 4) x 8 floats of static shared memory.
  EXPECT_EQ(r->staticSharedBytes, 8 * 8 * 8 * 4);
  // Memoized: the same answer again.
  auto again = fn(staged);
  ASSERT_TRUE((bool)again);
  EXPECT_EQ(again->registers, r->registers);
  // An illegal config: an error, not a crash.
  auto bad = fn("#kjit.config<{threads = 33 : i64}>");
  EXPECT_FALSE((bool)bad);
  llvm::consumeError(bad.takeError());

  // ptxas missing: a clear error.
  std::string saved = compiler::ptxasPath();
  setenv("KJIT_PTXAS", "/nonexistent/ptxas", 1);
  auto none = compiler::ptxResourceUsage(".version 8.0\n", "sm_90");
  ASSERT_FALSE((bool)none);
  EXPECT_NE(llvm::toString(none.takeError()).find("not an executable"),
            std::string::npos);
  setenv("KJIT_PTXAS", saved.c_str(), 1);
}

TEST(GpuRegisters, TunerDryRunRecordsRegistersOfSurvivors) {
  if (compiler::ptxasPath().empty())
    GTEST_SKIP() << "ptxas not found (set KJIT_PTXAS)";
  auto ws = extractWorkloads(kSmallDw);
  ASSERT_TRUE((bool)ws);
  TargetInfo t = *compiler::cudaTargetInfo("sm_90");
  TuneOptions o;
  o.dryRun = true;
  auto r = tuneWorkload(ws->front(), t, "cuda;sm_90", "test", nullptr,
                        nullptr, o);
  ASSERT_TRUE((bool)r) << llvm::toString(r.takeError());
  std::string text = formatReport(r->pruning);
  ASSERT_LE(r->survivors.size(), o.gpuRegisters.maxCandidates) << text;
  ASSERT_FALSE(r->survivors.empty());
  EXPECT_NE(text.find("gpu-registers: compiled"), std::string::npos) << text;
  for (const SpacePoint &p : r->survivors)
    EXPECT_GT(p.features.gpuRegisters, 0) << p.candidate.configText;
}
} // namespace

//===----------------------------------------------------------------------===//
// The GPU branch of the roofline model (published peaks of cudaTargetInfo;
// bounds, orders and monotonicity, no timings).
//===----------------------------------------------------------------------===//

namespace {
std::unique_ptr<ParsedWorkload> parseOne(const char *mlir) {
  auto ws = extractWorkloads(mlir);
  if (!ws) {
    llvm::consumeError(ws.takeError());
    return nullptr;
  }
  auto pw = ParsedWorkload::parse(ws->front());
  if (!pw) {
    llvm::consumeError(pw.takeError());
    return nullptr;
  }
  return std::move(*pw);
}

// 64K x 64K CSR with 16 nonzeros a row times 64 dense columns: 2 flops per
// 8+ bytes, memory-bound on any GPU.
const char *kBigSpmm = R"(func.func @main(%rp: tensor<65537xi32>, %ci: tensor<1048576xi32>, %v: tensor<1048576xf32>, %b: tensor<65536x64xf32>) -> tensor<65536x64xf32> {
  %y = "kjit.spmm"(%rp, %ci, %v, %b) : (tensor<65537xi32>, tensor<1048576xi32>, tensor<1048576xf32>, tensor<65536x64xf32>) -> tensor<65536x64xf32>
  return %y : tensor<65536x64xf32>
})";
} // namespace

TEST(GpuCostModel, ChipPeaksFromPublishedFigures) {
  TargetInfo t90 = *compiler::cudaTargetInfo("sm_90");
  TargetInfo t80 = *compiler::cudaTargetInfo("sm_80");
  EXPECT_NEAR(t90.gpuPeakGflops(), 66900, 200); // H100 SXM: 132 x 128 x 2 x 1.98
  EXPECT_NEAR(t80.gpuPeakGflops(), 19500, 50);  // A100: 108 x 64 x 2 x 1.41
  EXPECT_DOUBLE_EQ(t90.gpuDramGBs, 3350);
  EXPECT_DOUBLE_EQ(t80.gpuDramGBs, 1555);
  for (const char *chip :
       {"sm_80", "sm_86", "sm_87", "sm_89", "sm_90", "sm_90a", "sm_100",
        "sm_120"}) {
    TargetInfo t = *compiler::cudaTargetInfo(chip);
    EXPECT_GT(t.gpuPeakGflops(), 1000) << chip;
    EXPECT_GT(t.gpuDramGBs, 100) << chip;
    EXPECT_GT(t.gpuL2Bytes, 1u << 20) << chip;
  }
  // The device's SM count (runtime::cudaTuningTarget) scales the peak.
  TargetInfo half = t90;
  half.smCount = 66;
  EXPECT_NEAR(half.gpuPeakGflops(), t90.gpuPeakGflops() / 2, 1);
}

TEST(GpuCostModel, ComputeBoundDepthwiseNearFlopsOverPeak) {
  TargetInfo t = *compiler::cudaTargetInfo("sm_90");
  auto pw = parseOne(kDwSurvivorCases[0].mlir); // 31x31 on 56x56x128
  ASSERT_TRUE(pw);
  EnumeratedSpace s = pw->enumerate(t);
  PruningReport r;
  auto survivors = prune(s, defaultRules(), t, r);
  ASSERT_GT(survivors.size(), 8u);
  RooflineModel model;
  rank(survivors, model, t);
  const CostFeatures &best = survivors.front().features;
  double flopTime = best.flops / (t.gpuPeakGflops() * 1e9);
  double byteTime = best.compulsoryBytes / (t.gpuDramGBs * 1e9);
  EXPECT_GT(flopTime, 5 * byteTime); // the case is compute-bound (~10x)
  double p = survivors.front().predictedSeconds;
  std::printf("k31 sm_90: flops/peak %.2f us, best predicted %.2f us, worst "
              "survivor %.2f us\n",
              flopTime * 1e6, p * 1e6,
              survivors.back().predictedSeconds * 1e6);
  EXPECT_GE(p, flopTime);
  EXPECT_LE(p, 2 * flopTime + 5e-6);
  // The survivors are no longer all predicted equal.
  std::set<double> distinct;
  for (const SpacePoint &sp : survivors)
    distinct.insert(sp.predictedSeconds);
  EXPECT_GE(distinct.size(), 3u);
  EXPECT_GT(survivors.back().predictedSeconds, 1.05 * p);
  // Worse lanes predict slower; a faster chip predicts faster; fewer SMs
  // (a device's own count) slower.
  CostFeatures worse = best;
  worse.laneUtilization = best.laneUtilization / 2;
  EXPECT_GT(model.predict(worse, t), 1.5 * (p - 3e-6));
  TargetInfo t80 = *compiler::cudaTargetInfo("sm_80");
  EXPECT_LT(p, model.predict(best, t80));
  TargetInfo small = t;
  small.smCount = 66;
  EXPECT_GT(model.predict(best, small), 1.5 * (p - 3e-6));
  // Registers that cut occupancy (ptxas's count) never predict faster.
  CostFeatures regs = best;
  regs.gpuRegisters = 255;
  EXPECT_GE(model.predict(regs, t), p);
}

TEST(GpuCostModel, MemoryBoundSpmmNearBytesOverBandwidth) {
  RooflineModel model;
  auto pw = parseOne(kBigSpmm);
  ASSERT_TRUE(pw);
  TargetInfo t = *compiler::cudaTargetInfo("sm_90");
  CostFeatures f = pw->features(pw->defaultConfig(t), t);
  ASSERT_GT(f.movedBytes, 0);
  double bw = t.gpuDramGBs * 1e9;
  double flopTime = f.flops / (t.gpuPeakGflops() * 1e9);
  double p = model.predict(f, t) - 3e-6; // less one launch
  std::printf("spmm sm_90: compulsory/bw %.2f us, moved/bw %.2f us, flops/peak "
              "%.2f us, predicted %.2f us (+3 us launch)\n",
              f.compulsoryBytes / bw * 1e6, f.movedBytes / bw * 1e6,
              flopTime * 1e6, p * 1e6);
  EXPECT_LT(flopTime * 4, f.compulsoryBytes / bw); // memory-bound
  // Between the unique bytes from DRAM and every moved byte from DRAM
  // (twice over for imperfect overlap).
  EXPECT_GE(p, 0.99 * f.compulsoryBytes / bw);
  EXPECT_LE(p, 2 * std::max(f.movedBytes, f.compulsoryBytes) / bw);
  // More moved bytes predict slower; sm_90's HBM3 beats sm_80's HBM2.
  CostFeatures more = f;
  more.movedBytes *= 4;
  more.compulsoryBytes *= 4;
  EXPECT_GT(model.predict(more, t), model.predict(f, t));
  EXPECT_LT(model.predict(f, t),
            model.predict(f, *compiler::cudaTargetInfo("sm_80")));
  // Beyond L2 (50 MB on sm_90) re-reads come from DRAM too.
  CostFeatures big = f;
  big.compulsoryBytes = 100e6;
  big.movedBytes = 300e6;
  EXPECT_NEAR(model.predict(big, t) - 3e-6, 300e6 / bw, 0.5 * 300e6 / bw);
}

TEST(GpuCostModel, LaunchOverheadPerLaunch) {
  RooflineModel model;
  TargetInfo t = *compiler::cudaTargetInfo("sm_90");
  CostFeatures f;
  f.flops = 1e3;
  f.compulsoryBytes = 1e3;
  f.parallelTasks = 264;
  f.threads = 256;
  double one = model.predict(f, t);
  EXPECT_GE(one, 3e-6);
  EXPECT_LT(one, 4e-6);
  f.gpuLaunches = 9;
  EXPECT_NEAR(model.predict(f, t) - one, 8 * 3e-6, 1e-9);
}
