//===- SelectionTest.cpp - run-time config selection from the tuning DB --===//
//
// ARCHITECTURE.md, Autotuning step 6, through the public Jit: an exact record
// for (workload, target, compiler) gives its best config; records for another
// target or compiler key are never served; otherwise the nearest tuned
// workload's config, re-verified for the new shape (illegal: the default);
// a corrupt database file means defaults, never a failed compile.
//
//===----------------------------------------------------------------------===//
#include "autotune/Database.h"
#include "autotune/Selector.h"
#include "autotune/Tuner.h"
#include "compiler/Compiler.h"
#include "autotune/Workload.h"
#include "kjit/kjit.h"

#include "Selection.h" // runtime/lib: the selector itself

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

using namespace kjit;
using namespace kjit::autotune;

namespace {
/// A 3x3 "same" depthwise conv on N x H x W x C.
std::string conv(int h, int w, int c) {
  std::string in = "tensor<1x" + std::to_string(h) + "x" + std::to_string(w) +
                   "x" + std::to_string(c) + "xf32>";
  std::string f = "tensor<" + std::to_string(c) + "x3x3xf32>";
  return "func.func @main(%x: " + in + ", %w: " + f + ") -> " + in +
         " {\n  %y = \"kjit.depthwise_conv2d\"(%x, %w) {layout = \"nhwc\", "
         "strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding "
         "= array<i64: 1, 1, 1, 1>} : (" +
         in + ", " + f + ") -> " + in + "\n  return %y : " + in + "\n}\n";
}

const char *kC1 = "#kjit.config<{vector_width = 4, ow_block = 2, oh_block = "
                  "1, kw_unroll = 1, oh_tile = 2, threads = 1, task_order = "
                  "\"c_outer\"}>";
const char *kC2 = "#kjit.config<{vector_width = 4, ow_block = 3, oh_block = "
                  "2, kw_unroll = 1, oh_tile = 4, threads = 1, task_order = "
                  "\"h_outer\"}>";
const char *kC3 = "#kjit.config<{vector_width = 4, ow_block = 1, oh_block = "
                  "1, kw_unroll = 3, oh_tile = 1, threads = 1, task_order = "
                  "\"h_outer\"}>";

class SelectionTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kjit-selection-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    dbPath = dir + "/tuning.sqlite";
  }
  void TearDown() override {
    std::remove((dbPath + "-wal").c_str());
    std::remove((dbPath + "-shm").c_str());
    std::remove(dbPath.c_str());
    rmdir(dir.c_str());
  }

  void record(const std::string &text, const std::string &config,
              double seconds, std::string targetKey = "",
              std::string compilerKey = "") {
    auto ws = extractWorkloads(text);
    ASSERT_TRUE(bool(ws)) << llvm::toString(ws.takeError());
    auto db = SqliteDatabase::open(dbPath);
    ASSERT_TRUE(bool(db)) << llvm::toString(db.takeError());
    Measurement m;
    m.medianSeconds = seconds;
    m.repeats = 5;
    ASSERT_TRUE((*db)->record(
        ws->front(), targetKey.empty() ? Target::host().key() : targetKey,
        compilerKey.empty() ? kjit::tuningEpoch() : compilerKey,
        Candidate{config}, m))
        << (*db)->lastError();
  }

  /// Compiles `text` with the tuning database at `db` ("off": none).
  Kernel compile(const std::string &text, const std::string &db,
                 const std::string &config = "") {
    JitOptions jo;
    jo.tuningDb = db;
    jo.diskCache = false;
    Jit jit(Target::host(), jo);
    CompileOptions co;
    co.config = config;
    auto k = jit.compileModule(text, co);
    EXPECT_TRUE(bool(k)) << k.errorMessage();
    return *k;
  }
  std::string resolved(const std::string &text, const std::string &config) {
    return compile(text, "off", config).configs().at(0);
  }

  std::string dir, dbPath;
};
} // namespace

TEST_F(SelectionTest, ExactRecordIsUsed) {
  std::string text = conv(16, 16, 32);
  std::string def = resolved(text, "");
  ASSERT_NE(resolved(text, kC1), def) << "pick a config other than default";
  record(text, kC2, 2e-3);
  record(text, kC1, 1e-3); // the best
  Kernel k = compile(text, dbPath);
  EXPECT_EQ(k.configs().at(0), resolved(text, kC1));
  EXPECT_EQ(k.configSources().at(0), "tuned");
  // An explicit config overrides the database.
  Kernel o = compile(text, dbPath, kC3);
  EXPECT_EQ(o.configs().at(0), resolved(text, kC3));
  EXPECT_EQ(o.configSources().at(0), "option");
  // "off": no lookup.
  EXPECT_EQ(compile(text, "off").configs().at(0), def);
}

