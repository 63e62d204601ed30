//===- AutotuneTest.cpp - the autotuner's pieces -------------------------===//
#include "ExpectedValue.h"
#include "autotune/CostModel.h"
#include "autotune/Database.h"
#include "autotune/Measurer.h"
#include "autotune/Pruning.h"
#include "autotune/Search.h"
#include "autotune/Space.h"
#include "autotune/Tuner.h"
#include "compiler/Compiler.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <thread>
#include <unistd.h>

using namespace kjit;
using namespace kjit::autotune;

namespace {
const char *kDw3x3 = R"mlir(
func.func @main(%x: tensor<1x8x8x16xf32>, %w: tensor<16x3x3xf32>)
    -> tensor<1x8x8x16xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nhwc",
        strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
        padding = array<i64: 1, 1, 1, 1>,
        kjit.config = #kjit.config<{ow_block = 4}>}
      : (tensor<1x8x8x16xf32>, tensor<16x3x3xf32>) -> tensor<1x8x8x16xf32>
  return %y : tensor<1x8x8x16xf32>
}
)mlir";

/// An AVX-512-like target with fixed facts (tests must not depend on the
/// machine they run on).
TargetInfo fixedTarget() {
  TargetInfo t;
  t.hasAVX2 = t.hasFMA = t.hasAVX512 = true;
  t.vectorBits = 512;
  t.numVectorRegisters = 32;
  t.l1dBytes = 32 * 1024;
  t.l2Bytes = 1024 * 1024;
  t.numCores = 2;
  t.peakGflopsPerCore = 100;
  t.dramGBs = 20;
  return t;
}

std::string tempPath(const std::string &name) {
  std::string dir = ::testing::TempDir();
  std::string p = dir + "/kjit-at-" + std::to_string(getpid()) + "-" + name;
  std::remove(p.c_str());
  std::remove((p + "-wal").c_str());
  std::remove((p + "-shm").c_str());
  return p;
}

Workload dwWorkload() {
  auto ws = extractWorkloads(kDw3x3);
  EXPECT_TRUE((bool)ws) << (ws ? "" : llvm::toString(ws.takeError()));
  return ws->front();
}
} // namespace

//===--------------------------------------------------------------------===//
// Workloads and enumeration
//===--------------------------------------------------------------------===//

TEST(Space, ExtractsOneWorkloadPerOpWithoutConfig) {
  Workload w = dwWorkload();
  EXPECT_EQ(w.opName, "kjit.depthwise_conv2d");
  EXPECT_EQ(w.canonicalText.find("kjit.config"), std::string::npos);
  EXPECT_NE(w.canonicalText.find("func.func @main"), std::string::npos);
  EXPECT_EQ(w.key.size(), 64u);
  // Same op, different config in the file: same workload key.
  std::string other = kDw3x3;
  other.replace(other.find("ow_block = 4"), 12, "ow_block = 8");
  auto ws = extractWorkloads(other);
  ASSERT_TRUE((bool)ws);
  EXPECT_EQ(ws->front().key, w.key);
}

TEST(Space, BadInputIsAnError) {
  auto a = extractWorkloads("this is not mlir");
  ASSERT_FALSE((bool)a);
  EXPECT_NE(llvm::toString(a.takeError()).find("invalid kjit module"),
            std::string::npos);
  auto b = extractWorkloads("func.func @f() { return }");
  ASSERT_FALSE((bool)b);
  EXPECT_NE(llvm::toString(b.takeError()).find("no kjit op"),
            std::string::npos);
}

TEST(Space, EnumeratesCrossProductAndVerifies) {
  Workload w = dwWorkload();
  auto pw = ParsedWorkload::parse(w);
  ASSERT_TRUE((bool)pw);
  TargetInfo t = fixedTarget();
  EnumeratedSpace s = (*pw)->enumerate(t);
  EXPECT_EQ(s.rawSize, s.raw.size());
  EXPECT_GT(s.rawSize, 1000u);
  EXPECT_EQ(s.illegal + s.legal.size(), s.rawSize);
  EXPECT_GT(s.illegal, 0u); // e.g. 4 x 28 register tiles
  EXPECT_FALSE(s.firstIllegalReason.empty());
  std::set<std::string> distinct;
  for (const SpacePoint &p : s.legal) {
    EXPECT_FALSE((bool)(*pw)->verify(p.candidate.configText, t));
    distinct.insert(p.candidate.configText);
  }
  EXPECT_EQ(distinct.size(), s.legal.size());
  // The default is legal; garbage is not.
  EXPECT_FALSE((bool)(*pw)->verify((*pw)->defaultConfig(t), t));
  llvm::Error e = (*pw)->verify("#kjit.config<{oh_block = 9}>", t);
  ASSERT_TRUE((bool)e);
  EXPECT_NE(llvm::toString(std::move(e)).find("oh_block"), std::string::npos);
}

//===--------------------------------------------------------------------===//
// Pruning rules, one by one
//===--------------------------------------------------------------------===//

TEST(Pruning, RegisterFit) {
  TargetInfo t = fixedTarget(); // 32 registers: at most 28 live
  CostFeatures f;
  f.registerTile = 28;
  EXPECT_FALSE(breaksRegisterFit(f, t));
  f.registerTile = 29;
  EXPECT_TRUE(breaksRegisterFit(f, t));
  t.numVectorRegisters = 16;
  f.registerTile = 15;
  EXPECT_TRUE(breaksRegisterFit(f, t));
}

