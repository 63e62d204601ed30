//===- SparseTuning.cpp - TunableOpInterface of kjit.spmm and spgemm ------===//
#include "dialects/kjit/IR/TunableFamily.h"
#include "dialects/kjit/IR/KnobReader.h"
#include "dialects/kjit/IR/SparseTuning.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <climits>
#include <cmath>

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
      .choice("partition", {"nnz", "rows", "cols"},
              [&](StringRef v) {
                c.partition = v == "nnz"    ? SpmmConfig::Partition::Nnz
                              : v == "rows" ? SpmmConfig::Partition::Rows
                                            : SpmmConfig::Partition::Cols;
              })
      .integer("prefetch_distance", c.prefetchDistance)
      .integer("pack_b", c.packB)
      .integer("k_tile", c.kTile);
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
                          {"prefetch_distance", prefetchDistance},
                          {"pack_b", packB},
                          {"k_tile", kTile}},
                         {{"partition", partition == Partition::Nnz ? "nnz"
                                        : partition == Partition::Rows
                                            ? "rows"
                                            : "cols"}});
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
  if (c.kTile < 0)
    return bad("k_tile must be >= 0 (0: no K blocks), got " + str(c.kTile));
  if (c.packB != 0 && c.packB != 1)
    return bad("pack_b must be 0 or 1, got " + str(c.packB));
  if (c.packB) {
    // One K x n_tile buffer per thread.
    int64_t bytes = 4 * std::max<int64_t>(g.k, 1) * c.nTile *
                    std::min(c.threads, std::max<int64_t>(c.tasks(g), 1));
    if (bytes > (int64_t(1) << 31))
      return bad("pack_b = 1 needs " + str(bytes) +
                 " bytes of tile buffers (K x n_tile x threads x 4); at "
                 "most 2 GiB: use a smaller n_tile or pack_b = 0");
  }
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
  c.partition = SpmmConfig::Partition::Nnz;
  // Enough column tiles to deal evenly to the threads: each thread packs and
  // streams its own tiles (no tile packed twice, every row of A reuses it).
  if (c.threads > 1 && c.colTiles(g) >= 4 * c.threads)
    c.partition = SpmmConfig::Partition::Cols;
  // Packing costs one copy of b per call; worth it when each row of b is
  // used a few times per tile (nnz >= 2 K: measured 24 -> 14 ms at 90%,
  // bench/results/2026-11-28-spmm.md).
  c.packB = g.nnz >= 2 * g.k ? 1 : 0;
  c.prefetchDistance = 0;
  c.kTile = 0;
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
  s.knobs.push_back({"partition", {}, {"nnz", "rows", "cols"}});
  s.knobs.push_back({"prefetch_distance", {0, 4, 16}, {}});
  s.knobs.push_back({"pack_b", {0, 1}, {}});
  s.knobs.push_back({"k_tile", {0, 64, 128, 256}, {}});
  return s;
}

