//===- OfflineTunerTest.cpp - the offline tuner's process side -----------===//
//
// Candidates measured in child processes (a crashing or hanging candidate is
// a failed record and tuning goes on), the model-guided strategy, seeding
// from foreign records, schema migration, a corrupt file, and kjit-tune
// itself under SIGINT, kill -9 and a second tuner writing the same file.
//
//===----------------------------------------------------------------------===//
#include "ExpectedValue.h"
#include "OfflineTunerSupport.h"
#include "autotune/CostModel.h"
#include "autotune/Database.h"
#include "autotune/Plot.h"
#include "autotune/ProcessMeasurer.h"
#include "autotune/Pruning.h"
#include "autotune/Search.h"
#include "autotune/Space.h"
#include "autotune/Tuner.h"
#include "compiler/Compiler.h"

#include "../TestUtil.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <set>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace kjit;
using namespace kjit::autotune;
using namespace kjit::autotune::testing;
using kjit::test::deadPid;
using kjit::test::makeScratchDir;
using kjit::test::removeDir;

namespace {
bool exists(const std::string &path) { return access(path.c_str(), F_OK) == 0; }

/// The names in `dir`.
std::set<std::string> entries(const std::string &dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec))
    names.insert(llvm::sys::path::filename(it->path()).str());
  return names;
}
} // namespace

//===--------------------------------------------------------------------===//
// Measurement in a child process
//===--------------------------------------------------------------------===//

TEST(ProcessMeasurer, MeasuresInAChild) {
  Workload w = workload(kDw3x3);
  ProcessMeasurer m(workerOptions());
  auto order = measureOrder(w);
  Measurement ok = m.measure(w, {order[0]});
  ASSERT_TRUE(ok.ok()) << ok.message;
  EXPECT_GT(ok.medianSeconds, 0);
  // At least the repeats asked for; the interval comes back too.
  EXPECT_GE(ok.repeats, 3);
  EXPECT_GT(ok.minSeconds, 0);
  EXPECT_LE(ok.ciLowSeconds, ok.medianSeconds);
  EXPECT_LE(ok.medianSeconds, ok.ciHighSeconds);
  // Paired in one child: the same config against itself is no win.
  PairOptions po;
  po.minPairs = 4;
  po.maxPairs = 8;
  PairedResult same = m.compare(w, {order[0]}, {order[0]}, po);
  ASSERT_TRUE(same.ok()) << same.error;
  EXPECT_GE(same.pairs, 4);
  EXPECT_LE(same.ratioLow, same.ratio);
  EXPECT_LE(same.ratio, same.ratioHigh);
  PairedResult bad = m.compare(w, {order[0]}, {"#kjit.config<{oh_block = 9}>"},
                               po);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.error.find("oh_block"), std::string::npos) << bad.error;
  // The worker's own failures come back as they are.
  Measurement illegal = m.measure(w, {"#kjit.config<{oh_block = 9}>"});
  EXPECT_EQ(illegal.status, Measurement::Status::Illegal);
  EXPECT_NE(illegal.message.find("oh_block"), std::string::npos);
  EXPECT_EQ(m.infrastructureError(), "");
}

// --target=cpu:NAME: the worker verifies and compiles for the named CPU
// target, not the host: 16 lanes are illegal for x86-64-v3 (on an AVX-512
// host too) and legal for x86-64-v4 (where this CPU runs it).
TEST(ProcessMeasurer, WorkerCompilesForTheNamedCpuTarget) {
  Workload w = workload(kDw3x3);
  const std::string vw16 = "#kjit.config<{vector_width = 16}>";
  ProcessMeasureOptions o = workerOptions();
  o.cpuTarget = "x86-64-v3";
  Measurement v3 = ProcessMeasurer(o).measure(w, {vw16});
  EXPECT_EQ(v3.status, Measurement::Status::Illegal) << v3.message;
  EXPECT_NE(v3.message.find("vector_width"), std::string::npos) << v3.message;
  auto v4 = compiler::CpuTarget::named("x86-64-v4");
  ASSERT_TRUE((bool)v4) << llvm::toString(v4.takeError());
  if (!v4->missingOnHost().empty())
    GTEST_SKIP() << "this CPU cannot run x86-64-v4 code";
  o.cpuTarget = "x86-64-v4";
  Measurement ok = ProcessMeasurer(o).measure(w, {vw16});
  EXPECT_TRUE(ok.ok()) << ok.message;
}

/// One candidate of the pruned order is broken (`fault`: crash or hang):
/// it is recorded as failed with `expected`, every other candidate is
/// measured, and the best is a working one.
static void tuneWithBrokenCandidate(const std::string &fault,
                                    Measurement::Status expected,
                                    double timeout) {
  Workload w = workload(kDw3x3);
  auto order = measureOrder(w);
  ASSERT_GE(order.size(), 4u);
  std::string broken = order[2];
  Env env("KJIT_TUNE_TEST_FAULT", fault + ":" + broken);
  std::string path = tempPath(fault + ".sqlite");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db);
  ProcessMeasurer m(workerOptions(timeout));
  TuneOptions o;
  o.topK = 4;
  TargetInfo host = compiler::CpuTarget::host().info;
  auto t0 = std::chrono::steady_clock::now();
  auto r = tuneWorkload(w, host, "T", "C", db->get(), &m, o);
  double took = std::chrono::duration<double>(
                    std::chrono::steady_clock::now() - t0)
                    .count();
  ASSERT_TRUE((bool)r) << llvm::toString(r.takeError());
  auto recs = must((*db)->records(w.key, "T", "C"));
  ASSERT_EQ(recs.size(), r->measured + r->failed);
  EXPECT_GE(recs.size(), 4u); // the default + the top 4 (but the default)
  int failed = 0;
  for (const Record &rec : recs) {
    if (rec.config == broken) {
      EXPECT_EQ(rec.result.status, expected) << rec.result.message;
      ++failed;
    } else {
      EXPECT_TRUE(rec.result.ok()) << rec.config << ": " << rec.result.message;
    }
  }
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(r->failed, 1u);
  EXPECT_GE(r->measured, 3u);
  ASSERT_TRUE(r->bestSeconds.has_value());
  EXPECT_NE(r->bestConfig, broken);
  EXPECT_EQ(must((*db)->best(w, "T", "C"))->configText, r->bestConfig);
  if (expected == Measurement::Status::Timeout)
    EXPECT_LT(took, timeout + 30);
}