TEST(Pruning, RegisterMinFill) {
  TargetInfo t = fixedTarget();
  CostFeatures f;
  f.registerTile = 7;
  EXPECT_TRUE(breaksMinRegisterFill(f, t));
  f.registerTile = 8;
  EXPECT_FALSE(breaksMinRegisterFill(f, t));
  // A problem whose largest tile is smaller: that tile is enough.
  f.registerTileCap = 5;
  f.registerTile = 5;
  EXPECT_FALSE(breaksMinRegisterFill(f, t));
  f.registerTile = 4;
  EXPECT_TRUE(breaksMinRegisterFill(f, t));
}

TEST(Pruning, L2Fit) {
  TargetInfo t = fixedTarget();
  CostFeatures f;
  f.workingSetBytes = 512 * 1024;
  EXPECT_FALSE(breaksL2Fit(f, t));
  f.workingSetBytes = 512 * 1024 + 1;
  EXPECT_TRUE(breaksL2Fit(f, t));
}

TEST(Pruning, LaneUtilization) {
  TargetInfo t = fixedTarget();
  CostFeatures f;
  f.laneUtilization = 37.0 / 48; // 37 channels in 3 x 16 lanes
  EXPECT_FALSE(breaksLaneUtilization(f, t));
  f.laneUtilization = 37.0 / 64;
  EXPECT_TRUE(breaksLaneUtilization(f, t));
  // 5 rows in vectors of >= 4 lanes: 5/8 is the best there is; 75% of it
  // is the bar.
  f.maxLaneUtilization = 5.0 / 8;
  f.laneUtilization = 5.0 / 8;
  EXPECT_FALSE(breaksLaneUtilization(f, t));
  f.laneUtilization = 5.0 / 16;
  EXPECT_TRUE(breaksLaneUtilization(f, t));
}

TEST(Pruning, ThreadsAtMostTasks) {
  TargetInfo t = fixedTarget();
  CostFeatures f;
  f.parallelTasks = 1;
  f.threads = 2;
  EXPECT_TRUE(breaksThreadsLeTasks(f, t));
  f.threads = 1;
  EXPECT_FALSE(breaksThreadsLeTasks(f, t));
  f.parallelTasks = 8, f.threads = 2;
  EXPECT_FALSE(breaksThreadsLeTasks(f, t));
}

TEST(Pruning, ThreadsEqualCores) {
  TargetInfo t = fixedTarget(); // 2 cores
  CostFeatures f;
  f.parallelTasks = 8;
  f.threads = 1;
  EXPECT_TRUE(breaksThreadsEqCores(f, t));
  f.threads = 2;
  EXPECT_FALSE(breaksThreadsEqCores(f, t));
  f.parallelTasks = 1, f.threads = 1; // fewer tasks than cores
  EXPECT_FALSE(breaksThreadsEqCores(f, t));
}

TEST(Pruning, RegisterHalfFill) {
  TargetInfo t = fixedTarget(); // 32 registers: at least 16 live
  CostFeatures f;
  f.registerTile = 15;
  EXPECT_FALSE(breaksRegisterHalfFill(f, t)); // cap unknown: no-op
  f.registerTileCap = 28;
  EXPECT_TRUE(breaksRegisterHalfFill(f, t));
  f.registerTile = 16;
  EXPECT_FALSE(breaksRegisterHalfFill(f, t));
  f.registerTile = 7, f.registerTileCap = 7; // a tiny output: its largest tile
  EXPECT_FALSE(breaksRegisterHalfFill(f, t));
}

TEST(Pruning, L2MinFill) {
  TargetInfo t = fixedTarget(); // L2/16 = 64 KiB, 2 cores
  CostFeatures f;
  f.workingSetBytes = 16 * 1024;
  f.parallelTasks = 64;
  EXPECT_FALSE(breaksL2MinFill(f, t)); // problem size unknown: no-op
  f.maxWorkingSetBytes = 1 << 20;
  EXPECT_TRUE(breaksL2MinFill(f, t)); // 64 * 16/64 = 16 tasks at the fill
  f.parallelTasks = 8;
  EXPECT_FALSE(breaksL2MinFill(f, t)); // 8 * 16/64 = 2 tasks < 2 x 2 cores
}

TEST(Pruning, L2MinFillKeepsParallelismAndSmallProblems) {
  TargetInfo t = fixedTarget();
  CostFeatures f;
  f.workingSetBytes = 16 * 1024;
  f.maxWorkingSetBytes = 1 << 20;
  f.parallelTasks = 15; // 15/4 < 2 x 2 cores: growing tiles starves cores
  EXPECT_FALSE(breaksL2MinFill(f, t));
  f.parallelTasks = 64;
  f.maxWorkingSetBytes = 32 * 1024; // the whole problem is below L2/16
  EXPECT_FALSE(breaksL2MinFill(f, t));
  f.maxWorkingSetBytes = 1 << 20;
  f.workingSetBytes = 64 * 1024; // at the fill
  EXPECT_FALSE(breaksL2MinFill(f, t));
}

TEST(Pruning, WidestVector) {
  TargetInfo t = fixedTarget(); // 16 lanes
  CostFeatures f;
  f.vectorLanes = 8;
  EXPECT_FALSE(breaksWidestVector(f, t)); // widest utilization unknown
  f.widestLaneUtilization = 1;
  f.laneUtilization = 1;
  EXPECT_TRUE(breaksWidestVector(f, t));
  f.vectorLanes = 16;
  EXPECT_FALSE(breaksWidestVector(f, t));
  // 24 channels: 8 lanes use all, 16 lanes use 24/32: strictly better.
  f.vectorLanes = 8, f.laneUtilization = 1, f.widestLaneUtilization = 0.75;
  EXPECT_FALSE(breaksWidestVector(f, t));
  // The op's widest (8) below the target's (16).
  f.widestVectorLanes = 8, f.laneUtilization = f.widestLaneUtilization = 1;
  EXPECT_FALSE(breaksWidestVector(f, t));
}

