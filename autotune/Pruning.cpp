//===- Pruning.cpp - named hardware rules --------------------------------===//
#include "autotune/Pruning.h"

#include <algorithm>
#include <cmath>

using namespace kjit;
using namespace kjit::autotune;

bool kjit::autotune::breaksRegisterFit(const CostFeatures &f,
                                       const TargetInfo &t) {
  return f.registerTile > 0 && f.registerTile > t.numVectorRegisters * 7 / 8;
}

bool kjit::autotune::breaksMinRegisterFill(const CostFeatures &f,
                                           const TargetInfo &t) {
  double want = t.numVectorRegisters / 4.0;
  if (f.registerTileCap > 0)
    want = std::min(want, f.registerTileCap);
  return f.registerTile > 0 && f.registerTile < want;
}

bool kjit::autotune::breaksL2Fit(const CostFeatures &f, const TargetInfo &t) {
  return f.workingSetBytes > t.l2Bytes / 2.0;
}

bool kjit::autotune::breaksLaneUtilization(const CostFeatures &f,
                                           const TargetInfo &) {
  double best = f.maxLaneUtilization > 0 ? std::min(1.0, f.maxLaneUtilization)
                                         : 1.0;
  return f.laneUtilization < 0.75 * best;
}

bool kjit::autotune::breaksThreadsLeTasks(const CostFeatures &f,
                                          const TargetInfo &t) {
  if (t.kind == TargetInfo::Kind::CUDA) // threads per block, not tasks
    return false;
  return f.threads > 1 && f.threads > f.parallelTasks;
}

bool kjit::autotune::breaksThreadsEqCores(const CostFeatures &f,
                                          const TargetInfo &t) {
  if (t.kind == TargetInfo::Kind::CUDA)
    return false;
  double want = std::max(
      1.0, std::min<double>(std::max(1u, t.numCores), std::floor(f.parallelTasks)));
  return f.threads != (int)want;
}

bool kjit::autotune::breaksRegisterHalfFill(const CostFeatures &f,
                                            const TargetInfo &t) {
  if (f.registerTile <= 0 || f.registerTileCap <= 0)
    return false;
  double want = std::min(t.numVectorRegisters / 2.0, f.registerTileCap);
  return f.registerTile < want;
}

bool kjit::autotune::breaksL2MinFill(const CostFeatures &f,
                                     const TargetInfo &t) {
  double fill = t.l2Bytes / 16.0;
  if (f.maxWorkingSetBytes <= 0 || f.workingSetBytes <= 0 ||
      f.workingSetBytes >= fill || f.maxWorkingSetBytes < fill)
    return false;
  // Tiles grown to the fill would leave about tasks * ws / fill tasks.
  double tasksAtFill = f.parallelTasks * f.workingSetBytes / fill;
  return tasksAtFill >= 2.0 * std::max(1u, t.numCores);
}

bool kjit::autotune::breaksWidestVector(const CostFeatures &f,
                                        const TargetInfo &t) {
  if (f.vectorLanes <= 0 || f.widestLaneUtilization < 0)
    return false;
  double widest = f.widestVectorLanes > 0 ? f.widestVectorLanes
                                          : (double)t.maxF32Lanes();
  return f.vectorLanes < widest &&
         !(f.laneUtilization > f.widestLaneUtilization);
}

bool kjit::autotune::breaksUnrollDivides(const CostFeatures &f,
                                         const TargetInfo &) {
  return f.unrollRemainder > 0;
}

bool kjit::autotune::breaksTileWaste(const CostFeatures &f,
                                     const TargetInfo &) {
  return f.tailWaste > 1.0 / 8;
}

bool kjit::autotune::breaksNoEffectKnob(const CostFeatures &f,
                                        const TargetInfo &) {
  return f.redundantVariant;
}

double kjit::autotune::gpuOccupancy(const CostFeatures &f,
                                    const TargetInfo &t) {
  if (t.kind != TargetInfo::Kind::CUDA || f.threads <= 0 ||
      t.maxThreadsPerSM == 0)
    return 1.0;
  // Resident blocks per SM: limited by threads, shared memory (the GPU
  // families report a block's shared memory as workingSetBytes) and the
  // block limit. Registers are unknown before ptxas.
  double blocks = std::floor(double(t.maxThreadsPerSM) / f.threads);
  if (t.sharedMemPerSM > 0 && f.workingSetBytes > 0)
    blocks = std::min(blocks,
                      std::floor(double(t.sharedMemPerSM) / f.workingSetBytes));
  if (t.maxBlocksPerSM > 0)
    blocks = std::min(blocks, double(t.maxBlocksPerSM));
  return blocks * f.threads / t.maxThreadsPerSM;
}

