//===- LongConvTuning.cpp - TunableOpInterface of butterfly_matmul, fft_conv ===//
#include "dialects/kjit/IR/TunableFamily.h"
#include "dialects/kjit/IR/KnobReader.h"
#include "dialects/kjit/IR/LongConvTuning.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::kjit;

namespace {
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
std::string str(int64_t v) { return std::to_string(v); }
} // namespace

//===----------------------------------------------------------------------===//
// butterfly_matmul
//===----------------------------------------------------------------------===//

FailureOr<BflyGeom> mlir::kjit::getBflyGeom(Operation *op,
                                            std::string &reason) {
  auto bm = dyn_cast<ButterflyMatmulOp>(op);
  if (!bm) {
    reason = "not a kjit.butterfly_matmul";
    return failure();
  }
  auto x = cast<RankedTensorType>(bm.getX().getType());
  auto r = cast<RankedTensorType>(bm.getR().getType());
  if (!x.hasStaticShape() || !r.hasStaticShape()) {
    reason = "kjit.butterfly_matmul: code generation needs static shapes";
    return failure();
  }
  BflyGeom g;
  g.b = x.getDimSize(0);
  g.m1 = r.getDimSize(0);
  g.m2 = r.getDimSize(1);
  g.n = g.m1 * g.m2;
  return g;
}

FailureOr<BflyConfig> BflyConfig::parse(ConfigAttr config,
                                        const BflyConfig &base,
                                        std::string &reason) {
  BflyConfig c = base;
  KnobReader knobs("kjit.butterfly_matmul");
  knobs.integer("vector_width", c.vectorWidth)
      .integer("row_tile", c.rowTile)
      .integer("row_block", c.rowBlock)
      .integer("block_tile", c.blockTile)
      .choice("transpose", {"fused", "separate"},
              [&](StringRef v) { c.fuseTranspose = v == "fused"; })
      .choice("weights", {"packed", "direct"},
              [&](StringRef v) { c.packWeights = v == "packed"; })
      .integer("threads", c.threads);
  if (failed(knobs.read(config, reason)))
    return failure();
  return c;
}

ConfigAttr BflyConfig::toAttr(MLIRContext *ctx) const {
  return ConfigAttr::get(ctx,
                         {{"vector_width", vectorWidth},
                          {"row_tile", rowTile},
                          {"row_block", rowBlock},
                          {"block_tile", blockTile},
                          {"threads", threads}},
                         {{"transpose", fuseTranspose ? "fused" : "separate"},
                          {"weights", packWeights ? "packed" : "direct"}});
}

LogicalResult mlir::kjit::checkBflyConfig(const BflyConfig &c,
                                          const BflyGeom &g,
                                          const TargetInfo &t,
                                          std::string &reason) {
  auto bad = [&](std::string why) {
    reason = std::move(why);
    return failure();
  };
  if (failed(checkVectorWidth(c.vectorWidth, t, reason)))
    return failure();
  if (c.rowBlock < 1 || c.rowBlock > 4)
    return bad("row_block must be in [1, 4], got " + str(c.rowBlock));
  if (c.blockTile < 1 || c.blockTile > 16)
    return bad("block_tile must be in [1, 16], got " + str(c.blockTile));
  if (c.rowTile < 1 || c.rowTile % (c.vectorWidth * c.rowBlock) != 0)
    return bad("row_tile must be a positive multiple of vector_width x "
               "row_block = " +
               str(c.vectorWidth * c.rowBlock) + ", got " + str(c.rowTile));
  if (c.threads < 1 || c.threads > 256)
    return bad("threads must be in [1, 256], got " + str(c.threads));
  // Accumulators, one row vector per row block, one broadcast weight.
  int64_t live = c.rowBlock * c.blockTile + c.rowBlock + 1;
  if (live > (int64_t)t.numVectorRegisters)
    return bad("row_block x block_tile + row_block + 1 = " + str(live) +
               " vector registers; the target has " +
               str(t.numVectorRegisters));
  // Two packed tiles of row_tile rows of N per task.
  double tileBytes = 2.0 * 4.0 * g.n * c.rowTile;
  if (tileBytes > 256.0 * 1024 * 1024)
    return bad("row_tile " + str(c.rowTile) + " makes packed tiles of " +
               str((int64_t)(tileBytes / (1 << 20))) + " MiB; at most 256 MiB");
  return success();
}

