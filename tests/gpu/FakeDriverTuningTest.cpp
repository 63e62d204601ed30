//===- FakeDriverTuningTest.cpp - tuning records on Target::cuda ----------===//
//
// Run-time selection and on-line tuning for a CUDA target, on the fake
// driver (FakeCudaDriver.cpp: kernels do not run; with
// KJIT_FAKE_CUDA_TIME=block an event pair reports 1 us per thread of the
// launched block, so a 64-thread config beats the 512-thread default):
//  - a Jit on Target::cuda(0) serves the record filed under the device's key
//    (Target::key(): GPU name, compute capability, SMs, driver), the nearest
//    tuned workload's config for another shape, and never a record of
//    another driver version or of the CPU;
//  - on-line tuning (CompileOptions::onlineTuneBudgetSeconds) measures on
//    the device (in the kjit-tune worker), swaps in the fastest config and
//    records under that key.
//
//===----------------------------------------------------------------------===//
#include "autotune/Database.h"
#include "autotune/Workload.h"
#include "kjit/kjit.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

using namespace kjit;
using namespace kjit::autotune;

namespace {
struct FakeDriverEnv : ::testing::Environment {
  void SetUp() override {
    // Read by the fake's cuInit, which runs at the first driver use.
    setenv("KJIT_CUDA_DRIVER", KJIT_FAKE_DRIVER, 1);
    setenv("KJIT_FAKE_CUDA_LAUNCH_OK", "1", 1);
    setenv("KJIT_FAKE_CUDA_TIME", "block", 1);
  }
};
const auto *env = ::testing::AddGlobalTestEnvironment(new FakeDriverEnv);

/// A "same" 5x5 depthwise conv on 1 x H x W x C.
std::string conv(int h, int w, int c) {
  std::string in = "tensor<1x" + std::to_string(h) + "x" + std::to_string(w) +
                   "x" + std::to_string(c) + "xf32>";
  std::string f = "tensor<" + std::to_string(c) + "x5x5xf32>";
  return "func.func @main(%x: " + in + ", %w: " + f + ") -> " + in +
         " {\n  %y = \"kjit.depthwise_conv2d\"(%x, %w) {layout = \"nhwc\", "
         "padding = array<i64: 2, 2, 2, 2>} : (" +
         in + ", " + f + ") -> " + in + "\n  return %y : " + in + "\n}\n";
}

// Two legal GPU configs other than the default (threads = 512).
const char *kG1 = "#kjit.config<{block_h = 16 : i64, block_w = 8 : i64, "
                  "channels_per_block = 4 : i64, smem_stage = 0 : i64, "
                  "threads = 64 : i64}>";
const char *kG2 = "#kjit.config<{block_h = 8 : i64, block_w = 16 : i64, "
                  "channels_per_block = 8 : i64, smem_stage = 1 : i64, "
                  "threads = 128 : i64}>";

class FakeDriverTuning : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kjit-gpu-tuning-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    dbPath = dir + "/tuning.sqlite";
    gpuKey = Target::cuda(0).key();
    ASSERT_EQ(gpuKey, "cuda;kjit fake GPU;cc=90;sms=132;driver=13000");
  }
  void TearDown() override {
    for (const char *s : {"-wal", "-shm", ""})
      std::remove((dbPath + s).c_str());
    rmdir(dir.c_str());
  }
  void record(const std::string &text, const std::string &config,
              double seconds, const std::string &targetKey) {
    auto ws = extractWorkloads(text);
    ASSERT_TRUE(bool(ws)) << llvm::toString(ws.takeError());
    auto db = SqliteDatabase::open(dbPath);
    ASSERT_TRUE(bool(db)) << llvm::toString(db.takeError());
    Measurement m;
    m.medianSeconds = seconds;
    m.repeats = 5;
    ASSERT_TRUE((*db)->record(ws->front(), targetKey, kjit::tuningEpoch(),
                              Candidate{config}, m))
        << (*db)->lastError();
  }
  Kernel compile(const std::string &text, double onlineBudget = 0) {
    JitOptions jo;
    jo.tuningDb = dbPath;
    jo.diskCache = false;
    jo.onlineTuneBudgetSeconds = 0;
    Jit jit(Target::cuda(0), jo);
    CompileOptions co;
    co.onlineTuneBudgetSeconds = onlineBudget;
    auto k = jit.compileModule(text, co);
    EXPECT_TRUE(bool(k)) << k.errorMessage();
    if (k && onlineBudget > 0)
      EXPECT_TRUE(k->waitForTuning(120));
    return *k;
  }
  /// The resolved form of `config` for `text` (as configs() reports it).
  std::string resolved(const std::string &text, const std::string &config) {
    JitOptions jo;
    jo.tuningDb = "off";
    jo.diskCache = false;
    Jit jit(Target::cuda(0), jo);
    CompileOptions co;
    co.config = config;
    auto k = jit.compileModule(text, co);
    EXPECT_TRUE(bool(k)) << k.errorMessage();
    return k ? k->configs().at(0) : "";
  }
  std::string dir, dbPath, gpuKey;
};
} // namespace

