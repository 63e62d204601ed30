//===- Pruning.cpp - named hardware rules --------------------------------===//
#include "autotune/Pruning.h"

#include "compiler/Compiler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>

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

double kjit::autotune::gpuBlocksByRegisters(const CostFeatures &f,
                                            const TargetInfo &t) {
  if (t.kind != TargetInfo::Kind::CUDA || f.gpuRegisters <= 0 ||
      t.registersPerSM == 0 || f.threads <= 0)
    return 1e9;
  // Registers are allocated per warp in units of 256 (8 per thread).
  unsigned warp = std::max(1u, t.warpSize);
  double perWarp = std::ceil(f.gpuRegisters * warp / 256.0) * 256.0;
  double warps = std::ceil(double(f.threads) / warp);
  return std::floor(double(t.registersPerSM) / (perWarp * warps));
}

double kjit::autotune::gpuOccupancy(const CostFeatures &f,
                                    const TargetInfo &t) {
  if (t.kind != TargetInfo::Kind::CUDA || f.threads <= 0 ||
      t.maxThreadsPerSM == 0)
    return 1.0;
  // Resident blocks per SM: limited by threads, shared memory (the GPU
  // families report a block's shared memory as workingSetBytes; ptxas's
  // static count when known), registers (when ptxas has told them) and the
  // block limit.
  double blocks = std::floor(double(t.maxThreadsPerSM) / f.threads);
  double smem = std::max(f.workingSetBytes, f.gpuStaticSharedBytes);
  if (t.sharedMemPerSM > 0 && smem > 0)
    blocks = std::min(blocks, std::floor(double(t.sharedMemPerSM) / smem));
  if (t.maxBlocksPerSM > 0)
    blocks = std::min(blocks, double(t.maxBlocksPerSM));
  blocks = std::min(blocks, gpuBlocksByRegisters(f, t));
  return blocks * f.threads / t.maxThreadsPerSM;
}

bool kjit::autotune::breaksGpuOccupancy(const CostFeatures &f,
                                        const TargetInfo &t) {
  return gpuOccupancy(f, t) < 1.0 / 16;
}

bool kjit::autotune::breaksGpuFillSms(const CostFeatures &f,
                                      const TargetInfo &t,
                                      double bestBlocks) {
  // Only for ops that describe their grid (gpuBusyThreads): parallelTasks
  // is then the number of blocks.
  if (t.kind != TargetInfo::Kind::CUDA || t.smCount == 0 ||
      f.gpuBusyThreads <= 0)
    return false;
  return bestBlocks >= t.smCount && f.parallelTasks < t.smCount;
}

bool kjit::autotune::breaksGpuFillThreads(const CostFeatures &f,
                                          const TargetInfo &t,
                                          double bestBusy) {
  if (t.kind != TargetInfo::Kind::CUDA || t.smCount == 0 ||
      t.maxThreadsPerSM == 0 || f.gpuBusyThreads <= 0 || bestBusy <= 0)
    return false;
  double want =
      std::min(double(t.smCount) * t.maxThreadsPerSM, bestBusy);
  return f.gpuBusyThreads < want / 2;
}

bool kjit::autotune::breaksGpuSectorUse(const CostFeatures &f,
                                        const TargetInfo &t, double bestRun) {
  if (t.kind != TargetInfo::Kind::CUDA || f.gpuLoadRunBytes <= 0)
    return false;
  // The half-used sectors are those of the tile's loads (movedBytes):
  // no matter when the kernel is compute-bound (as gpu-input-reuse). A
  // kernel that stages nothing in shared memory (workingSetBytes = 0) loads
  // every tap from global memory (through L1): each of them wastes half
  // sectors, so it is never taken as compute-bound here.
  bool staged = f.workingSetBytes > 0;
  bool computeBound = staged && f.movedBytes > 0 &&
                      f.flops >= kGpuRidgeFlopsPerByte * f.movedBytes;
  return bestRun >= 32 && f.gpuLoadRunBytes < 32 && !computeBound;
}