BflyConfig mlir::kjit::defaultBflyConfig(const BflyGeom &g,
                                         const TargetInfo &t) {
  BflyConfig c;
  c.vectorWidth = t.maxF32Lanes() >= 16 ? 16 : (t.maxF32Lanes() >= 8 ? 8 : 4);
  c.threads = std::max(1u, t.numCores);
  int64_t vw = c.vectorWidth;
  int64_t rowsUp = std::max<int64_t>(vw, ceilDiv(g.b, vw) * vw);
  // Micro-tile from the register file: two row vectors when there are rows
  // for them (each broadcast weight feeds two FMAs, so a reduction step is
  // 2 vector loads + block_tile broadcasts for 2 x block_tile FMAs), and as
  // many outputs as the registers left hold: (regs - 3) / 2 = 14 with 32
  // registers (AVX-512), 6 with 16 (AVX2). One row vector: (regs - 2), at
  // most 12 (measured on AVX-512, bench/ButterflyBench.cpp).
  // Two vectors only where the rows padded to them are at most 1/16 more
  // than to one (B = 37 on 16 lanes: 64 rows of work instead of 48; B = 200:
  // 224 instead of 208, measured 10% slower than one vector).
  int64_t regs = t.numVectorRegisters;
  int64_t rowsUp2 = ceilDiv(g.b, 2 * vw) * 2 * vw;
  c.rowBlock = rowsUp >= 2 * vw && 16 * rowsUp2 <= 17 * rowsUp ? 2 : 1;
  c.blockTile = std::clamp<int64_t>((regs - c.rowBlock - 1) / c.rowBlock, 1,
                                    c.rowBlock == 1 ? 12 : 16);
  c.blockTile = std::min(c.blockTile, std::max(g.m1, g.m2));
  // Rows per task: at least one micro-tile wide; doubled while both packed
  // tiles fit in half of L2 (stage 2 reads the whole tile) and there are
  // enough tasks to feed the threads. Every row of a tile reuses each weight
  // tile from L1, so the weights stream from L2/L3 once per task.
  int64_t rt = vw * c.rowBlock;
  auto canDouble = [&] {
    return rt * 2 <= rowsUp && ceilDiv(g.b, rt * 2) >= 4 * c.threads;
  };
  while (canDouble() && 2.0 * 4.0 * g.n * rt * 2 <= t.l2Bytes / 2)
    rt *= 2;
  // Large blocks (weights past L2, re-read from L3 by every task): more rows
  // per task until the weights cost at most 64 bytes per row element, even
  // if the tiles then spill from L2 (bench/results/2026-12-08-monarch.md:
  // 8 x 512 on AVX2 runs 1.3x faster at 64 rows than at 16).
  double weightBytes = 4.0 * (g.m1 * g.m2 * g.m2 + g.m2 * g.m1 * g.m1);
  while (canDouble() && weightBytes > 64.0 * g.n * rt)
    rt *= 2;
  c.rowTile = rt;
  c.fuseTranspose = true;
  // Packing is a serial scalar copy of the weights, N (m1 + m2) elements,
  // against B N (m1 + m2) / vw vector FMAs per thread: it pays back from
  // about 16 vectors of rows per thread (B = 37, 64 x 64: the copy took
  // longer than the 0.5 ms product).
  c.packWeights = ceilDiv(g.b, rt) > 1 && g.b >= 16 * vw * c.threads;
  return c;
}

SearchSpace mlir::kjit::bflySearchSpace(const BflyGeom &g,
                                        const TargetInfo &t) {
  SearchSpace s;
  Knob vw{"vector_width", {}, {}};
  for (int64_t v : {4, 8, 16})
    if (v <= (int64_t)t.maxF32Lanes())
      vw.ints.push_back(v);
  s.knobs.push_back(vw);
  Knob rt{"row_tile", {}, {}};
  for (int64_t v = 4; v <= 256; v *= 2)
    rt.ints.push_back(v);
  s.knobs.push_back(rt);
  s.knobs.push_back({"row_block", {1, 2, 3, 4}, {}});
  s.knobs.push_back({"block_tile", {1, 2, 4, 6, 8, 12, 14, 16}, {}});
  s.knobs.push_back({"transpose", {}, {"fused", "separate"}});
  s.knobs.push_back({"weights", {}, {"packed", "direct"}});
  Knob th{"threads", {}, {}};
  for (int64_t v = 1; v <= std::max(1u, t.numCores); ++v)
    th.ints.push_back(v);
  s.knobs.push_back(th);
  return s;
}

