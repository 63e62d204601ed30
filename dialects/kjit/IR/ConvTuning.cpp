//===- ConvTuning.cpp - TunableOpInterface of the conv ops ---------------===//
#include "dialects/kjit/IR/KnobReader.h"
#include "dialects/kjit/IR/ConvTuning.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::kjit;

namespace {
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// a * b + c for sizes (>= 0); INT64_MAX past int64, so that a limit check
/// on the result still refuses it.
int64_t mulAddSat(int64_t a, int64_t b, int64_t c = 0) {
  return llvm::checkedMulAdd(a, b, c).value_or(INT64_MAX);
}

DwGeom makeGeom(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh,
                int64_t kw, ArrayRef<int64_t> s, ArrayRef<int64_t> d,
                ArrayRef<int64_t> p) {
  DwGeom g;
  g.n = n, g.c = c, g.h = h, g.w = w, g.kh = kh, g.kw = kw;
  g.sh = s[0], g.sw = s[1], g.dh = d[0], g.dw = d[1];
  g.pt = p[0], g.pb = p[1], g.pl = p[2], g.pr = p[3];
  g.oh = (h + g.pt + g.pb - g.dh * (kh - 1) - 1) / g.sh + 1;
  g.ow = (w + g.pl + g.pr - g.dw * (kw - 1) - 1) / g.sw + 1;
  return g;
}
} // namespace

FailureOr<SmallVector<DwGeom>> mlir::kjit::getDwBranches(Operation *op,
                                                         std::string &reason) {
  SmallVector<DwGeom> out;
  if (auto dw = dyn_cast<DepthwiseConv2dOp>(op)) {
    auto in = cast<RankedTensorType>(dw.getInput().getType());
    auto f = cast<RankedTensorType>(dw.getFilter().getType());
    if (!in.hasStaticShape() || !f.hasStaticShape()) {
      reason = "kjit.depthwise_conv2d: code generation needs static shapes";
      return failure();
    }
    bool nhwc = dw.getLayout() == "nhwc";
    ArrayRef<int64_t> s = in.getShape();
    out.push_back(makeGeom(s[0], nhwc ? s[3] : s[1], nhwc ? s[1] : s[2],
                           nhwc ? s[2] : s[3], f.getDimSize(1),
                           f.getDimSize(2), dw.getStrides(),
                           dw.getDilations(), dw.getPadding()));
    out.back().nhwc = nhwc;
    return out;
  }
  if (auto inc = dyn_cast<InceptionDepthwiseConv2dOp>(op)) {
    auto in = cast<RankedTensorType>(inc.getInput().getType());
    if (!in.hasStaticShape()) {
      reason = "kjit.inception_depthwise_conv2d: code generation needs "
               "static shapes";
      return failure();
    }
    bool nhwc = inc.getLayout() == "nhwc";
    ArrayRef<int64_t> s = in.getShape();
    int64_t n = s[0], c = nhwc ? s[3] : s[1], h = nhwc ? s[1] : s[2],
            w = nhwc ? s[2] : s[3];
    ArrayRef<int64_t> g = inc.getBranchChannels();
    int64_t c0 = c - g[0] - g[1] - g[2];
    Value filters[] = {inc.getWSquare(), inc.getWBandW(), inc.getWBandH()};
    for (int i = 0; i < 3; ++i) {
      auto f = cast<RankedTensorType>(filters[i].getType());
      int64_t kh = f.getDimSize(1), kw = f.getDimSize(2);
      int64_t pads[] = {kh / 2, kh / 2, kw / 2, kw / 2};
      int64_t ones[] = {1, 1};
      DwGeom geom = makeGeom(n, g[i], h, w, kh, kw, ones, ones, pads);
      geom.cIn0 = geom.cOut0 = c0;
      geom.nhwc = nhwc;
      c0 += g[i];
      if (g[i] > 0)
        out.push_back(geom);
    }
    return out;
  }
  reason = "not a depthwise convolution";
  return failure();
}

int64_t mlir::kjit::dwPackedRows(const DwGeom &g, int64_t ohTile) {
  return (std::min(ohTile, g.oh) - 1) * g.sh + (g.kh - 1) * g.dh + 1;
}