TEST(ProcessMeasurer, CrashingCandidateIsRecordedAndTuningGoesOn) {
  tuneWithBrokenCandidate("crash", Measurement::Status::Crash, 30);
}

TEST(ProcessMeasurer, HangingCandidateTimesOutAndTuningGoesOn) {
  tuneWithBrokenCandidate("hang", Measurement::Status::Timeout, 4);
}

TEST(ProcessMeasurer, StopKillsTheChild) {
  Workload w = workload(kDw3x3);
  auto order = measureOrder(w);
  Env env("KJIT_TUNE_TEST_FAULT", "hang:" + order[0]);
  std::atomic<bool> stop{false};
  ProcessMeasureOptions o = workerOptions(60);
  o.stop = &stop;
  ProcessMeasurer m(o);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  auto t0 = std::chrono::steady_clock::now();
  Measurement r = m.measure(w, {order[0]});
  t.join();
  EXPECT_TRUE(m.interrupted());
  EXPECT_FALSE(r.ok());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                          t0)
                .count(),
            10.0);
}

namespace {
/// Whether `pid` has ended: no such process, or a zombie its new parent
/// has not reaped yet. Waits up to `seconds` for it.
bool endsWithin(pid_t pid, double seconds) {
  auto t0 = std::chrono::steady_clock::now();
  while (true) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
      return true;
    size_t paren = line.rfind(')');
    if (paren != std::string::npos && line.compare(paren, 3, ") Z") == 0)
      return true;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count() > seconds)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// The pid a "hang-with-child" worker wrote, once it is there; -1 after
/// `seconds`.
pid_t grandchildPid(const std::string &pidFile, double seconds) {
  auto t0 = std::chrono::steady_clock::now();
  do {
    std::ifstream f(pidFile);
    pid_t pid = -1;
    if (f >> pid && pid > 0)
      return pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
               .count() < seconds);
  return -1;
}

/// A hanging worker that started a grandchild (a `sleep 300` where ptxas
/// would be): ending the candidate, by its time-out or by `stop`, kills the
/// worker's whole process group, the grandchild with it.
void killsTheWorkersGroup(bool byStop) {
  Workload w = workload(kDw3x3);
  std::string def = measureOrder(w)[0];
  std::string pidFile = tempPath(byStop ? "stop.pid" : "timeout.pid");
  Env fault("KJIT_TUNE_TEST_FAULT", "hang-with-child:" + def);
  Env where("KJIT_TUNE_TEST_FAULT_PIDFILE", pidFile);
  std::atomic<bool> stop{false};
  // Long enough for the worker to start its grandchild on a busy machine.
  ProcessMeasureOptions o = workerOptions(byStop ? 120 : 8);
  o.stop = &stop;
  ProcessMeasurer m(o);
  std::thread stopper;
  if (byStop)
    stopper = std::thread([&] {
      grandchildPid(pidFile, 60);
      stop = true;
    });
  Measurement r = m.measure(w, {def});
  if (stopper.joinable())
    stopper.join();
  EXPECT_EQ(r.status,
            byStop ? Measurement::Status::Crash : Measurement::Status::Timeout)
      << r.message;
  EXPECT_EQ(m.interrupted(), byStop);
  pid_t grandchild = grandchildPid(pidFile, 0);
  ASSERT_GT(grandchild, 0) << "the worker started no grandchild";
  bool ended = endsWithin(grandchild, 10);
  EXPECT_TRUE(ended) << "the worker's child " << grandchild << " outlived it";
  if (!ended)
    kill(grandchild, SIGKILL);
}
} // namespace

TEST(ProcessMeasurer, TimeoutKillsTheWorkersProcessGroup) {
  killsTheWorkersGroup(/*byStop=*/false);
}

TEST(ProcessMeasurer, StopKillsTheWorkersProcessGroup) {
  killsTheWorkersGroup(/*byStop=*/true);
}

// The measuring files live in one private directory of the measurer,
// removed with it; the directories dead measurers left (kill -9) are
// removed at start-up, a live process's never.
TEST(ProcessMeasurer, RemovesOnlyDeadProcessesLeftovers) {
  Workload w = workload(kDw3x3);
  std::string def = measureOrder(w)[0];
  std::string tmp = makeScratchDir("measurer-tmpdir");
  ASSERT_FALSE(tmp.empty());
  Env env("TMPDIR", tmp);
  pid_t dead = deadPid();
  ASSERT_GT(dead, 0);
  std::string deadDir = "kjit-measure-" + std::to_string(dead) + "-a1B2c3",
              liveDir = "kjit-measure-" + std::to_string(getpid()) + "-d4E5f6";
  for (const std::string &d : {deadDir, liveDir}) {
    ASSERT_EQ(mkdir((tmp + "/" + d).c_str(), 0700), 0);
    std::ofstream(tmp + "/" + d + "/request.json") << "{}";
  }
  {
    ProcessMeasurer m(workerOptions());
    Measurement r = m.measure(w, {def});
    EXPECT_TRUE(r.ok()) << r.message;
    EXPECT_FALSE(exists(tmp + "/" + deadDir));
    EXPECT_TRUE(exists(tmp + "/" + liveDir + "/request.json"));
    // The measurer's own directory, empty between candidates.
    std::set<std::string> names = entries(tmp);
    names.erase(liveDir);
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names.begin()->rfind(
                  "kjit-measure-" + std::to_string(getpid()) + "-", 0),
              0u)
        << *names.begin();
    EXPECT_TRUE(entries(tmp + "/" + *names.begin()).empty());
  }
  EXPECT_EQ(entries(tmp), std::set<std::string>{liveDir});
  removeDir(tmp);
}