CostFeatures mlir::kjit::bflyCostFeatures(const BflyConfig &c,
                                          const BflyGeom &g,
                                          const TargetInfo &t) {
  CostFeatures f;
  f.flops = g.flops();
  f.compulsoryBytes = 4.0 * (2.0 * g.b * g.n + g.m1 * g.m2 * g.m2 +
                             g.m2 * g.m1 * g.m1);
  int64_t tasks = ceilDiv(g.b, c.rowTile);
  double rowsDone = (double)tasks * c.rowTile;
  // x and y once each (padded to the tile), the weights once per task
  // (packed: plus one read and one write to pack them).
  double weights = (double)(g.m1 * g.m2 * g.m2 + g.m2 * g.m1 * g.m1);
  f.movedBytes = 4.0 * (2.0 * rowsDone * g.n + tasks * weights +
                        (c.packWeights ? 2.0 * weights : 0.0));
  f.workingSetBytes = 2.0 * 4.0 * g.n * c.rowTile;
  double vecRows = rowsDone / c.vectorWidth;
  f.vectorFmas = vecRows * g.n * (g.m1 + g.m2);
  // Per reduction step: row_block vector loads + block_tile broadcasts for
  // row_block x block_tile FMAs; plus the pack/unpack transposes.
  f.l1Loads = f.vectorFmas * (double)(c.rowBlock + c.blockTile) /
                  (double)(c.rowBlock * c.blockTile) +
              vecRows * g.n * (c.fuseTranspose ? 2 : 4);
  // The generator clamps block_tile to a stage's outputs (m2, then m1).
  int64_t m = std::max(g.m1, g.m2);
  int64_t bt = std::min(c.blockTile, m);
  f.registerTile = c.rowBlock * bt + c.rowBlock + 1;
  f.laneUtilization = rowsDone > 0 ? g.b / rowsDone : 1;
  // Generic facts for the pruning rules. Rows go into the lanes: a batch
  // smaller than a vector cannot fill it (the best: the narrowest vector).
  auto util = [&](int64_t vw) {
    double rows = double(ceilDiv(g.b, vw) * vw);
    return rows > 0 ? g.b / rows : 1.0;
  };
  f.maxLaneUtilization = util(4);
  f.vectorLanes = c.vectorWidth;
  int64_t widest = 4;
  for (int64_t v : {8, 16})
    if (v <= (int64_t)t.maxF32Lanes())
      widest = v;
  f.widestVectorLanes = widest;
  f.widestLaneUtilization = util(widest);
  // Outputs of a stage in tiles of block_tile: the remainder tile is the
  // tail (stage work is proportional to its outputs).
  auto tail = [&](int64_t outs) {
    return c.blockTile < outs ? double(outs % c.blockTile) : 0.0;
  };
  f.tailWaste = g.m1 + g.m2 > 0
                    ? (tail(g.m2) + tail(g.m1)) / double(g.m1 + g.m2)
                    : 0.0;
  // block_tile beyond both stages' outputs: the same code as the smallest
  // value of the space (1, 2, 4, 6, 8, 12, 14, 16) that covers them. Packed
  // weights with one task: the same weight reads as "direct" plus the copy.
  {
    int64_t prev = 0;
    for (int64_t v : {1, 2, 4, 6, 8, 12, 14, 16})
      if (v < c.blockTile)
        prev = v;
    f.redundantVariant =
        (c.blockTile > m && prev >= m) || (c.packWeights && tasks == 1);
  }
  f.parallelTasks = tasks;
  f.threads = c.threads;
  return f;
}

//===- butterfly_matmul on CUDA -------------------------------------------===//

FailureOr<BflyGpuConfig> BflyGpuConfig::parse(ConfigAttr config,
                                              const BflyGpuConfig &base,
                                              std::string &reason) {
  BflyGpuConfig c = base;
  KnobReader knobs("kjit.butterfly_matmul on CUDA");
  knobs.choice("variant", {"fused", "split"},
               [&](StringRef v) { c.fused = v == "fused"; })
      .integer("rows_per_block", c.rowsPerBlock)
      .integer("chunk", c.chunk)
      .integer("threads", c.threads)
      .integer("vector_width", c.vectorWidth);
  if (failed(knobs.read(config, reason)))
    return failure();
  return c;
}

