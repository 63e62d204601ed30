//===- CostModel.h - analytic roofline cost model --------------*- C++ -*-===//
#ifndef KJIT_AUTOTUNE_COSTMODEL_H
#define KJIT_AUTOTUNE_COSTMODEL_H

#include "autotune/Autotune.h"
#include "autotune/Space.h"

namespace kjit::autotune {

/// max(compute, L1 loads, memory) from the machine's peak FLOP/s and
/// bandwidth, with penalties: lanes wasted on padding, too few accumulators
/// to hide FMA latency, a register tile that spills, a working set beyond
/// L2, load imbalance across threads and a fork/join cost per thread.
/// CUDA targets: max(flops / (the chip's FP32 peak x lane utilization x SMs
/// used x latency hiding from the threads in flight per SM), global bytes /
/// DRAM bandwidth (re-reads from L2 when the data fit)) + a launch overhead
/// per launch. The chip's figures are published peaks (cudaTargetInfo).
class RooflineModel : public CostModel {
public:
  double predict(const CostFeatures &f, const TargetInfo &t) const override;
};

/// Fills predictedSeconds and sorts `points` best-first (stable: ties keep
/// enumeration order).
void rank(std::vector<SpacePoint> &points, const CostModel &model,
          const TargetInfo &target);

} // namespace kjit::autotune

#endif