TEST_F(FakeDriverTuning, ServesTheDevicesRecordOnly) {
  std::string a = conv(19, 23, 40), b = conv(21, 29, 40);
  // Only foreign records: another driver of the same GPU, and the CPU.
  record(a, kG1, 1e-5, "cuda;kjit fake GPU;cc=90;sms=132;driver=12000");
  record(a, kG1, 1e-5, Target::host().key());
  Kernel k0 = compile(a);
  EXPECT_EQ(k0.configSources().at(0), "default");
  EXPECT_NE(k0.configs().at(0).find("threads = 512"), std::string::npos)
      << k0.configs().at(0);
  // This device's records: the fastest is served.
  record(a, kG1, 2e-4, gpuKey);
  record(a, kG2, 1e-4, gpuKey);
  Kernel k1 = compile(a);
  EXPECT_EQ(k1.configSources().at(0), "tuned");
  EXPECT_EQ(k1.configs().at(0), resolved(a, kG2));
  // Another shape of the op: the nearest tuned workload's config.
  Kernel k2 = compile(b);
  EXPECT_EQ(k2.configSources().at(0).rfind("nearest ", 0), 0u)
      << k2.configSources().at(0);
  EXPECT_EQ(k2.configs().at(0), resolved(b, kG2));
}

TEST_F(FakeDriverTuning, OnlineTuningMeasuresOnTheDevice) {
  std::string a = conv(13, 17, 24);
  Kernel k = compile(a, /*onlineBudget=*/1.5);
  const std::string &src = k.configSources().at(0);
  EXPECT_EQ(src.rfind("online (best of ", 0), 0u) << src;
  // The fastest the fake reports: a 64-thread block (0.064 ms).
  EXPECT_NE(k.configs().at(0).find("threads = 64 "), std::string::npos)
      << k.configs().at(0);
  // Every measurement is in the database under the device's key.
  auto ws = extractWorkloads(a);
  ASSERT_TRUE(bool(ws));
  auto db = SqliteDatabase::openReadOnly(dbPath);
  ASSERT_TRUE(bool(db)) << llvm::toString(db.takeError());
  auto recs = (*db)->records(ws->front().key, gpuKey, kjit::tuningEpoch());
  ASSERT_TRUE(bool(recs)) << llvm::toString(recs.takeError());
  ASSERT_GE(recs->size(), 2u);
  auto found = (*db)->bestRecord(ws->front().key, gpuKey, kjit::tuningEpoch());
  ASSERT_TRUE(bool(found)) << llvm::toString(found.takeError());
  ASSERT_TRUE(found->has_value());
  const Record *best = &**found;
  EXPECT_NEAR(best->result.medianSeconds, 64e-6, 1e-9);
  EXPECT_EQ(best->config.find("threads = 64 ") != std::string::npos, true)
      << best->config;
  // Measured in the kjit-tune worker, on the same device (the fake driver
  // the worker inherits through the environment).
  for (const Record &r : *recs)
    EXPECT_EQ(r.source, "online:pruned") << r.config;
  // A later compile serves the record (among equally fast configs the
  // database's first; on-line tuning ranks its finalists by a confirmation
  // round, so it may have kept another 64-thread one).
  Kernel again = compile(a);
  EXPECT_EQ(again.configSources().at(0), "tuned");
  EXPECT_EQ(again.configs().at(0), resolved(a, best->config));
}