CostFeatures mlir::kjit::spmmCostFeatures(const SpmmConfig &c,
                                          const SpmmGeom &g,
                                          const TargetInfo &t) {
  CostFeatures f;
  double nnz = g.nnz, n = g.n, m = g.m, k = g.k;
  double vecsPerRow = (double)ceilDiv(g.n, c.vectorWidth);
  double tiles = (double)std::max<int64_t>(1, ceilDiv(g.n, c.nTile));
  double tasks = (double)c.tasks(g);
  f.flops = (double)g.flops();
  f.compulsoryBytes = 4.0 * ((m + 1) + 2 * nnz + k * n + m * n);
  // Each row task streams the b rows it touches once per cache tile (at
  // most K of them), and re-reads its CSR slice once per tile; a column task
  // reads its tile of b once and the whole CSR. Packing copies b once per
  // task that touches it (a read and a write).
  bool cols = c.partition == SpmmConfig::Partition::Cols;
  double rowsTouched =
      cols ? std::min(k, nnz)
           : std::min(k, tasks > 0 ? nnz / tasks : 0.0);
  double bCopies = cols ? 1.0 : std::max(tasks, 1.0);
  f.movedBytes = 4.0 * ((cols ? rowsTouched * n
                              : tasks * rowsTouched * n) +
                        m * n + 2 * nnz * tiles +
                        (c.packB ? 2.0 * bCopies * k * n : 0.0));
  f.workingSetBytes =
      4.0 * (std::min(k, std::max(1.0, nnz)) * std::min<double>(c.nTile, n));
  f.vectorFmas = nnz * vecsPerRow;
  // One load of b per FMA; index and value once per nonzero and block.
  f.l1Loads = nnz * vecsPerRow +
              2.0 * nnz * (double)ceilDiv(std::max<int64_t>(g.n, 1),
                                          c.blockCols());
  f.laneUtilization = vecsPerRow > 0 ? n / (vecsPerRow * c.vectorWidth) : 1;
  // Generic facts for the pruning rules. A cache tile of `tileCols` columns is
  // done in register blocks of n_block vectors; the remainder columns in
  // one (masked) block of ceil(rem / vector_width) vectors. When one block
  // is wider than the tile, the whole tile is that remainder block.
  int64_t tileCols = std::max<int64_t>(1, std::min(c.nTile, g.n));
  int64_t w = c.blockCols();
  int64_t blocks = tileCols / w, rem = tileCols % w;
  int64_t tileVecs = ceilDiv(tileCols, c.vectorWidth);
  f.registerTile =
      (blocks > 0 ? c.nBlock : ceilDiv(rem, c.vectorWidth)) + 2;
  f.registerTileCap = tileVecs + 2;
  f.tailWaste = blocks > 0 ? double(rem) / double(tileCols) : 0.0;
  f.vectorLanes = c.vectorWidth;
  int64_t widest = 4;
  for (int64_t v : {8, 16})
    if (v <= (int64_t)t.maxF32Lanes())
      widest = v;
  f.widestVectorLanes = widest;
  f.widestLaneUtilization =
      g.n > 0 ? n / (double(ceilDiv(g.n, widest)) * widest) : 1;
  // Variants that generate the same code: an n_tile beyond N when a smaller
  // one of the space (128, 256, ...) is too; an n_block whose block already
  // covers the tile at half the size; the partition with one task.
  bool sameTile = c.nTile > g.n && c.nTile / 2 >= std::max<int64_t>(g.n, 128);
  bool sameBlock = c.nBlock > 1 && (c.nBlock / 2) * c.vectorWidth >= tileCols;
  bool samePartition =
      tasks <= 1 && c.partition != SpmmConfig::Partition::Nnz;
  // One K block holding all of K does the unblocked work (plus a sortedness
  // check); row_tile under the column partition is unused.
  bool sameKTile = c.kTile > 0 && c.kTile >= g.k;
  bool unusedRowTile =
      c.partition == SpmmConfig::Partition::Cols && c.rowTile != 1;
  f.redundantVariant =
      sameTile || sameBlock || samePartition || sameKTile || unusedRowTile;
  f.parallelTasks = tasks;
  f.threads = c.threads;
  return f;
}

//===----------------------------------------------------------------------===//
// GPU (CUDA) config
//===----------------------------------------------------------------------===//

namespace {
const IntKnob<SpmmGpuConfig> kSpmmGpuConfigKnobs[] = {
    {"threads", &SpmmGpuConfig::threads},
    {"col_threads", &SpmmGpuConfig::colThreads},
    {"cols_per_thread", &SpmmGpuConfig::colsPerThread},
    {"vector_width", &SpmmGpuConfig::vectorWidth}};
} // namespace

FailureOr<SpmmGpuConfig> SpmmGpuConfig::parse(ConfigAttr config,
                                              const SpmmGpuConfig &base,
                                              std::string &reason) {
  return readIntKnobs<SpmmGpuConfig>("kjit.spmm on CUDA", kSpmmGpuConfigKnobs,
                                     config, base, reason);
}