TEST(Pruning, UnrollDivides) {
  TargetInfo t = fixedTarget();
  CostFeatures f;
  EXPECT_FALSE(breaksUnrollDivides(f, t));
  f.unrollRemainder = 1.0 / 7; // kw 7, unroll 2 or 4 (well, 3/7 for 4)
  EXPECT_TRUE(breaksUnrollDivides(f, t));
}

TEST(Pruning, TileWaste) {
  TargetInfo t = fixedTarget();
  CostFeatures f;
  f.tailWaste = 0.125;
  EXPECT_FALSE(breaksTileWaste(f, t));
  f.tailWaste = 0.126;
  EXPECT_TRUE(breaksTileWaste(f, t));
}

TEST(Pruning, NoEffectKnob) {
  TargetInfo t = fixedTarget();
  CostFeatures f;
  EXPECT_FALSE(breaksNoEffectKnob(f, t));
  f.redundantVariant = true;
  EXPECT_TRUE(breaksNoEffectKnob(f, t));
}

TEST(Pruning, DepthwiseFeaturesForTheRules) {
  auto pw = ParsedWorkload::parse(dwWorkload()); // 1x8x8x16, 3x3
  ASSERT_TRUE((bool)pw);
  TargetInfo t = fixedTarget();
  CostFeatures f = (*pw)->features(
      "#kjit.config<{vector_width = 8, ow_block = 3, oh_block = 2, "
      "kw_unroll = 2, oh_tile = 4, threads = 2, task_order = \"h_outer\"}>",
      t);
  EXPECT_EQ(f.vectorLanes, 8);
  EXPECT_EQ(f.widestVectorLanes, 16);
  EXPECT_DOUBLE_EQ(f.widestLaneUtilization, 1.0);
  EXPECT_DOUBLE_EQ(f.unrollRemainder, 1.0 / 3);
  EXPECT_DOUBLE_EQ(f.tailWaste, 1.0 - 6.0 / 8); // 6 of 8 columns in full tiles
  EXPECT_FALSE(f.redundantVariant); // 2 channel blocks x 2 row tiles
  EXPECT_GT(f.maxWorkingSetBytes, f.workingSetBytes);
  EXPECT_EQ(f.registerTileCap, 28); // 3 x 8 + 3 + 1 in 7/8 of 32
  f = (*pw)->features(
      "#kjit.config<{vector_width = 16, ow_block = 4, oh_block = 2, "
      "kw_unroll = 3, oh_tile = 8, threads = 2, task_order = \"h_outer\"}>",
      t);
  EXPECT_DOUBLE_EQ(f.unrollRemainder, 0);
  EXPECT_DOUBLE_EQ(f.tailWaste, 0);
  EXPECT_TRUE(f.redundantVariant); // one channel block, one row tile
}

namespace {
std::string dwSame(int k) {
  std::string ks = std::to_string(k), p = std::to_string(k / 2);
  return "func.func @main(%x: tensor<1x56x56x256xf32>, %w: tensor<256x" + ks +
         "x" + ks + "xf32>) -> tensor<1x56x56x256xf32> {\n"
         "  %y = kjit.depthwise_conv2d %x, %w {padding = array<i64: " + p +
         ", " + p + ", " + p + ", " + p + ">} : tensor<1x56x56x256xf32>, "
         "tensor<256x" + ks + "x" + ks + "xf32> -> tensor<1x56x56x256xf32>\n"
         "  return %y : tensor<1x56x56x256xf32>\n}\n";
}
} // namespace

// The bench's large-kernel convs: tens of survivors, and the default config
// (what an untuned compile runs) is one of them.
TEST(Pruning, BenchConvsKeepTheirDefaultInTensOfSurvivors) {
  for (TargetInfo t : {fixedTarget(), [] {
         TargetInfo a = fixedTarget(); // AVX2-like
         a.hasAVX512 = false, a.vectorBits = 256, a.numVectorRegisters = 16;
         a.l2Bytes = 512 * 1024, a.numCores = 4;
         return a;
       }()})
    for (int k : {7, 13, 31}) {
      SCOPED_TRACE("k=" + std::to_string(k) + " vectorBits=" +
                   std::to_string(t.vectorBits));
      auto ws = extractWorkloads(dwSame(k));
      ASSERT_TRUE((bool)ws) << llvm::toString(ws.takeError());
      auto pw = ParsedWorkload::parse(ws->front());
      ASSERT_TRUE((bool)pw);
      EnumeratedSpace s = (*pw)->enumerate(t);
      PruningReport r;
      auto survivors = prune(s, defaultRules(), t, r);
      EXPECT_FALSE(r.fellBack);
      EXPECT_LE(r.survivors, 150u) << formatReport(r);
      std::string def = (*pw)->defaultConfig(t);
      bool found = false;
      for (const SpacePoint &p : survivors)
        found = found || p.candidate.configText == def;
      EXPECT_TRUE(found) << def << "\n" << formatReport(r);
      // And no rule removes the default's features outright.
      CostFeatures f = (*pw)->features(def, t);
      for (const auto &rule : defaultRules())
        EXPECT_FALSE(rule->prunes(f, t)) << rule->name() << ": " << def;
    }
}

