//===- TuningEvidenceBench.cpp - does the autotuner earn its keep? --------===//
//
// The evidence benchmark (issue: "the evidence benchmark"): on a fixed set of
// 12 workloads, 3 per op family (depthwise conv incl. InceptionNeXt's mixer,
// window attention, long convolution, sparse), on this machine:
//
//   1. tuned vs default speed-up (goal: geomean >= 1.3x);
//   2. the pruned search (autotune::tuneWorkload, strategy "pruned": the
//      pruning rules' survivors in cost-model order, at most 10% of the legal
//      space and --pruned-budget seconds) vs an exhaustive search of the
//      unpruned legal space when it has at most --exhaustive-limit points,
//      else a seeded random sample of --sample of them (strategy "random"):
//      the pruned winner within 5% of the best found on >= 90% of workloads
//      while measuring <= 10% of the legal candidates. Both searches end
//      with the tuner's paired final (TuneOptions::finalists = 3: the
//      three fastest compared interleaved, then the winner against the
//      default; the default is kept unless the win exceeds the noise);
//   3. tuning time per workload (goal: <= 30 s);
//   4. the model-only pick (the cost model's top survivor, measured once)
//      within 10% of the measured best on >= 80% of workloads.
//
// Every search measures through autotune::RuntimeMeasurer (compile through
// the Jit, warm-up, median of 7 runs, rotated fresh inputs). The final
// comparison re-measures the default, the pruned winner, the unpruned
// winner and the model pick in --rounds interleaved rounds (each a median of
// 7 runs) and takes the median per config, in this one process; "best" is
// the fastest of those (never slower than the exhaustive/sampled best).
//
// kjit_bench_tuning_evidence [--workloads=dw7,attn2d,...] [--quick]
//   [--pruned-budget=S] [--sample=N] [--sample-budget=S]
//   [--exhaustive-limit=N] [--rounds=R] [--threads=N] [--state=FILE]
//   [--db=PATH]
//   [--list] [--dry-run]
// --threads=N tunes for N threads (as kjit-tune --threads=N; default: every
// core). --state=FILE makes a run resumable: each finished workload's row is
// appended there and skipped by a later run with the same file.
//
//===----------------------------------------------------------------------===//
#include "autotune/CostModel.h"
#include "autotune/Database.h"
#include "autotune/Measurer.h"
#include "autotune/Pruning.h"
#include "autotune/Tuner.h"
#include "compiler/Compiler.h"
#include "kjit/kjit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace kjit;
using namespace kjit::autotune;

namespace {

struct Case {
  std::string name, family, what, mlir;
};

std::string t(const std::vector<int64_t> &shape, const char *elem = "f32") {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + elem + ">";
}

std::string func(const std::vector<std::string> &args, const std::string &res,
                 const std::string &op) {
  std::string s = "func.func @main(";
  for (size_t i = 0; i < args.size(); ++i)
    s += (i ? ", %a" : "%a") + std::to_string(i) + ": " + args[i];
  return s + ") -> " + res + " {\n  " + op + "\n  return %y : " + res +
         "\n}\n";
}

std::string operands(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i)
    s += (i ? ", %a" : "%a") + std::to_string(i);
  return s;
}

std::string types(const std::vector<std::string> &ts) {
  std::string s;
  for (size_t i = 0; i < ts.size(); ++i)
    s += (i ? ", " : "") + ts[i];
  return s;
}

Case dwconv(std::string name, std::string what, int64_t c, int64_t h,
            int64_t k) {
  std::string x = t({1, h, h, c}), w = t({c, k, k});
  std::string p = std::to_string((k - 1) / 2);
  std::string op = "%y = \"kjit.depthwise_conv2d\"(%a0, %a1) {layout = "
                   "\"nhwc\", strides = array<i64: 1, 1>, dilations = "
                   "array<i64: 1, 1>, padding = array<i64: " +
                   p + ", " + p + ", " + p + ", " + p + ">} : (" + x + ", " +
                   w + ") -> " + x;
  return {name, "depthwise conv", what, func({x, w}, x, op)};
}