ConfigAttr SpmmGpuConfig::toAttr(MLIRContext *ctx) const {
  return intKnobsAttr<SpmmGpuConfig>(ctx, kSpmmGpuConfigKnobs, *this);
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
  if (c.vectorWidth != 1 && c.vectorWidth != 2 && c.vectorWidth != 4) {
    reason = "vector_width must be 1, 2 or 4, got " + str(c.vectorWidth);
    return failure();
  }
  if (g.n % c.vectorWidth != 0) {
    reason = "vector_width (" + str(c.vectorWidth) +
             ") must divide the columns of b and out (N = " + str(g.n) +
             "); the widest legal here is " + str(spmmGpuWidestVector(g));
    return failure();
  }
  if (c.colsPerThread * c.vectorWidth > 32) {
    reason = "cols_per_thread x vector_width (" +
             str(c.colsPerThread * c.vectorWidth) +
             " accumulators per thread) must be at most 32";
    return failure();
  }
  return success();
}

int64_t mlir::kjit::spmmGpuWidestVector(const SpmmGeom &g) {
  for (int64_t w : {4, 2})
    if (g.n > 0 && g.n % w == 0)
      return w;
  return 1;
}

SpmmGpuConfig mlir::kjit::defaultSpmmGpuConfig(const SpmmGeom &g,
                                               const TargetInfo &t) {
  SpmmGpuConfig c;
  c.threads = 256;
  // The widest vectors N allows; a warp per row where N / vector_width
  // fills it, fewer threads per row for narrow N.
  c.vectorWidth = spmmGpuWidestVector(g);
  int64_t slots = ceilDiv(std::max<int64_t>(g.n, 1), c.vectorWidth);
  c.colThreads = 32;
  while (c.colThreads > 1 && c.colThreads / 2 >= slots)
    c.colThreads /= 2;
  c.colsPerThread =
      std::clamp<int64_t>(ceilDiv(slots, c.colThreads), 1, 4);
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
  // Widths N allows; narrower ones than the widest are pruned unless they
  // use the lanes better (breaksWidestVector).
  Knob vw{"vector_width", {}, {}};
  for (int64_t w : {4, 2, 1}) // widest first: it wins the model's ties
    if (w <= spmmGpuWidestVector(g))
      vw.ints.push_back(w);
  s.knobs.push_back(vw);
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
  double rowUtil = std::min(
      1.0, double(ceilDiv(std::max<int64_t>(g.m, 1) * c.colThreads, 32) * 32) /
               double(c.threads));
  f.laneUtilization *= rowUtil;
  // vector_width: the widest legal one is preferred (breaksWidestVector)
  // unless a narrower one wastes fewer columns of the tile.
  SpmmGpuConfig wide = c;
  wide.vectorWidth = spmmGpuWidestVector(g);
  double wideTiles =
      (double)ceilDiv(std::max<int64_t>(g.n, 1), wide.nTile());
  f.vectorLanes = c.vectorWidth;
  f.widestVectorLanes = wide.vectorWidth;
  f.widestLaneUtilization =
      (n > 0 ? n / (wideTiles * wide.nTile()) : 1) * rowUtil;
  return f;
}

// SpmmOp's TunableOpInterface: the CPU or the GPU family by target.
using SpmmCpuFamily = TunableFamily<SpmmConfig, getSpmmGeom, defaultSpmmConfig,
                                    checkSpmmConfig, spmmSearchSpace,
                                    spmmCostFeatures>;
using SpmmGpuFamily =
    TunableFamily<SpmmGpuConfig, getSpmmGeom, defaultSpmmGpuConfig,
                  checkSpmmGpuConfig, spmmGpuSearchSpace, spmmGpuCostFeatures>;
using SpmmFamily = TargetFamily<SpmmCpuFamily, SpmmGpuFamily>;
KJIT_TUNABLE_OP(SpmmOp, SpmmFamily)