bool kjit::autotune::breaksGpuInputReuse(const CostFeatures &f,
                                         const TargetInfo &t,
                                         double leastMoved) {
  if (t.kind != TargetInfo::Kind::CUDA || leastMoved <= 0 ||
      f.movedBytes <= 0 || f.gpuBusyThreads <= 0)
    return false;
  bool computeBound = f.flops >= kGpuRidgeFlopsPerByte * f.movedBytes;
  return f.movedBytes > 2 * leastMoved && !computeBound;
}

std::string kjit::autotune::gpuTileShapeKey(const CostFeatures &f) {
  char buf[160];
  snprintf(buf, sizeof buf, "%.0f|%d|%.0f|%d|%.4f", f.parallelTasks,
           f.threads, f.gpuLoadRunBytes, f.workingSetBytes > 0 ? 1 : 0,
           f.laneUtilization);
  return buf;
}

bool kjit::autotune::breaksGpuTileShape(const CostFeatures &f,
                                        const TargetInfo &t,
                                        double leastMovedOfItsKey) {
  if (t.kind != TargetInfo::Kind::CUDA || f.gpuBusyThreads <= 0 ||
      f.movedBytes <= 0 || leastMovedOfItsKey <= 0)
    return false;
  return f.movedBytes > 1.1 * leastMovedOfItsKey;
}

namespace {
/// gpu-tile-shape: the least traffic per gpuTileShapeKey.
class GpuTileShapeRule : public PruningRule {
public:
  std::string name() const override { return "gpu-tile-shape"; }
  std::string description() const override {
    return "CUDA: among same-size tiles (same blocks, threads, load runs, "
           "staging, lane use) traffic at most 1.1x the least (squarer "
           "tiles re-read less halo)";
  }
  void prepare(const std::vector<const CostFeatures *> &alive,
               const TargetInfo &) override {
    least_.clear();
    for (const CostFeatures *f : alive) {
      if (f->movedBytes <= 0)
        continue;
      double &l = least_[gpuTileShapeKey(*f)];
      l = l == 0 ? f->movedBytes : std::min(l, f->movedBytes);
    }
  }
  bool prunes(const CostFeatures &f, const TargetInfo &t) const override {
    auto it = least_.find(gpuTileShapeKey(f));
    return it != least_.end() && breaksGpuTileShape(f, t, it->second);
  }

private:
  std::map<std::string, double> least_;
};
} // namespace

bool kjit::autotune::breaksGpuRegisterFile(const CostFeatures &f,
                                           const TargetInfo &t) {
  return f.gpuRegisters > 0 && gpuBlocksByRegisters(f, t) < 1;
}

bool kjit::autotune::breaksGpuSpill(const CostFeatures &f,
                                    const TargetInfo &t) {
  return t.kind == TargetInfo::Kind::CUDA && f.gpuSpillBytes > 0;
}

