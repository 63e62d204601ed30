//===- FakeDriverMeasurerTest.cpp - the tuner's GPU measurement path ------===//
//
// RuntimeMeasurer with a Target::cuda Jit on the fake driver (see
// FakeCudaDriver.cpp: kernels do not run, events report 0.25 ms): a legal
// GPU config is compiled, launched warmup + repeats times and measured with
// CUDA events (0.25 ms each); an illegal GPU config is rejected first; a
// failing launch is a failed measurement with the driver's message.
//
//===----------------------------------------------------------------------===//
#include "autotune/Measurer.h"
#include "autotune/Space.h"
#include "compiler/Pipelines/NVVMPipeline.h"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace kjit;
using namespace kjit::autotune;

namespace {
struct FakeDriverEnv : ::testing::Environment {
  void SetUp() override {
    setenv("KJIT_CUDA_DRIVER", KJIT_FAKE_DRIVER, 1);
    setenv("KJIT_FAKE_CUDA_LAUNCH_OK", "1", 1);
  }
};
const auto *env = ::testing::AddGlobalTestEnvironment(new FakeDriverEnv);

const char *kDw = R"mlir(
func.func @main(%x: tensor<1x19x23x40xf32>, %w: tensor<40x5x5xf32>)
    -> tensor<1x19x23x40xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nhwc",
        padding = array<i64: 2, 2, 2, 2>}
      : (tensor<1x19x23x40xf32>, tensor<40x5x5xf32>) -> tensor<1x19x23x40xf32>
  return %y : tensor<1x19x23x40xf32>
}
)mlir";
} // namespace

TEST(FakeDriverMeasurer, GpuCandidatesAreTimedWithEvents) {
  JitOptions o;
  o.diskCache = false;
  Jit jit(Target::cuda(0), o);
  auto gpu = compiler::cudaTargetInfo("sm_90");
  ASSERT_TRUE(gpu.has_value());
  MeasureOptions mo;
  mo.warmup = 1;
  mo.repeats = 5;
  RuntimeMeasurer m(jit, *gpu, mo);
  auto ws = extractWorkloads(kDw);
  ASSERT_TRUE((bool)ws) << llvm::toString(ws.takeError());
  Workload w = ws->front();
  auto pw = ParsedWorkload::parse(w);
  ASSERT_TRUE((bool)pw) << llvm::toString(pw.takeError());
  std::string def = (*pw)->defaultConfig(*gpu);
  EXPECT_NE(def.find("block_w"), std::string::npos) << def;
  Measurement good = m.measure(w, {def});
  ASSERT_TRUE(good.ok()) << good.message;
  EXPECT_DOUBLE_EQ(good.medianSeconds, 0.25e-3); // the fake's event time
  EXPECT_DOUBLE_EQ(good.spreadSeconds, 0.0);
  EXPECT_EQ(good.repeats, 5);
  Measurement illegal =
      m.measure(w, {"#kjit.config<{threads = 2048}>"});
  EXPECT_EQ(illegal.status, Measurement::Status::Illegal) << illegal.message;
}

// kjit.spgemm (outputs the kernel allocates): measured through Kernel::time
// on the device too; every run's outputs are freed.
TEST(FakeDriverMeasurer, SpgemmIsTimedWithEvents) {
  JitOptions o;
  o.diskCache = false;
  Jit jit(Target::cuda(0), o);
  auto gpu = compiler::cudaTargetInfo("sm_90");
  ASSERT_TRUE(gpu.has_value());
  MeasureOptions mo;
  mo.warmup = 1;
  mo.repeats = 4;
  RuntimeMeasurer m(jit, *gpu, mo);
  const char *text = R"mlir(
func.func @main(%a0: tensor<20xi32>, %a1: tensor<40xi32>, %a2: tensor<40xf32>,
                %b0: tensor<24xi32>, %b1: tensor<50xi32>, %b2: tensor<50xf32>)
    -> (tensor<20xi32>, tensor<?xi32>, tensor<?xf32>) {
  %c:3 = kjit.spgemm %a0, %a1, %a2, %b0, %b1, %b2 {shape = array<i64: 19, 23, 29>}
      : tensor<20xi32>, tensor<40xi32>, tensor<40xf32>, tensor<24xi32>,
        tensor<50xi32>, tensor<50xf32>
      -> tensor<20xi32>, tensor<?xi32>, tensor<?xf32>
  return %c#0, %c#1, %c#2 : tensor<20xi32>, tensor<?xi32>, tensor<?xf32>
}
)mlir";
  auto ws = extractWorkloads(text);
  ASSERT_TRUE((bool)ws) << llvm::toString(ws.takeError());
  Workload w = ws->front();
  auto pw = ParsedWorkload::parse(w);
  ASSERT_TRUE((bool)pw) << llvm::toString(pw.takeError());
  Measurement r = m.measure(w, {(*pw)->defaultConfig(*gpu)});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_DOUBLE_EQ(r.medianSeconds, 0.25e-3); // CUDA events, not wall clock
  EXPECT_EQ(r.repeats, 4);
}