Case inception(std::string name, std::string what, int64_t c, int64_t h,
               int64_t g) {
  std::string x = t({1, h, h, c}), sq = t({g, 3, 3}), bw = t({g, 1, 11}),
              bh = t({g, 11, 1});
  std::string gs = std::to_string(g);
  std::string op = "%y = \"kjit.inception_depthwise_conv2d\"(%a0, %a1, %a2, "
                   "%a3) {layout = \"nhwc\", branch_channels = array<i64: " +
                   gs + ", " + gs + ", " + gs + ">} : (" +
                   types({x, sq, bw, bh}) + ") -> " + x;
  return {name, "depthwise conv", what, func({x, sq, bw, bh}, x, op)};
}

Case attention(std::string name, std::string what,
               std::vector<int64_t> shape, std::vector<int64_t> kernel,
               std::vector<int64_t> dilation, bool causal) {
  std::string q = t(shape);
  auto arr = [](const std::vector<int64_t> &v) {
    std::string s = "array<i64: ";
    for (size_t i = 0; i < v.size(); ++i)
      s += (i ? ", " : "") + std::to_string(v[i]);
    return s + ">";
  };
  std::string op = "%y = kjit.window_attention %a0, %a1, %a2 {kernel_size = " +
                   arr(kernel) + ", dilation = " + arr(dilation) +
                   (causal ? ", is_causal = true" : "") + "} : " +
                   types({q, q, q}) + " -> " + q;
  return {name, "window attention", what, func({q, q, q}, q, op)};
}

Case fftconv(std::string name, std::string what, int64_t b, int64_t c,
             int64_t l, int64_t lk) {
  std::string u = t({b, c, l}), k = t({c, lk}), d = t({c});
  std::string op = "%y = kjit.fft_conv %a0, %a1, %a2 : " + types({u, k, d}) +
                   " -> " + u;
  return {name, "long conv", what, func({u, k, d}, u, op)};
}

Case butterfly(std::string name, std::string what, int64_t b, int64_t m1,
               int64_t m2) {
  std::string x = t({b, m1 * m2}), r = t({m1, m2, m2}), l = t({m2, m1, m1});
  std::string op = "%y = kjit.butterfly_matmul %a0, %a1, %a2 : " +
                   types({x, r, l}) + " -> " + x;
  return {name, "long conv", what, func({x, r, l}, x, op)};
}

Case spmm(std::string name, std::string what, int64_t m, int64_t k,
          double density, int64_t n) {
  int64_t nnz = std::max<int64_t>(1, int64_t(std::llround(m * k * density)));
  std::string rp = t({m + 1}, "i32"), ci = t({nnz}, "i32"), v = t({nnz}),
              b = t({k, n}), y = t({m, n});
  std::string op = "%y = kjit.spmm %a0, %a1, %a2, %a3 : " +
                   types({rp, ci, v, b}) + " -> " + y;
  return {name, "sparse", what, func({rp, ci, v, b}, y, op)};
}

/// The fixed workload set: small-but-realistic layer sizes.
std::vector<Case> allCases() {
  return {
      dwconv("dw7", "ConvNeXt-T stage 1: 1x56x56x96, 7x7", 96, 56, 7),
      dwconv("dw13", "SLaK-style: 1x28x28x128, 13x13", 128, 28, 13),
      inception("inception", "InceptionNeXt-T stage 1: 1x56x56x96, 12/12/12",
                96, 56, 12),
      attention("attn2d", "NAT-Mini stage 2: 1x4x28x28x32, 7x7",
                {1, 4, 28, 28, 32}, {7, 7}, {1, 1}, false),
      attention("attn2d-dil", "DiNAT: 1x2x32x32x32, 7x7, dilation 2",
                {1, 2, 32, 32, 32}, {7, 7}, {2, 2}, false),
      attention("attn1d-causal", "1-D causal: 1x4x512x32, k 13",
                {1, 4, 512, 32}, {13}, {1}, true),
      fftconv("fft1k", "Hyena: 1x64x1024, Lk 1024", 1, 64, 1024, 1024),
      fftconv("fft2k", "Hyena: 2x16x2048, Lk 2048", 2, 16, 2048, 2048),
      butterfly("monarch1k", "Monarch: 256x1024, 32x32", 256, 32, 32),
      spmm("spmm-1pct", "1024x1024 at 1% x N=64", 1024, 1024, 0.01, 64),
      spmm("spmm-1x1conv", "1x1 conv 256x128 at 10% x 28x28", 256, 128, 0.10,
           784),
      spmm("spmm-late", "1x1 conv 1024x512 at 10% x 7x7", 1024, 512, 0.10,
           49),
  };
}