bool kjit::autotune::breaksGpuRegisterOccupancy(const CostFeatures &f,
                                                const TargetInfo &t,
                                                double bestOccupancy) {
  if (f.gpuRegisters <= 0 || t.kind != TargetInfo::Kind::CUDA)
    return false;
  CostFeatures noRegs = f;
  noRegs.gpuRegisters = 0;
  double occ = gpuOccupancy(f, t);
  return occ < gpuOccupancy(noRegs, t) && occ < bestOccupancy / 4;
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
  // Relative to the candidates the rules above kept (CUDA only).
  r.push_back(std::make_unique<RelativeRule>(
      "gpu-fill-sms",
      "CUDA: at least one block per SM when some candidate has that many",
      [](const std::vector<const CostFeatures *> &alive, const TargetInfo &) {
        double best = 0;
        for (const CostFeatures *f : alive)
          best = std::max(best, f->parallelTasks);
        return best;
      },
      breaksGpuFillSms));
  r.push_back(std::make_unique<RelativeRule>(
      "gpu-fill-threads",
      "CUDA: the grid's busy threads at least half of min(the SMs' "
      "resident threads, the most of any candidate)",
      [](const std::vector<const CostFeatures *> &alive, const TargetInfo &) {
        double best = 0;
        for (const CostFeatures *f : alive)
          best = std::max(best, f->gpuBusyThreads);
        return best;
      },
      breaksGpuFillThreads));
  r.push_back(std::make_unique<RelativeRule>(
      "gpu-sector-use",
      "CUDA: global loads in runs of whole 32-byte sectors when some "
      "candidate's are, unless staged in shared memory and compute-bound",
      [](const std::vector<const CostFeatures *> &alive, const TargetInfo &) {
        double best = 0;
        for (const CostFeatures *f : alive)
          best = std::max(best, f->gpuLoadRunBytes);
        return best;
      },
      breaksGpuSectorUse));
  r.push_back(std::make_unique<GpuTileShapeRule>());
  r.push_back(std::make_unique<RelativeRule>(
      "gpu-input-reuse",
      "CUDA: global traffic at most 2x the least of the candidates, unless "
      "compute-bound (halo re-reads of a small tile)",
      [](const std::vector<const CostFeatures *> &alive, const TargetInfo &) {
        double least = 0;
        for (const CostFeatures *f : alive)
          if (f->movedBytes > 0 && (least == 0 || f->movedBytes < least))
            least = f->movedBytes;
        return least;
      },
      breaksGpuInputReuse));
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
  // Rule by rule: each sees the candidates the earlier ones kept (relative
  // rules summarize them in prepare()); a candidate is charged to the first
  // rule that removes it.
  std::vector<const SpacePoint *> alive;
  for (const SpacePoint &p : space.legal)
    alive.push_back(&p);
  for (size_t i = 0; i < rules.size(); ++i) {
    std::vector<const CostFeatures *> feats;
    for (const SpacePoint *p : alive)
      feats.push_back(&p->features);
    rules[i]->prepare(feats, target);
    std::vector<const SpacePoint *> kept;
    for (const SpacePoint *p : alive) {
      if (rules[i]->prunes(p->features, target))
        ++report.removed[i].second;
      else
        kept.push_back(p);
    }
    alive = std::move(kept);
  }
  std::vector<SpacePoint> out;
  for (const SpacePoint *p : alive)
    out.push_back(*p);
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
  s += "\n";
  for (const std::string &n : r.notes)
    s += "  " + n + "\n";
  return s;
}