// A TMPDIR where nothing can be made costs one warning, not a crash record
// for every candidate: the measuring files go to /tmp.
TEST(ProcessMeasurer, UnusableTmpdirFallsBackToTmp) {
  Workload w = workload(kDw3x3);
  std::string def = measureOrder(w)[0];
  std::string file = writeTemp("tmpdir-file", "a file, not a directory");
  for (const std::string &tmpdir : {std::string("/nonexistent"), file}) {
    Env env("TMPDIR", tmpdir);
    ProcessMeasurer m(workerOptions());
    ::testing::internal::CaptureStderr();
    Measurement a = m.measure(w, {def}), b = m.measure(w, {def});
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_TRUE(a.ok() && b.ok()) << tmpdir << ": " << a.message << b.message;
    EXPECT_EQ(m.infrastructureError(), "");
    size_t warning = err.find("TMPDIR is not usable");
    EXPECT_NE(warning, std::string::npos) << err;
    EXPECT_EQ(err.find("TMPDIR", warning + 1), std::string::npos) << err;
  }
}

// Options a host program got wrong, and a worker that cannot run, are the
// measuring's own failure: an error before anything runs, not a
// candidate's crash.
TEST(ProcessMeasurer, RefusesBadOptions) {
  Workload w = workload(kDw3x3);
  std::string def = measureOrder(w)[0];
  std::vector<
      std::pair<std::function<void(ProcessMeasureOptions &)>, const char *>>
      cases = {
          {[](auto &o) { o.timeoutSeconds = NAN; }, "timeoutSeconds"},
          {[](auto &o) { o.timeoutSeconds = INFINITY; }, "timeoutSeconds"},
          {[](auto &o) { o.timeoutSeconds = -1; }, "timeoutSeconds"},
          {[](auto &o) { o.timeoutSeconds = 0; }, "timeoutSeconds"},
          {[](auto &o) { o.measure.repeats = 0; }, "measure.repeats"},
          {[](auto &o) { o.measure.warmup = -1; }, "measure.warmup"},
          {[](auto &o) { o.measure.rotateBytes = NAN; }, "measure.rotateBytes"},
          {[](auto &o) { o.workerPath = "/nonexistent/kjit-tune"; },
           "cannot run the measuring worker '/nonexistent/kjit-tune'"},
      };
  for (auto &[set, what] : cases) {
    ProcessMeasureOptions o = workerOptions();
    set(o);
    ProcessMeasurer m(o);
    Measurement r = m.measure(w, {def});
    EXPECT_FALSE(r.ok()) << what;
    EXPECT_NE(r.message.find(what), std::string::npos) << r.message;
    EXPECT_NE(m.infrastructureError().find(what), std::string::npos)
        << m.infrastructureError();
    llvm::Error e = m.prepare();
    EXPECT_TRUE((bool)e) << what;
    llvm::consumeError(std::move(e));
  }
}

// The measuring failing mid-run (here its worker gone after the first
// candidate) stops tuning as kjit-tune wires it, through TuneOptions::stop,
// and the candidate it hit is not recorded as a crash.
TEST(Tuner, MeasuringFailureStopsTuningUnrecorded) {
  Workload w = workload(kDw3x3);
  std::string dir = makeScratchDir("worker");
  ASSERT_FALSE(dir.empty());
  std::string worker = dir + "/kjit-tune";
  ASSERT_EQ(symlink(KJIT_TUNE_BINARY, worker.c_str()), 0);
  auto db = SqliteDatabase::open(tempPath("measuring-failure.sqlite"));
  ASSERT_TRUE((bool)db);
  ProcessMeasureOptions po = workerOptions();
  po.workerPath = worker;
  ProcessMeasurer m(po);
  TuneOptions o;
  o.topK = 4;
  o.stop = [&m] { return !m.infrastructureError().empty(); };
  TargetInfo host = compiler::CpuTarget::host().info;
  auto r = tuneWorkload(w, host, "T", "C", db->get(), &m, o,
                        [&](uint64_t, const Candidate &, const Measurement &) {
                          unlink(worker.c_str());
                        });
  ASSERT_TRUE((bool)r) << llvm::toString(r.takeError());
  EXPECT_TRUE(r->interrupted);
  EXPECT_EQ(r->measured, 1u);
  EXPECT_EQ(r->failed, 0u);
  EXPECT_EQ(must((*db)->records(w.key, "T", "C")).size(), 1u);
  EXPECT_NE(m.infrastructureError().find("cannot start the measuring process"),
            std::string::npos)
      << m.infrastructureError();
  removeDir(dir);
}

// kjit.spmm checks its CSR at run time: the measurer's inputs must be a
// valid one (zero-filled row_ptr is not), in the child as in process.
TEST(Measurer, SparseOperandsGetAValidCsr) {
  const char *spmm = R"mlir(
func.func @main(%rp: tensor<14xi32>, %ci: tensor<40xi32>, %v: tensor<40xf32>,
                %b: tensor<11x37xf32>) -> tensor<13x37xf32> {
  %y = kjit.spmm %rp, %ci, %v, %b
      : tensor<14xi32>, tensor<40xi32>, tensor<40xf32>, tensor<11x37xf32>
      -> tensor<13x37xf32>
  return %y : tensor<13x37xf32>
})mlir";
  Workload w = workload(spmm);
  TargetInfo host = compiler::CpuTarget::host().info;
  auto pw = ParsedWorkload::parse(w);
  ASSERT_TRUE((bool)pw);
  std::string def = (*pw)->defaultConfig(host);
  kjit::JitOptions jo;
  jo.tuningDb = "off";
  kjit::Jit jit(kjit::Target::host(), jo);
  MeasureOptions mo;
  mo.repeats = 2;
  mo.warmup = 1;
  mo.minInputSets = 3;
  RuntimeMeasurer in(jit, host, mo);
  Measurement a = in.measure(w, {def});
  EXPECT_TRUE(a.ok()) << a.message;
  Measurement b = ProcessMeasurer(workerOptions()).measure(w, {def});
  EXPECT_TRUE(b.ok()) << b.message;
}