ConfigAttr BflyGpuConfig::toAttr(MLIRContext *ctx) const {
  return ConfigAttr::get(ctx,
                         {{"rows_per_block", rowsPerBlock},
                          {"chunk", chunk},
                          {"threads", threads},
                          {"vector_width", vectorWidth}},
                         {{"variant", fused ? "fused" : "split"}});
}

int64_t mlir::kjit::bflyGpuSharedBytes(const BflyGpuConfig &c,
                                       const BflyGeom &g) {
  if (c.fused)
    return 4 * c.rowsPerBlock * 2 * g.n;
  return 4 * std::max(c.rowChunk(g) * g.m2, c.colChunk(g) * g.m1);
}

int64_t mlir::kjit::bflyGpuWidestVector(const BflyGeom &g) {
  for (int64_t w : {4, 2})
    if (g.m2 > 0 && g.m2 % w == 0)
      return w;
  return 1;
}

LogicalResult mlir::kjit::checkBflyGpuConfig(const BflyGpuConfig &c,
                                             const BflyGeom &g,
                                             const TargetInfo &t,
                                             std::string &reason) {
  if (c.rowsPerBlock < 1 || c.rowsPerBlock > 64) {
    reason = "rows_per_block must be in [1, 64], got " + str(c.rowsPerBlock);
    return failure();
  }
  if (c.chunk < 1 || c.chunk > 4096) {
    reason = "chunk must be in [1, 4096], got " + str(c.chunk);
    return failure();
  }
  if (failed(checkGpuThreads(c.threads, t, reason)))
    return failure();
  if (c.vectorWidth != 1 && c.vectorWidth != 2 && c.vectorWidth != 4) {
    reason = "vector_width must be 1, 2 or 4, got " + str(c.vectorWidth);
    return failure();
  }
  if (g.m2 % c.vectorWidth != 0) {
    reason = "vector_width (" + str(c.vectorWidth) +
             ") must divide the inner block size m2 = " + str(g.m2) +
             "; the widest legal here is " + str(bflyGpuWidestVector(g));
    return failure();
  }
  std::string what =
      c.fused ? "the fused Monarch kernel (" + str(c.rowsPerBlock) +
                    " rows x 2 x N = " + str(g.n) +
                    " floats; use variant = \"split\" for long rows)"
              : "the split Monarch kernel (chunk " + str(c.chunk) + ")";
  return checkGpuShared(bflyGpuSharedBytes(c, g), t, what, reason);
}

BflyGpuConfig mlir::kjit::defaultBflyGpuConfig(const BflyGeom &g,
                                               const TargetInfo &t) {
  BflyGpuConfig c;
  int64_t limit = gpuSharedLimit(t);
  c.fused = 8 * g.n <= limit;
  c.rowsPerBlock = 1;
  // Small rows: several per block, up to 1024 outputs per block.
  while (c.fused && 2 * c.rowsPerBlock * g.n <= 1024 &&
         2 * c.rowsPerBlock <= std::max<int64_t>(g.b, 1) &&
         bflyGpuSharedBytes({true, 2 * c.rowsPerBlock, 16, 256}, g) <= limit)
    c.rowsPerBlock *= 2;
  c.chunk = 32;
  while (c.chunk > 1 && bflyGpuSharedBytes({false, 1, c.chunk, 256}, g) >
                            limit / 2)
    c.chunk /= 2;
  int64_t work = c.fused ? c.rowsPerBlock * g.n
                         : std::max(c.rowChunk(g) * g.m2,
                                    c.colChunk(g) * g.m1);
  c.threads = std::clamp<int64_t>(ceilDiv(work, 32) * 32, 32, 256);
  c.vectorWidth = bflyGpuWidestVector(g);
  return c;
}