//===----------------------------------------------------------------------===//
// kjit.spgemm
//===----------------------------------------------------------------------===//

FailureOr<SpgemmGeom> mlir::kjit::getSpgemmGeom(Operation *op,
                                                std::string &reason) {
  auto sp = dyn_cast<SpgemmOp>(op);
  if (!sp) {
    reason = "not a kjit.spgemm";
    return failure();
  }
  for (Value v : sp->getOperands())
    if (!cast<RankedTensorType>(v.getType()).hasStaticShape()) {
      reason = "kjit.spgemm: code generation needs static input shapes";
      return failure();
    }
  SpgemmGeom g;
  ArrayRef<int64_t> shape = sp.getShape();
  g.m = shape[0];
  g.k = shape[1];
  g.n = shape[2];
  g.nnzA = cast<RankedTensorType>(sp.getAColIdx().getType()).getDimSize(0);
  g.nnzB = cast<RankedTensorType>(sp.getBColIdx().getType()).getDimSize(0);
  for (auto [what, v] : {std::pair<const char *, int64_t>{"M", g.m},
                         {"K", g.k},
                         {"N", g.n},
                         {"nnz of a", g.nnzA},
                         {"nnz of b", g.nnzB}})
    if (v > INT32_MAX) {
      reason = std::string("kjit.spgemm: ") + what + " = " + str(v) +
               " does not fit the int32 indices (at most 2147483647)";
      return failure();
    }
  return g;
}

FailureOr<SpgemmConfig> SpgemmConfig::parse(ConfigAttr config,
                                            const SpgemmConfig &base,
                                            std::string &reason) {
  SpgemmConfig c = base;
  KnobReader knobs("kjit.spgemm");
  knobs
      .choice("accumulator", {"dense", "hash", "sort"},
              [&](StringRef v) {
                c.accumulator = v == "dense"  ? Accumulator::Dense
                                : v == "hash" ? Accumulator::Hash
                                              : Accumulator::Sort;
              })
      .integer("threads", c.threads)
      .choice("partition", {"flops", "rows"},
              [&](StringRef v) { c.balanceFlops = v == "flops"; })
      .integer("tasks_per_thread", c.tasksPerThread)
      .integer("hash_scale", c.hashScale)
      .choice("symbolic", {"exact", "bound"},
              [&](StringRef v) { c.boundedSymbolic = v == "bound"; })
      .integer("prefetch_distance", c.prefetchDistance)
      .integer("short_row", c.shortRow);
  if (failed(knobs.read(config, reason)))
    return failure();
  return c;
}

ConfigAttr SpgemmConfig::toAttr(MLIRContext *ctx) const {
  const char *acc = accumulator == Accumulator::Dense  ? "dense"
                    : accumulator == Accumulator::Hash ? "hash"
                                                       : "sort";
  return ConfigAttr::get(ctx,
                         {{"threads", threads},
                          {"tasks_per_thread", tasksPerThread},
                          {"hash_scale", hashScale},
                          {"prefetch_distance", prefetchDistance},
                          {"short_row", shortRow}},
                         {{"accumulator", acc},
                          {"partition", balanceFlops ? "flops" : "rows"},
                          {"symbolic", boundedSymbolic ? "bound" : "exact"}});
}