//===--------------------------------------------------------------------===//
// The model-guided strategy
//===--------------------------------------------------------------------===//

TEST(Search, KnobValuesOfAPrintedConfig) {
  auto k = knobValues("#kjit.config<{a = 1 : i64, mode = \"x,y\", "
                      "threads = 12 : i64}>");
  ASSERT_EQ(k.size(), 3u);
  EXPECT_EQ(k["a"], "1 : i64");
  EXPECT_EQ(k["mode"], "\"x,y\"");
  EXPECT_EQ(k["threads"], "12 : i64");
  EXPECT_TRUE(knobValues("garbage").empty());
}

namespace {
/// A 6 x 6 grid space: the model predicts a + b (best at (1, 1)); the true
/// time is |a - 5| + |b - 6| + 1 (best at (5, 6)).
std::vector<SpacePoint> grid() {
  std::vector<SpacePoint> v;
  for (int a = 1; a <= 6; ++a)
    for (int b = 1; b <= 6; ++b) {
      SpacePoint p;
      p.candidate.configText = "#kjit.config<{a = " + std::to_string(a) +
                               " : i64, b = " + std::to_string(b) + " : i64}>";
      p.predictedSeconds = a + b;
      v.push_back(p);
    }
  std::stable_sort(v.begin(), v.end(), [](auto &x, auto &y) {
    return x.predictedSeconds < y.predictedSeconds;
  });
  return v;
}
double trueTime(const std::string &config) {
  auto k = knobValues(config);
  int a = std::stoi(k["a"]), b = std::stoi(k["b"]);
  return std::abs(a - 5) + std::abs(b - 6) + 1;
}
} // namespace

TEST(Search, GuidedFollowsMeasurementsWhereTheModelIsWrong) {
  auto legal = grid();
  // The pruned survivors: the model's top 6 only (the true best is not
  // among them).
  std::vector<SpacePoint> survivors(legal.begin(), legal.begin() + 6);
  Budget b;
  b.maxCandidates = 16;
  GuidedStrategy g(survivors, legal, b, 2);
  std::set<std::string> seen;
  double best = 1e9;
  uint64_t n = 0;
  while (auto c = g.next()) {
    EXPECT_TRUE(seen.insert(c->configText).second) << "measured twice";
    double t = trueTime(c->configText);
    best = std::min(best, t);
    g.observe(*c, timed(t));
    ++n;
  }
  EXPECT_EQ(n, 16u); // the budget
  EXPECT_EQ(best, 1.0) << "the guided search did not reach the true best";
  EXPECT_EQ(trueTime(g.pick()->configText), 1.0);
  // The pruned-exhaustive order over the same survivors cannot.
  auto pruned = makePrunedExhaustive(survivors, b);
  double pbest = 1e9;
  while (auto c = pruned->next())
    pbest = std::min(pbest, trueTime(c->configText));
  EXPECT_GT(pbest, 1.0);
}

TEST(Search, GuidedStopsWhenTheSpaceIsMeasured) {
  auto legal = grid();
  GuidedStrategy g(legal, legal, Budget{}, 3);
  uint64_t n = 0;
  while (auto c = g.next()) {
    g.observe(*c, timed(trueTime(c->configText)));
    ++n;
  }
  EXPECT_EQ(n, legal.size());
  // Failures are observed, never picked.
  GuidedStrategy f(legal, legal, Budget{}, 1);
  auto c = f.next();
  Measurement crash;
  crash.status = Measurement::Status::Crash;
  f.observe(*c, crash);
  EXPECT_FALSE(f.pick().has_value());
}

TEST(Tuner, GuidedStrategyTunesARealWorkload) {
  Workload w = workload(kDw3x3);
  std::string path = tempPath("guided.sqlite");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db);
  ProcessMeasurer m(workerOptions());
  TuneOptions o;
  o.strategy = "guided";
  o.topK = 4;
  TargetInfo host = compiler::CpuTarget::host().info;
  auto r = tuneWorkload(w, host, "T", "C", db->get(), &m, o);
  ASSERT_TRUE((bool)r) << llvm::toString(r.takeError());
  EXPECT_EQ(r->measured + r->failed, 5u); // default + 4
  EXPECT_EQ(r->trace.size(), 5u);
  for (size_t i = 1; i < r->trace.size(); ++i)
    EXPECT_LE(r->trace[i], r->trace[i - 1]); // best-so-far never rises
  EXPECT_EQ(must((*db)->records(w.key, "T", "C")).size(), 5u);
}

//===--------------------------------------------------------------------===//
// Foreign records: never current, but they seed a search
//===--------------------------------------------------------------------===//

