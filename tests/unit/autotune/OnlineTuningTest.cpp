//===- OnlineTuningTest.cpp - on-line tuning through the public Jit ------===//
//
// KJIT_TUNE=budget:<s> / onlineTuneBudgetSeconds: a compile returns the
// default kernel at once, tuning runs in the background, the best code is
// swapped in and the measurements are in the tuning database. The kernel
// must be right before, during and after the swap, from several threads at
// once (each call checked against the independent reference on fresh
// inputs); no budget means no tuning; malformed settings are clear errors.
// Candidates are measured in the kjit-tune worker (the build tree's, found
// by libkjit) unless the in-process mode is opted into: a crashing
// candidate is a record and the application lives on; without a worker
// tuning does not run and says why.
//
//===----------------------------------------------------------------------===//
#include "CpuExecutor.h"
#include "ExpectedValue.h"
#include "autotune/Database.h"
#include "autotune/Space.h"
#include "autotune/Workload.h"
#include "compiler/Compiler.h"
#include "kjit/kjit.h"
#include "tests/integration/TestSupport.h"
#include "tests/reference/Reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace kjit;
namespace ref = kjit::reference;

namespace {

/// Unsets KJIT_TUNE for the test and restores it after.
struct ScopedEnv {
  explicit ScopedEnv(const char *name, const char *value) : name(name) {
    if (const char *old = getenv(name))
      saved = old, had = true;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (had)
      setenv(name, saved.c_str(), 1);
    else
      unsetenv(name);
  }
  const char *name;
  std::string saved;
  bool had = false;
};

class OnlineTuningTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kjit-online-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    dbPath = dir + "/tuning.sqlite";
  }
  void TearDown() override {
    for (const char *s : {"-wal", "-shm", ""})
      std::remove((dbPath + s).c_str());
    rmdir(dir.c_str());
  }
  JitOptions options(double budget) const {
    JitOptions o;
    o.diskCache = false; // exercise the compiler, not an old cache entry
    o.tuningDb = dbPath;
    o.onlineTuneBudgetSeconds = budget;
    return o;
  }
  uint64_t records() const {
    if (access(dbPath.c_str(), F_OK) != 0)
      return 0;
    auto db = autotune::SqliteDatabase::open(dbPath);
    EXPECT_TRUE(bool(db)) << llvm::toString(db.takeError());
    return db ? must((*db)->count()) : 0;
  }
  /// Every record of `moduleText`'s first kjit op for `target` (the host).
  std::vector<autotune::Record>
  recordsOf(const std::string &moduleText,
            const Target &target = Target::host()) {
    auto ws = autotune::extractWorkloads(moduleText);
    EXPECT_TRUE(bool(ws)) << llvm::toString(ws.takeError());
    auto db = autotune::SqliteDatabase::open(dbPath);
    EXPECT_TRUE(bool(db)) << llvm::toString(db.takeError());
    if (!ws || !db)
      return {};
    return must((*db)->records(ws->front().key, target.key(),
                               kjit::tuningEpoch()));
  }
  std::string dir, dbPath;
  ScopedEnv env{"KJIT_TUNE", nullptr};
  ScopedEnv worker{"KJIT_MEASURE_WORKER", nullptr};
  ScopedEnv fault{"KJIT_TUNE_TEST_FAULT", nullptr};
};

DepthwiseConv2d conv(int64_t c, int64_t h, int64_t w, int64_t k) {
  DepthwiseConv2d op;
  op.channels = c, op.height = h, op.width = w;
  op.kernel = {k, k};
  op.samePadding();
  return op;
}

ref::DwConv toRef(const DepthwiseConv2d &op) {
  ref::DwConv p;
  p.n = op.batch, p.c = op.channels, p.h = op.height, p.w = op.width;
  p.kh = op.kernel[0], p.kw = op.kernel[1];
  p.strides = op.strides, p.dilations = op.dilations;
  p.padding = op.padding;
  return p;
}