LogicalResult mlir::kjit::checkSpgemmConfig(const SpgemmConfig &c,
                                            const SpgemmGeom &g,
                                            const TargetInfo &t,
                                            std::string &reason) {
  (void)t;
  auto bad = [&](std::string why) {
    reason = std::move(why);
    return failure();
  };
  if (c.threads < 1 || c.threads > 256)
    return bad("threads must be in [1, 256], got " + str(c.threads));
  if (c.tasksPerThread < 1 || c.tasksPerThread > 64)
    return bad("tasks_per_thread must be in [1, 64], got " +
               str(c.tasksPerThread));
  if (c.hashScale < 1 || c.hashScale > 16 ||
      (c.hashScale & (c.hashScale - 1)) != 0)
    return bad("hash_scale must be a power of two in [1, 16], got " +
               str(c.hashScale));
  if (c.prefetchDistance < 0 || c.prefetchDistance > 64)
    return bad("prefetch_distance must be in [0, 64], got " +
               str(c.prefetchDistance));
  if (c.shortRow < 0 || c.shortRow > kSpgemmMaxShortRow)
    return bad("short_row must be in [0, " + str(kSpgemmMaxShortRow) +
               "], got " + str(c.shortRow));
  if (c.accumulator == SpgemmConfig::Accumulator::Dense &&
      g.n > kSpgemmMaxDenseN)
    return bad("accumulator \"dense\" keeps N floats and N bits per "
               "thread; N = " +
               str(g.n) + " is above " + str(kSpgemmMaxDenseN) +
               " (use \"hash\" or \"sort\")");
  return success();
}

SpgemmConfig mlir::kjit::defaultSpgemmConfig(const SpgemmGeom &g,
                                             const TargetInfo &t) {
  SpgemmConfig c;
  // Dense while its per-thread accumulator (4 N + N / 8 bytes) stays in L2,
  // or while rows are dense enough that the bitmap scan (N / 64 words at
  // most per row) costs less than sorting the row's products; else hash.
  double denseBytes = 4.125 * (double)g.n;
  double perRow = g.flopsPerRow();
  bool dense = g.n <= kSpgemmMaxDenseN &&
               (denseBytes <= (double)t.l2Bytes || perRow * 64 >= (double)g.n);
  c.accumulator = dense ? SpgemmConfig::Accumulator::Dense
                        : SpgemmConfig::Accumulator::Hash;
  // One thread for small products: a team costs more than it saves.
  c.threads = g.flopsPerRow() * (double)g.m < 65536.0
                  ? 1
                  : std::max(1u, t.numCores);
  c.balanceFlops = true;
  // Tasks balanced by products: a few per thread absorb what the product
  // count does not predict (the distinct columns).
  c.tasksPerThread = c.threads > 1 ? 4 : 1;
  c.hashScale = 2;
  // "bound": no symbolic pass (it reads A and the rows of B a second
  // time); the result goes into buffers of min(products, N) entries per
  // row (falling back to "exact" at run time when that bound passes
  // kSpgemmMaxBoundProducts). On one thread it is written packed from
  // offset 0: nothing moves and only the result's pages are touched; with
  // several tasks their blocks move down once after the prefix sum (bench/
  // results/2026-12-08-spgemm.md).
  c.boundedSymbolic = true;
  // Prefetch the rows of B a later nonzero of A selects unless B (row_ptr,
  // col_idx, values) fits in half the L2: then they are already cached.
  double bBytes = 4.0 * (double)(g.k + 1) + 8.0 * (double)g.nnzB;
  c.prefetchDistance = bBytes <= 0.5 * (double)t.l2Bytes ? 0 : 8;
  // Rows of at most 8 products sorted instead of accumulated, when rows
  // are expected that short (at most 8 products on average): a handful
  // sorts faster than the accumulator's per-row work (open and list words,
  // scan them). With longer rows the per-row test costs more than the few
  // short rows save (measured: Pd, 2.8 products per row, 9% faster with it;
  // bcspwr10, 19 per row, 5% slower).
  c.shortRow = g.flopsPerRow() <= 8.0 ? 8 : 0;
  return c;
}