struct Options {
  std::set<std::string> only;
  bool quick = false, list = false, dryRun = false;
  double prunedBudget = 30, sampleBudget = 50;
  uint64_t sample = 96, exhaustiveLimit = 128;
  int rounds = 5;
  unsigned threads = 0; ///< tune for this many threads (0: every core)
  std::string state, db;
};

struct Row {
  std::string name, family;
  uint64_t legal = 0, survivors = 0, prunedMeasured = 0, prunedCap = 0;
  uint64_t unprunedMeasured = 0;
  bool exhaustive = false;
  double defaultUs = 0, tunedUs = 0, bestUs = 0, modelUs = 0;
  double tuneSeconds = 0, unprunedSeconds = 0;
  std::string bestFrom; // which search found the best
};

/// Whole-string numbers (no exceptions in this build).
bool toDouble(const std::string &s, double &out) {
  char *end = nullptr;
  out = strtod(s.c_str(), &end);
  return !s.empty() && end && *end == '\0';
}
bool toU64(const std::string &s, uint64_t &out) {
  char *end = nullptr;
  out = strtoull(s.c_str(), &end, 10);
  return !s.empty() && s[0] != '-' && end && *end == '\0';
}

std::string serialize(const Row &r) {
  std::ostringstream o;
  o.precision(10);
  o << r.name << '\t' << r.family << '\t' << r.legal << '\t' << r.survivors
    << '\t' << r.prunedMeasured << '\t' << r.prunedCap << '\t'
    << r.unprunedMeasured << '\t' << r.exhaustive << '\t' << r.defaultUs
    << '\t' << r.tunedUs << '\t' << r.bestUs << '\t' << r.modelUs << '\t'
    << r.tuneSeconds << '\t' << r.unprunedSeconds << '\t' << r.bestFrom;
  return o.str();
}

