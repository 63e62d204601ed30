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
/// per SM limited by threads, shared memory = workingSetBytes, and the block
/// limit, from TargetInfo); 1 on a CPU target.
double gpuOccupancy(const CostFeatures &f, const TargetInfo &t);
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
};

/// Applies `rules` in order to `space.legal`; returns the survivors. When no
/// candidate survives, every legal one is kept (report.fellBack).
std::vector<SpacePoint>
prune(const EnumeratedSpace &space,
      const std::vector<std::unique_ptr<PruningRule>> &rules,
      const TargetInfo &target, PruningReport &report);

/// The report as text lines ("raw 2592, illegal ..., <rule>: -N, ...").
std::string formatReport(const PruningReport &report);

} // namespace kjit::autotune

#endif