SearchSpace mlir::kjit::spgemmSearchSpace(const SpgemmGeom &g,
                                          const TargetInfo &t) {
  SearchSpace s;
  Knob acc{"accumulator", {}, {"hash", "sort"}};
  if (g.n <= kSpgemmMaxDenseN)
    acc.strings.insert(acc.strings.begin(), "dense");
  s.knobs.push_back(acc);
  Knob th{"threads", {}, {}};
  for (int64_t v = 1; v <= std::max(1u, t.numCores); ++v)
    th.ints.push_back(v);
  s.knobs.push_back(th);
  s.knobs.push_back({"partition", {}, {"flops", "rows"}});
  s.knobs.push_back({"tasks_per_thread", {1, 4, 16}, {}});
  s.knobs.push_back({"hash_scale", {1, 2, 4}, {}});
  s.knobs.push_back({"symbolic", {}, {"bound", "exact"}});
  s.knobs.push_back({"prefetch_distance", {0, 4, 16}, {}});
  s.knobs.push_back({"short_row", {0, 8, 32}, {}});
  return s;
}

/// The spgemm features of the problem, whatever the target: FLOPs and the
/// compulsory bytes (inputs once, the CSR result once, its distinct
/// entries at most N per row). Returns the number of products.
static double spgemmBaseFeatures(const SpgemmGeom &g, CostFeatures &f) {
  double m = g.m, products = g.flopsPerRow() * m;
  double outNnz = std::min(products, m * (double)g.n);
  f.flops = 2.0 * products;
  f.compulsoryBytes = 4.0 * ((m + 1) + 2.0 * g.nnzA + (g.k + 1) +
                             2.0 * g.nnzB + (m + 1) + 2.0 * outNnz);
  return products;
}

CostFeatures mlir::kjit::spgemmCostFeatures(const SpgemmConfig &c,
                                            const SpgemmGeom &g,
                                            const TargetInfo &t) {
  (void)t;
  CostFeatures f;
  const double m = g.m, products = spgemmBaseFeatures(g, f);
  const double outNnz = std::min(products, m * (double)g.n);
  // Two passes (symbolic, numeric) over A and the rows of B it selects, or
  // one pass writing into the bound (min(products, N) per row), plus, with
  // several tasks, the move of their blocks (the result read and written
  // once more); one thread runs one task.
  bool moves = c.threads > 1 && c.tasks(g) > 1;
  f.movedBytes =
      c.boundedSymbolic
          ? 4.0 * 2.0 * g.nnzA + 8.0 * products + 8.0 * outNnz +
                (moves ? 16.0 * outNnz : 0.0)
          : 2.0 * (4.0 * 2.0 * g.nnzA + 8.0 * products) + 8.0 * outNnz;
  double perRow = g.flopsPerRow();
  switch (c.accumulator) {
  case SpgemmConfig::Accumulator::Dense:
    f.workingSetBytes = 4.125 * (double)g.n;
    break;
  case SpgemmConfig::Accumulator::Hash:
    f.workingSetBytes = 8.0 * c.hashScale * std::min(perRow, (double)g.n);
    break;
  case SpgemmConfig::Accumulator::Sort:
    f.workingSetBytes = 8.0 * perRow;
    break;
  }
  f.parallelTasks = (double)c.tasks(g);
  f.threads = c.threads;
  // Variants doing the same work: hash_scale without the hash accumulator;
  // several tasks on one thread (run one after the other); the partition
  // of a single task.
  bool unusedHashScale = c.accumulator != SpgemmConfig::Accumulator::Hash &&
                         c.hashScale != 2;
  bool serialTasks = c.threads == 1 && c.tasksPerThread != 1;
  // tasks_per_thread whose next smaller value of the space (1, 4, 16)
  // already gives one task per row.
  bool sameTasks =
      c.tasksPerThread > 1 && c.threads * (c.tasksPerThread / 4) >= g.m;
  // A prefetch distance past every nonzero of a when the next smaller one
  // (0, 4, 16) already is.
  bool samePrefetch =
      c.prefetchDistance > 4 && c.prefetchDistance / 4 >= g.nnzA;
  bool onePartition = c.tasks(g) <= 1 && !c.balanceFlops;
  // short_row with the sort accumulator (every row is sorted anyway).
  bool unusedShortRow =
      c.accumulator == SpgemmConfig::Accumulator::Sort && c.shortRow != 0;
  f.redundantVariant = unusedHashScale || serialTasks || sameTasks ||
                       samePrefetch || onePartition || unusedShortRow;
  return f;
}