TEST(Tuner, ForeignRecordsSeedButAreNeverServed) {
  Workload w = workload(kDw3x3);
  TargetInfo host = compiler::CpuTarget::host().info;
  auto order = measureOrder(w);
  // A legal config the pruned top-1 would not reach: the last survivor.
  std::string foreignBest = order.back();
  ASSERT_NE(foreignBest, order[1]);
  std::string path = tempPath("seed.sqlite");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db);
  ASSERT_TRUE((*db)->record(w, "other-cpu", "C", {foreignBest}, timed(2e-6)));
  ASSERT_TRUE((*db)->record(w, "T", "old-compiler", {order[1]}, timed(3e-6)));
  // An illegal foreign config is not a seed.
  ASSERT_TRUE((*db)->record(w, "other-cpu", "C",
                            {"#kjit.config<{oh_block = 9}>"}, timed(1e-7)));
  // Not served as current.
  EXPECT_FALSE(must((*db)->best(w, "T", "C")).has_value());
  EXPECT_EQ(must((*db)->foreignRecords(w.key, "T", "C")).size(), 3u);
  FakeMeasurer m;
  m.fastest = foreignBest;
  TuneOptions o;
  o.topK = 1;
  auto r = tuneWorkload(w, host, "T", "C", db->get(), &m, o);
  ASSERT_TRUE((bool)r) << llvm::toString(r.takeError());
  EXPECT_EQ(r->seeded, 2u);
  ASSERT_GE(m.seen.size(), 3u);
  EXPECT_EQ(m.seen[0], order[0]);     // the default first
  EXPECT_EQ(m.seen[1], foreignBest);  // then the seeds, best first
  EXPECT_EQ(r->bestConfig, foreignBest);
  // What is served is this target's own measurement of it.
  auto best = must((*db)->bestRecord(w.key, "T", "C"));
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->config, foreignBest);
  EXPECT_DOUBLE_EQ(best->result.medianSeconds, 1e-6);
  // Seeding off: only the default and the strategy's pick.
  FakeMeasurer m2;
  TuneOptions o2;
  o2.topK = 1;
  o2.maxSeeds = 0;
  auto r2 = tuneWorkload(w, host, "T2", "C", db->get(), &m2, o2);
  ASSERT_TRUE((bool)r2);
  EXPECT_EQ(r2->seeded, 0u);
  EXPECT_EQ(m2.seen.size(), 2u);
}

//===--------------------------------------------------------------------===//
// The database file: migration, corruption
//===--------------------------------------------------------------------===//

TEST(Database, MigratesAVersion1File) {
  std::string path = tempPath("v1.sqlite");
  sqlite3 *raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  // The v1 schema as kjit wrote it.
  const char *v1 = R"sql(
CREATE TABLE kjit_schema_version(version INTEGER NOT NULL);
CREATE TABLE measurements(
  id INTEGER PRIMARY KEY, workload_key TEXT NOT NULL,
  workload_text TEXT NOT NULL, op_name TEXT NOT NULL,
  target_key TEXT NOT NULL, compiler_key TEXT NOT NULL,
  config TEXT NOT NULL, median_s REAL NOT NULL, spread_s REAL NOT NULL,
  repeats INTEGER NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
  timestamp INTEGER NOT NULL);
CREATE INDEX measurements_keys
  ON measurements(workload_key, target_key, compiler_key, status, median_s);
INSERT INTO kjit_schema_version(version) VALUES (1);
PRAGMA application_id=1802135924;
INSERT INTO measurements(workload_key, workload_text, op_name, target_key,
  compiler_key, config, median_s, spread_s, repeats, status, message,
  timestamp) VALUES ('wk', 'text', 'op', 'T', 'C', '#old', 0.002, 0, 3,
  'ok', '', 100);
)sql";
  char *err = nullptr;
  ASSERT_EQ(sqlite3_exec(raw, v1, nullptr, nullptr, &err), SQLITE_OK)
      << (err ? err : "");
  sqlite3_close(raw);
  {
    // Read-only (run-time selection) reads a v1 file as it is.
    auto ro = SqliteDatabase::openReadOnly(path);
    ASSERT_TRUE((bool)ro) << llvm::toString(ro.takeError());
    EXPECT_EQ((*ro)->schemaVersion(), 1);
    EXPECT_EQ(must((*ro)->bestRecord("wk", "T", "C"))->config, "#old");
    // An old file cannot tell a finished run: a successful record is one.
    EXPECT_TRUE(must((*ro)->isTuned("wk", "T", "C")));
  }
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db) << llvm::toString(db.takeError());
  EXPECT_EQ((*db)->schemaVersion(), SqliteDatabase::kSchemaVersion);
  auto old = must((*db)->bestRecord("wk", "T", "C"));
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->config, "#old");
  EXPECT_EQ(old->source, "");
  // v3 migrated: the workloads with a successful record count as tuned.
  EXPECT_TRUE(must((*db)->isTuned("wk", "T", "C")));
  EXPECT_FALSE(must((*db)->isTuned("wk", "T2", "C")));
  (*db)->setSource("test:v2");
  ASSERT_TRUE((*db)->record(Workload{"op", "text", "wk"}, "T", "C", {"#new"},
                            timed(0.001)));
  auto now = must((*db)->bestRecord("wk", "T", "C"));
  EXPECT_EQ(now->config, "#new");
  EXPECT_EQ(now->source, "test:v2");
  EXPECT_EQ(*(*db)->integrityCheck(), "ok");
  db->reset();
  // The stored version moved on.
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt *s = nullptr;
  sqlite3_prepare_v2(raw, "SELECT version FROM kjit_schema_version", -1, &s,
                     nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), SqliteDatabase::kSchemaVersion);
  sqlite3_finalize(s);
  sqlite3_close(raw);
}

TEST(Database, NewerSchemaIsAClearError) {
  std::string path = tempPath("v99.sqlite");
  { ASSERT_TRUE((bool)SqliteDatabase::open(path)); }
  sqlite3 *raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE kjit_schema_version SET version = 99",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  auto db = SqliteDatabase::open(path);
  ASSERT_FALSE((bool)db);
  EXPECT_NE(llvm::toString(db.takeError()).find("newer"), std::string::npos);
}

