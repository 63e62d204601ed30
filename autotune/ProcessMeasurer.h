//===- ProcessMeasurer.h - measure each candidate in a child ---*- C++ -*-===//
//
// The offline tuner measures every candidate in a fresh child process (the
// kjit-tune binary itself, run as `kjit-tune --measure-worker REQ RES`), so
// that a candidate that segfaults or hangs is recorded as a failed candidate
// (status crash / timeout) and tuning goes on. The child is started with
// posix_spawn (no fork of a multithreaded process holding an MLIR context),
// in a process group of its own (a terminal's Ctrl-C reaches the tuner only:
// it kills the child and stops cleanly). A time-out or a stop kills the
// whole group, so that what the worker started (ptxas) dies with it. The
// request and the result travel as JSON files.
//
// Temporary files: each measurer makes one private directory,
// <tmp>/kjit-measure-<pid>-XXXXXX (mode 0700), for its request, result and
// the worker's stderr; it is the worker's TMPDIR too, and it is removed
// with the measurer. <tmp> is $TMPDIR, else /tmp; a TMPDIR where no
// directory can be made (missing, not a directory, not writable) gets one
// warning and /tmp instead. At start-up the measurer removes the private
// directories that dead processes (kill -9) left in <tmp>, never a live
// process's: the pid in the name is checked with kill(pid, 0).
//
// Failures of the measuring itself (bad options, no temporary directory,
// a worker that cannot be started) are not the candidate's: measure() then
// returns a failure at once and infrastructureError() says why; a driver
// stops tuning without recording it (kjit-tune returns it through
// TuneOptions::stop, like an interrupt, and exits 1).
//
// Test hook: KJIT_TUNE_TEST_FAULT="crash:TEXT" (or "hang:TEXT") makes the
// worker crash with SIGSEGV (or hang) for a candidate whose config text
// contains TEXT; "hang-with-child:TEXT" hangs too after starting a
// `sleep 300` in the worker's process group, whose pid it writes to the
// file $KJIT_TUNE_TEST_FAULT_PIDFILE. Nothing else reads them.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_AUTOTUNE_PROCESSMEASURER_H
#define KJIT_AUTOTUNE_PROCESSMEASURER_H

#include "autotune/Measurer.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <atomic>

namespace kjit::autotune {

struct ProcessMeasureOptions {
  /// The worker executable (kjit-tune); it is run as
  /// `<workerPath> --measure-worker <request.json> <result.json>`.
  std::string workerPath;
  /// Wall-clock seconds for one candidate (compile + runs); the child is
  /// killed after it and the candidate recorded as a timeout. A finite
  /// number > 0 (prepare() refuses anything else).
  double timeoutSeconds = 60;
  /// Threads the target is tuned for (0: every core); the worker verifies
  /// configs against the host with that many cores.
  unsigned threads = 0;
  /// The named CPU target the worker compiles for and verifies configs
  /// against (compiler::CpuTarget::named: "x86-64-v3", ...); "": the host.
  std::string cpuTarget;
  /// A CUDA device to measure on (-1: the host CPU). The worker compiles
  /// for Target::cuda(cudaDevice) and times each run with CUDA events (the
  /// L2 flushed before each), verifying configs against `cudaChip`'s facts
  /// (compiler::cudaTargetInfo) with `cudaSmCount` SMs, as the tuner does.
  int cudaDevice = -1;
  std::string cudaChip;
  unsigned cudaSmCount = 0;
  MeasureOptions measure;
  /// When it becomes true the running child is killed and measure() returns
  /// at once (interrupted() is then true; the result is not a measurement).
  const std::atomic<bool> *stop = nullptr;
};

class ProcessMeasurer : public Measurer {
public:
  explicit ProcessMeasurer(ProcessMeasureOptions options);
  /// Removes the private directory.
  ~ProcessMeasurer() override;
  ProcessMeasurer(const ProcessMeasurer &) = delete;
  ProcessMeasurer &operator=(const ProcessMeasurer &) = delete;

  /// Checks the options and the worker, removes dead processes' leftovers
  /// and makes the private directory; done once (the first measure() does
  /// it when nobody did). An error means that nothing can be measured.
  llvm::Error prepare();
  Measurement measure(const Workload &workload,
                      const Candidate &candidate) override;
  /// Both candidates compiled in one child, their single runs alternated
  /// there (the worker's "compare_config" request).
  PairedResult compare(const Workload &workload, const Candidate &a,
                       const Candidate &b, const PairOptions &options) override;
  /// True when the last measure() was cut short by `stop`.
  bool interrupted() const { return interrupted_; }
  /// Why the measuring itself failed ("" while it works); once set, the
  /// last measure() and every later one return a failure that is not the
  /// candidate's and must not be recorded.
  const std::string &infrastructureError() const { return broken_; }

private:
  Measurement infrastructureFailure(std::string why);
  /// The worker's request for one candidate.
  llvm::json::Object request(const Workload &workload,
                             const Candidate &candidate) const;
  /// Runs the worker on `request`: its result object in `out` (status in
  /// the returned Measurement), or a failure (crash, timeout, interrupt).
  Measurement runChild(llvm::json::Object request,
                       std::optional<llvm::json::Object> &out);

  ProcessMeasureOptions options_;
  bool prepared_ = false;
  bool interrupted_ = false;
  std::string broken_;
  /// <tmp>/kjit-measure-<pid>-XXXXXX, once prepared.
  std::string dir_;
};

/// The worker's side: reads the request, measures the candidate in this
/// process with RuntimeMeasurer and writes the result. Returns the exit code.
int runMeasureWorker(const std::string &requestPath,
                     const std::string &resultPath);

} // namespace kjit::autotune

#endif