//===----------------------------------------------------------------------===//
// kjit.spgemm GPU (CUDA) config
//===----------------------------------------------------------------------===//

namespace {
const IntKnob<SpgemmGpuConfig> kSpgemmGpuConfigKnobs[] = {
    {"threads", &SpgemmGpuConfig::threads},
    {"blocks", &SpgemmGpuConfig::blocks},
    {"group", &SpgemmGpuConfig::group},
    {"sort_capacity", &SpgemmGpuConfig::sortCapacity}};
} // namespace

FailureOr<SpgemmGpuConfig> SpgemmGpuConfig::parse(ConfigAttr config,
                                                  const SpgemmGpuConfig &base,
                                                  std::string &reason) {
  return readIntKnobs<SpgemmGpuConfig>("kjit.spgemm on CUDA",
                                       kSpgemmGpuConfigKnobs, config, base,
                                       reason);
}

ConfigAttr SpgemmGpuConfig::toAttr(MLIRContext *ctx) const {
  return intKnobsAttr<SpgemmGpuConfig>(ctx, kSpgemmGpuConfigKnobs, *this);
}

LogicalResult mlir::kjit::checkSpgemmGpuConfig(const SpgemmGpuConfig &c,
                                               const SpgemmGeom &g,
                                               const TargetInfo &t,
                                               std::string &reason) {
  auto bad = [&](std::string why) {
    reason = std::move(why);
    return failure();
  };
  if (failed(checkGpuThreads(c.threads, t, reason)))
    return failure();
  if (c.group < 1 || c.group > c.threads || (c.group & (c.group - 1)) ||
      c.threads % c.group != 0)
    return bad("group must be a power of two dividing threads = " +
               str(c.threads) + ", got " + str(c.group));
  if (c.blocks < 1 || c.blocks > 65535)
    return bad("blocks must be in [1, 65535], got " + str(c.blocks));
  if (c.sortCapacity < 32 || c.sortCapacity > 8192 || c.sortCapacity % 32)
    return bad("sort_capacity must be a multiple of 32 in [32, 8192], got " +
               str(c.sortCapacity));
  if (failed(checkGpuShared(c.sharedBytes(), t,
                            "sort_capacity = " + str(c.sortCapacity) +
                                " with threads = " + str(c.threads),
                            reason)))
    return failure();
  int64_t perBlock = std::max<int64_t>(g.n, 1) * 8;
  if (perBlock > kSpgemmGpuMaxScratch)
    return bad("kjit.spgemm on CUDA keeps N markers and N accumulators per "
               "block (8 N bytes); N = " +
               str(g.n) + " needs more than the " +
               str(kSpgemmGpuMaxScratch) + " bytes of device scratch allowed");
  if (c.scratchBytes(g) > kSpgemmGpuMaxScratch)
    return bad("blocks = " + str(c.blocks) + " x N = " + str(g.n) +
               " x 8 bytes of marker and accumulator scratch is above " +
               str(kSpgemmGpuMaxScratch) + " bytes; at most " +
               str(kSpgemmGpuMaxScratch / perBlock) + " blocks");
  return success();
}

SpgemmGpuConfig mlir::kjit::defaultSpgemmGpuConfig(const SpgemmGeom &g,
                                                   const TargetInfo &t) {
  SpgemmGpuConfig c;
  c.threads = 256;
  // Threads per nonzero of A: about the average length of a row of B (a
  // warp at most), so that the threads of a group rarely idle.
  double bRow = g.k > 0 ? (double)g.nnzB / (double)g.k : 0.0;
  c.group = 1;
  while (c.group < 32 && 2.0 * c.group <= bRow)
    c.group *= 2;
  // Eight resident blocks per SM, within a quarter of the scratch limit
  // (the scratch is filled once per call: blocks x N x 8 bytes).
  int64_t sms = t.smCount > 0 ? (int64_t)t.smCount : 128;
  int64_t perBlock = std::max<int64_t>(g.n, 1) * 8;
  int64_t fit = std::max<int64_t>(1, (kSpgemmGpuMaxScratch / 4) / perBlock);
  c.blocks = std::clamp<int64_t>(std::min(8 * sms, fit), 1, 65535);
  c.blocks = std::max<int64_t>(1, std::min(c.blocks, std::max<int64_t>(g.m, 1)));
  c.sortCapacity = 1024;
  return c;
}