namespace {
/// A depthwise conv, padding k / 2, in `layout` ("nhwc" or "nchw").
std::string dwShape(int c, int h, int k, int s, const char *layout) {
  int p = k / 2, o = (h + 2 * p - k) / s + 1;
  bool nhwc = std::string(layout) == "nhwc";
  auto shape = [&](int hw) {
    std::string d = std::to_string(hw), cs = std::to_string(c);
    return "tensor<1x" +
           (nhwc ? d + "x" + d + "x" + cs : cs + "x" + d + "x" + d) + "xf32>";
  };
  std::string ks = std::to_string(k), ps = std::to_string(p),
              ss = std::to_string(s),
              wt =
                  "tensor<" + std::to_string(c) + "x" + ks + "x" + ks + "xf32>";
  return "func.func @main(%x: " + shape(h) + ", %w: " + wt + ") -> " +
         shape(o) + " {\n  %y = kjit.depthwise_conv2d %x, %w {layout = \"" +
         layout + "\", strides = array<i64: " + ss + ", " + ss +
         ">, padding = array<i64: " + ps + ", " + ps + ", " + ps + ", " + ps +
         ">} : " + shape(h) + ", " + wt + " -> " + shape(o) +
         "\n  return %y : " + shape(o) + "\n}\n";
}
} // namespace

// Small and strided filters and filters larger than the image (issue 14's
// shapes): the default config (read in place for NHWC, row tiles outer,
// columns that keep the live inputs in registers) survives every rule.
TEST(Pruning, SmallAndStridedConvsKeepTheirDefault) {
  TargetInfo avx2 = fixedTarget();
  avx2.hasAVX512 = false, avx2.vectorBits = 256, avx2.numVectorRegisters = 16;
  const int shapes[][4] = {{128, 112, 3, 1}, {128, 112, 3, 2}, {256, 56, 3, 2},
                           {512, 28, 3, 2},  {128, 56, 5, 2},  {768, 7, 7, 1},
                           {512, 14, 31, 1}};
  for (TargetInfo t : {fixedTarget(), avx2})
    for (const char *layout : {"nhwc", "nchw"})
      for (const auto &sh : shapes) {
        // Known conflicts of the packed kernel's defaults on 7- and 14-wide
        // outputs (2 rows leave a tail over the tile-waste limit, 1 row
        // fills under half the registers): 7x7 NCHW, and 31x31 on 14x14
        // with AVX2's 16 registers.
        bool nchw = std::string(layout) == "nchw";
        if ((nchw && sh[1] == 7) || (t.numVectorRegisters == 16 && sh[2] == 31))
          continue;
        std::string mlir = dwShape(sh[0], sh[1], sh[2], sh[3], layout);
        SCOPED_TRACE(mlir + " vectorBits=" + std::to_string(t.vectorBits));
        auto ws = extractWorkloads(mlir);
        ASSERT_TRUE((bool)ws) << llvm::toString(ws.takeError());
        auto pw = ParsedWorkload::parse(ws->front());
        ASSERT_TRUE((bool)pw);
        std::string def = (*pw)->defaultConfig(t);
        CostFeatures f = (*pw)->features(def, t);
        for (const auto &rule : defaultRules())
          EXPECT_FALSE(rule->prunes(f, t)) << rule->name() << ": " << def;
      }
}

namespace {
/// The survivors of one workload's space on `t`, with the report.
std::vector<SpacePoint> survivorsOf(const std::string &mlir,
                                    const TargetInfo &t, PruningReport &r) {
  auto ws = extractWorkloads(mlir);
  EXPECT_TRUE((bool)ws) << (ws ? "" : llvm::toString(ws.takeError()));
  auto pw = ParsedWorkload::parse(ws->front());
  EXPECT_TRUE((bool)pw);
  return prune((*pw)->enumerate(t), defaultRules(), t, r);
}
bool anyKnob(const std::vector<SpacePoint> &ps, const std::string &text) {
  for (const SpacePoint &p : ps)
    if (p.candidate.configText.find(text) != std::string::npos)
      return true;
  return false;
}
const char *kAttention1d = R"mlir(
func.func @main(%q: tensor<1x2x23x8xf32>, %k: tensor<1x2x23x8xf32>, %v: tensor<1x2x23x8xf32>) -> tensor<1x2x23x8xf32> {
  %y = kjit.window_attention %q, %k, %v {kernel_size = array<i64: 5>, dilation = array<i64: 2>} : tensor<1x2x23x8xf32>, tensor<1x2x23x8xf32>, tensor<1x2x23x8xf32> -> tensor<1x2x23x8xf32>
  return %y : tensor<1x2x23x8xf32>
})mlir";
const char *kButterfly = R"mlir(
func.func @main(%x: tensor<5x35xf32>, %r: tensor<7x5x5xf32>, %l: tensor<5x7x7xf32>) -> tensor<5x35xf32> {
  %y = kjit.butterfly_matmul %x, %r, %l : tensor<5x35xf32>, tensor<7x5x5xf32>, tensor<5x7x7xf32> -> tensor<5x35xf32>
  return %y : tensor<5x35xf32>
})mlir";
const char *kSpmm = R"mlir(
func.func @main(%rp: tensor<14xi32>, %ci: tensor<40xi32>, %v: tensor<40xf32>,
                %b: tensor<11x37xf32>) -> tensor<13x37xf32> {
  %y = kjit.spmm %rp, %ci, %v, %b
      : tensor<14xi32>, tensor<40xi32>, tensor<40xf32>, tensor<11x37xf32>
      -> tensor<13x37xf32>
  return %y : tensor<13x37xf32>
})mlir";
const char *kFft = R"mlir(
func.func @main(%u: tensor<2x3x100xf32>, %k: tensor<3x37xf32>, %d: tensor<3xf32>) -> tensor<2x3x100xf32> {
  %y = kjit.fft_conv %u, %k, %d : tensor<2x3x100xf32>, tensor<3x37xf32>, tensor<3xf32> -> tensor<2x3x100xf32>
  return %y : tensor<2x3x100xf32>
})mlir";
} // namespace