int64_t mlir::kjit::dwPackedCols(const DwGeom &g) {
  return (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1;
}

bool mlir::kjit::dwCanReadInPlace(const DwGeom &g, int64_t vectorWidth) {
  return g.nhwc && g.c % vectorWidth == 0 && g.kw <= 16;
}

std::pair<int64_t, int64_t> mlir::kjit::dwKwRange(const DwGeom &g, int64_t ow0,
                                                  int64_t jc) {
  auto floorDiv = [](int64_t a, int64_t d) {
    return a >= 0 ? a / d : -((-a + d - 1) / d);
  };
  // iw = ow * sw + kw * dw - pl must reach [0, W) for some ow of the block.
  int64_t lo =
      std::max<int64_t>(0, -floorDiv(-(g.pl - (ow0 + jc - 1) * g.sw), g.dw));
  int64_t hi =
      std::min<int64_t>(g.kw, floorDiv(g.w - 1 + g.pl - ow0 * g.sw, g.dw) + 1);
  return {lo, std::max(lo, hi)};
}

namespace {
/// Input vectors a register block keeps live: within the `u` filter
/// columns unrolled in one step of the filter-row loop, the compiler loads
/// each input column once and keeps it until its last tap, so after tap t
/// the columns loaded by taps <= t and read again by later taps are live
/// (stride 2: every other column; stride 1: about one per output column).
int64_t dwLiveInputs(const DwGeom &g, int64_t jb, int64_t u) {
  u = std::min(u, g.kw);
  if (u <= 1)
    return 1;
  int64_t live = 1;
  for (int64_t t = 0; t + 1 < u; ++t) {
    SmallVector<int64_t> before, after;
    for (int64_t j = 0; j < jb; ++j)
      for (int64_t k = 0; k < u; ++k)
        (k <= t ? before : after).push_back(j * g.sw + k * g.dw);
    llvm::sort(before);
    before.erase(std::unique(before.begin(), before.end()), before.end());
    int64_t n = llvm::count_if(
        before, [&](int64_t p) { return llvm::is_contained(after, p); });
    live = std::max(live, n);
  }
  return live;
}

/// Vector registers of a register block: accumulators, one filter vector
/// per row, the live input vectors.
int64_t dwBlockRegisters(ArrayRef<DwGeom> branches, int64_t rows, int64_t cols,
                         int64_t kwUnroll) {
  int64_t live = 1;
  for (const DwGeom &g : branches)
    live = std::max(live, dwLiveInputs(g, std::min(cols, g.ow), kwUnroll));
  return rows * cols + rows + live;
}

/// The share of the filter taps the CPU kernel runs: those that only meet
/// zero padding are skipped (filter rows per output row, filter columns
/// per block of output columns).
double dwTapShare(const DwGeom &g, const DwConfig &c) {
  double rows = 0, cols = 0;
  for (int64_t o = 0; o < g.oh; ++o)
    for (int64_t k = 0; k < g.kh; ++k) {
      int64_t ih = o * g.sh + k * g.dh - g.pt;
      rows += ih >= 0 && ih < g.h;
    }
  int64_t jb = std::min(c.owBlock, g.ow);
  for (int64_t ow0 = 0; ow0 < g.ow; ow0 += jb) {
    int64_t jc = std::min(jb, g.ow - ow0);
    auto [lo, hi] = dwKwRange(g, ow0, jc);
    cols += double(hi - lo) * jc;
  }
  return rows / double(g.oh * g.kh) * cols / double(g.ow * g.kw);
}
} // namespace

FailureOr<DwConfig> DwConfig::parse(ConfigAttr config, const DwConfig &base,
                                    std::string &reason) {
  DwConfig c = base;
  KnobReader knobs("a depthwise convolution");
  knobs.integer("vector_width", c.vectorWidth)
      .integer("ow_block", c.owBlock)
      .integer("oh_block", c.ohBlock)
      .integer("kw_unroll", c.kwUnroll)
      .integer("oh_tile", c.ohTile)
      .integer("threads", c.threads)
      .choice("task_order", {"c_outer", "h_outer"},
              [&](StringRef v) { c.hOuter = v == "h_outer"; });
  if (failed(knobs.read(config, reason)))
    return failure();
  return c;
}

ConfigAttr DwConfig::toAttr(MLIRContext *ctx) const {
  return ConfigAttr::get(ctx,
                         {{"vector_width", vectorWidth},
                          {"ow_block", owBlock},
                          {"oh_block", ohBlock},
                          {"kw_unroll", kwUnroll},
                          {"oh_tile", ohTile},
                          {"threads", threads}},
                         {{"task_order", hOuter ? "h_outer" : "c_outer"}});
}

LogicalResult mlir::kjit::checkDwConfig(const DwConfig &c,
                                        ArrayRef<DwGeom> branches,
                                        const TargetInfo &t,
                                        std::string &reason) {
  auto bad = [&](std::string why) {
    reason = std::move(why);
    return failure();
  };
  if (failed(checkVectorWidth(c.vectorWidth, t, reason)))
    return failure();
  if (c.owBlock < 1 || c.owBlock > 32)
    return bad("ow_block must be in [1, 32], got " +
               std::to_string(c.owBlock));
  if (c.ohBlock < 1 || c.ohBlock > 4)
    return bad("oh_block must be in [1, 4], got " +
               std::to_string(c.ohBlock));
  if (c.kwUnroll < 1 || c.kwUnroll > 16)
    return bad("kw_unroll must be in [1, 16], got " +
               std::to_string(c.kwUnroll));
  if (c.ohTile < 1)
    return bad("oh_tile must be >= 1, got " + std::to_string(c.ohTile));
  if (c.threads < 1 || c.threads > 256)
    return bad("threads must be in [1, 256], got " +
               std::to_string(c.threads));
  // Accumulators, one filter vector per row of the block, one input vector.
  int64_t live = c.ohBlock * c.owBlock + c.ohBlock + 1;
  if (live > (int64_t)t.numVectorRegisters)
    return bad("oh_block x ow_block + oh_block + 1 = " + std::to_string(live) +
               " vector registers; the target has " +
               std::to_string(t.numVectorRegisters));
  for (const DwGeom &g : branches) {
    if (c.ohBlock > 1 && (g.sh != 1 || g.dh != 1))
      return bad("oh_block > 1 needs stride_h = dilation_h = 1");
    // The packed input tile of one task, kept well below the memory a task
    // may reasonably allocate.
    double tileBytes = 4.0 * dwPackedRows(g, c.ohTile) * dwPackedCols(g) *
                       c.vectorWidth;
    if (tileBytes > 256.0 * 1024 * 1024)
      return bad("oh_tile " + std::to_string(c.ohTile) +
                 " makes a packed tile of " +
                 std::to_string((int64_t)(tileBytes / (1 << 20))) +
                 " MiB; at most 256 MiB");
  }
  return success();
}

DwConfig mlir::kjit::defaultDwConfig(ArrayRef<DwGeom> branches,
                                     const TargetInfo &t) {
  DwConfig c;
  c.vectorWidth = t.maxF32Lanes() >= 16 ? 16 : (t.maxF32Lanes() >= 8 ? 8 : 4);
  bool unitRows = llvm::all_of(
      branches, [](const DwGeom &g) { return g.sh == 1 && g.dh == 1; });
  int64_t maxOw = 1, maxOh = 1, minKh = 1 << 30;
  for (const DwGeom &g : branches) {
    maxOw = std::max(maxOw, g.ow);
    maxOh = std::max(maxOh, g.oh);
    minKh = std::min(minKh, g.kh);
  }
  // Two output rows per block share each loaded input vector, but only the
  // packed tile allows them; reading the input in place (one row) saves
  // the copy into the tile and wins wherever it applies (bench/results/
  // 2026-12-08-dwconv-small.md).
  bool inPlace =
      !branches.empty() && llvm::all_of(branches, [&](const DwGeom &g) {
        return dwCanReadInPlace(g, c.vectorWidth);
      });
  c.ohBlock = (unitRows && minKh > 1 && maxOh > 1 && !inPlace) ? 2 : 1;
  // Small filters: unroll the filter row fully (static offsets, no loop).
  int64_t maxKw = 1;
  for (const DwGeom &g : branches)
    maxKw = std::max(maxKw, g.kw);
  c.kwUnroll = maxKw <= 16 ? maxKw : 1;
  // Register tile: measured on AVX-512 (bench/results), 2 rows x 7-8
  // columns or 1 row x 14 columns reach the plateau; filling all 32
  // registers (2 x 14) is 25-40% slower, the allocator spills. The block,
  // with its live input vectors, takes at most 7/8 of the file (the
  // register-fit pruning rule): a 5x5 filter at stride 2 keeps twice as
  // many inputs live as a 3x3 one.
  int64_t regs = t.numVectorRegisters;
  int64_t jTarget = c.ohBlock == 1 ? 14 : 8;
  while (jTarget > 1 && dwBlockRegisters(branches, c.ohBlock, jTarget,
                                         c.kwUnroll) > regs * 7 / 8)
    --jTarget;
  c.owBlock = std::min(jTarget, maxOw);
  // Prefer a block that divides the output width (no tail block), within
  // 2/3 of the register budget's width.
  for (int64_t j = c.owBlock; j >= std::max<int64_t>(1, c.owBlock * 2 / 3); --j)
    if (maxOw % j == 0) {
      c.owBlock = j;
      break;
    }
  c.threads = std::max(1u, t.numCores);
  // Rows per task: the packed input tile and the filter (the per-task
  // working set of dwCostFeatures, which the l2-fit rule reads) fit half of
  // L2, and there are enough tasks to feed the threads.
  const DwGeom &g0 = branches.empty() ? DwGeom() : branches.front();
  int64_t tile = maxOh;
  while (tile > c.ohBlock &&
         4.0 * c.vectorWidth *
                 (double(dwPackedRows(g0, tile)) * dwPackedCols(g0) +
                  g0.kh * g0.kw) >
             t.l2Bytes / 2)
    tile = (tile + 1) / 2;
  // Read in place, a task copies nothing; the task order decides what stays
  // in cache: row tiles outer (every channel block of a band of rows in
  // turn) with the band's input rows, all channels, in a quarter of L2, so
  // the next tile's halo rows and the output rows fit beside them.
  if (inPlace)
    while (tile > 1) {
      double bytes = 0;
      for (const DwGeom &g : branches)
        bytes += 4.0 * dwPackedRows(g, tile) * g.w * g.c;
      if (bytes <= t.l2Bytes / 4)
        break;
      tile = (tile + 1) / 2;
    }
  int64_t tasks = 0;
  for (const DwGeom &g : branches)
    tasks += g.n * ceilDiv(g.c, c.vectorWidth) * ceilDiv(g.oh, tile);
  while (tile > c.ohBlock && tasks < 4 * c.threads) {
    tile = (tile + 1) / 2;
    tasks = 0;
    for (const DwGeom &g : branches)
      tasks += g.n * ceilDiv(g.c, c.vectorWidth) * ceilDiv(g.oh, tile);
  }
  c.ohTile = std::max<int64_t>(tile, 1);
  // (Only where the order changes anything: see the no-effect-knob rule.)
  c.hOuter = inPlace && llvm::any_of(branches, [&](const DwGeom &g) {
               return g.n * ceilDiv(g.c, c.vectorWidth) > 1 &&
                      ceilDiv(g.oh, c.ohTile) > 1;
             });
  return c;
}

SearchSpace mlir::kjit::dwSearchSpace(ArrayRef<DwGeom> branches,
                                            const TargetInfo &t) {
  SearchSpace s;
  Knob vw{"vector_width", {}, {}};
  for (int64_t v : {4, 8, 16})
    if (v <= (int64_t)t.maxF32Lanes())
      vw.ints.push_back(v);
  s.knobs.push_back(vw);
  s.knobs.push_back({"ow_block", {1, 2, 4, 7, 8, 12, 14, 16, 28}, {}});
  s.knobs.push_back({"oh_block", {1, 2, 3, 4}, {}});
  // 1, 2, 4, and the full unroll of the widest filter row (at most 16, the
  // default for small filters).
  int64_t maxKw = 1;
  for (const DwGeom &g : branches)
    maxKw = std::max(maxKw, g.kw);
  Knob kwu{"kw_unroll", {1, 2, 4}, {}};
  int64_t full = std::min<int64_t>(maxKw, 16);
  if (!llvm::is_contained(kwu.ints, full))
    kwu.ints.push_back(full);
  s.knobs.push_back(kwu);
  int64_t maxOh = 1;
  for (const DwGeom &g : branches)
    maxOh = std::max(maxOh, g.oh);
  // Rows per task: the output height and its successive (rounded-up)
  // halvings down to 1, the values defaultDwConfig steps through; they
  // split the rows into near-equal tasks.
  Knob tile{"oh_tile", {}, {}};
  for (int64_t v = maxOh;; v = (v + 1) / 2) {
    tile.ints.insert(tile.ints.begin(), v);
    if (v == 1)
      break;
  }
  s.knobs.push_back(tile);
  Knob th{"threads", {}, {}};
  for (int64_t v = 1; v <= std::max(1u, t.numCores); ++v)
    th.ints.push_back(v);
  s.knobs.push_back(th);
  s.knobs.push_back({"task_order", {}, {"c_outer", "h_outer"}});
  return s;
}

CostFeatures mlir::kjit::dwCostFeatures(const DwConfig &c,
                                              ArrayRef<DwGeom> branches,
                                              const TargetInfo &t) {
  CostFeatures f;
  bool inPlaceAll = !branches.empty();
  double lanesUsed = 0, lanesTotal = 0, tasks = 0;
  for (const DwGeom &g : branches) {
    double share = dwTapShare(g, c);
    f.flops += g.flops() * share;
    double compulsory =
        4.0 * (g.n * g.c * (g.h * g.w + g.oh * g.ow) + g.c * g.kh * g.kw);
    f.compulsoryBytes += compulsory;
    int64_t cb = ceilDiv(g.c, c.vectorWidth);
    int64_t tilesH = ceilDiv(g.oh, c.ohTile);
    // Halo rows are read again by every task of a column of tiles, and
    // copied into the packed tile unless the input is read in place.
    if (c.ohBlock == 1 && dwCanReadInPlace(g, c.vectorWidth))
      f.movedBytes += compulsory;
    else
      f.movedBytes +=
          4.0 * g.n * cb * c.vectorWidth *
          (tilesH * dwPackedRows(g, c.ohTile) * dwPackedCols(g) + g.oh * g.ow);
    f.workingSetBytes = std::max(
        f.workingSetBytes,
        4.0 * c.vectorWidth * (dwPackedRows(g, c.ohTile) * dwPackedCols(g) +
                               g.kh * g.kw));
    inPlaceAll =
        inPlaceAll && c.ohBlock == 1 && dwCanReadInPlace(g, c.vectorWidth);
    double vecOut = (double)g.n * cb * g.oh * g.ow;
    double fmas = vecOut * g.kh * g.kw * share;
    f.vectorFmas += fmas;
    // Per filter tap and row pass: owBlock input loads + ohBlock weights.
    f.l1Loads += fmas * (double)(c.owBlock + c.ohBlock) /
                 (double)(c.owBlock * c.ohBlock);
    lanesUsed += g.c;
    lanesTotal += cb * c.vectorWidth;
    tasks += g.n * cb * tilesH;
  }
  f.registerTile = dwBlockRegisters(branches, c.ohBlock, c.owBlock, c.kwUnroll);
  f.laneUtilization = lanesTotal > 0 ? lanesUsed / lanesTotal : 1;
  f.parallelTasks = tasks;
  f.threads = c.threads;

  // Generic pruning facts.
  int64_t widest = std::min<int64_t>(16, t.maxF32Lanes() >= 16 ? 16
                                         : t.maxF32Lanes() >= 8 ? 8
                                                                : 4);
  f.vectorLanes = c.vectorWidth;
  f.widestVectorLanes = widest;
  double wideTotal = 0, tailWork = 0, allWork = 0;
  bool redundant = c.hOuter;
  int64_t maxOw = 1, maxOh = 1;
  bool unitRows = true;
  for (const DwGeom &g : branches) {
    wideTotal += ceilDiv(g.c, widest) * widest;
    if (c.kwUnroll < g.kw)
      f.unrollRemainder = std::max(
          f.unrollRemainder, (double)(g.kw % c.kwUnroll) / (double)g.kw);
    // Rows of each task, then full register blocks of rows and columns.
    int64_t tilesH = ceilDiv(g.oh, c.ohTile), fullRows = 0;
    for (int64_t i = 0; i < tilesH; ++i) {
      int64_t r = std::min(c.ohTile, g.oh - i * c.ohTile);
      fullRows += r / c.ohBlock * c.ohBlock;
    }
    int64_t fullCols = g.ow / c.owBlock * c.owBlock;
    double work = (double)g.n * g.c * g.oh * g.ow * g.kh * g.kw;
    allWork += work;
    tailWork += work * (1.0 - (double)(fullRows * fullCols) /
                                  (double)(g.oh * g.ow));
    f.maxWorkingSetBytes = std::max(
        f.maxWorkingSetBytes,
        4.0 * c.vectorWidth *
            (double(dwPackedRows(g, g.oh)) * dwPackedCols(g) + g.kh * g.kw));
    // The task order only matters with several channel blocks and several
    // row tiles.
    if (g.n * ceilDiv(g.c, c.vectorWidth) > 1 && tilesH > 1)
      redundant = false;
    maxOw = std::max(maxOw, g.ow);
    maxOh = std::max(maxOh, g.oh);
    unitRows = unitRows && g.sh == 1 && g.dh == 1;
  }
  // Read in place, a task's rows are not copied: small row tiles re-read
  // their halo from cache instead of packing it again, so growing them
  // (the l2-min-fill rule) gains nothing.
  if (inPlaceAll)
    f.maxWorkingSetBytes = f.workingSetBytes;
  f.widestLaneUtilization = wideTotal > 0 ? lanesUsed / wideTotal : 1;
  f.tailWaste = allWork > 0 ? tailWork / allWork : 0;
  f.redundantVariant = redundant;
  // The largest register tile (within 7/8 of the file) the output allows.
  int64_t capRegs = t.numVectorRegisters * 7 / 8, cap = 0;
  // (Read in place, a block has one row: that kernel's largest tile.)
  int64_t maxRows = unitRows && !inPlaceAll ? 4 : 1;
  for (int64_t i = 1; i <= std::min<int64_t>(maxRows, maxOh); ++i)
    for (int64_t j = 1; j <= std::min<int64_t>(32, maxOw); ++j)
      if (int64_t r = dwBlockRegisters(branches, i, j, c.kwUnroll);
          r <= capRegs)
        cap = std::max(cap, r);
  f.registerTileCap = cap;
  return f;
}

//===----------------------------------------------------------------------===//
// GPU (CUDA) config of the depthwise kernel.
//===----------------------------------------------------------------------===//

namespace {
const IntKnob<DwGpuConfig> kDwGpuConfigKnobs[] = {
    {"block_w", &DwGpuConfig::blockW},
    {"block_h", &DwGpuConfig::blockH},
    {"channels_per_block", &DwGpuConfig::channelsPerBlock},
    {"threads", &DwGpuConfig::threads},
    {"smem_stage", &DwGpuConfig::smemStage},
    {"vector_width", &DwGpuConfig::vectorWidth}};
} // namespace

FailureOr<DwGpuConfig> DwGpuConfig::parse(ConfigAttr config,
                                          const DwGpuConfig &base,
                                          std::string &reason) {
  return readIntKnobs<DwGpuConfig>("a depthwise convolution on CUDA",
                                   kDwGpuConfigKnobs, config, base, reason);
}

ConfigAttr DwGpuConfig::toAttr(MLIRContext *ctx) const {
  return intKnobsAttr<DwGpuConfig>(ctx, kDwGpuConfigKnobs, *this);
}

int64_t mlir::kjit::dwGpuHaloRows(const DwGpuConfig &c, const DwGeom &g) {
  // (kh - 1) dh + 1 fits the padded input (the verifier); block_h comes
  // from a config, maybe not yet checked.
  return mulAddSat(c.blockH - 1, g.sh, (g.kh - 1) * g.dh + 1);
}
int64_t mlir::kjit::dwGpuHaloCols(const DwGpuConfig &c, const DwGeom &g) {
  return mulAddSat(c.blockW - 1, g.sw, (g.kw - 1) * g.dw + 1);
}
int64_t mlir::kjit::dwGpuSharedBytes(const DwGpuConfig &c, const DwGeom &g) {
  if (!c.smemStage)
    return 0;
  // Halo rows and columns reach 2^37 each with large strides.
  return mulAddSat(
      mulAddSat(mulAddSat(4, c.channelsPerBlock), dwGpuHaloRows(c, g)),
      dwGpuHaloCols(c, g));
}

static int64_t gpuSharedLimit(const TargetInfo &t) {
  int64_t lim = kGpuStaticSharedLimit;
  if (t.sharedMemPerBlock > 0)
    lim = std::min<int64_t>(lim, (int64_t)t.sharedMemPerBlock);
  return lim;
}

int64_t mlir::kjit::dwGpuWidestVector(ArrayRef<DwGeom> branches) {
  for (int64_t w : {4, 2}) {
    bool ok = !branches.empty();
    for (const DwGeom &g : branches)
      ok = ok && g.nhwc && g.c % w == 0 && g.cIn0 % w == 0 &&
           g.cOut0 % w == 0;
    if (ok)
      return w;
  }
  return 1;
}

LogicalResult mlir::kjit::checkDwGpuConfig(const DwGpuConfig &c,
                                           ArrayRef<DwGeom> branches,
                                           const TargetInfo &t,
                                           std::string &reason) {
  auto bad = [&](std::string why) {
    reason = std::move(why);
    return failure();
  };
  int64_t cpb = c.channelsPerBlock;
  if (cpb != 1 && cpb != 2 && cpb != 4 && cpb != 8 && cpb != 16 &&
      cpb != 32 && cpb != 64)
    return bad("channels_per_block must be a power of two in [1, 64], got " +
               std::to_string(cpb));
  if (c.blockW < 1 || c.blockW > 64)
    return bad("block_w must be in [1, 64], got " + std::to_string(c.blockW));
  if (c.blockH < 1 || c.blockH > 64)
    return bad("block_h must be in [1, 64], got " + std::to_string(c.blockH));
  int64_t maxThreads = t.maxThreadsPerBlock ? t.maxThreadsPerBlock : 1024;
  maxThreads = std::min<int64_t>(maxThreads, 1024);
  if (c.threads < 32 || c.threads > maxThreads || c.threads % 32 != 0)
    return bad("threads (per block) must be a multiple of 32 in [32, " +
               std::to_string(maxThreads) + "], got " +
               std::to_string(c.threads));
  if (c.threads % cpb != 0)
    return bad("threads (" + std::to_string(c.threads) +
               ") must be a multiple of channels_per_block (" +
               std::to_string(cpb) + ")");
  if (c.smemStage != 0 && c.smemStage != 1)
    return bad("smem_stage must be 0 or 1, got " +
               std::to_string(c.smemStage));
  int64_t vw = c.vectorWidth;
  if (vw != 1 && vw != 2 && vw != 4)
    return bad("vector_width must be 1, 2 or 4, got " + std::to_string(vw));
  if (vw > 1) {
    if (cpb % vw != 0)
      return bad("vector_width (" + std::to_string(vw) +
                 ") must divide channels_per_block (" + std::to_string(cpb) +
                 ")");
    for (const DwGeom &g : branches) {
      if (!g.nhwc)
        return bad("vector_width > 1 needs the NHWC layout (channels "
                   "contiguous); got " +
                   std::to_string(vw) + " for NCHW");
      if (g.c % vw != 0 || g.cIn0 % vw != 0 || g.cOut0 % vw != 0)
        return bad("vector_width (" + std::to_string(vw) +
                   ") must divide the channels (" + std::to_string(g.c) +
                   (g.cIn0 ? " from channel " + std::to_string(g.cIn0)
                           : std::string()) +
                   "); the widest legal here is " +
                   std::to_string(dwGpuWidestVector(branches)));
    }
  }
  int64_t limit = gpuSharedLimit(t);
  for (const DwGeom &g : branches) {
    int64_t bytes = dwGpuSharedBytes(c, g);
    if (bytes > limit)
      return bad("the shared-memory halo tile needs " + std::to_string(bytes) +
                 " bytes per block (" + std::to_string(dwGpuHaloRows(c, g)) +
                 " x " + std::to_string(dwGpuHaloCols(c, g)) + " x " +
                 std::to_string(cpb) + " floats); at most " +
                 std::to_string(limit) +
                 "; use smaller block_w/block_h/channels_per_block or "
                 "smem_stage = 0");
  }
  return success();
}

DwGpuConfig mlir::kjit::defaultDwGpuConfig(ArrayRef<DwGeom> branches,
                                           const TargetInfo &t) {
  int64_t maxC = 1, maxOw = 1, maxOh = 1;
  for (const DwGeom &g : branches) {
    maxC = std::max(maxC, g.c);
    maxOw = std::max(maxOw, g.ow);
    maxOh = std::max(maxOh, g.oh);
  }
  int64_t limit = gpuSharedLimit(t);
  // Candidates from the most reuse-friendly down; the first whose halo tile
  // fits in shared memory wins. Channels stay >= 8 where possible (32-byte
  // sectors of NHWC rows).
  static const int64_t cand[][3] = {
      // channels_per_block, block_h, block_w
      {32, 8, 8}, {32, 4, 8}, {16, 8, 8}, {16, 4, 8}, {8, 8, 8},
      {8, 4, 8},  {8, 4, 4},  {4, 4, 4},  {4, 2, 4},  {4, 2, 2},
      {4, 1, 2},  {4, 1, 1},  {1, 1, 1}};
  DwGpuConfig c;
  bool found = false;
  for (const auto &k : cand) {
    c.channelsPerBlock = std::min<int64_t>(k[0], llvm::PowerOf2Ceil(maxC));
    c.blockH = std::min(k[1], maxOh);
    c.blockW = std::min(k[2], maxOw);
    c.smemStage = 1;
    bool fits = llvm::all_of(branches, [&](const DwGeom &g) {
      return dwGpuSharedBytes(c, g) <= limit;
    });
    if (fits) {
      found = true;
      break;
    }
  }
  if (!found) {
    c.channelsPerBlock = std::min<int64_t>(32, llvm::PowerOf2Ceil(maxC));
    c.blockH = std::min<int64_t>(4, maxOh);
    c.blockW = std::min<int64_t>(8, maxOw);
    c.smemStage = 0;
  }
  // The widest vectors the channels allow while a block keeps two warps
  // of work items (a vector of channels at one output each; a small tile
  // of a large kernel keeps its threads for occupancy).
  c.vectorWidth =
      std::min<int64_t>(dwGpuWidestVector(branches), c.channelsPerBlock);
  while (c.vectorWidth > 1 &&
         c.channelsPerBlock / c.vectorWidth * c.blockH * c.blockW < 64)
    c.vectorWidth /= 2;
  // One work item per thread where the block allows (a thread's items run
  // one after the other: fewer threads leave the SMs' thread slots empty).
  int64_t work = c.channelsPerBlock / c.vectorWidth * c.blockH * c.blockW;
  int64_t threads = std::min<int64_t>(
      std::min<int64_t>(1024, t.maxThreadsPerBlock ? t.maxThreadsPerBlock
                                                   : 1024),
      work);
  threads = std::max<int64_t>(32, (threads + 31) / 32 * 32);
  while (threads % c.channelsPerBlock)
    threads += 32;
  c.threads = threads;
  return c;
}

SearchSpace mlir::kjit::dwGpuSearchSpace(ArrayRef<DwGeom> branches,
                                         const TargetInfo &t) {
  SearchSpace s;
  s.knobs.push_back({"block_w", {1, 2, 4, 8, 16, 32}, {}});
  s.knobs.push_back({"block_h", {1, 2, 4, 8, 16, 32}, {}});
  s.knobs.push_back({"channels_per_block", {4, 8, 16, 32, 64}, {}});
  s.knobs.push_back({"threads", {64, 128, 256, 512, 1024}, {}});
  s.knobs.push_back({"smem_stage", {0, 1}, {}});
  // Widths the op allows; narrower ones than the widest are pruned unless
  // they use the lanes better (breaksWidestVector).
  Knob vw{"vector_width", {}, {}};
  for (int64_t w : {4, 2, 1}) // widest first: it wins the model's ties
    if (w <= dwGpuWidestVector(branches))
      vw.ints.push_back(w);
  s.knobs.push_back(vw);
  return s;
}

/// Useful outputs / outputs the blocks compute (channel blocks and output
/// tiles rounded up), over every branch.
static double dwGpuTileUtilization(int64_t cpb, int64_t bh, int64_t bw,
                                   ArrayRef<DwGeom> branches) {
  double used = 0, total = 0;
  for (const DwGeom &g : branches) {
    used += double(g.n) * g.c * g.oh * g.ow;
    total += double(g.n) * ceilDiv(g.c, cpb) * cpb * ceilDiv(g.oh, bh) * bh *
             ceilDiv(g.ow, bw) * bw;
  }
  return total > 0 ? used / total : 1;
}

CostFeatures mlir::kjit::dwGpuCostFeatures(const DwGpuConfig &c,
                                           ArrayRef<DwGeom> branches,
                                           const TargetInfo &t) {
  CostFeatures f;
  double tasks = 0;
  for (const DwGeom &g : branches) {
    f.flops += g.flops();
    f.compulsoryBytes +=
        4.0 * (g.n * g.c * (g.h * g.w + g.oh * g.ow) + g.c * g.kh * g.kw);
    int64_t cb = ceilDiv(g.c, c.channelsPerBlock);
    int64_t blocks =
        g.n * cb * ceilDiv(g.oh, c.blockH) * ceilDiv(g.ow, c.blockW);
    tasks += blocks;
    f.movedBytes += 4.0 * blocks * c.channelsPerBlock *
                    (double(dwGpuHaloRows(c, g)) * dwGpuHaloCols(c, g) +
                     double(c.blockH) * c.blockW);
    f.workingSetBytes =
        std::max(f.workingSetBytes, (double)dwGpuSharedBytes(c, g));
  }
  // Useful lanes: channels padded to the channel block and outputs of the
  // tiles that overhang the image are computed for nothing.
  const double tileUtil =
      dwGpuTileUtilization(c.channelsPerBlock, c.blockH, c.blockW, branches);
  // Threads idle in the block's last round of work items (i = t,
  // t + threads, ...; an item is a vector of `vw` channels at one output),
  // counted in whole warps (a warp with no item exits the loop).
  auto tailUtil = [&](int64_t vw) {
    int64_t items = c.channelsPerBlock / vw * c.blockH * c.blockW;
    int64_t rounds = ceilDiv(items, c.threads);
    return std::min(1.0, double(ceilDiv(items, 32) * 32) /
                             double(rounds * c.threads));
  };
  const int64_t vw = std::max<int64_t>(1, c.vectorWidth);
  f.laneUtilization = tileUtil * tailUtil(vw);
  // vector_width: the widest legal one is preferred (breaksWidestVector).
  int64_t widest =
      std::min<int64_t>(dwGpuWidestVector(branches), c.channelsPerBlock);
  f.vectorLanes = vw;
  f.widestVectorLanes = std::max<int64_t>(widest, 1);
  f.widestLaneUtilization = tileUtil * tailUtil(f.widestVectorLanes);
  const int64_t items = c.channelsPerBlock / vw * c.blockH * c.blockW;
  // The best any tile of the space reaches (threads fitted to the tile
  // waste nothing), for the lane-utilization rule's "of the best".
  SearchSpace space = dwGpuSearchSpace(branches, t);
  ArrayRef<int64_t> cpbs, bhs, bws;
  for (const Knob &k : space.knobs) {
    if (k.name == "channels_per_block")
      cpbs = k.ints;
    else if (k.name == "block_h")
      bhs = k.ints;
    else if (k.name == "block_w")
      bws = k.ints;
  }
  double best = 0;
  for (int64_t cpb : cpbs)
    for (int64_t bh : bhs)
      for (int64_t bw : bws)
        best = std::max(best, dwGpuTileUtilization(cpb, bh, bw, branches));
  f.maxLaneUtilization = best > 0 ? best : 1;
  f.parallelTasks = tasks;
  f.threads = c.threads;
  // Threads with work (whole warps): blocks x min(threads, items).
  // (at most one per useful output: idle items of padded tiles are no
  // work).
  double outputs = 0;
  for (const DwGeom &g : branches)
    outputs += double(g.n) * g.c * g.oh * g.ow;
  // Counted in scalar lanes: a thread with a vector of `vw` channels does
  // the work (and has the independent FMAs) of `vw` scalar threads.
  f.gpuBusyThreads = std::min(
      outputs, tasks * vw *
                   std::min<int64_t>(c.threads, ceilDiv(items, 32) * 32));
  // A warp's global loads come in runs of the layout's fastest dimension:
  // NHWC channels (min(cpb, C) floats), NCHW output columns (block_w
  // floats with unit stride, one float otherwise).
  double run = 1e18;
  for (const DwGeom &g : branches) {
    double r;
    if (g.nhwc)
      r = 4.0 * std::min(c.channelsPerBlock, g.c);
    else
      r = g.sw == 1 ? 4.0 * c.blockW : 4.0;
    run = std::min(run, r);
  }
  f.gpuLoadRunBytes = branches.empty() ? 0 : run;
  return f;
}

//===----------------------------------------------------------------------===//
// TunableOpInterface of the two conv ops (identical: one kernel family).
//===----------------------------------------------------------------------===//

namespace {
bool isCuda(const TargetInfo &t) { return t.kind == TargetInfo::Kind::CUDA; }

template <typename OpT>
SearchSpace convSpace(OpT op, const TargetInfo &t) {
  std::string why;
  auto b = getDwBranches(op, why);
  if (failed(b))
    return SearchSpace();
  return isCuda(t) ? dwGpuSearchSpace(*b, t) : dwSearchSpace(*b, t);
}
template <typename OpT>
LogicalResult convVerify(OpT op, ConfigAttr config, const TargetInfo &t,
                         std::string &reason) {
  auto b = getDwBranches(op, reason);
  if (failed(b))
    return failure();
  if (isCuda(t)) {
    auto c = DwGpuConfig::parse(config, defaultDwGpuConfig(*b, t), reason);
    if (failed(c))
      return failure();
    return checkDwGpuConfig(*c, *b, t, reason);
  }
  auto c = DwConfig::parse(config, defaultDwConfig(*b, t), reason);
  if (failed(c))
    return failure();
  return checkDwConfig(*c, *b, t, reason);
}
template <typename OpT>
ConfigAttr convDefault(OpT op, const TargetInfo &t) {
  std::string why;
  auto b = getDwBranches(op, why);
  SmallVector<DwGeom> none;
  if (isCuda(t))
    return defaultDwGpuConfig(succeeded(b) ? *b : none, t)
        .toAttr(op->getContext());
  return defaultDwConfig(succeeded(b) ? *b : none, t)
      .toAttr(op->getContext());
}
template <typename OpT>
CostFeatures convCost(OpT op, ConfigAttr config, const TargetInfo &t) {
  std::string why;
  auto b = getDwBranches(op, why);
  if (failed(b))
    return {};
  if (isCuda(t)) {
    auto g = DwGpuConfig::parse(config, defaultDwGpuConfig(*b, t), why);
    return dwGpuCostFeatures(succeeded(g) ? *g : defaultDwGpuConfig(*b, t),
                             *b, t);
  }
  auto c = DwConfig::parse(config, defaultDwConfig(*b, t), why);
  return dwCostFeatures(succeeded(c) ? *c : defaultDwConfig(*b, t), *b, t);
}
} // namespace

SearchSpace DepthwiseConv2dOp::getSearchSpace(const TargetInfo &t) {
  return convSpace(*this, t);
}
LogicalResult DepthwiseConv2dOp::verifyConfig(ConfigAttr config,
                                              const TargetInfo &t,
                                              std::string &reason) {
  return convVerify(*this, config, t, reason);
}
ConfigAttr DepthwiseConv2dOp::getDefaultConfig(const TargetInfo &t) {
  return convDefault(*this, t);
}
CostFeatures DepthwiseConv2dOp::getCostFeatures(ConfigAttr config,
                                                      const TargetInfo &t) {
  return convCost(*this, config, t);
}

SearchSpace
InceptionDepthwiseConv2dOp::getSearchSpace(const TargetInfo &t) {
  return convSpace(*this, t);
}
LogicalResult InceptionDepthwiseConv2dOp::verifyConfig(ConfigAttr config,
                                                       const TargetInfo &t,
                                                       std::string &reason) {
  return convVerify(*this, config, t, reason);
}
ConfigAttr InceptionDepthwiseConv2dOp::getDefaultConfig(const TargetInfo &t) {
  return convDefault(*this, t);
}
CostFeatures
InceptionDepthwiseConv2dOp::getCostFeatures(ConfigAttr config,
                                            const TargetInfo &t) {
  return convCost(*this, config, t);
}
