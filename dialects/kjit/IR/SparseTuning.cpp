//===- SparseTuning.cpp - TunableOpInterface of kjit.spmm -----------------===//
#include "dialects/kjit/IR/TunableFamily.h"
#include "dialects/kjit/IR/KnobReader.h"
#include "dialects/kjit/IR/SparseTuning.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::kjit;

namespace {
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
std::string str(int64_t v) { return std::to_string(v); }
} // namespace

FailureOr<SpmmGeom> mlir::kjit::getSpmmGeom(Operation *op,
                                            std::string &reason) {
  auto sp = dyn_cast<SpmmOp>(op);
  if (!sp) {
    reason = "not a kjit.spmm";
    return failure();
  }
  auto rp = cast<RankedTensorType>(sp.getRowPtr().getType());
  auto ci = cast<RankedTensorType>(sp.getColIdx().getType());
  auto vals = cast<RankedTensorType>(sp.getValues().getType());
  auto b = cast<RankedTensorType>(sp.getB().getType());
  if (!rp.hasStaticShape() || !ci.hasStaticShape() ||
      !vals.hasStaticShape() || !b.hasStaticShape()) {
    reason = "kjit.spmm: code generation needs static shapes";
    return failure();
  }
  SpmmGeom g;
  g.m = rp.getDimSize(0) - 1;
  g.nnz = ci.getDimSize(0);
  g.k = b.getDimSize(0);
  g.n = b.getDimSize(1);
  // row_ptr is i32: it cannot address more entries than that.
  if (g.nnz > INT32_MAX) {
    reason = "kjit.spmm: nnz " + str(g.nnz) +
             " does not fit the int32 row_ptr (at most 2147483647)";
    return failure();
  }
  return g;
}

FailureOr<SpmmConfig> SpmmConfig::parse(ConfigAttr config,
                                        const SpmmConfig &base,
                                        std::string &reason) {
  SpmmConfig c = base;
  KnobReader knobs("kjit.spmm");
  knobs.integer("vector_width", c.vectorWidth)
      .integer("n_block", c.nBlock)
      .integer("n_tile", c.nTile)
      .integer("row_tile", c.rowTile)
      .integer("threads", c.threads)
      .choice("partition", {"nnz", "rows"},
              [&](StringRef v) { c.balanceNnz = v == "nnz"; })
      .integer("prefetch_distance", c.prefetchDistance);
  if (failed(knobs.read(config, reason)))
    return failure();
  return c;
}

ConfigAttr SpmmConfig::toAttr(MLIRContext *ctx) const {
  return ConfigAttr::get(ctx,
                         {{"vector_width", vectorWidth},
                          {"n_block", nBlock},
                          {"n_tile", nTile},
                          {"row_tile", rowTile},
                          {"threads", threads},
                          {"prefetch_distance", prefetchDistance}},
                         {{"partition", balanceNnz ? "nnz" : "rows"}});
}

LogicalResult mlir::kjit::checkSpmmConfig(const SpmmConfig &c,
                                          const SpmmGeom &g,
                                          const TargetInfo &t,
                                          std::string &reason) {
  auto bad = [&](std::string why) {
    reason = std::move(why);
    return failure();
  };
  if (failed(checkVectorWidth(c.vectorWidth, t, reason)))
    return failure();
  if (c.nBlock < 1 || c.nBlock > 16)
    return bad("n_block must be in [1, 16], got " + str(c.nBlock));
  // n_block accumulators, the broadcast nonzero, one loaded row of b.
  int64_t live = c.nBlock + 2;
  if (live > (int64_t)t.numVectorRegisters)
    return bad("n_block + 2 = " + str(live) +
               " vector registers; the target has " +
               str(t.numVectorRegisters));
  if (c.nTile < 1 || c.nTile % c.blockCols() != 0)
    return bad("n_tile must be a positive multiple of vector_width x "
               "n_block = " +
               str(c.blockCols()) + ", got " + str(c.nTile));
  if (c.rowTile < 1)
    return bad("row_tile must be >= 1, got " + str(c.rowTile));
  if (c.threads < 1 || c.threads > 256)
    return bad("threads must be in [1, 256], got " + str(c.threads));
  if (c.prefetchDistance < 0 || c.prefetchDistance > 64)
    return bad("prefetch_distance must be in [0, 64], got " +
               str(c.prefetchDistance));
  (void)g;
  return success();
}