SearchSpace mlir::kjit::bflyGpuSearchSpace(const BflyGeom &g,
                                           const TargetInfo &t) {
  SearchSpace s;
  s.knobs.push_back({"variant", {}, {"fused", "split"}});
  s.knobs.push_back({"rows_per_block", {1, 2, 4, 8}, {}});
  s.knobs.push_back({"chunk", {4, 8, 16, 32, 64}, {}});
  s.knobs.push_back({"threads", {64, 128, 256, 512}, {}});
  // Widths m2 allows, widest first (it wins the model's ties); narrower
  // ones are pruned (breaksWidestVector).
  Knob vw{"vector_width", {}, {}};
  for (int64_t w : {4, 2, 1})
    if (w <= bflyGpuWidestVector(g))
      vw.ints.push_back(w);
  s.knobs.push_back(vw);
  return s;
}

CostFeatures mlir::kjit::bflyGpuCostFeatures(const BflyGpuConfig &c,
                                             const BflyGeom &g,
                                             const TargetInfo &t) {
  CostFeatures f;
  f.flops = g.flops();
  f.compulsoryBytes =
      4.0 * (2.0 * g.b * g.n + g.m1 * g.m2 * g.m2 + g.m2 * g.m1 * g.m1);
  // Split: X1 goes through global memory once more (write + read).
  f.movedBytes = f.compulsoryBytes + (c.fused ? 0.0 : 4.0 * 2 * g.b * g.n);
  f.gpuLaunches = c.fused ? 1 : 2; // split: one launch per stage
  f.workingSetBytes = bflyGpuSharedBytes(c, g);
  f.parallelTasks = c.fused ? ceilDiv(g.b, c.rowsPerBlock)
                            : g.b * ceilDiv(g.m1, c.rowChunk(g));
  f.threads = c.threads;
  int64_t work = c.fused ? c.rowsPerBlock * g.n
                         : std::max(c.rowChunk(g) * g.m2,
                                    c.colChunk(g) * g.m1);
  f.laneUtilization =
      std::min(1.0, double(ceilDiv(work, 32) * 32) / double(c.threads));
  f.vectorLanes = std::max<int64_t>(c.vectorWidth, 1);
  f.widestVectorLanes = bflyGpuWidestVector(g);
  f.widestLaneUtilization = f.laneUtilization;
  // `chunk` has no effect on the fused kernel, rows_per_block none on the
  // split one: keep one value of each (the default's).
  BflyGpuConfig d = defaultBflyGpuConfig(g, t);
  f.redundantVariant =
      c.fused ? c.chunk != d.chunk : c.rowsPerBlock != d.rowsPerBlock;
  return f;
}

using BflyCpuFamily = TunableFamily<BflyConfig, getBflyGeom, defaultBflyConfig,
                                 checkBflyConfig, bflySearchSpace,
                                 bflyCostFeatures>;
using BflyGpuFamily =
    TunableFamily<BflyGpuConfig, getBflyGeom, defaultBflyGpuConfig,
                  checkBflyGpuConfig, bflyGpuSearchSpace, bflyGpuCostFeatures>;
using BflyFamily = TargetFamily<BflyCpuFamily, BflyGpuFamily>;
KJIT_TUNABLE_OP(ButterflyMatmulOp, BflyFamily)

//===----------------------------------------------------------------------===//
// fft_conv
//===----------------------------------------------------------------------===//

FailureOr<FftGeom> mlir::kjit::getFftGeom(Operation *op, std::string &reason) {
  auto fc = dyn_cast<FftConvOp>(op);
  if (!fc) {
    reason = "not a kjit.fft_conv";
    return failure();
  }
  auto u = cast<RankedTensorType>(fc.getU().getType());
  auto k = cast<RankedTensorType>(fc.getK().getType());
  if (!u.hasStaticShape() || !k.hasStaticShape()) {
    reason = "kjit.fft_conv: code generation needs static shapes";
    return failure();
  }
  FftGeom g;
  g.b = u.getDimSize(0);
  g.c = u.getDimSize(1);
  g.l = u.getDimSize(2);
  g.lk = k.getDimSize(1);
  g.hasD = static_cast<bool>(fc.getD());
  int64_t need = std::max<int64_t>(32, g.l + g.lk - 1);
  g.n = 32;
  g.logN = 5;
  while (g.n < need) {
    g.n *= 2;
    ++g.logN;
  }
  if (g.logN > 26) {
    reason = "kjit.fft_conv: L + Lk - 1 = " + str(g.l + g.lk - 1) +
             " needs an FFT of 2^" + str(g.logN) + " points; at most 2^26";
    return failure();
  }
  return g;
}