bool deserialize(const std::string &line, Row &r) {
  std::istringstream in(line);
  std::string f;
  std::vector<std::string> v;
  while (std::getline(in, f, '\t'))
    v.push_back(f);
  if (v.size() != 15)
    return false;
  r.name = v[0], r.family = v[1];
  r.exhaustive = v[7] == "1";
  r.bestFrom = v[14];
  return toU64(v[2], r.legal) && toU64(v[3], r.survivors) &&
         toU64(v[4], r.prunedMeasured) && toU64(v[5], r.prunedCap) &&
         toU64(v[6], r.unprunedMeasured) && toDouble(v[8], r.defaultUs) &&
         toDouble(v[9], r.tunedUs) && toDouble(v[10], r.bestUs) &&
         toDouble(v[11], r.modelUs) && toDouble(v[12], r.tuneSeconds) &&
         toDouble(v[13], r.unprunedSeconds);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

bool parseArgs(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char *flag, std::string &out) {
      std::string f = std::string(flag) + "=";
      if (a.compare(0, f.size(), f) != 0)
        return false;
      out = a.substr(f.size());
      return true;
    };
    std::string v;
    bool ok = true;
    if (a == "--quick")
      o.quick = true;
    else if (a == "--list")
      o.list = true;
    else if (a == "--dry-run")
      o.dryRun = true;
    else if (val("--workloads", v)) {
      std::stringstream ss(v);
      for (std::string w; std::getline(ss, w, ',');)
        if (!w.empty())
          o.only.insert(w);
    } else if (val("--pruned-budget", v))
      ok = toDouble(v, o.prunedBudget);
    else if (val("--sample-budget", v))
      ok = toDouble(v, o.sampleBudget);
    else if (val("--sample", v))
      ok = toU64(v, o.sample);
    else if (val("--exhaustive-limit", v))
      ok = toU64(v, o.exhaustiveLimit);
    else if (val("--rounds", v)) {
      uint64_t n = 0;
      ok = toU64(v, n) && n < 1000;
      o.rounds = int(n);
    } else if (val("--threads", v)) {
      uint64_t n = 0;
      ok = toU64(v, n) && n >= 1 && n <= 256;
      o.threads = unsigned(n);
    } else if (val("--state", v))
      o.state = v;
    else if (val("--db", v))
      o.db = v;
    else {
      fprintf(stderr, "unknown argument '%s' (see the file header)\n",
              a.c_str());
      return false;
    }
    if (!ok) {
      fprintf(stderr, "bad value in '%s'\n", a.c_str());
      return false;
    }
  }
  if (o.rounds < 1 || o.prunedBudget <= 0 || o.sampleBudget <= 0) {
    fprintf(stderr, "--rounds, --pruned-budget and --sample-budget must be "
                    "positive\n");
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  Options opt;
  if (!parseArgs(argc, argv, opt))
    return 2;
  if (opt.quick) {
    opt.prunedBudget = std::min(opt.prunedBudget, 10.0);
    opt.sample = std::min<uint64_t>(opt.sample, 24);
    opt.sampleBudget = std::min(opt.sampleBudget, 15.0);
    opt.exhaustiveLimit = std::min<uint64_t>(opt.exhaustiveLimit, 24);
    opt.rounds = std::min(opt.rounds, 3);
  }
  std::vector<Case> cases;
  for (const Case &c : allCases())
    if (opt.only.empty() || opt.only.count(c.name))
      cases.push_back(c);
  if (opt.list) {
    for (const Case &c : allCases())
      printf("%-14s %-17s %s\n", c.name.c_str(), c.family.c_str(),
             c.what.c_str());
    return 0;
  }
  if (cases.empty()) {
    fprintf(stderr, "no workload matches --workloads (see --list)\n");
    return 2;
  }

  compiler::CpuTarget cpu = compiler::CpuTarget::host();
  TargetInfo target = cpu.info;
  std::string targetKey = cpu.key(), epoch = compiler::tuningEpoch();
  // As kjit-tune --threads=N: every candidate (and the default) uses N.
  if (opt.threads > 0 && opt.threads != target.numCores) {
    target.numCores = opt.threads;
    targetKey += ";tuned-threads=" + std::to_string(opt.threads);
  }
  printf("target: %s\ntuning epoch: %s\n", targetKey.c_str(), epoch.c_str());
  printf("settings: pruned budget %.0f s (at most 10%% of the legal space), "
         "exhaustive up to %llu legal points else a random sample of %llu "
         "(budget %.0f s), %d interleaved rounds\n\n",
         opt.prunedBudget, (unsigned long long)opt.exhaustiveLimit,
         (unsigned long long)opt.sample, opt.sampleBudget, opt.rounds);

  std::map<std::string, Row> done;
  if (!opt.state.empty()) {
    std::ifstream in(opt.state);
    for (std::string line; std::getline(in, line);) {
      Row r;
      if (deserialize(line, r))
        done[r.name] = r;
    }
  }
  std::unique_ptr<SqliteDatabase> db;
  if (!opt.db.empty()) {
    auto d = SqliteDatabase::open(opt.db);
    if (!d) {
      fprintf(stderr, "%s\n", llvm::toString(d.takeError()).c_str());
      return 2;
    }
    db = std::move(*d);
  }
  JitOptions jo;
  jo.tuningDb = "off";
  jo.onlineTuneBudgetSeconds = 0;
  Jit jit(Target::host(), jo);
  RuntimeMeasurer measurer(jit, target);

  std::vector<Row> rows;
  for (const Case &c : cases) {
    if (auto it = done.find(c.name); it != done.end()) {
      printf("%s: resumed from %s\n", c.name.c_str(), opt.state.c_str());
      rows.push_back(it->second);
      continue;
    }
    auto ws = extractWorkloads(c.mlir);
    if (!ws) {
      fprintf(stderr, "%s: %s\n", c.name.c_str(),
              llvm::toString(ws.takeError()).c_str());
      return 1;
    }
    const Workload &w = ws->front();
    auto pw = ParsedWorkload::parse(w);
    if (!pw) {
      fprintf(stderr, "%s: %s\n", c.name.c_str(),
              llvm::toString(pw.takeError()).c_str());
      return 1;
    }
    EnumeratedSpace space = (*pw)->enumerate(target);
    PruningReport report;
    std::vector<SpacePoint> survivors =
        prune(space, defaultRules(), target, report);
    Row r;
    r.name = c.name;
    r.family = c.family;
    r.legal = space.legal.size();
    r.survivors = survivors.size();
    r.prunedCap = std::max<uint64_t>(1, r.legal / 10);
    r.exhaustive = r.legal <= opt.exhaustiveLimit;
    printf("== %s (%s; %s): raw %llu, legal %llu, survivors %llu\n",
           c.name.c_str(), c.family.c_str(), c.what.c_str(),
           (unsigned long long)space.rawSize, (unsigned long long)r.legal,
           (unsigned long long)r.survivors);
    fflush(stdout);
    if (opt.dryRun)
      continue;

    // 1. The pruned search, as kjit-tune runs it.
    TuneOptions po;
    po.strategy = "pruned";
    // The default is measured too: cap - 1 more keep the total within 10%.
    po.topK = std::max<uint64_t>(1, r.prunedCap - 1);
    // The search stops at 80% of the budget; the paired final (the 3
    // fastest, then the winner against the default) takes the rest.
    po.budget.seconds = 0.8 * opt.prunedBudget;
    po.resume = false;
    po.finalists = 3;
    auto pruned =
        tuneWorkload(w, target, targetKey, epoch, db.get(), &measurer, po);
    if (!pruned || pruned->bestConfig.empty()) {
      fprintf(stderr, "%s: pruned search failed: %s\n", c.name.c_str(),
              pruned ? "no candidate ran"
                     : llvm::toString(pruned.takeError()).c_str());
      return 1;
    }
    r.prunedMeasured = pruned->measured + pruned->failed;
    r.tuneSeconds = pruned->seconds;
    printf("  pruned: %llu measured (%llu failed) in %.1f s\n",
           (unsigned long long)r.prunedMeasured,
           (unsigned long long)pruned->failed, r.tuneSeconds);
    fflush(stdout);

    // 2. The unpruned legal space: all of it, or a random sample.
    TuneOptions uo;
    uo.strategy = "random";
    uo.topK = r.exhaustive ? 0 : opt.sample;
    uo.budget.seconds = r.exhaustive ? 10 * opt.sampleBudget : opt.sampleBudget;
    uo.seed = 7;
    uo.resume = false;
    uo.finalists = 3; // the same final as the pruned search
    auto unpruned =
        tuneWorkload(w, target, targetKey, epoch, db.get(), &measurer, uo);
    if (!unpruned || unpruned->bestConfig.empty()) {
      fprintf(stderr, "%s: unpruned search failed: %s\n", c.name.c_str(),
              unpruned ? "no candidate ran"
                       : llvm::toString(unpruned.takeError()).c_str());
      return 1;
    }
    r.unprunedMeasured = unpruned->measured + unpruned->failed;
    r.unprunedSeconds = unpruned->seconds;
    if (r.exhaustive && r.unprunedMeasured < r.legal)
      r.exhaustive = false; // the time budget cut it short
    printf("  unpruned (%s): %llu measured (%llu failed) in %.1f s\n",
           r.exhaustive ? "exhaustive" : "random sample",
           (unsigned long long)r.unprunedMeasured,
           (unsigned long long)unpruned->failed, r.unprunedSeconds);
    fflush(stdout);

    // 3. Final: interleaved rounds over the four picks, medians.
    std::vector<std::string> picks = {pruned->defaultConfig,
                                      pruned->bestConfig,
                                      unpruned->bestConfig,
                                      pruned->modelPick};
    std::vector<std::string> uniq;
    for (const std::string &p : picks)
      if (!p.empty() && std::find(uniq.begin(), uniq.end(), p) == uniq.end())
        uniq.push_back(p);
    std::map<std::string, std::vector<double>> times;
    for (int round = 0; round < opt.rounds; ++round)
      for (const std::string &p : uniq) {
        Measurement m = measurer.measure(w, Candidate{p});
        if (m.ok())
          times[p].push_back(m.medianSeconds);
      }
    auto us = [&](const std::string &p) {
      auto it = times.find(p);
      return it == times.end() || it->second.empty()
                 ? INFINITY
                 : 1e6 * median(it->second);
    };
    r.defaultUs = us(picks[0]);
    r.tunedUs = us(picks[1]);
    double unprunedUs = us(picks[2]);
    r.modelUs = us(picks[3]);
    r.bestUs = std::min({r.defaultUs, r.tunedUs, unprunedUs, r.modelUs});
    r.bestFrom = r.bestUs == r.tunedUs    ? "pruned"
                 : r.bestUs == unprunedUs ? "unpruned"
                 : r.bestUs == r.modelUs  ? "model"
                                          : "default";
    printf("  default %.1f us, pruned winner %.1f us, unpruned winner %.1f "
           "us, model pick %.1f us\n  pruned winner: %s\n  unpruned winner: "
           "%s\n  model pick: %s\n",
           r.defaultUs, r.tunedUs, unprunedUs, r.modelUs,
           pruned->bestConfig.c_str(), unpruned->bestConfig.c_str(),
           pruned->modelPick.c_str());
    fflush(stdout);
    rows.push_back(r);
    if (!opt.state.empty()) {
      std::ofstream out(opt.state, std::ios::app);
      out << serialize(r) << "\n";
    }
  }
  if (opt.dryRun)
    return 0;

  printf("\n| workload | family | legal | survivors | pruned measured | "
         "unpruned measured | default us | tuned us | speed-up | best us | "
         "tuned/best | model/best | tuning s |\n");
  printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  double logSpeed = 0;
  int within5 = 0, model10 = 0, fast = 0, fraction = 0;
  for (const Row &r : rows) {
    double speed = r.defaultUs / r.tunedUs;
    logSpeed += std::log(speed);
    double tunedRel = r.tunedUs / r.bestUs, modelRel = r.modelUs / r.bestUs;
    within5 += tunedRel <= 1.05;
    model10 += modelRel <= 1.10;
    fast += r.tuneSeconds <= 30;
    fraction += r.prunedMeasured <= std::max<uint64_t>(1, r.legal / 10);
    printf("| %s | %s | %llu | %llu | %llu (%.1f%%) | %llu (%s) | %.1f | "
           "%.1f | %.2fx | %.1f | %.3f | %.3f | %.1f |\n",
           r.name.c_str(), r.family.c_str(), (unsigned long long)r.legal,
           (unsigned long long)r.survivors,
           (unsigned long long)r.prunedMeasured,
           100.0 * r.prunedMeasured / std::max<uint64_t>(1, r.legal),
           (unsigned long long)r.unprunedMeasured,
           r.exhaustive ? "all" : "sample", r.defaultUs, r.tunedUs, speed,
           r.bestUs, tunedRel, modelRel, r.tuneSeconds);
  }
  size_t n = rows.size();
  printf("\ngeomean speed-up tuned/default: %.2fx (goal >= 1.3x)\n",
         std::exp(logSpeed / n));
  printf("pruned winner within 5%% of the best: %d/%zu (goal >= 90%%)\n",
         within5, n);
  printf("pruned search measured <= 10%% of the legal space: %d/%zu\n",
         fraction, n);
  printf("tuning time <= 30 s: %d/%zu\n", fast, n);
  printf("model-only pick within 10%% of the best: %d/%zu (goal >= 80%%)\n",
         model10, n);
  return 0;
}