// The non-conv ops: hundreds or thousands of raw candidates, dozens survive
// (no fallback to the legal set), and the rules that remove them are the
// ones the ops' features feed.
TEST(Pruning, NonConvOpsPruneToDozens) {
  TargetInfo t = fixedTarget();
  struct Case {
    const char *name, *mlir;
    std::vector<std::string> activeRules;
  } cases[] = {
      {"window_attention", kAttention1d,
       {"lane-utilization", "widest-vector", "tile-waste", "no-effect-knob"}},
      {"butterfly_matmul", kButterfly,
       {"lane-utilization", "tile-waste", "no-effect-knob"}},
      {"spmm", kSpmm, {"register-min-fill", "no-effect-knob"}},
      {"fft_conv", kFft, {"threads-eq-cores"}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    PruningReport r;
    auto s = survivorsOf(c.mlir, t, r);
    EXPECT_FALSE(r.fellBack) << formatReport(r);
    EXPECT_GE(r.survivors, 4u) << formatReport(r);
    EXPECT_LE(r.survivors, 99u) << formatReport(r);
    if (r.rawSize > 1000) // fft_conv's space is small to begin with
      EXPECT_GE(r.rawSize, 20 * r.survivors) << formatReport(r);
    for (const std::string &rule : c.activeRules) {
      bool removed = false;
      for (const auto &[name, n] : r.removed)
        removed = removed || (name == rule && n > 0);
      EXPECT_TRUE(removed) << rule << " removed nothing\n" << formatReport(r);
    }
  }
}

TEST(Pruning, AttentionFeatures) {
  TargetInfo t = fixedTarget(); // 16 lanes
  PruningReport r;
  auto s = survivorsOf(kAttention1d, t, r);
  // D = 8: 8-lane vectors only (4 is narrower for nothing, 16 wastes half).
  EXPECT_TRUE(anyKnob(s, "vector_width = 8 "));
  EXPECT_FALSE(anyKnob(s, "vector_width = 4 "));
  EXPECT_FALSE(anyKnob(s, "vector_width = 16 "));
  // kernel 5: key chunks 8, 13 and 16 are all clamped to 5, like 7.
  EXPECT_TRUE(anyKnob(s, "key_chunk = 7 "));
  EXPECT_FALSE(anyKnob(s, "key_chunk = 13 "));
  // A query tile of 1 leaves every query of a larger block in the tail.
  for (const SpacePoint &p : s)
    if (p.candidate.configText.find("query_tile = 1 ") != std::string::npos)
      EXPECT_NE(p.candidate.configText.find("query_block = 1 "),
                std::string::npos)
          << p.candidate.configText;
}

TEST(Pruning, ButterflyAndSpmmFeatures) {
  TargetInfo t = fixedTarget();
  PruningReport r;
  // 5 rows: 16-lane vectors fill under a third of the lanes.
  auto b = survivorsOf(kButterfly, t, r);
  EXPECT_FALSE(anyKnob(b, "vector_width = 16 "));
  EXPECT_FALSE(anyKnob(b, "block_tile = 12 ")); // = 8 on 7 outputs
  EXPECT_FALSE(anyKnob(b, "block_tile = 16 "));
  // N = 37: every n_tile from 256 up is the same single tile as 128.
  auto s = survivorsOf(kSpmm, t, r);
  EXPECT_TRUE(anyKnob(s, "n_tile = 128 "));
  EXPECT_FALSE(anyKnob(s, "n_tile = 256 "));
  EXPECT_FALSE(anyKnob(s, "n_tile = 2048 "));
  // With one task (row_tile = 13 = M) the partition has no effect.
  for (const SpacePoint &p : s)
    if (p.candidate.configText.find("row_tile = 13 ") != std::string::npos)
      EXPECT_NE(p.candidate.configText.find("partition = \"nnz\""),
                std::string::npos)
          << p.candidate.configText;
}

TEST(Pruning, ReportCountsEveryCandidateOnce) {
  auto pw = ParsedWorkload::parse(dwWorkload());
  ASSERT_TRUE((bool)pw);
  TargetInfo t = fixedTarget();
  EnumeratedSpace s = (*pw)->enumerate(t);
  PruningReport r;
  auto survivors = prune(s, defaultRules(), t, r);
  uint64_t removed = 0;
  for (auto &[name, n] : r.removed)
    removed += n;
  EXPECT_EQ(r.rawSize, s.rawSize);
  EXPECT_FALSE(r.fellBack);
  EXPECT_EQ(removed + r.survivors, r.legal);
  EXPECT_EQ(r.survivors, survivors.size());
  EXPECT_GT(r.survivors, 0u);
  EXPECT_LT(r.survivors, r.legal / 2);
  std::string text = formatReport(r);
  EXPECT_NE(text.find("rule register-fit: -"), std::string::npos);
  EXPECT_NE(text.find("survivors: "), std::string::npos);
}

TEST(Pruning, FallsBackToLegalWhenNothingSurvives) {
  auto pw = ParsedWorkload::parse(dwWorkload());
  ASSERT_TRUE((bool)pw);
  TargetInfo t = fixedTarget();
  EnumeratedSpace s = (*pw)->enumerate(t);
  std::vector<std::unique_ptr<PruningRule>> rules;
  rules.push_back(std::make_unique<FunctionRule>(
      "all", "", [](const CostFeatures &, const TargetInfo &) {
        return true;
      }));
  PruningReport r;
  auto survivors = prune(s, rules, t, r);
  EXPECT_TRUE(r.fellBack);
  EXPECT_EQ(survivors.size(), s.legal.size());
}

//===--------------------------------------------------------------------===//
// Cost model
//===--------------------------------------------------------------------===//

namespace {
CostFeatures bigConv() {
  CostFeatures f;
  f.flops = 2e9;
  f.compulsoryBytes = f.movedBytes = 4e7;
  f.workingSetBytes = 64 * 1024;
  f.vectorFmas = f.flops / 32;
  f.l1Loads = f.vectorFmas * 0.3;
  f.registerTile = 17;
  f.laneUtilization = 1;
  f.parallelTasks = 256;
  f.threads = 2;
  return f;
}
} // namespace

TEST(CostModel, SpillingRanksAfterFitting) {
  RooflineModel m;
  TargetInfo t = fixedTarget();
  CostFeatures fits = bigConv(), spills = bigConv();
  spills.registerTile = 40;
  EXPECT_LT(m.predict(fits, t), m.predict(spills, t));
  CostFeatures full = bigConv();
  full.registerTile = 31;
  EXPECT_LT(m.predict(fits, t), m.predict(full, t));
}

TEST(CostModel, PaddingWasteAndTinyTilesCost) {
  RooflineModel m;
  TargetInfo t = fixedTarget();
  CostFeatures waste = bigConv();
  waste.laneUtilization = 0.5;
  EXPECT_LT(m.predict(bigConv(), t), m.predict(waste, t));
  CostFeatures tiny = bigConv();
  tiny.registerTile = 3; // one accumulator: FMA latency exposed
  EXPECT_LT(m.predict(bigConv(), t), m.predict(tiny, t));
}

TEST(CostModel, ThreadsHelpBigWorkAndHurtBeyondCores) {
  RooflineModel m;
  TargetInfo t = fixedTarget();
  CostFeatures one = bigConv(), two = bigConv(), many = bigConv();
  one.threads = 1;
  many.threads = 8;
  EXPECT_LT(m.predict(two, t), m.predict(one, t));
  EXPECT_LT(m.predict(two, t), m.predict(many, t));
  // Beyond L2: slower than a fitting tile on a memory-bound op.
  CostFeatures mem = bigConv(), memBig = bigConv();
  mem.flops = memBig.flops = 1e6;
  mem.l1Loads = memBig.l1Loads = 0;
  memBig.workingSetBytes = 4.0 * t.l2Bytes;
  EXPECT_LT(m.predict(mem, t), m.predict(memBig, t));
}

TEST(CostModel, RankSortsBestFirst) {
  auto pw = ParsedWorkload::parse(dwWorkload());
  ASSERT_TRUE((bool)pw);
  TargetInfo t = fixedTarget();
  EnumeratedSpace s = (*pw)->enumerate(t);
  RooflineModel m;
  rank(s.legal, m, t);
  for (size_t i = 1; i < s.legal.size(); ++i)
    ASSERT_LE(s.legal[i - 1].predictedSeconds, s.legal[i].predictedSeconds);
  EXPECT_GT(s.legal.front().predictedSeconds, 0);
}

//===--------------------------------------------------------------------===//
// Tuning database
//===--------------------------------------------------------------------===//

namespace {
Measurement ok(double s) {
  Measurement m;
  m.medianSeconds = s;
  m.spreadSeconds = s / 10;
  m.repeats = 5;
  return m;
}
} // namespace

TEST(Database, BestIsAQueryOnExactKeys) {
  std::string path = tempPath("best.sqlite");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db) << llvm::toString(db.takeError());
  Workload w{"kjit.depthwise_conv2d", "text", "wk"};
  EXPECT_FALSE(must((*db)->best(w, "T", "C")).has_value());
  EXPECT_TRUE((*db)->record(w, "T", "C", {"#a"}, ok(3e-3)));
  EXPECT_TRUE((*db)->record(w, "T", "C", {"#b"}, ok(1e-3)));
  Measurement failed;
  failed.status = Measurement::Status::CompileError;
  failed.message = "boom";
  EXPECT_TRUE((*db)->record(w, "T", "C", {"#c"}, failed)); // median 0
  // Faster, but for another target / compiler: never served.
  EXPECT_TRUE((*db)->record(w, "T2", "C", {"#d"}, ok(1e-6)));
  EXPECT_TRUE((*db)->record(w, "T", "C2", {"#e"}, ok(1e-6)));
  auto b = must((*db)->best(w, "T", "C"));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->configText, "#b");
  EXPECT_FALSE(must((*db)->best(w, "T3", "C")).has_value());
  auto recs = must((*db)->records("wk", "T", "C"));
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[2].result.status, Measurement::Status::CompileError);
  EXPECT_EQ(recs[2].result.message, "boom");
  EXPECT_EQ(recs[0].workloadText, "text");
  EXPECT_EQ(recs[0].result.repeats, 5);
  EXPECT_GT(recs[0].timestamp, 0);
}