TEST(Database, CorruptFileIsAClearError) {
  std::string path = tempPath("corrupt.sqlite");
  {
    auto db = SqliteDatabase::open(path);
    ASSERT_TRUE((bool)db);
    Workload w{"op", std::string(2000, 'x'), "wk"};
    for (int i = 0; i < 40; ++i)
      ASSERT_TRUE(
          (*db)->record(w, "T", "C", {"#c" + std::to_string(i)}, timed(1e-3)));
  } // closed: the WAL is checkpointed into the file
  {
    // Scribble over the pages after the first (the header stays valid).
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 100);
    std::string junk(3 * 4096, '\x5a');
    f.write(junk.data(), junk.size());
  }
  auto db = SqliteDatabase::open(path);
  ASSERT_FALSE((bool)db);
  std::string msg = llvm::toString(db.takeError());
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_TRUE(msg.find("corrupt") != std::string::npos ||
              msg.find("malformed") != std::string::npos)
      << msg;
}

//===--------------------------------------------------------------------===//
// kjit-tune under signals and a second writer
//===--------------------------------------------------------------------===//

namespace {
/// Starts kjit-tune on dw3x3 with the third candidate hanging, waits until
/// two records are committed.
std::unique_ptr<Tuner> startHangingTuner(const std::string &db,
                                         const std::string &name) {
  std::string in = writeTemp(name + ".mlir", kDw3x3);
  auto order = measureOrder(workload(kDw3x3));
  EXPECT_GE(order.size(), 3u);
  auto t = std::make_unique<Tuner>(
      std::vector<std::string>{in, "--db=" + db, "--top-k=6", "--repeats=2",
                               "--timeout=120", "--resume=false",
                               "--plot=" + ::testing::TempDir()},
      tempPath(name + ".out"),
      std::vector<std::string>{"KJIT_TUNE_TEST_FAULT=hang:" + order[2]});
  EXPECT_TRUE(waitForRecords(db, 2)) << t->output();
  // The third candidate is now hanging in its child.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return t;
}
} // namespace

TEST(KjitTune, SigintStopsCleanlyWithEverythingSaved) {
  std::string db = tempPath("sigint.sqlite");
  auto t = startHangingTuner(db, "sigint");
  kill(t->pid, SIGINT);
  int rc = t->wait(20);
  std::string out = t->output();
  EXPECT_EQ(rc, 130) << out;
  EXPECT_NE(out.find("interrupted"), std::string::npos) << out;
  auto d = SqliteDatabase::open(db);
  ASSERT_TRUE((bool)d) << llvm::toString(d.takeError());
  EXPECT_EQ(must((*d)->count()), 2u); // the killed candidate is not a record
  EXPECT_EQ(*(*d)->integrityCheck(), "ok");
  // The final table was printed.
  EXPECT_NE(out.find("speedup"), std::string::npos) << out;
}

TEST(KjitTune, KillNineKeepsCommittedRecords) {
  std::string db = tempPath("kill9.sqlite");
  auto t = startHangingTuner(db, "kill9");
  uint64_t before = recordsIn(db);
  kill(t->pid, SIGKILL);
  EXPECT_EQ(t->wait(20), 128 + SIGKILL);
  auto d = SqliteDatabase::open(db);
  ASSERT_TRUE((bool)d) << llvm::toString(d.takeError());
  EXPECT_GE(must((*d)->count()), before);
  EXPECT_GE(must((*d)->count()), 2u);
  EXPECT_EQ(*(*d)->integrityCheck(), "ok");
  // The killed run is not "already tuned": the next run resumes it, and
  // measures only what the killed one did not record (the hanging third
  // candidate and the fourth).
  Workload w = workload(kDw3x3);
  auto order = measureOrder(w);
  std::string target = compiler::CpuTarget::host().key();
  std::string ck = compiler::tuningEpoch();
  EXPECT_FALSE(must((*d)->isTuned(w.key, target, ck)));
  auto recordsOf = [&](const std::string &config) {
    size_t n = 0;
    for (const Record &r : must((*d)->records(w.key, target, ck)))
      n += r.config == config;
    return n;
  };
  EXPECT_EQ(recordsOf(order[2]), 0u);
  std::string in = writeTemp("kill9-again.mlir", kDw3x3);
  Tuner again({in, "--db=" + db, "--top-k=3", "--repeats=2",
               "--plot=" + ::testing::TempDir()},
              tempPath("kill9-again.out"));
  EXPECT_EQ(again.wait(60), 0) << again.output();
  EXPECT_EQ(again.output().find("already tuned"), std::string::npos)
      << again.output();
  EXPECT_NE(again.output().find("resumed an unfinished run: 2 earlier"),
            std::string::npos)
      << again.output();
  EXPECT_EQ(recordsOf(order[0]), 1u); // not measured again
  EXPECT_EQ(recordsOf(order[1]), 1u);
  EXPECT_EQ(recordsOf(order[2]), 1u); // measured now
  EXPECT_TRUE(must((*d)->isTuned(w.key, target, ck)));
  // Now it is finished: the next run measures nothing.
  Tuner third({in, "--db=" + db, "--top-k=3", "--repeats=2",
               "--plot=" + ::testing::TempDir()},
              tempPath("kill9-third.out"));
  EXPECT_EQ(third.wait(60), 0) << third.output();
  EXPECT_NE(third.output().find("already tuned"), std::string::npos)
      << third.output();
}