TEST_F(SelectionTest, OtherTargetOrCompilerKeyIsNotServed) {
  std::string text = conv(16, 16, 32);
  std::string def = resolved(text, "");
  record(text, kC1, 1e-3, "cpu=some-other-cpu;features=+sse2");
  record(text, kC2, 1e-3, "", "kjit 0.0.1;llvm=1;pipeline=0;build=0");
  Kernel k = compile(text, dbPath);
  EXPECT_EQ(k.configs().at(0), def);
  EXPECT_EQ(k.configSources().at(0), "default");
  // With a current record too, only that one is served even though the
  // foreign ones are faster.
  record(text, kC3, 5e-3);
  Kernel t = compile(text, dbPath);
  EXPECT_EQ(t.configs().at(0), resolved(text, kC3));
  EXPECT_EQ(t.configSources().at(0), "tuned");
}

TEST_F(SelectionTest, NearestWorkloadIsUsedWhenLegal) {
  record(conv(16, 16, 32), kC1, 1e-3);
  record(conv(64, 64, 32), kC2, 1e-3);
  std::string text = conv(20, 20, 32);
  Kernel k = compile(text, dbPath);
  EXPECT_EQ(k.configs().at(0), resolved(text, kC1));
  EXPECT_EQ(k.configSources().at(0).rfind("nearest ", 0), 0u)
      << k.configSources().at(0);
  Kernel far = compile(conv(60, 60, 32), dbPath);
  EXPECT_EQ(far.configs().at(0), resolved(conv(60, 60, 32), kC2));
}

TEST_F(SelectionTest, IllegalNearestConfigFallsBackToDefault) {
  // Legal for 16x16 (the packed tile is tiny), illegal for 4096x4096: a
  // whole-image oh_tile packs 4 * 4098 * 4098 * 4 bytes > 256 MiB.
  const char *wholeImage =
      "#kjit.config<{vector_width = 4, ow_block = 2, oh_block = 1, "
      "kw_unroll = 1, oh_tile = 4096, threads = 1, task_order = "
      "\"c_outer\"}>";
  record(conv(16, 16, 4), wholeImage, 1e-3);
  EXPECT_EQ(compile(conv(16, 16, 4), dbPath).configSources().at(0), "tuned");
  std::string big = conv(4096, 4096, 4);
  Kernel k = compile(big, dbPath);
  EXPECT_EQ(k.configs().at(0), resolved(big, ""));
  EXPECT_NE(k.configSources().at(0).find("default (nearest"),
            std::string::npos)
      << k.configSources().at(0);
  EXPECT_NE(k.configSources().at(0).find("256 MiB"), std::string::npos)
      << k.configSources().at(0);
}

TEST_F(SelectionTest, CorruptDatabaseMeansDefaults) {
  {
    std::ofstream f(dbPath);
    f << "this is not an SQLite database\n";
  }
  std::string text = conv(16, 16, 32);
  Kernel k = compile(text, dbPath);
  EXPECT_EQ(k.configs().at(0), resolved(text, ""));
  EXPECT_NE(k.configSources().at(0).find("tuning database not used"),
            std::string::npos)
      << k.configSources().at(0);
  // A missing file is no error and says nothing.
  Kernel m = compile(text, dir + "/missing.sqlite");
  EXPECT_EQ(m.configSources().at(0), "default");
}

namespace {
/// Collects what is written to stderr (fd 2) while it lives.
struct CapturedStderr {
  std::string path;
  int saved = -1;
  explicit CapturedStderr(std::string p) : path(std::move(p)) {
    fflush(stderr);
    saved = dup(2);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
  }
  std::string text() {
    fflush(stderr);
    if (saved >= 0) {
      dup2(saved, 2);
      close(saved);
      saved = -1;
    }
    std::ifstream f(path);
    std::string t((std::istreambuf_iterator<char>(f)), {});
    std::remove(path.c_str());
    return t;
  }
  ~CapturedStderr() { text(); }
};

size_t occurrences(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1))
    ++n;
  return n;
}
} // namespace

// One failed open does not disable the database for the Jit's life: it is
// tried again once the file changes, and one warning is given per reason.
TEST_F(SelectionTest, ADatabaseFixedLaterIsUsedByTheSameJit) {
  {
    std::ofstream f(dbPath);
    f << "this is not an SQLite database\n";
  }
  JitOptions jo;
  jo.tuningDb = dbPath;
  jo.diskCache = false;
  Jit jit(Target::host(), jo);
  std::string text = conv(16, 16, 32);
  CapturedStderr err(dir + "/stderr.txt");
  auto k1 = jit.compileModule(text);
  ASSERT_TRUE(bool(k1)) << k1.errorMessage();
  EXPECT_NE(k1->configSources().at(0).find("tuning database not used"),
            std::string::npos)
      << k1->configSources().at(0);
  // Changed but still broken: tried again, the same reason, no new warning.
  {
    std::ofstream f(dbPath, std::ios::app);
    f << "still not one\n";
  }
  auto k2 = jit.compileModule(conv(12, 12, 32));
  ASSERT_TRUE(bool(k2)) << k2.errorMessage();
  EXPECT_NE(k2->configSources().at(0).find("tuning database not used"),
            std::string::npos);
  // Replaced by a real database: the same Jit uses it.
  std::string fixed = dbPath;
  dbPath = dir + "/fixed.sqlite";
  record(text, kC1, 1e-3);
  ASSERT_EQ(rename(dbPath.c_str(), fixed.c_str()), 0);
  dbPath = fixed;
  auto k3 = jit.compileModule(text);
  ASSERT_TRUE(bool(k3)) << k3.errorMessage();
  EXPECT_EQ(k3->configSources().at(0), "tuned");
  EXPECT_EQ(k3->configs().at(0), resolved(text, kC1));
  std::string warnings = err.text();
  EXPECT_EQ(occurrences(warnings, "warning: tuning database not used"), 1u)
      << warnings;
}