TEST(Database, SchemaVersionAndWal) {
  std::string path = tempPath("schema.sqlite");
  { auto db = SqliteDatabase::open(path); ASSERT_TRUE((bool)db); }
  sqlite3 *raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt *s = nullptr;
  sqlite3_prepare_v2(raw, "SELECT version FROM kjit_schema_version", -1, &s,
                     nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), SqliteDatabase::kSchemaVersion);
  sqlite3_finalize(s);
  sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ((const char *)sqlite3_column_text(s, 0), "wal");
  sqlite3_finalize(s);
  sqlite3_close(raw);
  // Reopening keeps the records.
  {
    auto db = SqliteDatabase::open(path);
    ASSERT_TRUE((bool)db);
    Workload w{"op", "t", "k"};
    ASSERT_TRUE((*db)->record(w, "T", "C", {"#x"}, ok(1)));
  }
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db);
  EXPECT_EQ(must((*db)->count()), 1u);
}

TEST(Database, GarbageFileIsAClearError) {
  std::string path = tempPath("garbage.sqlite");
  {
    std::ofstream f(path);
    for (int i = 0; i < 200; ++i)
      f << "this is definitely not an SQLite database file\n";
  }
  auto db = SqliteDatabase::open(path);
  ASSERT_FALSE((bool)db);
  std::string msg = llvm::toString(db.takeError());
  EXPECT_NE(msg.find("not a kjit tuning database"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos);
  // Untouched.
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first, "this is definitely not an SQLite database file");
}

