//===- Tuning.h - the tuner <-> compiler vocabulary -------------*- C++ -*-===//
#ifndef KJIT_DIALECT_TUNING_H
#define KJIT_DIALECT_TUNING_H

#include "dialects/kjit/IR/TargetInfo.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kjit {

/// One knob and its candidate values: integers, or enum strings.
struct Knob {
  std::string name;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  bool isString() const { return !strings.empty(); }
  size_t size() const { return isString() ? strings.size() : ints.size(); }
};

/// The raw (unpruned) search space: the cross product of the knobs.
struct SearchSpace {
  std::vector<Knob> knobs;
  /// Number of points of the cross product.
  uint64_t size() const;
};

/// What the analytic cost model needs to rank one config of one op.
struct CostFeatures {
  double flops = 0;           ///< useful floating-point operations
  double compulsoryBytes = 0; ///< each input read once, each output once
  double movedBytes = 0;      ///< bytes moved from L2/DRAM with this tiling
  double workingSetBytes = 0; ///< per-task working set (L1/L2 fit)
  double l1Loads = 0;         ///< vector loads issued from L1
  double vectorFmas = 0;      ///< vector FMA instructions
  double registerTile = 0;    ///< live vector registers of the micro-tile
  double laneUtilization = 1; ///< useful fraction of SIMD lanes
  double parallelTasks = 1;   ///< independent tasks for threads
  int threads = 1;
};

} // namespace kjit

#endif