FailureOr<FftConfig> FftConfig::parse(ConfigAttr config, const FftConfig &base,
                                      std::string &reason) {
  FftConfig c = base;
  KnobReader knobs("kjit.fft_conv");
  knobs.integer("vector_width", c.vectorWidth)
      .integer("radix", c.radix)
      .integer("monarch_n2", c.monarchN2)
      .integer("rows_per_task", c.rowsPerTask)
      .integer("threads", c.threads);
  if (failed(knobs.read(config, reason)))
    return failure();
  return c;
}

ConfigAttr FftConfig::toAttr(MLIRContext *ctx) const {
  return ConfigAttr::get(ctx, {{"vector_width", vectorWidth},
                               {"radix", radix},
                               {"monarch_n2", monarchN2},
                               {"rows_per_task", rowsPerTask},
                               {"threads", threads}});
}

LogicalResult mlir::kjit::checkFftConfig(const FftConfig &c, const FftGeom &g,
                                         const TargetInfo &t,
                                         std::string &reason) {
  auto bad = [&](std::string why) {
    reason = std::move(why);
    return failure();
  };
  if (failed(checkVectorWidth(c.vectorWidth, t, reason)))
    return failure();
  if (c.vectorWidth * c.vectorWidth > g.n / 2)
    return bad("vector_width " + str(c.vectorWidth) +
               " needs a half-size complex FFT of at least vector_width^2 = " +
               str(c.vectorWidth * c.vectorWidth) +
               " points (the last stages run on transposed vector_width x "
               "vector_width blocks); this op's real FFT has " +
               str(g.n) + " points, its complex FFT " + str(g.n / 2));
  if (c.radix != 2 && c.radix != 4 && c.radix != 8)
    return bad("radix must be 2, 4 or 8, got " + str(c.radix));
  int64_t blk = c.vectorWidth * c.vectorWidth;
  if (c.monarchN2 < blk || (c.monarchN2 & (c.monarchN2 - 1)) != 0)
    return bad("monarch_n2 must be a power of two >= vector_width^2 = " +
               str(blk) + " (the inner transforms hold whole " +
               str(c.vectorWidth) + "x" + str(c.vectorWidth) +
               " blocks), got " + str(c.monarchN2));
  if (c.rowsPerTask < 1 || c.rowsPerTask > 1024)
    return bad("rows_per_task must be in [1, 1024], got " +
               str(c.rowsPerTask));
  if (c.threads < 1 || c.threads > 256)
    return bad("threads must be in [1, 256], got " + str(c.threads));
  return success();
}

FftConfig mlir::kjit::defaultFftConfig(const FftGeom &g, const TargetInfo &t) {
  FftConfig c;
  c.vectorWidth = 4;
  for (int64_t v : {8, 16})
    if (v <= (int64_t)t.maxF32Lanes() && v * v <= g.n / 2)
      c.vectorWidth = v;
  // Radix 8 (three stages per pass) when the row (re + im) fits in a
  // quarter of L2, else 4: the faster one in most runs at L 4096 and
  // L 65536 on Zen 4 (bench/results/2026-11-28-fft-conv.md; noisy runs).
  c.radix = 2.0 * 4.0 * (g.n / 2) <= t.l2Bytes / 4 ? 8 : 4;
  // Inner transforms: a chunk and its mirror (re, im) in half of L1.
  int64_t half = g.n / 2, blk = c.vectorWidth * c.vectorWidth;
  c.monarchN2 = blk;
  while (c.monarchN2 * 2 <= half &&
         2 * 8 * c.monarchN2 * 2 <= (int64_t)t.l1dBytes / 2)
    c.monarchN2 *= 2;
  c.monarchN2 = std::min(std::max(c.monarchN2, blk), half);
  c.threads = std::max(1u, t.numCores);
  // Tasks are dealt round-robin to the team (a static split either way), so
  // one task per thread balances as well as one row per task and allocates
  // the per-task scratch (2 x n/2 floats) once per thread, not per row.
  c.rowsPerTask = std::min<int64_t>(
      1024, std::max<int64_t>(1, ceilDiv(g.rows(), c.threads)));
  return c;
}

