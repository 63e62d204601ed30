//===- Tuner.h - tune one workload: space, prune, rank, measure -*- C++ -*-===//
#ifndef KJIT_AUTOTUNE_TUNER_H
#define KJIT_AUTOTUNE_TUNER_H

#include "autotune/CostModel.h"
#include "autotune/Database.h"
#include "autotune/Pruning.h"
#include "autotune/Search.h"

#include <atomic>
#include <functional>

namespace kjit::autotune {

struct TuneOptions {
  std::string strategy = "pruned"; ///< pruned | guided | random | model
  Budget budget;                   ///< per workload
  uint64_t topK = 0;               ///< pruned: measure at most the top k
  unsigned seed = 1;
  /// Skip workloads whose tuning run for these keys finished; an
  /// unfinished run's (killed, interrupted) measured candidates are not
  /// measured again, the rest are.
  bool resume = true;
  bool dryRun = false; ///< space and pruning only
  /// Records of this workload from another target or tuning epoch (an
  /// older kjit, LLVM or code generator) are never served as current, but
  /// their best configs (legal here) are measured first, right after the
  /// default: at most this many (0: none). The new measurement, recorded
  /// for these keys, is what can be served.
  uint64_t maxSeeds = 4;
  /// Polled before each measurement: true stops the search (the result
  /// holds what was measured so far). kjit-tune's SIGINT handler and on-line
  /// tuning (its Jit destroyed) stop through it; a failure seen once it is
  /// true is not recorded (the child was killed).
  std::function<bool()> stop;
  /// Called once before measuring, with how many candidates at most will be
  /// measured (default + seeds + the strategy's bound).
  std::function<void(uint64_t planned)> onPlan;
  /// After the search (issue 11): the `finalists` fastest configs by their
  /// search measurement (the default aside) meet in paired, interleaved
  /// comparisons (Measurer::compare), the incumbent against each
  /// challenger; then the winner against the default, always. The winner is
  /// served only when it beats the default by more than the noise measured
  /// on the default (95% confidence); otherwise the default is the winner.
  unsigned finalists = 3;
  /// Each comparison's bounds (its threshold is set by the tuner).
  PairOptions pair;
  /// CUDA targets: the gpu-registers stage after the rules (each survivor
  /// compiled for sm_<computeCapability> and assembled by ptxas -v), when
  /// at most gpuRegisters.maxCandidates survive (0: off).
  GpuRegisterStageOptions gpuRegisters;
};

struct TuneResult {
  Workload workload;
  PruningReport pruning;
  std::string defaultConfig;
  std::optional<double> defaultSeconds;
  std::string bestConfig;
  std::optional<double> bestSeconds;
  std::string modelPick; ///< the cost model's top candidate
  /// The pruned survivors in the cost model's order, with their features
  /// (on CUDA: ptxas's registers per thread when the gpu-registers stage
  /// ran).
  std::vector<SpacePoint> survivors;
  uint64_t measured = 0, failed = 0;
  uint64_t comparisons = 0; ///< paired comparisons after the search
  /// The machine's noise: the default's relative half inter-quartile range
  /// (Measurement::noise) at the start of the run.
  double noise = 0;
  /// The search's pick (before the paired final), and whether it was
  /// confirmed against the default; bestConfig is the winner served (the
  /// default when not confirmed).
  std::string searchBest;
  bool confirmed = false;
  /// Confirmed: speed-up over the default (1 / median paired ratio) and its
  /// 95% interval.
  double speedup = 0, speedupLow = 0, speedupHigh = 0;
  /// The confirmation's verdict in words ("confirmed", "not confirmed:
  /// default kept (...)", "default failed: ...").
  std::string confirmation;
  double seconds = 0;
  bool skipped = false; ///< resume: already tuned
  /// Resume: records of an unfinished earlier run taken as measured (not
  /// counted in measured/failed).
  uint64_t resumed = 0;
  bool interrupted = false; ///< stopped by TuneOptions::stop
  /// Set when the op offers nothing to tune on this target (no knobs, or
  /// not even its default config is legal: e.g. no code generator yet);
  /// then nothing is measured.
  std::string nothingToTune;
  uint64_t seeded = 0;      ///< foreign records' configs measured
  /// Best-so-far seconds after each measurement (NaN while none succeeded).
  std::vector<double> trace;
  /// The best time over every record of these keys when those cover every
  /// pruned survivor (the pruned-exhaustive optimum); else nothing.
  std::optional<double> exhaustiveBest;
};

/// Called after each measurement (index from 1).
using ProgressFn = std::function<void(uint64_t index, const Candidate &,
                                      const Measurement &)>;

/// The cost model's top candidate among the pruned survivors (the
/// model-only strategy, zero measurements); an error when nothing survives
/// or the workload does not parse.
llvm::Expected<std::string> modelOnlyPick(const Workload &workload,
                                          const TargetInfo &target);

/// The space (enumerate, prune with the default rules, rank with the
/// roofline model), then the default config and the strategy's candidates
/// measured and recorded in `db` (may be null). Model-only measures nothing
/// but the default. A measurement `db` cannot record (a full disk, a lock
/// held past the busy timeout, an I/O error) stops the workload with a
/// DatabaseError; the run is then unfinished, and resumed by the next one.
llvm::Expected<TuneResult> tuneWorkload(const Workload &workload,
                                        const TargetInfo &target,
                                        const std::string &targetKey,
                                        const std::string &compilerKey,
                                        SqliteDatabase *db, Measurer *measurer,
                                        const TuneOptions &options,
                                        const ProgressFn &progress = {});

} // namespace kjit::autotune

#endif