SpmmConfig mlir::kjit::defaultSpmmConfig(const SpmmGeom &g,
                                         const TargetInfo &t) {
  SpmmConfig c;
  int64_t lanes = t.maxF32Lanes();
  c.vectorWidth = lanes >= 16 ? 16 : (lanes >= 8 ? 8 : 4);
  // Small N: fewer (or narrower) vectors, so most lanes do work.
  while (c.vectorWidth > 4 && g.n > 0 && g.n <= c.vectorWidth / 2)
    c.vectorWidth /= 2;
  int64_t vecs = std::max<int64_t>(1, ceilDiv(g.n, c.vectorWidth));
  // Four vectors per block (Fast Sparse ConvNets' 64 columns on AVX-512):
  // enough independent FMA chains to hide the FMA latency.
  c.nBlock = std::min<int64_t>(4, vecs);
  int64_t w = c.blockCols();
  // Cache tile: the rows of b one tile touches (K x n_tile) fit in an eighth
  // of L2. Measured (bench/results/2026-11-27-spmm.md, 1024 x 1024 x 3136 at
  // 90%): a 256 KiB tile (n_tile 64) ran 26 ms, a 1 MiB one (256) 44 ms.
  int64_t fit = std::max<int64_t>(
      1, (int64_t)(t.l2Bytes / 8) / (4 * std::max<int64_t>(g.k, 1)) / w);
  c.nTile = std::min(fit, std::max<int64_t>(1, ceilDiv(g.n, w))) * w;
  c.threads = std::max(1u, t.numCores);
  // Tasks balanced by nnz: one per thread is enough; more for "rows".
  c.rowTile = std::max<int64_t>(1, ceilDiv(std::max<int64_t>(g.m, 1),
                                           c.threads));
  c.balanceNnz = true;
  c.prefetchDistance = 0;
  return c;
}

SearchSpace mlir::kjit::spmmSearchSpace(const SpmmGeom &g,
                                        const TargetInfo &t) {
  SearchSpace s;
  Knob vw{"vector_width", {}, {}};
  for (int64_t v : {4, 8, 16})
    if (v <= (int64_t)t.maxF32Lanes())
      vw.ints.push_back(v);
  s.knobs.push_back(vw);
  // Powers of two only, so every n_tile below is a multiple of every block.
  s.knobs.push_back({"n_block", {1, 2, 4, 8}, {}});
  s.knobs.push_back({"n_tile", {128, 256, 512, 1024, 2048}, {}});
  Knob rows{"row_tile", {}, {}};
  for (int64_t v = 1; v < std::max<int64_t>(g.m, 1); v *= 4)
    rows.ints.push_back(v);
  rows.ints.push_back(std::max<int64_t>(g.m, 1));
  s.knobs.push_back(rows);
  Knob th{"threads", {}, {}};
  for (int64_t v = 1; v <= std::max(1u, t.numCores); ++v)
    th.ints.push_back(v);
  s.knobs.push_back(th);
  s.knobs.push_back({"partition", {}, {"nnz", "rows"}});
  s.knobs.push_back({"prefetch_distance", {0, 4, 16}, {}});
  return s;
}

CostFeatures mlir::kjit::spmmCostFeatures(const SpmmConfig &c,
                                          const SpmmGeom &g,
                                          const TargetInfo &t) {
  (void)t;
  CostFeatures f;
  double nnz = g.nnz, n = g.n, m = g.m, k = g.k;
  double vecsPerRow = (double)ceilDiv(g.n, c.vectorWidth);
  double tiles = (double)std::max<int64_t>(1, ceilDiv(g.n, c.nTile));
  double tasks = (double)c.tasks(g);
  f.flops = (double)g.flops();
  f.compulsoryBytes = 4.0 * ((m + 1) + 2 * nnz + k * n + m * n);
  // Each task streams the b rows it touches once per cache tile (at most
  // K of them), and re-reads its CSR slice once per tile.
  double rowsTouched = std::min(k, tasks > 0 ? nnz / tasks : 0.0);
  f.movedBytes = 4.0 * (tasks * rowsTouched * n + m * n + 2 * nnz * tiles);
  f.workingSetBytes =
      4.0 * (std::min(k, std::max(1.0, nnz)) * std::min<double>(c.nTile, n));
  f.vectorFmas = nnz * vecsPerRow;
  // One load of b per FMA; index and value once per nonzero and block.
  f.l1Loads = nnz * vecsPerRow +
              2.0 * nnz * (double)ceilDiv(std::max<int64_t>(g.n, 1),
                                          c.blockCols());
  f.registerTile = c.nBlock + 2;
  f.laneUtilization = vecsPerRow > 0 ? n / (vecsPerRow * c.vectorWidth) : 1;
  f.parallelTasks = tasks;
  f.threads = c.threads;
  return f;
}

//===----------------------------------------------------------------------===//
// SpmmOp's TunableOpInterface
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// GPU (CUDA) config
//===----------------------------------------------------------------------===//

