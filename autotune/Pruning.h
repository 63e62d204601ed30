//===- Pruning.h - named hardware rules that shrink a space ----*- C++ -*-===//
#ifndef KJIT_AUTOTUNE_PRUNING_H
#define KJIT_AUTOTUNE_PRUNING_H

#include "autotune/Autotune.h"
#include "autotune/Space.h"

#include <functional>
#include <memory>

namespace kjit::autotune {

/// A rule from a name, a description and a predicate.
class FunctionRule : public PruningRule {
public:
  using Fn = std::function<bool(const CostFeatures &, const TargetInfo &)>;
  FunctionRule(std::string name, std::string description, Fn prunes)
      : name_(std::move(name)), description_(std::move(description)),
        prunes_(std::move(prunes)) {}
  std::string name() const override { return name_; }
  std::string description() const override { return description_; }
  bool prunes(const CostFeatures &f, const TargetInfo &t) const override {
    return prunes_(f, t);
  }

private:
  std::string name_, description_;
  Fn prunes_;
};

/// A rule relative to the candidates that reach it: `summarize` reduces
/// their features to one number (the best of something), `prunes` compares
/// a candidate with it. Without prepare() (no summary) it removes nothing.
class RelativeRule : public PruningRule {
public:
  using Summary = std::function<double(
      const std::vector<const CostFeatures *> &, const TargetInfo &)>;
  using Fn =
      std::function<bool(const CostFeatures &, const TargetInfo &, double)>;
  RelativeRule(std::string name, std::string description, Summary summarize,
               Fn prunes)
      : name_(std::move(name)), description_(std::move(description)),
        summarize_(std::move(summarize)), prunes_(std::move(prunes)) {}
  std::string name() const override { return name_; }
  std::string description() const override { return description_; }
  void prepare(const std::vector<const CostFeatures *> &alive,
               const TargetInfo &t) override {
    best_ = summarize_(alive, t);
    prepared_ = true;
  }
  bool prunes(const CostFeatures &f, const TargetInfo &t) const override {
    return prepared_ && prunes_(f, t, best_);
  }

private:
  std::string name_, description_;
  Summary summarize_;
  Fn prunes_;
  double best_ = 0;
  bool prepared_ = false;
};

// The rules (each a plain predicate, true = remove), unit-tested one by one.

/// The micro-tile must leave headroom in the vector register file (at most
/// 7/8 of the registers live): a full file spills (measured 25-40% slower).
bool breaksRegisterFit(const CostFeatures &f, const TargetInfo &t);
/// The micro-tile must fill at least a quarter of the register file, so
/// there are enough independent accumulators to hide FMA latency (or the
/// largest tile the problem allows, CostFeatures::registerTileCap, when
/// that is smaller).
bool breaksMinRegisterFill(const CostFeatures &f, const TargetInfo &t);
/// A task's working set must fit in half of L2.
bool breaksL2Fit(const CostFeatures &f, const TargetInfo &t);
/// At least 75% of the SIMD lanes must do useful work (bounded padding);
/// of CostFeatures::maxLaneUtilization when the problem cannot fill them.
bool breaksLaneUtilization(const CostFeatures &f, const TargetInfo &t);
/// No more threads than parallel tasks (CPU; on CUDA `threads` is per block).
bool breaksThreadsLeTasks(const CostFeatures &f, const TargetInfo &t);
/// Threads = cores (or all tasks when fewer tasks than cores); CPU only.
bool breaksThreadsEqCores(const CostFeatures &f, const TargetInfo &t);
/// CUDA: the fraction of an SM's threads resident with this config (blocks
/// per SM limited by threads, shared memory = max(workingSetBytes,
/// gpuStaticSharedBytes), registers when gpuRegisters is known, and the
/// block limit, from TargetInfo); 1 on a CPU target.
double gpuOccupancy(const CostFeatures &f, const TargetInfo &t);
/// CUDA: blocks per SM limited by registers alone (CostFeatures::
/// gpuRegisters per thread, allocated per warp in units of 256 registers,
/// from TargetInfo::registersPerSM); 0 when one block cannot launch; a
/// large number when registers are unknown.
double gpuBlocksByRegisters(const CostFeatures &f, const TargetInfo &t);
/// CUDA: at least 1/16 occupancy.
bool breaksGpuOccupancy(const CostFeatures &f, const TargetInfo &t);
/// The micro-tile must fill at least half of the register file, or the
/// largest tile the problem allows when that is smaller
/// (CostFeatures::registerTileCap; no-op when unknown).
bool breaksRegisterHalfFill(const CostFeatures &f, const TargetInfo &t);
/// A task's working set must be at least L2/16, unless the whole problem is
/// smaller or tiles that large would leave fewer than 2 x cores tasks
/// (estimated: tasks shrink as the working set grows). No-op when
/// CostFeatures::maxWorkingSetBytes is unknown.
bool breaksL2MinFill(const CostFeatures &f, const TargetInfo &t);
/// No vector narrower than the widest the op accepts on the target unless
/// it gives strictly better lane utilization.
bool breaksWidestVector(const CostFeatures &f, const TargetInfo &t);
/// An unroll factor must divide the loop or unroll it fully.
bool breaksUnrollDivides(const CostFeatures &f, const TargetInfo &t);
/// At most 1/8 of the register-tile work in partial tail tiles.
bool breaksTileWaste(const CostFeatures &f, const TargetInfo &t);
/// A candidate that only differs from another in a knob with no effect on
/// this workload (CostFeatures::redundantVariant) is dropped.
bool breaksNoEffectKnob(const CostFeatures &f, const TargetInfo &t);

/// CUDA: the grid's blocks (CostFeatures::parallelTasks) fill every SM when
/// the best candidate's do (`bestBlocks` >= smCount): fewer blocks than SMs
/// leaves SMs idle. Only for ops that describe their grid
/// (gpuBusyThreads > 0), as gpu-input-reuse.
bool breaksGpuFillSms(const CostFeatures &f, const TargetInfo &t,
                      double bestBlocks);
/// CUDA: the grid's threads with work (CostFeatures::gpuBusyThreads) at
/// least half of min(the SMs' resident threads, `bestBusy`, the most any
/// candidate has): blocks that each loop over many items leave thread slots
/// of the machine empty.
bool breaksGpuFillThreads(const CostFeatures &f, const TargetInfo &t,
                          double bestBusy);
/// CUDA: a warp's global loads use whole 32-byte sectors
/// (CostFeatures::gpuLoadRunBytes >= 32) when some candidate's do
/// (`bestRun` >= 32), unless the candidate stages its tile in shared
/// memory (workingSetBytes > 0) and is compute-bound (kGpuRidgeFlopsPerByte,
/// as gpu-input-reuse); without staging every tap is a global load.
bool breaksGpuSectorUse(const CostFeatures &f, const TargetInfo &t,
                        double bestRun);
/// CUDA: global traffic (movedBytes) at most twice the least (`leastMoved`)
/// among the candidates, unless the candidate is compute-bound (at least
/// kGpuRidgeFlopsPerByte flops per byte moved: its traffic is hidden).
bool breaksGpuInputReuse(const CostFeatures &f, const TargetInfo &t,
                         double leastMoved);
/// CUDA: among candidates alike but for their tile's shape (same blocks,
/// threads, load runs, shared-memory staging or not, and lane use:
/// gpuTileShapeKey), global traffic at most 1.1x the least of them: a
/// squarer tile of the same size re-reads less halo and stages less. Only
/// for ops that describe their grid (gpuBusyThreads > 0).
std::string gpuTileShapeKey(const CostFeatures &f);
bool breaksGpuTileShape(const CostFeatures &f, const TargetInfo &t,
                        double leastMovedOfItsKey);

/// Flops per byte above which a CUDA fp32 kernel is taken as compute-bound
/// (about the L2-bandwidth ridge of A100 and H100: 19.5 TFLOP/s / ~5 TB/s,
/// 67 TFLOP/s / ~10 TB/s).
inline constexpr double kGpuRidgeFlopsPerByte = 6.0;

/// The default rules, in the order they are applied.
std::vector<std::unique_ptr<PruningRule>> defaultRules();

/// What pruning did to one space.
struct PruningReport {
  uint64_t rawSize = 0;
  uint64_t illegal = 0; ///< rejected by verifyConfig
  uint64_t legal = 0;
  /// Per rule, in order: candidates it removed (a candidate is charged to
  /// the first rule that removes it).
  std::vector<std::pair<std::string, uint64_t>> removed;
  uint64_t survivors = 0;
  /// True when the rules removed everything and the legal set was kept.
  bool fellBack = false;
  /// Lines about stages (the gpu-registers stage: what it compiled).
  std::vector<std::string> notes;
};

/// Applies `rules` in order to `space.legal`; returns the survivors. When no
/// candidate survives, every legal one is kept (report.fellBack).
std::vector<SpacePoint>
prune(const EnumeratedSpace &space,
      const std::vector<std::unique_ptr<PruningRule>> &rules,
      const TargetInfo &target, PruningReport &report);

// The gpu-registers stage: after the rules, compile each survivor for the
// chip and read what ptxas allocated (registers per thread, spills, static
// shared memory) into its CostFeatures.

/// What ptxas reports for one candidate's kernel (the largest of its
/// kernels when it has several).
struct GpuResources {
  double registers = 0, spillBytes = 0, staticSharedBytes = 0;
};
/// Compiles a candidate (its config text) and returns its resources.
using GpuResourceFn =
    std::function<llvm::Expected<GpuResources>(const std::string &config)>;

/// CUDA: one block cannot launch (registers x threads beyond the SM's file).
bool breaksGpuRegisterFile(const CostFeatures &f, const TargetInfo &t);
/// CUDA: the kernel spills registers to local memory.
bool breaksGpuSpill(const CostFeatures &f, const TargetInfo &t);
/// CUDA: registers limit occupancy (gpuOccupancy with them below the one
/// without them) to under a quarter of `bestOccupancy`, the best survivor's.
bool breaksGpuRegisterOccupancy(const CostFeatures &f, const TargetInfo &t,
                                double bestOccupancy);

struct GpuRegisterStageOptions {
  /// Run only when at most this many candidates survive the rules (each
  /// costs an NVVM compile and a ptxas run, ~0.2 s); 0: never.
  size_t maxCandidates = 64;
  /// Stop compiling after this many seconds (the rest are kept unprobed).
  double maxSeconds = 60;
};

/// The gpu-registers stage: fills gpuRegisters / gpuSpillBytes /
/// gpuStaticSharedBytes of each survivor from `resources`, then removes
/// those that cannot launch, that spill, or whose register-limited
/// occupancy is far below the best survivor's (breaksGpuRegister*). Adds a
/// "gpu-registers" entry to report.removed and a line to report.notes
/// (what was compiled, or why the stage did not run: not CUDA, too many
/// survivors, no ptxas). A candidate that fails to compile is kept (the
/// measurer records its failure). When everything would go, nothing does.
std::vector<SpacePoint>
pruneByGpuRegisters(std::vector<SpacePoint> survivors,
                    const TargetInfo &target, const GpuResourceFn &resources,
                    const GpuRegisterStageOptions &options,
                    PruningReport &report);

/// The GpuResourceFn that compiles `workload` with a config for `chip` (the
/// NVVM pipeline, then ptxas -v: compiler::ptxResourceUsage), memoized per
/// (workload, chip, compiler, config) for the life of the process.
GpuResourceFn ptxasResources(const Workload &workload,
                             const std::string &chip);

/// The report as text lines ("raw 2592, illegal ..., <rule>: -N, ...").
std::string formatReport(const PruningReport &report);

} // namespace kjit::autotune

#endif
