//===- OnlineTuning.cpp - background tuning of compiled kernels ----------===//
#include "OnlineTuning.h"

#include "RuntimeInternal.h"
#include "Selection.h"
#include "autotune/Measurer.h"
#include "autotune/ProcessMeasurer.h"
#include "autotune/Tuner.h"
#include "compiler/Compiler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>

using namespace kjit;
using namespace kjit::runtime;

namespace kjit::runtime {
llvm::Expected<compiler::CpuTarget> cpuTargetOf(const Target &target);
} // namespace kjit::runtime

Result<double> kjit::parseTuneSpec(const std::string &spec, bool *inProcess) {
  auto bad = [&](const std::string &why) -> Result<double> {
    return userError("KJIT_TUNE: " + why + " in '" + spec +
                     "' (expected 'budget:<seconds>' such as budget:30 or "
                     "budget:1.5s, optionally followed by ',in-process', "
                     "or 'off')");
  };
  auto trim = [](std::string s) {
    while (!s.empty() && isspace((unsigned char)s.back()))
      s.pop_back();
    size_t b = 0;
    while (b < s.size() && isspace((unsigned char)s[b]))
      ++b;
    return s.substr(b);
  };
  if (inProcess)
    *inProcess = false;
  std::string s = trim(spec);
  if (s.empty() || s == "off" || s == "0")
    return 0.0;
  // The budget, then the optional mode.
  bool local = false;
  if (size_t comma = s.find(','); comma != std::string::npos) {
    std::string mode = trim(s.substr(comma + 1));
    if (mode != "in-process")
      return bad("unknown option '" + mode + "'");
    local = true;
    s = trim(s.substr(0, comma));
  }
  const std::string prefix = "budget:";
  if (s.compare(0, prefix.size(), prefix) != 0)
    return bad(local ? "no budget" : "unknown setting");
  std::string num = s.substr(prefix.size());
  if (!num.empty() && num.back() == 's')
    num.pop_back();
  if (num.empty())
    return bad("no number of seconds");
  // strtod accepts what we want (digits, a point, an exponent) and also
  // "inf", "nan" and hex: those are refused below.
  for (char c : num)
    if (!isdigit((unsigned char)c) && c != '.' && c != 'e' && c != 'E' &&
        c != '+' && c != '-')
      return bad("'" + num + "' is not a number of seconds");
  char *end = nullptr;
  double v = strtod(num.c_str(), &end);
  if (!end || *end != '\0' || !std::isfinite(v))
    return bad("'" + num + "' is not a number of seconds");
  if (v < 0)
    return bad("a negative budget");
  if (v > 24 * 3600.0)
    return bad("a budget above one day");
  if (inProcess)
    *inProcess = local;
  return v;
}

OnlineTuner::OnlineTuner(Target target, JitOptions jitOptions,
                         std::string dbPath, std::string workerPath)
    : target_(target), jitOptions_(std::move(jitOptions)),
      dbPath_(std::move(dbPath)),
      // (jitOptions_ is initialized first: the Jit's own setting.)
      createDbDirectory_(
          TuningSelector::inCacheDirectory(jitOptions_.tuningDb)),
      workerPath_(std::move(workerPath)) {
  // In-process mode: the private Jit measures candidates only: no database
  // lookups, no tuning of its own (its memory cache serves the
  // confirmation rounds).
  jitOptions_.tuningDb = "off";
  jitOptions_.onlineTuneBudgetSeconds = 0;
  worker_ = std::thread([this] { loop(); });
}

OnlineTuner::~OnlineTuner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable())
    worker_.join();
}

void OnlineTuner::submit(OnlineTuneJob job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_all();
}

void OnlineTuner::loop() {
  for (;;) {
    OnlineTuneJob job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty())
        return; // stopped, nothing left to report
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    OnlineTuneResult r;
    if (stop_)
      r.stopped = true;
    else
      r = runJob(job);
    if (job.finish)
      job.finish(r);
  }
}