TEST(KjitTune, TwoTunersWriteOneDatabase) {
  std::string db = tempPath("two.sqlite");
  std::string a = writeTemp("two-a.mlir", kDw3x3),
              b = writeTemp("two-b.mlir", kDw5x5);
  std::vector<std::string> common = {"--db=" + db, "--top-k=3",
                                     "--repeats=2",
                                     "--plot=" + ::testing::TempDir()};
  auto argsFor = [&](const std::string &in) {
    std::vector<std::string> v = {in};
    v.insert(v.end(), common.begin(), common.end());
    return v;
  };
  Tuner t1(argsFor(a), tempPath("two-a.out")),
      t2(argsFor(b), tempPath("two-b.out"));
  EXPECT_EQ(t1.wait(90), 0) << t1.output();
  EXPECT_EQ(t2.wait(90), 0) << t2.output();
  auto d = SqliteDatabase::open(db);
  ASSERT_TRUE((bool)d);
  EXPECT_EQ(*(*d)->integrityCheck(), "ok");
  std::string target = compiler::CpuTarget::host().key();
  std::string ck = compiler::tuningEpoch();
  for (const char *text : {kDw3x3, kDw5x5}) {
    Workload w = workload(text);
    EXPECT_GE(must((*d)->records(w.key, target, ck)).size(), 3u) << w.key;
    EXPECT_TRUE(must((*d)->best(w, target, ck)).has_value());
  }
}

// Every number flag: NaN, an infinity, a negative, a zero where it means
// nothing or no number is a usage error naming the flag and its range,
// before any workload is read.
TEST(KjitTune, RefusesBadNumberFlags) {
  std::string in = writeTemp("flags.mlir", kDw3x3);
  const char *seconds = "expected a finite number of seconds > 0",
             *budget = "expected a finite number of seconds >= 0 (0: no limit)",
             *count = "expected an integer from 0 to",
             *positive = "expected an integer from 1 to";
  std::pair<const char *, const char *> cases[] = {
      {"--timeout=nan", seconds},     {"--timeout=inf", seconds},
      {"--timeout=-1", seconds},      {"--timeout=0", seconds},
      {"--timeout=soon", seconds},    {"--timeout=", seconds},
      {"--budget=nan", budget},       {"--budget=-1", budget},
      {"--total-budget=inf", budget}, {"--total-budget=-5", budget},
      {"--repeats=0", positive},      {"--repeats=-3", positive},
      {"--top-k=-1", count},          {"--top-k=1.5", count},
      {"--seeds=many", count},        {"--threads=0", positive},
      {"--threads=-2", positive},     {"--repeats=99999999999", positive},
  };
  for (auto [flag, range] : cases) {
    Tuner t({in, flag, "--dry-run"}, tempPath("flags.out"));
    int rc = t.wait(30);
    std::string out = t.output();
    std::string name = llvm::StringRef(flag).split('=').first.str();
    EXPECT_EQ(rc, 2) << flag << "\n" << out;
    EXPECT_NE(out.find("for the " + name + " option: " + range),
              std::string::npos)
        << flag << "\n"
        << out;
    EXPECT_EQ(out.find("workload 1/"), std::string::npos) << out;
  }
}

// kjit-tune with a TMPDIR that does not exist: one warning, and every
// candidate measured (not a crash each).
TEST(KjitTune, UnusableTmpdirIsOneWarning) {
  std::string in = writeTemp("tmpdir.mlir", kDw3x3),
              db = tempPath("tmpdir.sqlite");
  Tuner t({in, "--db=" + db, "--top-k=2", "--repeats=2", "--resume=false",
           "--plot=" + ::testing::TempDir()},
          tempPath("tmpdir.out"), {"TMPDIR=/nonexistent"});
  ASSERT_EQ(t.wait(90), 0) << t.output();
  std::string out = t.output();
  size_t warning = out.find("TMPDIR is not usable");
  EXPECT_NE(warning, std::string::npos) << out;
  EXPECT_EQ(out.find("TMPDIR", warning + 1), std::string::npos) << out;
  EXPECT_EQ(out.find("crash"), std::string::npos) << out;
  auto d = SqliteDatabase::openReadOnly(db);
  ASSERT_TRUE((bool)d) << llvm::toString(d.takeError());
  Workload w = workload(kDw3x3);
  auto recs = must((*d)->records(w.key, compiler::CpuTarget::host().key(),
                                 compiler::tuningEpoch()));
  EXPECT_GE(recs.size(), 2u);
  for (const Record &rec : recs)
    EXPECT_TRUE(rec.result.ok()) << rec.config << ": " << rec.result.message;
}

TEST(KjitTune, WritesAPlotOfBestSoFar) {
  std::string db = tempPath("plot.sqlite");
  std::string dir = tempPath("plots");
  std::string in = writeTemp("plot.mlir", kDw3x3);
  Tuner t({in, "--db=" + db, "--top-k=2", "--repeats=2", "--plot=" + dir},
          tempPath("plot.out"));
  ASSERT_EQ(t.wait(60), 0) << t.output();
  std::string out = t.output();
  size_t at = out.find("plot: ");
  ASSERT_NE(at, std::string::npos) << out;
  std::string svgPath = out.substr(at + 6, out.find('\n', at) - at - 6);
  EXPECT_EQ(svgPath.rfind(dir, 0), 0u) << svgPath;
  std::ifstream f(svgPath);
  std::string svg(std::istreambuf_iterator<char>(f), {});
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("best-so-far"), std::string::npos);
  EXPECT_NE(svg.find("kjit.depthwise_conv2d"), std::string::npos);
  // Not a TTY: plain lines, no progress bar.
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_NE(out.find("  [1] "), std::string::npos);
}

TEST(Plot, MarksTheExhaustiveBest) {
  PlotSeries s{"op", {NAN, 4e-6, 2e-6, 2e-6}, 4e-6, 1.5e-6};
  std::string svg = tracePlotSvg("run", {s});
  EXPECT_NE(svg.find("class=\"best-so-far\""), std::string::npos);
  EXPECT_NE(svg.find("class=\"exhaustive-best\""), std::string::npos);
  // Three finite points on the polyline.
  size_t p = svg.find("points=\"");
  ASSERT_NE(p, std::string::npos);
  std::string pts = svg.substr(p + 8, svg.find('"', p + 8) - p - 8);
  EXPECT_EQ(std::count(pts.begin(), pts.end(), ','), 3);
  PlotSeries none{"none", {}, std::nullopt, std::nullopt};
  EXPECT_EQ(tracePlotSvg("run", {none}).find("exhaustive-best\""),
            std::string::npos);
}