TEST(Database, ForeignSchemaIsAClearError) {
  std::string path = tempPath("foreign.sqlite");
  sqlite3 *raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE people(name TEXT)", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  auto db = SqliteDatabase::open(path);
  ASSERT_FALSE((bool)db);
  std::string msg = llvm::toString(db.takeError());
  EXPECT_NE(msg.find("another schema"), std::string::npos) << msg;
}

TEST(Database, ExportImportJsonLines) {
  std::string a = tempPath("export-a.sqlite"), b = tempPath("export-b.sqlite");
  std::string jl = tempPath("records.jsonl");
  auto da = SqliteDatabase::open(a);
  ASSERT_TRUE((bool)da);
  Workload w{"kjit.depthwise_conv2d", "func.func @main \"quoted\"\n", "wk"};
  ASSERT_TRUE((*da)->record(w, "T", "C", {"#kjit.config<{a = 1}>"}, ok(2e-3)));
  ASSERT_TRUE((*da)->record(w, "T", "C", {"#kjit.config<{a = 2}>"}, ok(1e-3)));
  Measurement bad;
  bad.status = Measurement::Status::Illegal;
  bad.message = "no";
  ASSERT_TRUE((*da)->record(w, "T", "C", {"#kjit.config<{a = 3}>"}, bad));
  ASSERT_FALSE((bool)(*da)->exportJsonLines(jl));
  auto db = SqliteDatabase::open(b);
  ASSERT_TRUE((bool)db);
  auto n = (*db)->importJsonLines(jl);
  ASSERT_TRUE((bool)n) << llvm::toString(n.takeError());
  EXPECT_EQ(*n, 3u);
  auto again = (*db)->importJsonLines(jl); // duplicates skipped
  ASSERT_TRUE((bool)again);
  EXPECT_EQ(*again, 0u);
  auto best = must((*db)->bestRecord("wk", "T", "C"));
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->config, "#kjit.config<{a = 2}>");
  EXPECT_EQ(best->workloadText, w.canonicalText);
  auto recs = must((*db)->records("wk", "T", "C"));
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[2].result.status, Measurement::Status::Illegal);
  // A malformed line is an error naming the line.
  std::string badFile = tempPath("bad.jsonl");
  { std::ofstream f(badFile); f << "{\"workload_key\": 1}\n"; }
  auto e = (*db)->importJsonLines(badFile);
  ASSERT_FALSE((bool)e);
  EXPECT_NE(llvm::toString(e.takeError()).find(":1:"), std::string::npos);
}

TEST(Database, TwoConnectionsWriteAtOnce) {
  std::string path = tempPath("concurrent.sqlite");
  { auto db = SqliteDatabase::open(path); ASSERT_TRUE((bool)db); }
  constexpr int kPerWriter = 150;
  auto writer = [&](std::string target, bool *allOk) {
    auto db = SqliteDatabase::open(path);
    if (!db) {
      llvm::consumeError(db.takeError());
      *allOk = false;
      return;
    }
    Workload w{"op", "text", "wk"};
    for (int i = 0; i < kPerWriter; ++i)
      if (!(*db)->record(w, target, "C", {"#c" + std::to_string(i)},
                         ok(1e-3 * (i + 1))))
        *allOk = false;
  };
  bool ok1 = true, ok2 = true;
  std::thread t1(writer, "T1", &ok1), t2(writer, "T2", &ok2);
  t1.join();
  t2.join();
  EXPECT_TRUE(ok1);
  EXPECT_TRUE(ok2);
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db);
  EXPECT_EQ(must((*db)->count()), 2u * kPerWriter);
  EXPECT_EQ(must((*db)->records("wk", "T1", "C")).size(), (size_t)kPerWriter);
  EXPECT_EQ(must((*db)->bestRecord("wk", "T2", "C"))->config, "#c0");
}

TEST(Database, DefaultPath) {
  setenv("KJIT_TUNING_DB", "/tmp/x/tuning.db", 1);
  EXPECT_EQ(SqliteDatabase::defaultPath(), "/tmp/x/tuning.db");
  unsetenv("KJIT_TUNING_DB");
  std::string saved = getenv("KJIT_CACHE_DIR") ? getenv("KJIT_CACHE_DIR") : "";
  setenv("KJIT_CACHE_DIR", "/tmp/kc", 1);
  EXPECT_EQ(SqliteDatabase::defaultPath(), "/tmp/kc/tuning.sqlite");
  if (saved.empty())
    unsetenv("KJIT_CACHE_DIR");
  else
    setenv("KJIT_CACHE_DIR", saved.c_str(), 1);
}

//===--------------------------------------------------------------------===//
// Strategies
//===--------------------------------------------------------------------===//

namespace {
std::vector<SpacePoint> points(int n) {
  std::vector<SpacePoint> v(n);
  for (int i = 0; i < n; ++i)
    v[i].candidate.configText = "#c" + std::to_string(i);
  return v;
}
} // namespace

TEST(Search, PrunedExhaustiveInOrderWithinBudget) {
  auto s = makePrunedExhaustive(points(10), Budget{4, 0});
  EXPECT_EQ(s->name(), "pruned");
  std::vector<std::string> got;
  while (auto c = s->next()) {
    got.push_back(c->configText);
    s->observe(*c, ok(got.size() == 3 ? 1e-4 : 1e-3));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"#c0", "#c1", "#c2", "#c3"}));
  ASSERT_TRUE(s->pick().has_value());
  EXPECT_EQ(s->pick()->configText, "#c2");
  // A time budget of ~0 seconds stops at once.
  auto t = makePrunedExhaustive(points(10), Budget{0, 1e-9});
  usleep(1000);
  EXPECT_FALSE(t->next().has_value());
}