OnlineTuneResult OnlineTuner::runJob(const OnlineTuneJob &job) {
  using Clock = std::chrono::steady_clock;
  auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(job.budgetSeconds));
  OnlineTuneResult r;
  auto workloads = autotune::extractWorkloads(job.moduleText);
  if (!workloads) {
    r.error = llvm::toString(workloads.takeError());
    return r;
  }
  std::unique_ptr<autotune::SqliteDatabase> db;
  if (dbPath_.empty() || dbPath_ == "off") {
    r.dbNote = "no tuning database";
  } else {
    auto opened = autotune::SqliteDatabase::open(dbPath_, createDbDirectory_);
    if (opened)
      db = std::move(*opened);
    else
      r.dbNote = llvm::toString(opened.takeError());
  }
  // The records say what measured them (kjit-tune writes
  // "kjit-tune:<strategy>").
  const bool inProcess = workerPath_.empty();
  if (db)
    db->setSource(inProcess ? "online-in-process:pruned" : "online:pruned");
  // What is measured and where it is recorded: the host CPU tuned for the
  // job's threads, or the CUDA device (the key run-time selection reads).
  TuningTarget tt;
  if (target_.kind == Target::Kind::CUDA) {
    auto t = cudaTuningTarget(target_.ordinal);
    if (!t) {
      r.error = llvm::toString(t.takeError());
      return r;
    }
    tt = std::move(*t);
  } else {
    // The Jit's CPU: the host, or the named target it compiles for.
    auto cpu = cpuTargetOf(target_);
    if (!cpu) {
      r.error = llvm::toString(cpu.takeError());
      return r;
    }
    tt = cpuTuningTarget(*cpu, job.threads);
  }
  const TargetInfo &target = tt.info;
  const std::string &targetKey = tt.key;
  // Recorded under the tuning epoch, which selection reads; an older
  // epoch's records of the workload seed the search (TuneOptions::maxSeeds).
  std::string epoch = compiler::tuningEpoch();
  // Where candidates run: a helper process per candidate on the same target
  // (the host CPU for the job's threads, or the CUDA device), or, opted
  // into, this process with a Jit that lives for this job only.
  std::unique_ptr<Jit> jit;
  std::unique_ptr<autotune::Measurer> measurer;
  autotune::MeasureOptions measureOptions;
  // 1 thread: the thread's CPU time tells descheduled runs.
  measureOptions.cpuTime =
      job.threads == 1 && target_.kind == Target::Kind::CPU;
  // Adaptive repeats of one candidate get a slice of the job's budget, not
  // kjit-tune's second: a 1.5 s budget must still measure several
  // candidates when the machine is too noisy for the interval to close.
  measureOptions.budgetSeconds =
      std::clamp(0.05 * job.budgetSeconds / double(job.ops.size()), 0.01,
                 measureOptions.budgetSeconds);
  autotune::ProcessMeasurer *process = nullptr; ///< measurer, when isolated
  if (inProcess) {
    jit = std::make_unique<Jit>(target_, jitOptions_);
    measurer = std::make_unique<autotune::RuntimeMeasurer>(*jit, target,
                                                           measureOptions);
  } else {
    autotune::ProcessMeasureOptions po;
    po.workerPath = workerPath_;
    // A hung candidate costs at most this; the budget is no shorter.
    po.timeoutSeconds = std::clamp(job.budgetSeconds, 10.0, 60.0);
    po.threads = unsigned(std::max(0, job.threads));
    if (target_.kind == Target::Kind::CPU)
      po.cpuTarget = target_.cpuName;
    if (tt.cudaOrdinal >= 0) {
      po.cudaDevice = tt.cudaOrdinal;
      po.cudaChip = tt.cudaChip;
      po.cudaSmCount = tt.info.smCount;
    }
    po.measure = measureOptions;
    po.stop = &stop_; // a destroyed Jit kills the candidate being measured
    auto pm = std::make_unique<autotune::ProcessMeasurer>(po);
    // Nothing can be measured (no temporary directory, a worker that does
    // not start): the job's error, no candidate recorded as failed.
    if (llvm::Error e = pm->prepare()) {
      r.error = "cannot measure: " + llvm::toString(std::move(e));
      return r;
    }
    process = pm.get();
    measurer = std::move(pm);
  }
  // The measuring itself failing mid-job stops it: the candidate it was
  // measuring is not recorded, and nothing after it could be measured.
  auto measuringBroken = [&] {
    return process && !process->infrastructureError().empty();
  };

  for (size_t n = 0; n < job.ops.size(); ++n) {
    unsigned i = job.ops[n];
    if (stop_) {
      r.stopped = true;
      break;
    }
    if (i >= workloads->size()) {
      r.errors[i] = "internal error (please report): op " +
                    std::to_string(i) + " is not among the module's " +
                    std::to_string(workloads->size()) + " kjit ops";
      continue;
    }
    // The budget left, shared evenly among the ops left.
    double left =
        std::chrono::duration<double>(deadline - Clock::now()).count();
    autotune::TuneOptions options;
    options.strategy = "pruned";
    // The search gets 80% of this op's share; the paired final (the two
    // fastest against each other, the winner against the default: code is
    // swapped only on a win confirmed beyond the noise) the rest.
    double share = left / double(job.ops.size() - n);
    options.budget.seconds = std::max(1e-3, 0.8 * share);
    options.finalists = 2;
    options.pair.budgetSeconds = std::max(1e-3, 0.05 * share);
    options.resume = false;
    options.stop = [&] { return stop_.load() || measuringBroken(); };
    auto res = autotune::tuneWorkload((*workloads)[i], target, targetKey, epoch,
                                      db.get(), measurer.get(), options);
    if (measuringBroken()) {
      if (!res)
        llvm::consumeError(res.takeError());
      for (size_t rest = n; rest < job.ops.size(); ++rest)
        r.errors[job.ops[rest]] =
            "cannot measure: " + process->infrastructureError();
      break;
    }
    if (!res) {
      r.errors[i] = llvm::toString(res.takeError());
      continue;
    }
    r.measured[i] = res->measured;
    // The default unless a win over it was confirmed: the code is swapped
    // only then (the default's code is what runs already).
    if (!res->bestConfig.empty())
      r.configs[i] = res->bestConfig;
    else
      r.errors[i] = "no candidate ran (" + std::to_string(res->failed) +
                    " failed)";
  }
  if (stop_)
    r.stopped = true;
  return r;
}