SearchSpace mlir::kjit::fftSearchSpace(const FftGeom &g, const TargetInfo &t) {
  SearchSpace s;
  Knob vw{"vector_width", {}, {}};
  for (int64_t v : {4, 8, 16})
    if (v <= (int64_t)t.maxF32Lanes() && v * v <= g.n / 2)
      vw.ints.push_back(v);
  s.knobs.push_back(vw);
  s.knobs.push_back({"radix", {2, 4, 8}, {}});
  Knob n2{"monarch_n2", {}, {}};
  for (int64_t v = 16; v <= g.n / 2; v *= 2)
    n2.ints.push_back(v);
  s.knobs.push_back(n2);
  s.knobs.push_back({"rows_per_task", {1, 2, 4, 8}, {}});
  Knob th{"threads", {}, {}};
  for (int64_t v = 1; v <= std::max(1u, t.numCores); ++v)
    th.ints.push_back(v);
  s.knobs.push_back(th);
  return s;
}

CostFeatures mlir::kjit::fftCostFeatures(const FftConfig &c, const FftGeom &g,
                                         const TargetInfo &t) {
  CostFeatures f;
  f.flops = g.flops();
  f.compulsoryBytes =
      4.0 * (2.0 * g.rows() * g.l + g.c * g.lk + (g.hasD ? g.c : 0));
  // Per row: u in, y out, the channel's cached spectrum (m complex) and the
  // exact compare of k with its copy; the row itself (m complex) is swept
  // once per top radix pass (the Monarch split's column transforms) when it
  // exceeds L2, the chunks stay in cache.
  int64_t m = g.n / 2, logM = g.logN - 1;
  int64_t n2 = std::min<int64_t>(c.monarchN2, m);
  int64_t rlog = c.radix == 8 ? 3 : (c.radix == 4 ? 2 : 1);
  int64_t topStages = logM;
  for (int64_t v = n2; v > 1; v /= 2)
    --topStages;
  double topPasses = 2.0 * ceilDiv(topStages, rlog);
  double rowBytes = 8.0 * m;
  bool fits = 2 * rowBytes <= (double)t.l2Bytes;
  f.movedBytes = g.rows() * (4.0 * 2.0 * g.l + rowBytes + 8.0 * g.lk) +
                 (fits ? 0.0 : g.rows() * rowBytes * 2 * topPasses);
  f.workingSetBytes = 2 * rowBytes;
  double vecButterflies = (double)m / 2 / c.vectorWidth * logM;
  f.vectorFmas = g.rows() * 2 * vecButterflies * 3;
  f.l1Loads = g.rows() * 2 * vecButterflies * 6 / rlog;
  f.registerTile = 2.0 * c.radix + 4;
  f.laneUtilization = 1;
  f.parallelTasks = (double)ceilDiv(g.rows(), c.rowsPerTask);
  f.threads = c.threads;
  return f;
}

//===- fft_conv on CUDA ----------------------------------------------------===//

namespace {
const IntKnob<FftGpuConfig> kFftGpuConfigKnobs[] = {
    {"smem_fft", &FftGpuConfig::smemFft},
    {"radix", &FftGpuConfig::radix},
    {"threads", &FftGpuConfig::threads}};
} // namespace

FailureOr<FftGpuConfig> FftGpuConfig::parse(ConfigAttr config,
                                            const FftGpuConfig &base,
                                            std::string &reason) {
  return readIntKnobs<FftGpuConfig>("kjit.fft_conv on CUDA", kFftGpuConfigKnobs,
                                    config, base, reason);
}

ConfigAttr FftGpuConfig::toAttr(MLIRContext *ctx) const {
  return intKnobsAttr<FftGpuConfig>(ctx, kFftGpuConfigKnobs, *this);
}

int64_t mlir::kjit::fftGpuSharedBytes(const FftGpuConfig &c,
                                      const FftGeom &g) {
  return c.inShared(g) ? 4 * 2 * g.n : 0;
}