SearchSpace mlir::kjit::spgemmGpuSearchSpace(const SpgemmGeom &g,
                                             const TargetInfo &t) {
  SearchSpace s;
  s.knobs.push_back({"threads", {128, 256, 512}, {}});
  Knob blocks{"blocks", {}, {}};
  int64_t perBlock = std::max<int64_t>(g.n, 1) * 8;
  int64_t fit = std::max<int64_t>(1, kSpgemmGpuMaxScratch / perBlock);
  for (int64_t v : {64, 128, 256, 512, 1024, 2048})
    if (v <= fit && v <= std::max<int64_t>(g.m, 1))
      blocks.ints.push_back(v);
  if (blocks.ints.empty())
    blocks.ints.push_back(std::clamp<int64_t>(
        std::min(fit, std::max<int64_t>(g.m, 1)), 1, 65535));
  s.knobs.push_back(blocks);
  s.knobs.push_back({"group", {1, 4, 8, 32}, {}});
  s.knobs.push_back({"sort_capacity", {256, 1024, 4096}, {}});
  (void)t;
  return s;
}

CostFeatures mlir::kjit::spgemmGpuCostFeatures(const SpgemmGpuConfig &c,
                                               const SpgemmGeom &g,
                                               const TargetInfo &t) {
  (void)t;
  CostFeatures f;
  const double m = g.m, products = spgemmBaseFeatures(g, f);
  const double outNnz = std::min(products, m * (double)g.n);
  // Two passes over A and the rows of B it selects, a marker exchange per
  // product (and an accumulator add in the numeric pass), the scratch fill.
  f.movedBytes = 2.0 * (8.0 * g.nnzA + 8.0 * products) + 12.0 * products +
                 8.0 * outNnz + (double)c.scratchBytes(g);
  // The GPU families report a block's shared memory as its working set
  // (the gpu-occupancy rule reads it).
  f.workingSetBytes = (double)c.sharedBytes();
  f.parallelTasks = (double)c.gridBlocks(g);
  f.threads = (int)c.threads;
  f.gpuLaunches = 6; // SpgemmGPU.cpp: six launches and one read-back
  // Threads of a group past the row of B they stride over idle.
  double bRow = g.k > 0 ? (double)g.nnzB / (double)g.k : 0.0;
  f.laneUtilization =
      std::min(1.0, std::max(bRow, 1e-3) / (double)c.group);
  // A sort capacity whose next smaller value of the space (256, 1024,
  // 4096) already holds any row (at most N distinct columns).
  f.redundantVariant =
      c.sortCapacity > 256 && c.sortCapacity / 4 >= std::max<int64_t>(g.n, 256);
  return f;
}

// SpgemmOp's TunableOpInterface: the CPU or the GPU family by target.
using SpgemmCpuFamily =
    TunableFamily<SpgemmConfig, getSpgemmGeom, defaultSpgemmConfig,
                  checkSpgemmConfig, spgemmSearchSpace, spgemmCostFeatures>;
using SpgemmGpuFamily =
    TunableFamily<SpgemmGpuConfig, getSpgemmGeom, defaultSpgemmGpuConfig,
                  checkSpgemmGpuConfig, spgemmGpuSearchSpace,
                  spgemmGpuCostFeatures>;
using SpgemmFamily = TargetFamily<SpgemmCpuFamily, SpgemmGpuFamily>;
KJIT_TUNABLE_OP(SpgemmOp, SpgemmFamily)