//===--------------------------------------------------------------------===//
// Nothing to tune, the exhaustive optimum, the progress bar
//===--------------------------------------------------------------------===//

// kjit.spgemm: handled generically. Without a code generator (its default
// config is illegal) nothing is measured and the reason is said; once its
// interface gives a space, that space is tuned like any other.
TEST(Tuner, AnOpWithNothingToTuneIsSaidNotMeasured) {
  const char *spgemm = R"mlir(
func.func @main(%arp: tensor<4xi32>, %aci: tensor<6xi32>, %av: tensor<6xf32>,
                %brp: tensor<5xi32>, %bci: tensor<7xi32>, %bv: tensor<7xf32>)
    -> (tensor<4xi32>, tensor<?xi32>, tensor<?xf32>) {
  %r, %c, %v = kjit.spgemm %arp, %aci, %av, %brp, %bci, %bv {shape = array<i64: 3, 4, 5>}
      : tensor<4xi32>, tensor<6xi32>, tensor<6xf32>, tensor<5xi32>, tensor<7xi32>, tensor<7xf32>
      -> tensor<4xi32>, tensor<?xi32>, tensor<?xf32>
  return %r, %c, %v : tensor<4xi32>, tensor<?xi32>, tensor<?xf32>
})mlir";
  Workload w = workload(spgemm);
  TargetInfo host = compiler::CpuTarget::host().info;
  auto pw = ParsedWorkload::parse(w);
  ASSERT_TRUE((bool)pw);
  bool defaultLegal = true;
  if (auto e = (*pw)->verify((*pw)->defaultConfig(host), host)) {
    defaultLegal = false;
    llvm::consumeError(std::move(e));
  }
  bool hasSpace = (*pw)->enumerate(host).rawSize > 0;
  FakeMeasurer m;
  TuneOptions o;
  o.topK = 2;
  auto r = tuneWorkload(w, host, "T", "C", nullptr, &m, o);
  ASSERT_TRUE((bool)r) << llvm::toString(r.takeError());
  if (!defaultLegal || !hasSpace) {
    EXPECT_FALSE(r->nothingToTune.empty());
    if (!defaultLegal)
      EXPECT_NE(r->nothingToTune.find("kjit.spgemm"), std::string::npos)
          << r->nothingToTune;
    EXPECT_TRUE(m.seen.empty());
    EXPECT_EQ(r->measured + r->failed, 0u);
  } else {
    EXPECT_TRUE(r->nothingToTune.empty());
    EXPECT_GE(m.seen.size(), 2u);
  }
}

TEST(Tuner, ExhaustiveBestIsKnownWhenEverySurvivorHasARecord) {
  Workload w = workload(kDw3x3);
  TargetInfo host = compiler::CpuTarget::host().info;
  auto order = measureOrder(w);
  std::string path = tempPath("exhaustive.sqlite");
  auto db = SqliteDatabase::open(path);
  ASSERT_TRUE((bool)db);
  FakeMeasurer m;
  m.fastest = order.back();
  TuneOptions part;
  part.topK = 2;
  auto r1 = tuneWorkload(w, host, "T", "C", db->get(), &m, part);
  ASSERT_TRUE((bool)r1);
  EXPECT_FALSE(r1->exhaustiveBest.has_value()); // survivors left unmeasured
  TuneOptions all;
  all.resume = false;
  auto r2 = tuneWorkload(w, host, "T", "C", db->get(), &m, all);
  ASSERT_TRUE((bool)r2);
  ASSERT_TRUE(r2->exhaustiveBest.has_value());
  EXPECT_DOUBLE_EQ(*r2->exhaustiveBest, 1e-6);
  EXPECT_EQ(r2->bestConfig, order.back());
}

TEST(KjitTune, ProgressBarOnATerminal) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  std::string slave = ptsname(master);
  std::string db = tempPath("tty.sqlite");
  std::string in = writeTemp("tty.mlir", kDw3x3);
  // kjit-tune's stdout is the terminal; the Tuner helper's file is unused.
  std::vector<std::string> args = {KJIT_TUNE_BINARY, in, "--db=" + db,
                                   "--top-k=2", "--repeats=2",
                                   "--plot=" + ::testing::TempDir()};
  std::vector<char *> argv;
  for (std::string &a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, slave.c_str(), O_RDWR, 0);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, KJIT_TUNE_BINARY, &fa, nullptr, argv.data(),
                        environ),
            0);
  posix_spawn_file_actions_destroy(&fa);
  std::string out;
  char buf[4096];
  int st = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (true) {
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(master, &rs);
    timeval tv{0, 50000};
    if (select(master + 1, &rs, nullptr, nullptr, &tv) > 0) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n > 0)
        out.append(buf, n);
    }
    if (waitpid(pid, &st, WNOHANG) == pid)
      break;
    ASSERT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                            t0)
                  .count(),
              60.0);
  }
  // Drain what is left.
  for (int i = 0; i < 20; ++i) {
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(master, &rs);
    timeval tv{0, 20000};
    if (select(master + 1, &rs, nullptr, nullptr, &tv) <= 0)
      break;
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0)
      break;
    out.append(buf, n);
  }
  close(master);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
  EXPECT_NE(out.find('\r'), std::string::npos) << out;
  EXPECT_NE(out.find("] 100% 3/3"), std::string::npos) << out;
  EXPECT_EQ(out.find("  [1] #kjit.config"), std::string::npos) << out;
  EXPECT_NE(out.find("speedup"), std::string::npos) << out;
}
