//===- OnlineTuning.h - background tuning of compiled kernels --*- C++ -*-===//
//
// Internal to libkjit. On-line tuning (nn-JIT.web style): a compile with a
// budget returns its default kernel at once and queues a job here; one
// worker thread per Jit takes the jobs in order (so that two tunings never
// disturb each other's timings), tunes each op of the job's module that
// needs it with autotune::tuneWorkload (pruned space in cost-model order,
// default first, a paired final for the finalists and the winner against
// the default, every measurement recorded in the tuning database) within the
// budget, and hands the winner per op to the job's `finish`, which compiles
// and swaps the code: a winner not confirmed beyond the noise is the default
// itself, so the code is swapped only on a confirmed win.
// Candidates are measured in a helper process (autotune::ProcessMeasurer:
// a crash or hang is a failed record, the application lives on) or, when
// the user opted in, in this process on a private Jit (one per job, so the
// code of its candidates is unloaded when the job ends).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_ONLINETUNING_H
#define KJIT_RUNTIME_ONLINETUNING_H

#include "kjit/kjit.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kjit::runtime {

/// What a tuning job found.
struct OnlineTuneResult {
  /// Per tuned op index: the winner (the default unless a win over it was
  /// confirmed).
  std::map<unsigned, std::string> configs;
  /// Per tuned op index: candidates measured successfully.
  std::map<unsigned, uint64_t> measured;
  /// Per op index: why it was not tuned (an error of its own).
  std::map<unsigned, std::string> errors;
  std::string error;   ///< the whole job failed (e.g. unparsable module)
  std::string dbNote;  ///< why nothing was recorded ("" when recorded)
  bool stopped = false; ///< the Jit was destroyed mid-way
};

struct OnlineTuneJob {
  std::string moduleText;
  std::vector<unsigned> ops; ///< kjit op indices to tune (program order)
  double budgetSeconds = 0;
  int threads = 0;
  /// Called once on the worker thread (also when stopped or failed).
  std::function<void(const OnlineTuneResult &)> finish;
};

class OnlineTuner {
public:
  /// `target`: the owning Jit's (candidates are measured there: on the host
  /// CPU, or on the CUDA device with events, the L2 flushed between runs);
  /// `jitOptions`: the owning Jit's (cache settings for the private Jit);
  /// `dbPath`: the resolved tuning database ("" or "off": not recorded);
  /// the kjit cache directory's is created when missing; `workerPath`: the
  /// measuring worker (kjit-tune), "" to measure in this process.
  OnlineTuner(Target target, JitOptions jitOptions, std::string dbPath,
              std::string workerPath);
  /// Stops: the job being measured ends after its current candidate (a
  /// measuring process is killed at once), queued jobs finish as stopped;
  /// joins the worker.
  ~OnlineTuner();
  void submit(OnlineTuneJob job);

private:
  void loop();
  OnlineTuneResult runJob(const OnlineTuneJob &job);

  Target target_;
  JitOptions jitOptions_;
  std::string dbPath_;
  bool createDbDirectory_ = false; ///< dbPath_ is in the kjit cache dir
  std::string workerPath_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<OnlineTuneJob> queue_;
  std::atomic<bool> stop_{false};
  std::thread worker_;
};

} // namespace kjit::runtime

#endif
