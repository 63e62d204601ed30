//===- Statistics.h - timings that hold on a noisy machine -----*- C++ -*-===//
//
// Issue 11, items 1 and 2. A candidate's time is a distribution, not a
// number: on a shared VM one run in ten may be descheduled, and the same
// kernel's median moves by tens of percent between minutes. So:
//   - one candidate: warm-up, then repeats until the 95% confidence
//     interval of its median is within a target (a few percent) of it, or
//     its time budget is spent (adaptiveRepeat);
//   - two candidates: run alternately in one process (a b a b ...: each
//     run follows the other kernel, as a kernel run twice in a row is
//     warmer), one ratio per pair (pairedCompare); never medians taken
//     minutes apart;
//   - the machine's noise: the relative half inter-quartile range of
//     repeated timings of one kernel;
//   - 1-thread kernels: the thread's CPU time is a second signal; a run
//     whose CPU time falls short of its wall time was descheduled and is
//     left out, but only while most runs agree (otherwise CPU time is not
//     measuring the same thing and wall time alone is used).
// Intervals of a median are distribution-free (order statistics), so that
// a few huge outliers widen nothing. Everything here is deterministic given
// the samples: tests drive it with a seeded fake timer.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_AUTOTUNE_STATISTICS_H
#define KJIT_AUTOTUNE_STATISTICS_H

#include <functional>
#include <string>
#include <vector>

namespace kjit::autotune {

/// One timed run: wall seconds, and the thread's CPU seconds (< 0: none).
struct Sample {
  double wall = 0;
  double cpu = -1;
};

/// Times one run into the sample; returns "" or why the run failed.
using RunFn = std::function<std::string(Sample &)>;

/// Median, minimum and the 95% interval of the median of some times.
struct TimeSummary {
  double median = 0, min = 0, max = 0, ciLow = 0, ciHigh = 0;
  /// Relative half inter-quartile range: (q3 - q1) / 2 / median.
  double noise = 0;
  int runs = 0;
  /// Half the interval's width relative to the median.
  double relativeHalfWidth() const {
    return median > 0 ? 0.5 * (ciHigh - ciLow) / median : 0;
  }
};

/// The summary of `times` (empty: all zero). The interval holds the
/// median with probability >= `confidence` whatever the distribution
/// (binomial order statistics, normal approximation); with too few runs
/// for that, it is [min, max].
TimeSummary summarize(std::vector<double> times, double confidence = 0.95);

/// Two-sided standard normal quantile for a confidence (0.95 -> 1.96).
double normalQuantile(double confidence);

/// The wall times to trust: where every sample has a CPU time and at least
/// half of them agree with their wall time (cpu >= (1 - tolerance) * wall),
/// the agreeing ones; else all wall times. `dropped` counts those left out.
std::vector<double> trustedTimes(const std::vector<Sample> &samples,
                                 double tolerance, int &dropped);

struct AdaptiveOptions {
  int warmup = 2;   ///< untimed runs first
  int minRuns = 7;  ///< timed runs at least
  int maxRuns = 1000;
  /// Stop once the interval's half-width is within this fraction of the
  /// median (0.03: +-3%).
  double targetRelativeCI = 0.03;
  /// Stop once the timed runs add up to this many seconds (after minRuns).
  double budgetSeconds = 1.0;
  double confidence = 0.95;
  /// Tolerance of the CPU-time agreement (trustedTimes).
  double cpuTolerance = 0.10;
};

struct AdaptiveResult {
  std::string error; ///< a run failed ("" when not)
  TimeSummary summary;
  bool converged = false; ///< the target was reached (not the budget)
  int descheduled = 0;    ///< runs left out by the CPU-time signal
  int timedRuns = 0;      ///< runs timed (including those left out)
};

/// Warm-up, then repeats of `run` until the target or the budget.
AdaptiveResult adaptiveRepeat(const RunFn &run, const AdaptiveOptions &o);

struct PairOptions {
  int warmup = 1;    ///< untimed runs of each side first
  int minPairs = 8;
  int maxPairs = 400;
  /// Stop once both sides' timed runs add up to this many seconds.
  double budgetSeconds = 2.0;
  double confidence = 0.95;
  /// The ratio (time of b / time of a) that decides: stop as soon as the
  /// interval of the ratio lies wholly below or wholly above it.
  double threshold = 1.0;
  double cpuTolerance = 0.10;
};

struct PairedResult {
  std::string error; ///< a run failed (which side, why); "" when not
  /// Median of the per-pair ratios time(b) / time(a), and its 95% interval
  /// (< 1: b is faster).
  double ratio = 1, ratioLow = 1, ratioHigh = 1;
  int pairs = 0;   ///< pairs used
  int dropped = 0; ///< pairs left out by the CPU-time signal
  bool ok() const { return error.empty() && pairs > 0; }
  /// b is faster than a by more than `threshold` (a ratio) at the
  /// interval's confidence.
  bool bFasterThan(double threshold) const {
    return ok() && ratioHigh < threshold;
  }
};

/// `a` and `b` alternated in this process (a b a b ...), one ratio per
/// pair, until the ratio's interval excludes `threshold`, or the budget or
/// maxPairs ends it.
PairedResult pairedCompare(const RunFn &a, const RunFn &b,
                           const PairOptions &o);

/// The threshold a confirmed win must beat: a ratio below 1 / (1 + noise),
/// i.e. a speed-up larger than the measured noise.
inline double winThreshold(double noise) { return 1.0 / (1.0 + noise); }

} // namespace kjit::autotune

#endif