// What select() remembers is bounded: the least recently used modules go.
TEST_F(SelectionTest, TheMemoKeepsTheMostRecentModulesOnly) {
  record(conv(16, 16, 32), kC1, 1e-3);
  runtime::TuningSelector selector(dbPath, /*memoCapacity=*/4);
  runtime::TuningTarget target =
      runtime::cpuTuningTarget(compiler::CpuTarget::host(), 0);
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(selector.select(conv(8 + i, 8, 32), target).sources.size(), 1u);
  EXPECT_EQ(selector.memoSize(), 4u);
  EXPECT_EQ(runtime::TuningSelector::kMemoCapacity, 1024u);
  // A remembered module is still served, and the same.
  auto again = selector.select(conv(19, 8, 32), target);
  EXPECT_EQ(again.sources.size(), 1u);
  EXPECT_EQ(selector.memoSize(), 4u);
}

TEST(SelectionDistance, OnlyShapesMayDiffer) {
  auto a = extractWorkloads(conv(16, 16, 32));
  auto b = extractWorkloads(conv(20, 20, 32));
  std::string otherPad = conv(16, 16, 32);
  otherPad.replace(otherPad.find("1, 1, 1, 1"), 10, "0, 2, 1, 1");
  auto c = extractWorkloads(otherPad);
  ASSERT_TRUE(bool(a) && bool(b) && bool(c));
  auto ab = workloadDistance(a->front().canonicalText,
                             b->front().canonicalText);
  ASSERT_TRUE(ab.has_value());
  EXPECT_GT(*ab, 0.0);
  EXPECT_EQ(workloadDistance(a->front().canonicalText,
                             a->front().canonicalText),
            0.0);
  // Another attribute (padding) is never a neighbour.
  EXPECT_FALSE(workloadDistance(a->front().canonicalText,
                                c->front().canonicalText)
                   .has_value());
}

namespace {
/// y = 3x3 "same" depthwise conv of x (1 x h x w x c NHWC), filter c x 3 x 3,
/// in double: the test's own reference.
std::vector<float> conv3x3(const std::vector<float> &x,
                           const std::vector<float> &f, int h, int w, int c) {
  std::vector<float> y(x.size());
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j)
      for (int ch = 0; ch < c; ++ch) {
        double s = 0;
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) {
            int ii = i + a - 1, jj = j + b - 1;
            if (ii >= 0 && ii < h && jj >= 0 && jj < w)
              s += double(x[(ii * w + jj) * c + ch]) * f[(ch * 3 + a) * 3 + b];
          }
        y[(i * w + j) * c + ch] = float(s);
      }
  return y;
}
} // namespace

TEST_F(SelectionTest, ModelPickWithoutRecordWhenAsked) {
  const int h = 13, w = 17, c = 24; // odd and prime sizes
  std::string text = conv(h, w, c);
  auto ws = extractWorkloads(text);
  ASSERT_TRUE(bool(ws)) << llvm::toString(ws.takeError());
  auto pick =
      modelOnlyPick(ws->front(), compiler::CpuTarget::host().info);
  ASSERT_TRUE(bool(pick)) << llvm::toString(pick.takeError());

  JitOptions jo;
  jo.tuningDb = "off"; // no database at all: the model still picks
  jo.diskCache = false;
  jo.modelPickWithoutRecord = true;
  Jit jit(Target::host(), jo);
  auto k = jit.compileModule(text);
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  EXPECT_EQ(k->configSources().at(0), "model");
  EXPECT_EQ(k->configs().at(0), resolved(text, *pick));

  // The model's kernel computes the convolution.
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> x(h * w * c), f(c * 9), y(h * w * c, 0);
  for (float &v : x)
    v = d(rng);
  for (float &v : f)
    v = d(rng);
  ASSERT_TRUE(k->run({TensorView(x.data(), {1, h, w, c}),
                      TensorView(f.data(), {c, 3, 3})},
                     {TensorView(y.data(), {1, h, w, c})}));
  std::vector<float> ref = conv3x3(x, f, h, w, c);
  for (size_t i = 0; i < y.size(); ++i)
    ASSERT_NEAR(y[i], ref[i], 1e-5f * (1 + std::fabs(ref[i]))) << i;

  // A record still wins over the model; without the option: the default.
  record(text, kC1, 1e-3);
  jo.tuningDb = dbPath;
  Jit withDb(Target::host(), jo);
  auto t = withDb.compileModule(text);
  ASSERT_TRUE(bool(t)) << t.errorMessage();
  EXPECT_EQ(t->configSources().at(0), "tuned");
  EXPECT_EQ(compile(text, "off").configSources().at(0), "default");
}
