//===- OfflineTunerSupport.h - helpers of the offline tuner tests -*- C++
//-*-===//
//
// Workloads, temporary files, kjit-tune run as a child process, and an
// in-process fake measurer: shared by OfflineTunerTest and
// DatabaseFailureTest (one test binary, kjit-offline-tuner-tests).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_TESTS_UNIT_AUTOTUNE_OFFLINETUNERSUPPORT_H
#define KJIT_TESTS_UNIT_AUTOTUNE_OFFLINETUNERSUPPORT_H

#include "ExpectedValue.h"
#include "autotune/CostModel.h"
#include "autotune/Database.h"
#include "autotune/ProcessMeasurer.h"
#include "autotune/Pruning.h"
#include "autotune/Space.h"
#include "compiler/Compiler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <optional>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char **environ;

#ifndef KJIT_TUNE_BINARY
#error "KJIT_TUNE_BINARY must name the kjit-tune executable"
#endif

namespace kjit::autotune::testing {
inline const char *kDw3x3 = R"mlir(
func.func @main(%x: tensor<1x8x8x16xf32>, %w: tensor<16x3x3xf32>)
    -> tensor<1x8x8x16xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nhwc",
        strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
        padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x8x8x16xf32>, tensor<16x3x3xf32>) -> tensor<1x8x8x16xf32>
  return %y : tensor<1x8x8x16xf32>
}
)mlir";

inline const char *kDw5x5 = R"mlir(
func.func @main(%x: tensor<1x7x9x8xf32>, %w: tensor<8x5x5xf32>)
    -> tensor<1x7x9x8xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nhwc",
        strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
        padding = array<i64: 2, 2, 2, 2>}
      : (tensor<1x7x9x8xf32>, tensor<8x5x5xf32>) -> tensor<1x7x9x8xf32>
  return %y : tensor<1x7x9x8xf32>
}
)mlir";

inline std::string tempPath(const std::string &name) {
  std::string p = ::testing::TempDir() + "/kjit-ot-" +
                  std::to_string(getpid()) + "-" + name;
  std::remove(p.c_str());
  std::remove((p + "-wal").c_str());
  std::remove((p + "-shm").c_str());
  return p;
}

inline std::string writeTemp(const std::string &name, const std::string &text) {
  std::string p = tempPath(name);
  std::ofstream(p) << text;
  return p;
}

inline Workload workload(const char *text) {
  auto ws = extractWorkloads(text);
  EXPECT_TRUE((bool)ws) << (ws ? "" : llvm::toString(ws.takeError()));
  return ws->front();
}

/// The order kjit-tune's pruned strategy measures on this host: the
/// default, then the ranked survivors (without the default).
inline std::vector<std::string> measureOrder(const Workload &w) {
  TargetInfo host = compiler::CpuTarget::host().info;
  auto pw = ParsedWorkload::parse(w);
  EXPECT_TRUE((bool)pw);
  PruningReport rep;
  auto surv = prune((*pw)->enumerate(host), defaultRules(), host, rep);
  rank(surv, RooflineModel(), host);
  std::vector<std::string> order = {(*pw)->defaultConfig(host)};
  for (const SpacePoint &p : surv)
    if (p.candidate.configText != order.front())
      order.push_back(p.candidate.configText);
  return order;
}

/// Scoped environment variable (the old value back afterwards).
struct Env {
  std::string name;
  std::optional<std::string> old;
  Env(const char *n, const std::string &v) : name(n) {
    if (const char *o = getenv(n))
      old = o;
    setenv(n, v.c_str(), 1);
  }
  ~Env() {
    if (old)
      setenv(name.c_str(), old->c_str(), 1);
    else
      unsetenv(name.c_str());
  }
};

inline ProcessMeasureOptions workerOptions(double timeout = 20) {
  ProcessMeasureOptions o;
  o.workerPath = KJIT_TUNE_BINARY;
  o.timeoutSeconds = timeout;
  o.measure.repeats = 3;
  o.measure.warmup = 1;
  return o;
}

/// kjit-tune (or another `binary`) started with posix_spawn; output to a
/// file. `env`: "NAME=VALUE" set (replacing the test's own) or "NAME" unset
/// in the child.
struct Tuner {
  pid_t pid = -1;
  std::string out;
  Tuner(std::vector<std::string> args, const std::string &outPath,
        const std::vector<std::string> &env = {},
        const char *binary = KJIT_TUNE_BINARY)
      : out(outPath) {
    args.insert(args.begin(), binary);
    std::vector<char *> argv;
    for (std::string &a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> envs;
    for (char **e = environ; *e; ++e) {
      std::string entry = *e;
      std::string name = entry.substr(0, entry.find('='));
      bool replaced = false;
      for (const std::string &x : env)
        replaced |= x.substr(0, x.find('=')) == name;
      if (!replaced)
        envs.push_back(entry);
    }
    for (const std::string &x : env)
      if (x.find('=') != std::string::npos)
        envs.push_back(x);
    std::vector<char *> envp;
    for (std::string &e : envs)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    EXPECT_EQ(posix_spawn(&pid, binary, &fa, nullptr, argv.data(), envp.data()),
              0);
    posix_spawn_file_actions_destroy(&fa);
  }
  /// The exit code (128 + signal when killed); -1 after `seconds`.
  int wait(double seconds = 60) {
    auto t0 = std::chrono::steady_clock::now();
    int st = 0;
    while (waitpid(pid, &st, WNOHANG) == 0) {
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count() > seconds) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  std::string output() const {
    std::ifstream f(out);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
};

inline uint64_t recordsIn(const std::string &db) {
  auto d = SqliteDatabase::openReadOnly(db);
  if (!d) {
    llvm::consumeError(d.takeError());
    return 0;
  }
  return must((*d)->count());
}

/// Waits until `db` holds at least `n` records.
inline bool waitForRecords(const std::string &db, uint64_t n,
                           double seconds = 60) {
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
             .count() < seconds) {
    if (recordsIn(db) >= n)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}
inline Measurement timed(double s) {
  Measurement m;
  m.medianSeconds = s;
  m.repeats = 1;
  return m;
}

/// In-process fake: a fixed time per config (the fastest one named).
/// Exact times: `fastest` 1 us, the configs in `times` theirs, the others
/// 5 us. `seen`: the search's measurements; `compared`: the paired final's
/// comparisons (a, b), each the exact ratio.
struct FakeMeasurer : Measurer {
  std::string fastest;
  std::map<std::string, double> times;
  std::vector<std::string> seen;
  std::vector<std::pair<std::string, std::string>> compared;
  double time(const std::string &c) const {
    auto it = times.find(c);
    if (it != times.end())
      return it->second;
    return c == fastest ? 1e-6 : 5e-6;
  }
  Measurement measure(const Workload &, const Candidate &c) override {
    seen.push_back(c.configText);
    return timed(time(c.configText));
  }
  PairedResult compare(const Workload &, const Candidate &a,
                       const Candidate &b, const PairOptions &) override {
    compared.push_back({a.configText, b.configText});
    PairedResult r;
    r.pairs = 8;
    r.ratio = r.ratioLow = r.ratioHigh =
        time(b.configText) / time(a.configText);
    return r;
  }
};

} // namespace kjit::autotune::testing

#endif