LogicalResult mlir::kjit::checkFftGpuConfig(const FftGpuConfig &c,
                                            const FftGeom &g,
                                            const TargetInfo &t,
                                            std::string &reason) {
  if (c.smemFft < 16 || c.smemFft > (int64_t(1) << 26) ||
      (c.smemFft & (c.smemFft - 1))) {
    reason = "smem_fft must be a power of two in [16, 2^26], got " +
             str(c.smemFft);
    return failure();
  }
  if (c.radix != 2 && c.radix != 4) {
    reason = "radix must be 2 or 4 on CUDA, got " + str(c.radix);
    return failure();
  }
  if (failed(checkGpuThreads(c.threads, t, reason)))
    return failure();
  return checkGpuShared(fftGpuSharedBytes(c, g), t,
                        "an FFT of " + str(g.n) +
                            " points in shared memory (2 x " + str(g.n) +
                            " floats; lower smem_fft to split it into one "
                            "launch per stage)",
                        reason);
}

FftGpuConfig mlir::kjit::defaultFftGpuConfig(const FftGeom &g,
                                             const TargetInfo &t) {
  FftGpuConfig c;
  c.smemFft = 16;
  while (8 * c.smemFft * 2 <= gpuSharedLimit(t))
    c.smemFft *= 2;
  c.radix = 4;
  // One butterfly pass is N/4 (radix 4) or N/2 work items.
  c.threads = c.inShared(g) ? std::clamp<int64_t>(g.n / 4, 32, 512) : 256;
  return c;
}

SearchSpace mlir::kjit::fftGpuSearchSpace(const FftGeom &g,
                                          const TargetInfo &t) {
  SearchSpace s;
  // 16 forces the multi-launch form; 1024..4096 keep N in shared memory
  // when N fits; and the default.
  Knob sf{"smem_fft", {16}, {}};
  for (int64_t v = 1024; v <= 4096; v *= 2)
    if (v >= g.n)
      sf.ints.push_back(v);
  int64_t dflt = defaultFftGpuConfig(g, t).smemFft;
  if (!llvm::is_contained(sf.ints, dflt))
    sf.ints.push_back(dflt);
  s.knobs.push_back(sf);
  s.knobs.push_back({"radix", {2, 4}, {}});
  s.knobs.push_back({"threads", {64, 128, 256, 512, 1024}, {}});
  return s;
}

CostFeatures mlir::kjit::fftGpuCostFeatures(const FftGpuConfig &c,
                                            const FftGeom &g,
                                            const TargetInfo &t) {
  CostFeatures f;
  f.flops = g.flops();
  f.compulsoryBytes = 4.0 * (2.0 * g.rows() * g.l + g.c * g.lk);
  double passes = c.radix == 4 ? ceilDiv(g.logN, 2) : g.logN;
  // Multi-launch: every pass reads and writes the complex rows.
  f.movedBytes = f.compulsoryBytes +
                 (c.inShared(g) ? 0.0
                                : 2.0 * (2 * passes + 1) * 8.0 * g.rows() * g.n);
  f.workingSetBytes = fftGpuSharedBytes(c, g);
  // Multi-launch (FftConvGPU.cpp): load, the forward passes, the product,
  // the inverse passes, the store.
  f.gpuLaunches = c.inShared(g) ? 1 : 2 * passes + 3;
  f.parallelTasks = c.inShared(g) ? g.rows() : g.rows() * g.n / 4;
  f.threads = c.threads;
  if (c.inShared(g)) {
    int64_t items = c.radix == 4 ? g.n / 4 : g.n / 2;
    f.laneUtilization =
        std::min(1.0, double(ceilDiv(items, 32) * 32) / double(c.threads));
  }
  // smem_fft only decides in shared memory or not: per choice keep one
  // value (the default's, else the smallest in the space).
  FftGpuConfig d = defaultFftGpuConfig(g, t);
  int64_t canonical = c.inShared(g) == d.inShared(g)
                          ? d.smemFft
                          : (c.inShared(g) ? std::max<int64_t>(g.n, 1024) : 16);
  f.redundantVariant = c.smemFft != canonical;
  return f;
}

using FftCpuFamily = TunableFamily<FftConfig, getFftGeom, defaultFftConfig,
                                checkFftConfig, fftSearchSpace,
                                fftCostFeatures>;
using FftGpuFamily =
    TunableFamily<FftGpuConfig, getFftGeom, defaultFftGpuConfig,
                  checkFftGpuConfig, fftGpuSearchSpace, fftGpuCostFeatures>;
using FftFamily = TargetFamily<FftCpuFamily, FftGpuFamily>;
KJIT_TUNABLE_OP(FftConvOp, FftFamily)