FailureOr<SpmmGpuConfig> SpmmGpuConfig::parse(ConfigAttr config,
                                              const SpmmGpuConfig &base,
                                              std::string &reason) {
  SpmmGpuConfig c = base;
  KnobReader knobs("kjit.spmm on CUDA");
  knobs.integer("threads", c.threads)
      .integer("col_threads", c.colThreads)
      .integer("cols_per_thread", c.colsPerThread);
  if (failed(knobs.read(config, reason)))
    return failure();
  return c;
}

ConfigAttr SpmmGpuConfig::toAttr(MLIRContext *ctx) const {
  return ConfigAttr::get(ctx, {{"threads", threads},
                               {"col_threads", colThreads},
                               {"cols_per_thread", colsPerThread}});
}

LogicalResult mlir::kjit::checkSpmmGpuConfig(const SpmmGpuConfig &c,
                                             const SpmmGeom &g,
                                             const TargetInfo &t,
                                             std::string &reason) {
  if (failed(checkGpuThreads(c.threads, t, reason)))
    return failure();
  if (c.colThreads < 1 || c.colThreads > c.threads ||
      (c.colThreads & (c.colThreads - 1))) {
    reason = "col_threads must be a power of two in [1, threads = " +
             str(c.threads) + "], got " + str(c.colThreads);
    return failure();
  }
  if (c.colsPerThread < 1 || c.colsPerThread > 16) {
    reason = "cols_per_thread must be in [1, 16], got " +
             str(c.colsPerThread);
    return failure();
  }
  (void)g;
  return success();
}

SpmmGpuConfig mlir::kjit::defaultSpmmGpuConfig(const SpmmGeom &g,
                                               const TargetInfo &t) {
  SpmmGpuConfig c;
  c.threads = 256;
  // A warp per row where N fills it, fewer threads per row for narrow N.
  c.colThreads = 32;
  while (c.colThreads > 1 && c.colThreads / 2 >= g.n)
    c.colThreads /= 2;
  c.colsPerThread = std::clamp<int64_t>(
      ceilDiv(std::max<int64_t>(g.n, 1), c.colThreads), 1, 4);
  // No more rows per block than rows (fewer threads for a short matrix).
  while (c.threads > 32 && c.threads / 2 >= c.colThreads &&
         c.rowsPerBlock() > std::max<int64_t>(g.m, 1))
    c.threads /= 2;
  return c;
}

SearchSpace mlir::kjit::spmmGpuSearchSpace(const SpmmGeom &g,
                                           const TargetInfo &t) {
  SearchSpace s;
  s.knobs.push_back({"threads", {64, 128, 256, 512}, {}});
  s.knobs.push_back({"col_threads", {4, 8, 16, 32, 64}, {}});
  s.knobs.push_back({"cols_per_thread", {1, 2, 4, 8}, {}});
  return s;
}

CostFeatures mlir::kjit::spmmGpuCostFeatures(const SpmmGpuConfig &c,
                                             const SpmmGeom &g,
                                             const TargetInfo &t) {
  CostFeatures f;
  double nnz = g.nnz, n = g.n, m = g.m, k = g.k;
  f.flops = (double)g.flops();
  f.compulsoryBytes = 4.0 * ((m + 1) + 2 * nnz + k * n + m * n);
  double tiles = (double)ceilDiv(std::max<int64_t>(g.n, 1), c.nTile());
  // Every column tile re-reads the CSR; b rows are read once per nonzero.
  f.movedBytes = 4.0 * (2 * nnz * tiles + nnz * std::min(n, tiles * c.nTile()) +
                        m * n);
  f.parallelTasks = ceilDiv(std::max<int64_t>(g.m, 1), c.rowsPerBlock()) * tiles;
  f.threads = c.threads;
  f.laneUtilization = n > 0 ? n / (tiles * c.nTile()) : 1;
  // Row slots of a block past the matrix idle.
  f.laneUtilization *= std::min(
      1.0, double(ceilDiv(std::max<int64_t>(g.m, 1) * c.colThreads, 32) * 32) /
               double(c.threads));
  return f;
}

using SpmmCpuFamily = TunableFamily<SpmmConfig, getSpmmGeom, defaultSpmmConfig,
                                    checkSpmmConfig, spmmSearchSpace,
                                    spmmCostFeatures>;
using SpmmGpuFamily =
    TunableFamily<SpmmGpuConfig, getSpmmGeom, defaultSpmmGpuConfig,
                  checkSpmmGpuConfig, spmmGpuSearchSpace, spmmGpuCostFeatures>;
using SpmmFamily = TargetFamily<SpmmCpuFamily, SpmmGpuFamily>;
KJIT_TUNABLE_OP(SpmmOp, SpmmFamily)