/// Runs `k` once on fresh random inputs; the largest error against the
/// reference relative to max(1, |ref|) (fp32 sums of <= 49 products).
double runOnce(const Kernel &k, const DepthwiseConv2d &op, uint64_t seed,
               std::string *error) {
  ref::DwConv p = toRef(op);
  std::mt19937_64 rng(seed);
  auto x = kjit::testing::randomVector(p.inputSize(), rng);
  auto f = kjit::testing::randomVector(p.filterSize(), rng);
  std::vector<float> y(p.outputSize(), NAN);
  Status s = k.run({TensorView(x.data(), p.inputShape()),
                    TensorView(f.data(), {p.c, p.kh, p.kw})},
                   {TensorView(y.data(), p.outputShape())});
  if (!s) {
    *error = s.message();
    return INFINITY;
  }
  std::vector<float> want = ref::depthwiseConv2d(p, x.data(), f.data(),
                                                 nullptr);
  double worst = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    double e = std::fabs(double(y[i]) - want[i]) /
               std::max(1.0, std::fabs(double(want[i])));
    if (!(e <= worst)) // NaN counts as infinitely wrong
      worst = std::isnan(e) ? INFINITY : e;
  }
  return worst;
}

constexpr double kTol = 1e-4;

} // namespace

TEST(TuneSpec, Parses) {
  struct {
    const char *spec;
    double want;
  } good[] = {{"budget:30", 30},   {"budget:30s", 30}, {"budget:1.5s", 1.5},
              {" budget:2 ", 2},  {"budget:0", 0},    {"off", 0},
              {"", 0},            {"0", 0},           {"budget:2e1", 20}};
  for (auto &g : good) {
    Result<double> r = parseTuneSpec(g.spec);
    ASSERT_TRUE(bool(r)) << g.spec << ": " << r.errorMessage();
    EXPECT_DOUBLE_EQ(*r, g.want) << g.spec;
    bool inProcess = true;
    ASSERT_TRUE(bool(parseTuneSpec(g.spec, &inProcess)));
    EXPECT_FALSE(inProcess) << g.spec;
  }
  // The opt-in to measuring in the application's process.
  for (const char *spec :
       {"budget:30,in-process", " budget:30s , in-process "}) {
    bool inProcess = false;
    Result<double> r = parseTuneSpec(spec, &inProcess);
    ASSERT_TRUE(bool(r)) << spec << ": " << r.errorMessage();
    EXPECT_DOUBLE_EQ(*r, 30) << spec;
    EXPECT_TRUE(inProcess) << spec;
  }
}

TEST(TuneSpec, RejectsMalformed) {
  for (const char *spec :
       {"budget:", "budget:s", "budget:abc", "budget:-1", "budget:nan",
        "budget:inf", "budget:1e9", "budget:3m", "budget:0x10", "fast",
        "budget=30", "30", "budget:1.2.3", "in-process", "budget:30,",
        "budget:30,fast", ",in-process", "budget:30,in-process,in-process"}) {
    Result<double> r = parseTuneSpec(spec);
    ASSERT_FALSE(bool(r)) << spec;
    EXPECT_NE(r.errorMessage().find("KJIT_TUNE"), std::string::npos) << spec;
    EXPECT_NE(r.errorMessage().find("budget:<seconds>"), std::string::npos)
        << r.errorMessage();
    EXPECT_NE(r.errorMessage().find(",in-process"), std::string::npos)
        << r.errorMessage();
    EXPECT_NE(r.errorMessage().find(spec), std::string::npos)
        << r.errorMessage();
  }
}

TEST_F(OnlineTuningTest, EnvironmentSetsTheBudgetAndAMalformedOneWarns) {
  {
    ScopedEnv e("KJIT_TUNE", "budget:7s");
    Jit jit(Target::host(), options(-1));
    EXPECT_DOUBLE_EQ(jit.onlineTuneBudgetSeconds(), 7);
    // The option wins over the environment.
    Jit off(Target::host(), options(0));
    EXPECT_DOUBLE_EQ(off.onlineTuneBudgetSeconds(), 0);
  }
  ScopedEnv e("KJIT_TUNE", "budget:soon");
  ::testing::internal::CaptureStderr();
  Jit jit(Target::host(), options(-1));
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("warning: no on-line tuning: KJIT_TUNE"),
            std::string::npos)
      << err;
  EXPECT_DOUBLE_EQ(jit.onlineTuneBudgetSeconds(), 0);
  // Compiles still work, untuned.
  auto k = jit.compile(conv(8, 7, 9, 3));
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  EXPECT_FALSE(k->tuning());
  EXPECT_EQ(k->configSources().at(0), "default");
}

