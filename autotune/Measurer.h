//===- Measurer.h - time a candidate through the runtime -------*- C++ -*-===//
#ifndef KJIT_AUTOTUNE_MEASURER_H
#define KJIT_AUTOTUNE_MEASURER_H

#include "autotune/Autotune.h"
#include "autotune/Space.h"
#include "kjit/kjit.h"

#include <map>
#include <memory>

namespace kjit::autotune {

struct MeasureOptions {
  int warmup = 2;   ///< untimed runs after the compile
  /// Timed runs at least; then more until the 95% interval of the median
  /// is within `targetCI` of it, or `budgetSeconds` of runs are spent, or
  /// `maxRepeats` runs (Statistics.h, adaptiveRepeat).
  int repeats = 7;
  double targetCI = 0.03;
  double budgetSeconds = 1.0;
  int maxRepeats = 1000;
  /// 1-thread kernels: the calling thread's CPU time is a second signal
  /// (a run descheduled by the VM is left out while most runs agree).
  bool cpuTime = false;
  /// Input sets rotated between runs so that caches do not flatter: at
  /// least this many, and enough to exceed `rotateBytes` in total.
  int minInputSets = 2;
  double rotateBytes = 8.0 * 1024 * 1024;
  unsigned seed = 1;
};

/// The repeat options of MeasureOptions for adaptiveRepeat.
AdaptiveOptions adaptiveOptions(const MeasureOptions &o);

/// A Measurer over something that times one run of a prepared candidate:
/// measure() is a warm-up and adaptive repeats, compare() alternates single
/// runs of both candidates in this process. Tests derive a fake timer from
/// it; RuntimeMeasurer derives the real one.
class SamplingMeasurer : public Measurer {
public:
  explicit SamplingMeasurer(MeasureOptions options) : options_(options) {}
  Measurement measure(const Workload &workload,
                      const Candidate &candidate) override;
  PairedResult compare(const Workload &workload, const Candidate &a,
                       const Candidate &b, const PairOptions &options) override;
  const MeasureOptions &options() const { return options_; }

protected:
  /// A candidate ready to run: `run` times one run (it owns what it needs);
  /// when empty, `failure` says why (illegal, compile error).
  struct Prepared {
    RunFn run;
    Measurement failure;
  };
  virtual Prepared prepare(const Workload &workload,
                           const Candidate &candidate) = 0;
  /// Both candidates of a comparison (b is not prepared when a fails).
  virtual std::pair<Prepared, Prepared>
  preparePair(const Workload &workload, const Candidate &a, const Candidate &b);
  MeasureOptions options_;
};

/// Compiles a candidate with the runtime (Jit::compileModule, config =
/// the candidate) and times Kernel::run: warm-up, adaptive repeats, rotated
/// freshly filled input buffers (a CSR operand gets a valid random
/// structure). An illegal config (verifyConfig) and a compile error come
/// back as failed measurements with the message.
class RuntimeMeasurer : public SamplingMeasurer {
public:
  RuntimeMeasurer(kjit::Jit &jit, TargetInfo target,
                  MeasureOptions options = {});
  ~RuntimeMeasurer() override;

protected:
  Prepared prepare(const Workload &workload,
                   const Candidate &candidate) override;
  /// The two kernels run on the same input and output buffers.
  std::pair<Prepared, Prepared> preparePair(const Workload &workload,
                                            const Candidate &a,
                                            const Candidate &b) override;

private:
  /// `shared`: where a pair's buffers are kept (made by the first call,
  /// reused by the second); null: buffers of its own.
  Prepared prepareSharing(const Workload &workload, const Candidate &candidate,
                          std::shared_ptr<void> *shared);
  kjit::Jit &jit_;
  TargetInfo target_;
  std::map<std::string, std::unique_ptr<ParsedWorkload>> parsed_;
};

} // namespace kjit::autotune

#endif