TEST(Search, RandomVisitsEachOnceDeterministically) {
  auto a = makeRandom(points(20), Budget{}, 7);
  auto b = makeRandom(points(20), Budget{}, 7);
  std::vector<std::string> va, vb;
  while (auto c = a->next())
    va.push_back(c->configText);
  while (auto c = b->next())
    vb.push_back(c->configText);
  EXPECT_EQ(va, vb);
  EXPECT_EQ(std::set<std::string>(va.begin(), va.end()).size(), 20u);
  std::vector<std::string> inOrder;
  for (auto &p : points(20))
    inOrder.push_back(p.candidate.configText);
  EXPECT_NE(va, inOrder);
}

TEST(Search, ModelOnlyMeasuresNothing) {
  ModelOnlyStrategy s(points(5));
  EXPECT_FALSE(s.next().has_value());
  ASSERT_TRUE(s.pick().has_value());
  EXPECT_EQ(s.pick()->configText, "#c0");
  ModelOnlyStrategy empty({});
  EXPECT_FALSE(empty.pick().has_value());
}

//===--------------------------------------------------------------------===//
// Measurer and the tuner (real compiles; tiny workload, small budgets)
//===--------------------------------------------------------------------===//

TEST(Measurer, TimesLegalAndRecordsFailures) {
  kjit::Jit jit(kjit::Target::host(), kjit::JitOptions{"", false, true});
  TargetInfo host = compiler::CpuTarget::host().info;
  MeasureOptions mo;
  mo.repeats = 3;
  mo.warmup = 1;
  RuntimeMeasurer m(jit, host, mo);
  Workload w = dwWorkload();
  auto pw = ParsedWorkload::parse(w);
  ASSERT_TRUE((bool)pw);
  Measurement good = m.measure(w, {(*pw)->defaultConfig(host)});
  ASSERT_TRUE(good.ok()) << good.message;
  EXPECT_GT(good.medianSeconds, 0);
  EXPECT_GE(good.spreadSeconds, 0);
  // At least the repeats asked for, more until the interval is tight.
  EXPECT_GE(good.repeats, 3);
  EXPECT_LE(good.minSeconds, good.ciLowSeconds);
  EXPECT_LE(good.ciLowSeconds, good.medianSeconds);
  EXPECT_LE(good.medianSeconds, good.ciHighSeconds);
  Measurement illegal = m.measure(w, {"#kjit.config<{oh_block = 9}>"});
  EXPECT_EQ(illegal.status, Measurement::Status::Illegal);
  EXPECT_NE(illegal.message.find("oh_block"), std::string::npos);
  Measurement garbage = m.measure(w, {"not a config"});
  EXPECT_EQ(garbage.status, Measurement::Status::Illegal);
  // A workload that verifies as text but the compiler rejects.
  Workload broken = w;
  broken.canonicalText = "func.func @main() { return }";
  broken.key = "broken";
  Measurement ce = m.measure(broken, {"#kjit.config<{}>"});
  EXPECT_NE(ce.status, Measurement::Status::Ok);
  EXPECT_FALSE(ce.message.empty());
}

TEST(Tuner, PrunedTuningRecordsEveryMeasurementAndResumes) {
  std::string path = tempPath("tune.sqlite");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db);
  kjit::Jit jit(kjit::Target::host(), kjit::JitOptions{"", false, true});
  TargetInfo host = compiler::CpuTarget::host().info;
  MeasureOptions mo;
  mo.repeats = 3;
  mo.warmup = 1;
  RuntimeMeasurer m(jit, host, mo);
  Workload w = dwWorkload();
  TuneOptions o;
  o.topK = 3;
  uint64_t lines = 0;
  auto r = tuneWorkload(w, host, "T", "C", db->get(), &m, o,
                        [&](uint64_t, const Candidate &, const Measurement &) {
                          ++lines;
                        });
  ASSERT_TRUE((bool)r) << llvm::toString(r.takeError());
  EXPECT_FALSE(r->skipped);
  EXPECT_TRUE(r->defaultSeconds.has_value());
  ASSERT_TRUE(r->bestSeconds.has_value());
  EXPECT_LE(*r->bestSeconds, *r->defaultSeconds);
  EXPECT_EQ(r->measured + r->failed, lines);
  EXPECT_GE(lines, 2u);
  EXPECT_LE(lines, 4u); // default + top 3
  EXPECT_EQ(must((*db)->records(w.key, "T", "C")).size(), lines);
  EXPECT_EQ(must((*db)->best(w, "T", "C"))->configText, r->bestConfig);
  // Resume: already tuned for these keys, nothing measured.
  auto again = tuneWorkload(w, host, "T", "C", db->get(), &m, o);
  ASSERT_TRUE((bool)again);
  EXPECT_TRUE(again->skipped);
  EXPECT_EQ(must((*db)->records(w.key, "T", "C")).size(), lines);
  // Model-only: the default alone is measured; the model's pick is named.
  TuneOptions mo2;
  mo2.strategy = "model";
  auto model = tuneWorkload(w, host, "T", "C-model", db->get(), &m, mo2);
  ASSERT_TRUE((bool)model);
  EXPECT_FALSE(model->modelPick.empty());
  EXPECT_EQ(model->measured + model->failed, 1u);
  TuneOptions bad;
  bad.strategy = "annealing";
  auto e = tuneWorkload(w, host, "T", "C-bad", db->get(), &m, bad);
  ASSERT_FALSE((bool)e);
  EXPECT_NE(llvm::toString(e.takeError()).find("unknown strategy"),
            std::string::npos);
}