TEST_F(OnlineTuningTest, NoBudgetMeansNoTuning) {
  Jit jit(Target::host(), options(-1)); // KJIT_TUNE unset
  EXPECT_DOUBLE_EQ(jit.onlineTuneBudgetSeconds(), 0);
  auto k = jit.compile(conv(8, 7, 9, 3));
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  EXPECT_FALSE(k->tuning());
  EXPECT_TRUE(k->waitForTuning(0));
  EXPECT_EQ(k->configSources().at(0), "default");
  // A per-compile 0 turns a Jit's budget off too.
  Jit tuned(Target::host(), options(5));
  CompileOptions co;
  co.onlineTuneBudgetSeconds = 0;
  auto k2 = tuned.compile(conv(8, 7, 9, 3), co);
  ASSERT_TRUE(bool(k2)) << k2.errorMessage();
  EXPECT_FALSE(k2->tuning());
  EXPECT_EQ(k2->configSources().at(0), "default");
  EXPECT_EQ(records(), 0u);
}

// The default database (<cache dir>/tuning.sqlite) is recorded into on a
// fresh machine too: its directory is created (mode 0700).
TEST_F(OnlineTuningTest, TheDefaultDatabaseDirectoryIsCreated) {
  ScopedEnv noDb("KJIT_TUNING_DB", nullptr);
  std::string cache = dir + "/fresh/kjit";
  JitOptions o = options(0.5);
  o.tuningDb = "";
  o.cacheDir = cache;
  Jit jit(Target::host(), o);
  EXPECT_EQ(jit.tuningDbPath(), cache + "/tuning.sqlite");
  auto k = jit.compile(conv(8, 7, 9, 3));
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  ASSERT_TRUE(k->waitForTuning(120));
  const std::string &src = k->configSources().at(0);
  EXPECT_EQ(src.rfind("online (best of ", 0), 0u) << src;
  EXPECT_EQ(src.find("not recorded"), std::string::npos) << src;
  auto db = autotune::SqliteDatabase::openReadOnly(cache + "/tuning.sqlite");
  ASSERT_TRUE(bool(db)) << llvm::toString(db.takeError());
  EXPECT_GE(must((*db)->count()), 1u);
  struct stat st;
  ASSERT_EQ(stat(cache.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  db->reset();
  for (const char *f :
       {"/tuning.sqlite-wal", "/tuning.sqlite-shm", "/tuning.sqlite", ""})
    std::remove((cache + f).c_str());
  rmdir((dir + "/fresh").c_str());
}

TEST_F(OnlineTuningTest, ExplicitConfigIsNotTuned) {
  Jit jit(Target::host(), options(5));
  CompileOptions co;
  co.config = "#kjit.config<{threads = 1}>";
  auto k = jit.compile(conv(8, 7, 9, 3), co);
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  EXPECT_FALSE(k->tuning());
  EXPECT_EQ(k->configSources().at(0), "option");
}

TEST_F(OnlineTuningTest, BadBudgetOptionIsAnError) {
  Jit jit(Target::host(), options(0));
  CompileOptions co;
  co.onlineTuneBudgetSeconds = NAN;
  auto k = jit.compile(conv(8, 7, 9, 3), co);
  ASSERT_FALSE(bool(k));
  EXPECT_NE(k.errorMessage().find("onlineTuneBudgetSeconds"),
            std::string::npos)
      << k.errorMessage();
}

/// A "same" KxK depthwise conv on 1 x H x W x C as module text.
std::string convText(int64_t c, int64_t h, int64_t w, int64_t k) {
  auto d = [](int64_t v) { return std::to_string(v); };
  std::string in = "tensor<1x" + d(h) + "x" + d(w) + "x" + d(c) + "xf32>";
  std::string f = "tensor<" + d(c) + "x" + d(k) + "x" + d(k) + "xf32>";
  std::string p = d((k - 1) / 2);
  return "func.func @main(%x: " + in + ", %w: " + f + ") -> " + in +
         " {\n  %y = \"kjit.depthwise_conv2d\"(%x, %w) {layout = \"nhwc\", "
         "strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding "
         "= array<i64: " +
         p + ", " + p + ", " + p + ", " + p + ">} : (" + in + ", " + f +
         ") -> " + in + "\n  return %y : " + in + "\n}\n";
}

TEST_F(OnlineTuningTest, RightBeforeDuringAndAfterTheSwap) {
  const uint64_t seed = kjit::testing::baseSeed();
  SCOPED_TRACE("KJIT_TEST_SEED=" + std::to_string(seed));
  // Odd and prime sizes, a 5x5 window.
  DepthwiseConv2d op = conv(/*c=*/19, /*h=*/13, /*w=*/17, /*k=*/5);
  // The database knows a neighbour (another width) tuned to a deliberately
  // poor single-threaded config: the kernel starts on it ("nearest"), and
  // on-line tuning, whose candidates all use every core here or are the
  // op's default, must swap in different code.
  const std::string poor =
      "#kjit.config<{vector_width = 4, ow_block = 1, oh_block = 1, "
      "kw_unroll = 1, oh_tile = 1, threads = 1, task_order = \"c_outer\"}>";
  {
    auto ws = autotune::extractWorkloads(convText(19, 13, 16, 5));
    ASSERT_TRUE(bool(ws)) << llvm::toString(ws.takeError());
    auto db = autotune::SqliteDatabase::open(dbPath);
    ASSERT_TRUE(bool(db)) << llvm::toString(db.takeError());
    autotune::Measurement m;
    m.medianSeconds = 1e-3;
    m.repeats = 5;
    ASSERT_TRUE((*db)->record(ws->front(), Target::host().key(),
                              kjit::tuningEpoch(), autotune::Candidate{poor},
                              m));
  }
  const uint64_t seeded = records();
  std::string startConfig;
  {
    Jit jit(Target::host(), options(1.5));
    auto t0 = std::chrono::steady_clock::now();
    auto k = jit.compile(op);
    ASSERT_TRUE(bool(k)) << k.errorMessage();
    startConfig = k->configs().at(0);
    EXPECT_NE(startConfig.find("threads = 1 "), std::string::npos)
        << startConfig;
    EXPECT_TRUE(k->tuning());
    EXPECT_EQ(k->configSources().at(0), "online (tuning)");
    // A second compile of the same op shares the kernel and its tuning.
    auto again = jit.compile(op);
    ASSERT_TRUE(bool(again)) << again.errorMessage();
    EXPECT_TRUE(again->tuning());

    // Three threads call the kernel (through both handles) until 20 calls
    // each after tuning ended, every call checked.
    std::atomic<int> duringTuning{0}, afterTuning{0}, failures{0};
    std::vector<std::thread> threads;
    std::mutex mu;
    std::string firstFailure;
    auto deadline = t0 + std::chrono::seconds(120);
    for (int t = 0; t < 3; ++t)
      threads.emplace_back([&, t] {
        int after = 0;
        for (uint64_t i = 0; after < 20; ++i) {
          if (std::chrono::steady_clock::now() > deadline)
            return;
          bool tuning = k->tuning();
          std::string err;
          double e = runOnce(t == 0 ? *k : *again, op,
                             seed + 100000 * t + i, &err);
          if (!(e <= kTol)) {
            ++failures;
            std::lock_guard<std::mutex> lock(mu);
            if (firstFailure.empty())
              firstFailure = "thread " + std::to_string(t) + " call " +
                             std::to_string(i) + ": error " +
                             std::to_string(e) + " " + err;
          }
          if (tuning) {
            ++duringTuning;
          } else {
            ++afterTuning;
            ++after;
          }
        }
      });
    bool finished = k->waitForTuning(120);
    double took = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
    for (auto &th : threads)
      th.join();
    ASSERT_TRUE(finished) << "tuning did not end in 120 s";
    EXPECT_EQ(failures.load(), 0) << firstFailure;
    EXPECT_GT(duringTuning.load(), 0);
    EXPECT_EQ(afterTuning.load(), 60);
    // The budget, plus the candidate in flight and the final compile
    // (generous: the machine is shared).
    EXPECT_LT(took, 60.0);
    const std::string &source = k->configSources().at(0);
    printf("tuned in %.2f s: %s, %d/%d calls during/after; started on %s, "
           "now %s\n",
           took, source.c_str(), duringTuning.load(), afterTuning.load(),
           startConfig.c_str(), k->configs().at(0).c_str());
    ASSERT_EQ(source.rfind("online (best of ", 0), 0u) << source;
    int n = std::atoi(source.c_str() + strlen("online (best of "));
    EXPECT_GE(n, 1) << source;
    EXPECT_NE(k->configs().at(0), startConfig) << "no swap happened";
    EXPECT_EQ(again->configs(), k->configs());
    EXPECT_GE(records(), seeded + uint64_t(n));
    // Each record says what measured it: on-line tuning, in its worker.
    std::vector<autotune::Record> tuned = recordsOf(convText(19, 13, 17, 5));
    EXPECT_GE(tuned.size(), uint64_t(n));
    for (const autotune::Record &r : tuned)
      EXPECT_EQ(r.source, "online:pruned") << r.config;
  }
  // A new Jit serves the recorded best without tuning again.
  Jit later(Target::host(), options(0));
  auto k = later.compile(op);
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  EXPECT_EQ(k->configSources().at(0), "tuned");
  EXPECT_FALSE(k->tuning());
  std::string err;
  EXPECT_LE(runOnce(*k, op, seed + 7, &err), kTol) << err;
  // ... and a budget does not retune a workload the database has.
  Jit again(Target::host(), options(5));
  auto k2 = again.compile(op);
  ASSERT_TRUE(bool(k2)) << k2.errorMessage();
  EXPECT_FALSE(k2->tuning());
  EXPECT_EQ(k2->configSources().at(0), "tuned");
}

TEST_F(OnlineTuningTest, DestroyingTheJitStopsTuning) {
  const uint64_t seed = kjit::testing::baseSeed();
  SCOPED_TRACE("KJIT_TEST_SEED=" + std::to_string(seed));
  DepthwiseConv2d op = conv(11, 9, 23, 3);
  std::optional<Kernel> k;
  auto t0 = std::chrono::steady_clock::now();
  {
    Jit jit(Target::host(), options(600));
    auto c = jit.compile(op);
    ASSERT_TRUE(bool(c)) << c.errorMessage();
    k = *c;
    EXPECT_TRUE(k->tuning());
  }
  double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  // At most the candidate being measured, far below the budget.
  EXPECT_LT(took, 60.0);
  EXPECT_FALSE(k->tuning());
  EXPECT_TRUE(k->waitForTuning(0));
  EXPECT_EQ(k->configSources().at(0),
            "default (online tuning stopped: the Jit was destroyed)");
  // The kernel outlives its Jit and still computes right.
  std::string err;
  EXPECT_LE(runOnce(*k, op, seed, &err), kTol) << err;
}

TEST_F(OnlineTuningTest, OnlyTheOpsWithoutARecordAreTunedInAModule) {
  const uint64_t seed = kjit::testing::baseSeed();
  SCOPED_TRACE("KJIT_TEST_SEED=" + std::to_string(seed));
  // y = conv5x5(x), z = conv3x3(y), both returned; 1x13x11x16.
  const std::string x = "tensor<1x13x11x16xf32>";
  auto conv = [&](const char *in, const char *w, int k) {
    std::string p = std::to_string((k - 1) / 2), ks = std::to_string(k);
    return std::string("\"kjit.depthwise_conv2d\"(") + in + ", " + w +
           ") {layout = \"nhwc\", strides = array<i64: 1, 1>, dilations = "
           "array<i64: 1, 1>, padding = array<i64: " +
           p + ", " + p + ", " + p + ", " + p + ">} : (" + x + ", tensor<16x" +
           ks + "x" + ks + "xf32>) -> " + x;
  };
  const std::string text =
      "func.func @main(%x: " + x + ", %w1: tensor<16x5x5xf32>, %w2: "
      "tensor<16x3x3xf32>) -> (" + x + ", " + x + ") {\n  %y = " +
      conv("%x", "%w1", 5) + "\n  %z = " + conv("%y", "%w2", 3) +
      "\n  return %y, %z : " + x + ", " + x + "\n}\n";
  // The second op has an exact record: it keeps it; only the first is
  // tuned.
  const std::string recorded =
      "#kjit.config<{vector_width = 4, ow_block = 1, oh_block = 1, "
      "kw_unroll = 1, oh_tile = 1, threads = 1, task_order = \"c_outer\"}>";
  {
    auto ws = autotune::extractWorkloads(text);
    ASSERT_TRUE(bool(ws)) << llvm::toString(ws.takeError());
    ASSERT_EQ(ws->size(), 2u);
    auto db = autotune::SqliteDatabase::open(dbPath);
    ASSERT_TRUE(bool(db)) << llvm::toString(db.takeError());
    autotune::Measurement m;
    m.medianSeconds = 1e-4;
    m.repeats = 5;
    ASSERT_TRUE((*db)->record((*ws)[1], Target::host().key(),
                              kjit::tuningEpoch(),
                              autotune::Candidate{recorded}, m));
  }
  Jit jit(Target::host(), options(1.0));
  auto k = jit.compileModule(text);
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  ASSERT_EQ(k->configSources().size(), 2u);
  EXPECT_EQ(k->configSources()[0], "online (tuning)");
  EXPECT_EQ(k->configSources()[1], "tuned");
  const std::string second = k->configs()[1];

  ref::DwConv p1, p2;
  p1.c = p2.c = 16, p1.h = p2.h = 13, p1.w = p2.w = 11;
  p1.kh = p1.kw = 5, p1.padding = {2, 2, 2, 2};
  p2.kh = p2.kw = 3, p2.padding = {1, 1, 1, 1};
  auto check = [&](uint64_t s) {
    std::mt19937_64 rng(s);
    auto in = kjit::testing::randomVector(p1.inputSize(), rng);
    auto w1 = kjit::testing::randomVector(p1.filterSize(), rng);
    auto w2 = kjit::testing::randomVector(p2.filterSize(), rng);
    std::vector<float> y(p1.outputSize(), NAN), z(p2.outputSize(), NAN);
    Status st = k->run({TensorView(in.data(), p1.inputShape()),
                        TensorView(w1.data(), {16, 5, 5}),
                        TensorView(w2.data(), {16, 3, 3})},
                       {TensorView(y.data(), p1.outputShape()),
                        TensorView(z.data(), p2.outputShape())});
    EXPECT_TRUE(bool(st)) << st.message();
    auto wantY = ref::depthwiseConv2d(p1, in.data(), w1.data(), nullptr);
    auto wantZ = ref::depthwiseConv2d(p2, wantY.data(), w2.data(), nullptr);
    double worst = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      worst = std::max(worst, std::fabs(double(y[i]) - wantY[i]) /
                                  std::max(1.0, std::fabs(double(wantY[i]))));
      worst = std::max(worst, std::fabs(double(z[i]) - wantZ[i]) /
                                  std::max(1.0, std::fabs(double(wantZ[i]))));
      if (std::isnan(y[i]) || std::isnan(z[i]))
        worst = INFINITY;
    }
    EXPECT_LE(worst, kTol) << "seed " << s;
  };
  check(seed);
  ASSERT_TRUE(k->waitForTuning(120));
  const std::string &s0 = k->configSources()[0];
  EXPECT_EQ(s0.rfind("online (best of ", 0), 0u) << s0;
  EXPECT_EQ(k->configSources()[1], "tuned");
  EXPECT_EQ(k->configs()[1], second); // the recorded op kept its config
  check(seed + 1);
}

/// A kernel compiled with `config` and no tuning: its resolved configs.
static std::string resolvedConfig(const DepthwiseConv2d &op,
                                  const std::string &config) {
  JitOptions o;
  o.diskCache = false;
  o.tuningDb = "off";
  o.onlineTuneBudgetSeconds = 0;
  Jit jit(Target::host(), o);
  CompileOptions co;
  co.config = config;
  auto k = jit.compile(op, co);
  EXPECT_TRUE(bool(k)) << k.errorMessage();
  return k ? k->configs().at(0) : "";
}

/// Compiles `op` on `jit` (which has a budget), waits for its on-line tuning
/// and checks that the op ended tuned; nothing on a failure.
static std::optional<Kernel> compileAndTune(Jit &jit,
                                            const DepthwiseConv2d &op) {
  auto k = jit.compile(op);
  if (!k) {
    ADD_FAILURE() << k.errorMessage();
    return std::nullopt;
  }
  EXPECT_TRUE(k->tuning());
  if (!k->waitForTuning(120)) {
    ADD_FAILURE() << "tuning did not end in 120 s";
    return std::nullopt;
  }
  const std::string &source = k->configSources().at(0);
  EXPECT_EQ(source.rfind("online (best of ", 0), 0u) << source;
  return *k;
}

TEST_F(OnlineTuningTest, ACrashingCandidateIsARecordAndTheBestOtherIsServed) {
  const uint64_t seed = kjit::testing::baseSeed();
  SCOPED_TRACE("KJIT_TEST_SEED=" + std::to_string(seed));
  DepthwiseConv2d op = conv(/*c=*/13, /*h=*/11, /*w=*/9, /*k=*/3);
  const std::string text = convText(13, 11, 9, 3);
  // The worker segfaults on the op's default config, the first candidate
  // measured (and the code the application runs until the swap).
  auto ws = autotune::extractWorkloads(text);
  ASSERT_TRUE(bool(ws)) << llvm::toString(ws.takeError());
  auto pw = autotune::ParsedWorkload::parse(ws->front());
  ASSERT_TRUE(bool(pw)) << llvm::toString(pw.takeError());
  const std::string crashing =
      (*pw)->defaultConfig(compiler::CpuTarget::host().info);
  ScopedEnv crash("KJIT_TUNE_TEST_FAULT", ("crash:" + crashing).c_str());

  Jit jit(Target::host(), options(3));
  // Still here after: the crash was the worker's.
  std::optional<Kernel> k = compileAndTune(jit, op);
  ASSERT_TRUE(k.has_value());
  std::vector<autotune::Record> recs = recordsOf(text);
  bool crashRecorded = false;
  // The tuner's pick: the two fastest by their best measurement, ranked by
  // the median of all their measurements (the confirmation round).
  std::map<std::string, std::vector<double>> ok;
  for (const autotune::Record &r : recs) {
    EXPECT_EQ(r.source, "online:pruned");
    if (r.config == crashing) {
      EXPECT_EQ(r.result.status, autotune::Measurement::Status::Crash);
      EXPECT_NE(r.result.message.find("signal 11"), std::string::npos)
          << r.result.message;
      crashRecorded = true;
    } else if (r.result.ok()) {
      ok[r.config].push_back(r.result.medianSeconds);
    }
  }
  EXPECT_TRUE(crashRecorded);
  ASSERT_FALSE(ok.empty());
  // The tuner serves one of the two fastest by their best measurement (the
  // confirmation round ranks those two by median when the budget leaves
  // time for it; re-measuring can only lower their best, so no third config
  // overtakes them): never the crashing one, never a slower one.
  std::vector<std::pair<double, std::string>> order;
  for (auto &[config, times] : ok)
    order.push_back({*std::min_element(times.begin(), times.end()), config});
  std::sort(order.begin(), order.end());
  std::vector<std::string> finalists;
  for (size_t i = 0; i < order.size() && i < 2; ++i)
    finalists.push_back(resolvedConfig(op, order[i].second));
  EXPECT_NE(std::find(finalists.begin(), finalists.end(),
                      k->configs().at(0)),
            finalists.end())
      << k->configs().at(0);
  EXPECT_NE(k->configs().at(0), resolvedConfig(op, crashing));
  std::string err;
  EXPECT_LE(runOnce(*k, op, seed, &err), kTol) << err;
}

TEST_F(OnlineTuningTest, WithoutAWorkerTuningDoesNotRunAndSaysWhy) {
  DepthwiseConv2d op = conv(8, 7, 9, 3);
  JitOptions o = options(5);
  o.measureWorker = dir + "/no-such-kjit-tune";
  ::testing::internal::CaptureStderr();
  Jit jit(Target::host(), o);
  auto k = jit.compile(op);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  EXPECT_FALSE(k->tuning());
  const std::string &source = k->configSources().at(0);
  EXPECT_EQ(source.rfind("default (online tuning not run: "
                         "JitOptions::measureWorker names '" +
                             o.measureWorker + "'",
                         0),
            0u)
      << source;
  EXPECT_NE(source.find("in-process"), std::string::npos) << source;
  EXPECT_NE(err.find("warning: no on-line tuning: JitOptions::measureWorker"),
            std::string::npos)
      << err;
  std::string runErr;
  EXPECT_LE(runOnce(*k, op, 1, &runErr), kTol) << runErr;
  EXPECT_EQ(records(), 0u);

  // The environment names the worker when the option does not; the option
  // wins over it.
  ScopedEnv bad("KJIT_MEASURE_WORKER", "/dev/null");
  Jit fromEnv(Target::host(), options(5));
  ::testing::internal::CaptureStderr();
  auto k2 = fromEnv.compile(op);
  ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(bool(k2)) << k2.errorMessage();
  EXPECT_FALSE(k2->tuning());
  EXPECT_NE(
      k2->configSources().at(0).find("KJIT_MEASURE_WORKER names '/dev/null'"),
      std::string::npos)
      << k2->configSources().at(0);
  JitOptions named = options(0.5);
  named.measureWorker = KJIT_TUNE_BINARY;
  Jit optionWins(Target::host(), named);
  EXPECT_TRUE(compileAndTune(optionWins, op).has_value());
}

// A Jit for a named CPU target tunes that target: candidates compiled for
// it in the worker (16 lanes are illegal for x86-64-v3, on an AVX-512 host
// too), records under its key, none under the host's.
TEST_F(OnlineTuningTest, NamedCpuTargetIsTunedUnderItsOwnKey) {
  const Target v3 = Target::cpu("x86-64-v3");
  if (Status s = v3.check(); !s)
    GTEST_SKIP() << s.message();
  const uint64_t seed = kjit::testing::baseSeed();
  DepthwiseConv2d op = conv(11, 9, 13, 3);
  Jit jit(v3, options(1.5));
  std::optional<Kernel> k = compileAndTune(jit, op);
  ASSERT_TRUE(k.has_value());
  std::string err;
  EXPECT_LE(runOnce(*k, op, seed, &err), kTol) << err;
  const std::string text = convText(11, 9, 13, 3);
  std::vector<autotune::Record> recs = recordsOf(text, v3);
  EXPECT_GE(recs.size(), 2u);
  for (const autotune::Record &r : recs) {
    EXPECT_TRUE(r.result.ok()) << r.config << ": " << r.result.message;
    EXPECT_EQ(r.config.find("vector_width = 16"), std::string::npos)
        << r.config;
  }
  EXPECT_TRUE(recordsOf(text).empty());
}

TEST_F(OnlineTuningTest, InProcessModeIsOptedIntoAndNeedsNoWorker) {
  const uint64_t seed = kjit::testing::baseSeed();
  DepthwiseConv2d op = conv(9, 8, 11, 3);
  // The option, with no usable worker anywhere.
  ScopedEnv bad("KJIT_MEASURE_WORKER", "/dev/null");
  JitOptions o = options(1.5);
  o.onlineTuneInProcess = true;
  {
    const size_t liveBefore = runtime::CpuExecutor::liveObjects();
    Jit jit(Target::host(), o);
    std::optional<Kernel> k = compileAndTune(jit, op);
    ASSERT_TRUE(k.has_value());
    // The candidates' code went with the job's private Jit: what is left is
    // the default (in the memory cache) and the tuned code.
    int measured = std::atoi(k->configSources().at(0).c_str() +
                             strlen("online (best of "));
    EXPECT_GE(measured, 2) << k->configSources().at(0);
    EXPECT_LE(runtime::CpuExecutor::liveObjects(), liveBefore + 2);
    std::string err;
    EXPECT_LE(runOnce(*k, op, seed, &err), kTol) << err;
    std::vector<autotune::Record> recs = recordsOf(convText(9, 8, 11, 3));
    EXPECT_FALSE(recs.empty());
    for (const autotune::Record &r : recs)
      EXPECT_EQ(r.source, "online-in-process:pruned") << r.config;
  }
  // KJIT_TUNE's spelling of it.
  ScopedEnv spec("KJIT_TUNE", "budget:0.5,in-process");
  Jit jit(Target::host(), options(-1));
  EXPECT_DOUBLE_EQ(jit.onlineTuneBudgetSeconds(), 0.5);
  EXPECT_TRUE(compileAndTune(jit, conv(9, 8, 13, 3)).has_value());
}