bool kjit::autotune::breaksGpuOccupancy(const CostFeatures &f,
                                        const TargetInfo &t) {
  return gpuOccupancy(f, t) < 1.0 / 16;
}

std::vector<std::unique_ptr<PruningRule>> kjit::autotune::defaultRules() {
  std::vector<std::unique_ptr<PruningRule>> r;
  r.push_back(std::make_unique<FunctionRule>(
      "register-fit", "micro-tile uses at most 7/8 of the vector registers",
      breaksRegisterFit));
  r.push_back(std::make_unique<FunctionRule>(
      "register-min-fill",
      "micro-tile uses at least min(1/4 of the vector registers, the "
      "largest tile the problem allows)",
      breaksMinRegisterFill));
  r.push_back(std::make_unique<FunctionRule>(
      "register-half-fill",
      "micro-tile uses at least min(1/2 of the registers, the largest tile "
      "the problem allows)",
      breaksRegisterHalfFill));
  r.push_back(std::make_unique<FunctionRule>(
      "l2-fit", "per-task working set fits in half of L2", breaksL2Fit));
  r.push_back(std::make_unique<FunctionRule>(
      "l2-min-fill",
      "per-task working set >= L2/16 unless too few tasks (< 2 x cores) "
      "or a smaller problem",
      breaksL2MinFill));
  r.push_back(std::make_unique<FunctionRule>(
      "lane-utilization",
      "at least 75% of SIMD lanes useful (of the best the problem allows)",
      breaksLaneUtilization));
  r.push_back(std::make_unique<FunctionRule>(
      "widest-vector",
      "no narrower vector than the widest unless strictly better lane "
      "utilization",
      breaksWidestVector));
  r.push_back(std::make_unique<FunctionRule>(
      "unroll-divides", "unroll factor divides the loop or unrolls it fully",
      breaksUnrollDivides));
  r.push_back(std::make_unique<FunctionRule>(
      "tile-waste", "at most 1/8 of the register-tile work in tail tiles",
      breaksTileWaste));
  r.push_back(std::make_unique<FunctionRule>(
      "no-effect-knob",
      "drop variants differing only in a knob with no effect here",
      breaksNoEffectKnob));
  r.push_back(std::make_unique<FunctionRule>(
      "threads-le-tasks", "no more threads than parallel tasks",
      breaksThreadsLeTasks));
  r.push_back(std::make_unique<FunctionRule>(
      "threads-eq-cores", "threads = min(cores, tasks)",
      breaksThreadsEqCores));
  r.push_back(std::make_unique<FunctionRule>(
      "gpu-occupancy",
      "CUDA: at least 1/16 of an SM's threads resident (blocks limited by "
      "threads, shared memory and blocks per SM)",
      breaksGpuOccupancy));
  return r;
}

std::vector<SpacePoint>
kjit::autotune::prune(const EnumeratedSpace &space,
                      const std::vector<std::unique_ptr<PruningRule>> &rules,
                      const TargetInfo &target, PruningReport &report) {
  report = PruningReport();
  report.rawSize = space.rawSize;
  report.illegal = space.illegal;
  report.legal = space.legal.size();
  for (const auto &r : rules)
    report.removed.push_back({r->name(), 0});
  std::vector<SpacePoint> out;
  for (const SpacePoint &p : space.legal) {
    bool keep = true;
    for (size_t i = 0; i < rules.size() && keep; ++i)
      if (rules[i]->prunes(p.features, target)) {
        ++report.removed[i].second;
        keep = false;
      }
    if (keep)
      out.push_back(p);
  }
  if (out.empty() && !space.legal.empty()) {
    report.fellBack = true;
    out = space.legal;
  }
  report.survivors = out.size();
  return out;
}

std::string kjit::autotune::formatReport(const PruningReport &r) {
  std::string s = "  raw space: " + std::to_string(r.rawSize) + "\n";
  s += "  illegal (verifyConfig): -" + std::to_string(r.illegal) + "\n";
  for (const auto &[name, n] : r.removed)
    s += "  rule " + name + ": -" + std::to_string(n) + "\n";
  s += "  survivors: " + std::to_string(r.survivors);
  if (r.fellBack)
    s += " (every rule-surviving set was empty: kept all legal candidates)";
  return s + "\n";
}