std::vector<SpacePoint> kjit::autotune::pruneByGpuRegisters(
    std::vector<SpacePoint> survivors, const TargetInfo &t,
    const GpuResourceFn &resources, const GpuRegisterStageOptions &o,
    PruningReport &report) {
  if (t.kind != TargetInfo::Kind::CUDA)
    return survivors;
  report.removed.push_back({"gpu-registers", 0});
  size_t slot = report.removed.size() - 1;
  auto note = [&](const std::string &s) {
    report.notes.push_back("gpu-registers: " + s);
  };
  if (survivors.empty())
    return survivors;
  if (o.maxCandidates == 0 || survivors.size() > o.maxCandidates) {
    note("not run: " + std::to_string(survivors.size()) +
         " survivors, more than the " + std::to_string(o.maxCandidates) +
         " it compiles");
    return survivors;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         t0)
        .count();
  };
  std::vector<bool> probed(survivors.size(), false);
  size_t nProbed = 0, failed = 0, unprobed = 0;
  std::string firstError;
  for (size_t i = 0; i < survivors.size(); ++i) {
    if (o.maxSeconds > 0 && elapsed() > o.maxSeconds) {
      unprobed = survivors.size() - i;
      break;
    }
    auto r = resources(survivors[i].candidate.configText);
    if (!r) {
      std::string why = llvm::toString(r.takeError());
      if (why.find("no ptxas") != std::string::npos ||
          why.find("not an executable") != std::string::npos) {
        note("not run: " + why);
        return survivors;
      }
      if (firstError.empty())
        firstError = survivors[i].candidate.configText + ": " + why;
      ++failed;
      continue;
    }
    CostFeatures &f = survivors[i].features;
    f.gpuRegisters = r->registers;
    f.gpuSpillBytes = r->spillBytes;
    f.gpuStaticSharedBytes = r->staticSharedBytes;
    probed[i] = true;
    ++nProbed;
  }
  double bestOcc = 0, minRegs = 0, maxRegs = 0;
  size_t spilling = 0;
  for (size_t i = 0; i < survivors.size(); ++i) {
    if (!probed[i])
      continue;
    const CostFeatures &f = survivors[i].features;
    minRegs = minRegs == 0 ? f.gpuRegisters : std::min(minRegs, f.gpuRegisters);
    maxRegs = std::max(maxRegs, f.gpuRegisters);
    spilling += f.gpuSpillBytes > 0;
    if (!breaksGpuRegisterFile(f, t) && !breaksGpuSpill(f, t))
      bestOcc = std::max(bestOcc, gpuOccupancy(f, t));
  }
  std::vector<SpacePoint> out;
  for (size_t i = 0; i < survivors.size(); ++i) {
    const CostFeatures &f = survivors[i].features;
    bool drop = probed[i] && (breaksGpuRegisterFile(f, t) ||
                              breaksGpuSpill(f, t) ||
                              breaksGpuRegisterOccupancy(f, t, bestOcc));
    if (!drop)
      out.push_back(survivors[i]);
  }
  char secs[32];
  snprintf(secs, sizeof secs, "%.1f s", elapsed());
  std::string line = "compiled " + std::to_string(nProbed) + " of " +
                     std::to_string(survivors.size()) + " with ptxas in " +
                     secs;
  if (nProbed)
    line += "; registers/thread " + std::to_string((int)minRegs) + ".." +
            std::to_string((int)maxRegs) + ", " + std::to_string(spilling) +
            " spilling";
  if (failed)
    line += "; " + std::to_string(failed) + " failed to compile (kept; " +
            firstError + ")";
  if (unprobed)
    line += "; " + std::to_string(unprobed) + " not compiled (time cap " +
            std::to_string((int)o.maxSeconds) + " s, kept)";
  if (out.empty()) {
    line += "; it would remove every candidate: kept them all";
    out = std::move(survivors);
  } else {
    report.removed[slot].second = survivors.size() - out.size();
  }
  note(line);
  report.survivors = out.size();
  return out;
}

GpuResourceFn kjit::autotune::ptxasResources(const Workload &workload,
                                             const std::string &chip) {
  return [text = workload.canonicalText, key = workload.key,
          chip](const std::string &config) -> llvm::Expected<GpuResources> {
    // One compile per (workload, chip, config) in this process (the
    // compiler is fixed for its life).
    static std::mutex mu;
    static std::map<std::string, std::pair<GpuResources, std::string>> cache;
    std::string k = key + "|" + chip + "|" + config;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = cache.find(k);
      if (it != cache.end()) {
        if (!it->second.second.empty())
          return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                         it->second.second);
        return it->second.first;
      }
    }
    auto compute = [&]() -> llvm::Expected<GpuResources> {
      compiler::CompileRequest req;
      req.mlirText = text;
      req.config = config;
      req.cudaChip = chip;
      auto prepared = compiler::prepare(req);
      if (!prepared)
        return prepared.takeError();
      auto ptx = compiler::compileToPtx(*prepared, chip);
      if (!ptx)
        return ptx.takeError();
      auto ks = compiler::ptxResourceUsage(*ptx, chip);
      if (!ks)
        return ks.takeError();
      GpuResources r;
      for (const compiler::KernelResources &kr : *ks) {
        r.registers = std::max<double>(r.registers, kr.registers);
        r.spillBytes = std::max<double>(r.spillBytes, kr.spillBytes());
        r.staticSharedBytes =
            std::max<double>(r.staticSharedBytes, kr.staticSharedBytes);
      }
      return r;
    };
    auto r = compute();
    std::lock_guard<std::mutex> lock(mu);
    if (!r) {
      std::string why = llvm::toString(r.takeError());
      // "no ptxas" may change (KJIT_PTXAS): not cached.
      if (why.find("no ptxas") == std::string::npos)
        cache[k] = {GpuResources(), why};
      return llvm::createStringError(llvm::inconvertibleErrorCode(), why);
    }
    cache[k] = {*r, ""};
    return *r;
  };
}
