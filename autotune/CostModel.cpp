//===- CostModel.cpp - analytic roofline cost model ----------------------===//
#include "autotune/CostModel.h"

#include <algorithm>
#include <cmath>

using namespace kjit;
using namespace kjit::autotune;

double RooflineModel::predict(const CostFeatures &f,
                              const TargetInfo &t) const {
  double cores = std::max(1u, t.numCores);
  double tasks = std::max(1.0, f.parallelTasks);
  double threads = std::clamp<double>(f.threads, 1.0, 256.0);
  // Threads beyond the cores time-share; threads beyond the tasks idle.
  double active = std::min({threads, cores, tasks});
  // Load imbalance: the busiest thread runs ceil(tasks / threads) tasks.
  double rounds = std::ceil(tasks / std::min(threads, tasks));
  double parallel = std::max(1.0, tasks / rounds);
  parallel = std::min(parallel, active);

  double peak = t.peakGflopsPerCore * 1e9; // useful FLOP/s of one core
  double lanes = std::clamp(f.laneUtilization, 0.05, 1.0);
  double compute = f.flops / lanes / (peak * parallel);
  // Enough independent accumulators to cover FMA latency (4 cycles, 2
  // ports: about 8 in flight).
  if (f.registerTile > 0) {
    double acc = std::max(1.0, f.registerTile - 2);
    if (acc < 8)
      compute *= 8.0 / acc;
  }
  // L1: two vector loads per cycle; cycles/s from the FMA peak.
  double lanesPerVec = std::max(1u, t.maxF32Lanes());
  double hz = peak / (4.0 * lanesPerVec);
  double l1 = f.l1Loads / (2.0 * hz * parallel);
  // Memory: per-core bandwidth, scaling with the active cores.
  double bytes = std::max(f.movedBytes, f.compulsoryBytes);
  double mem = bytes / (t.dramGBs * 1e9 * active);
  if (f.workingSetBytes > t.l2Bytes)
    mem *= 2.0; // the tile is streamed from memory twice
  double time = std::max({compute, l1, mem});
  // Spilling: a tile beyond the register file goes through the stack.
  double regs = std::max(1u, t.numVectorRegisters);
  if (f.registerTile > regs)
    time *= 2.0 + (f.registerTile - regs) / regs;
  else if (f.registerTile > regs * 7 / 8)
    time *= 1.3;
  // Fork/join of an OpenMP team.
  if (threads > 1)
    time += 2e-6 + 0.3e-6 * threads;
  if (threads > cores)
    time *= threads / cores;
  return time;
}

void kjit::autotune::rank(std::vector<SpacePoint> &points,
                          const CostModel &model, const TargetInfo &target) {
  for (SpacePoint &p : points)
    p.predictedSeconds = model.predict(p.features, target);
  std::stable_sort(points.begin(), points.end(),
                   [](const SpacePoint &a, const SpacePoint &b) {
                     return a.predictedSeconds < b.predictedSeconds;
                   });
}
