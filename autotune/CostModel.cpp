//===- CostModel.cpp - analytic roofline cost model ----------------------===//
#include "autotune/CostModel.h"
#include "autotune/Pruning.h"

#include <algorithm>
#include <cmath>

using namespace kjit;
using namespace kjit::autotune;

// The GPU model's assumptions (estimates, not measurements: nothing here
// has been timed on a GPU). The chip's peaks come from TargetInfo
// (cudaTargetInfo: NVIDIA's published figures).
namespace {
/// Cycles of FP32 FMA latency: an SM needs lanes x this many independent
/// FMAs in flight (threads with work, in scalar lanes) to reach its peak.
constexpr double kGpuFmaLatency = 4.0;
/// L2 bandwidth as a multiple of DRAM's, for the re-reads served by L2 when
/// the data fit there (not in NVIDIA's data sheets; about 2-3x on A100/H100
/// by public microbenchmarks).
constexpr double kGpuL2OverDram = 2.5;
/// What one SM can draw of the DRAM bandwidth, as a multiple of its share.
constexpr double kGpuSmBandwidthShare = 2.0;
/// Host-side cost of one kernel launch (driver API, stream-ordered).
constexpr double kGpuLaunchSeconds = 3e-6;

double predictGpu(const CostFeatures &f, const TargetInfo &t) {
  double sms = t.smCount ? t.smCount : std::max(1u, t.gpuModelSmCount);
  double lanesPerSm = t.fp32LanesPerSM ? t.fp32LanesPerSM : 64.0;
  double peak = t.gpuPeakGflops() * 1e9;
  if (peak <= 0) // a chip without facts: a conservative A100-class SM
    peak = sms * lanesPerSm * 2.0 * 1.4e9;
  double dram = (t.gpuDramGBs > 0 ? t.gpuDramGBs : 1000.0) * 1e9;

  double blocks = std::max(1.0, f.parallelTasks);
  double threads = std::max(1, f.threads);
  double maxThreadsPerSm = t.maxThreadsPerSM ? t.maxThreadsPerSM : 2048.0;
  // Resident blocks per SM: the occupancy the pruning stage computes (threads,
  // shared memory, registers once ptxas has told them, the block limit).
  double residentBlocks =
      std::max(1.0, std::floor(gpuOccupancy(f, t) * maxThreadsPerSm / threads));
  // Load imbalance over the SMs: the busiest runs ceil(blocks / SMs).
  double perSm = std::ceil(blocks / sms);
  double usedSms = blocks / perSm;
  // Threads with work per resident block, in scalar lanes (a vector thread
  // counts its width); without gpuBusyThreads every launched thread.
  double busyPerBlock = f.gpuBusyThreads > 0 ? f.gpuBusyThreads / blocks
                                             : threads;
  double inFlight = std::min(residentBlocks, perSm) * busyPerBlock;
  // Latency hiding: enough independent FMAs per SM to cover the pipeline.
  double latency =
      std::clamp(inFlight / (lanesPerSm * kGpuFmaLatency), 0.02, 1.0);
  double lanes = std::clamp(f.laneUtilization, 0.05, 1.0);
  double compute = f.flops / lanes / (peak * (usedSms / sms) * latency);

  // Memory: the tiling's global traffic. When the unique data fit in L2 the
  // re-reads come from L2 and DRAM sees the compulsory bytes only.
  double moved = std::max(f.movedBytes, f.compulsoryBytes);
  double unique = f.compulsoryBytes > 0 ? f.compulsoryBytes : moved;
  double mem;
  if (t.gpuL2Bytes > 0 && unique <= double(t.gpuL2Bytes))
    mem = unique / dram + (moved - unique) / (kGpuL2OverDram * dram);
  else
    mem = moved / dram;
  // Few busy SMs cannot draw the whole bandwidth, and few loads in flight
  // cannot cover DRAM latency (same factor as the FMA pipeline's).
  double smShare = std::min(1.0, usedSms / sms * kGpuSmBandwidthShare);
  mem /= smShare * latency;

  double time = std::max(compute, mem);
  // Spills go through local memory (L1/L2): a flat penalty, ptxas's static
  // count says nothing of how often they run.
  if (f.gpuSpillBytes > 0)
    time *= 1.5;
  time += kGpuLaunchSeconds * std::max(1.0, f.gpuLaunches);
  return time;
}
} // namespace

double RooflineModel::predict(const CostFeatures &f,
                              const TargetInfo &t) const {
  if (t.kind == TargetInfo::Kind::CUDA)
    return predictGpu(f, t);
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
