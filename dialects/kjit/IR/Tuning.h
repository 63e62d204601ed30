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

  // Generic facts for pruning rules. The defaults make every rule that reads
  // them a no-op, so an op that does not fill them keeps the old behaviour.
  double vectorLanes = 0;            ///< lanes of the chosen vector (0: n/a)
  double widestVectorLanes = 0; ///< widest lanes the op accepts on this
                                ///< target (0: the target's widest)
  double widestLaneUtilization = -1; ///< laneUtilization with the widest
                                     ///< legal vector (<0: unknown)
  double unrollRemainder = 0; ///< fraction of an unrolled loop's iterations
                              ///< outside the unrolled body (0: divides or
                              ///< full unroll)
  double tailWaste = 0; ///< fraction of the register-tile work done in
                        ///< partial (tail) tiles
  double maxWorkingSetBytes = 0; ///< per-task working set of the coarsest
                                 ///< tiling (the whole problem; 0: unknown)
  double registerTileCap = 0; ///< largest register tile this problem can
                              ///< use (0: unknown)
  double maxLaneUtilization = 0; ///< the best laneUtilization any config
                                 ///< reaches on this problem (0: unknown,
                                 ///< taken as 1)
  bool redundantVariant = false; ///< the same schedule as another candidate
                                 ///< that differs only in a knob with no
                                 ///< effect here (e.g. the order of a loop
                                 ///< of one iteration)

  // GPU launch facts an op may fill (0: unknown; the rules reading them are
  // then no-ops).
  double gpuBusyThreads = 0; ///< threads of the whole grid that have work, in scalar lanes (x vector width)
  double gpuLoadRunBytes = 0; ///< contiguous bytes of one run of a warp's
                              ///< global loads (coalescing)
  double gpuLaunches = 0; ///< kernel launches of one call (the cost
                          ///< model's launch overhead; 0: taken as 1)

  // What ptxas allocated for the candidate's kernel, filled by the tuner's
  // gpu-registers stage (autotune/Pruning.h) after compiling it; 0: unknown
  // (no op fills these itself).
  double gpuRegisters = 0;         ///< 32-bit registers per thread
  double gpuSpillBytes = 0;        ///< spill stores + loads per thread
  double gpuStaticSharedBytes = 0; ///< static shared memory per block
};

} // namespace kjit

#endif
