//===- AttentionTuning.cpp - TunableOpInterface of window_attention ------===//
#include "dialects/kjit/IR/KnobReader.h"
#include "dialects/kjit/IR/TunableFamily.h"
#include "dialects/kjit/IR/AttentionTuning.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::kjit;

namespace {
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
std::string str(int64_t v) { return std::to_string(v); }
} // namespace

double WaGeom::keysPerImage() const {
  if (!causal)
    return double(h) * w * kh * kw;
  // 1-D causal: query idx of its group sees min(idx + 1, k) keys.
  double keys = 0;
  for (int64_t i = 0; i < w; ++i)
    keys += std::min<int64_t>(i / dw + 1, kw);
  return keys;
}

FailureOr<WaGeom> mlir::kjit::getWaGeom(WindowAttentionOp op,
                                        std::string &reason) {
  auto q = cast<RankedTensorType>(op.getQ().getType());
  if (!q.hasStaticShape()) {
    reason = "kjit.window_attention: code generation needs static shapes";
    return failure();
  }
  WaGeom g;
  ArrayRef<int64_t> s = q.getShape();
  g.rank = q.getRank() - 3;
  g.batch = s[0];
  g.heads = s[1];
  g.d = s.back();
  ArrayRef<int64_t> ks = op.getKernelSize();
  SmallVector<int64_t> dil = op.getDilationOrDefault();
  if (g.rank == 2) {
    g.h = s[2], g.w = s[3];
    g.kh = ks[0], g.kw = ks[1], g.dh = dil[0], g.dw = dil[1];
  } else {
    g.w = s[2];
    g.kw = ks[0], g.dw = dil[0];
  }
  g.causal = op.getIsCausal();
  g.rpb = static_cast<bool>(op.getRpb());
  g.scale = op.getScale() ? op.getScale()->convertToFloat()
                          : float(1.0 / std::sqrt(double(g.d)));
  return g;
}

FailureOr<WaConfig> WaConfig::parse(ConfigAttr config, const WaConfig &base,
                                    std::string &reason) {
  WaConfig c = base;
  if (!config)
    return c;
  for (NamedAttribute knob : config.getKnobs()) {
    StringRef name = knob.getName().getValue();
    if (!llvm::is_contained(kKnobs, name)) {
      reason = ("unknown knob '" + name +
                "' for window attention (knobs: vector_width, query_tile, "
                "query_tile_h, key_chunk, heads_per_task, query_block, "
                "threads)")
                   .str();
      return failure();
    }
    auto i = dyn_cast<IntegerAttr>(knob.getValue());
    if (!i) {
      reason = ("knob '" + name + "' must be an integer").str();
      return failure();
    }
    int64_t v = i.getValue().getSExtValue();
    if (name == "vector_width")
      c.vectorWidth = v;
    else if (name == "query_tile")
      c.queryTile = v;
    else if (name == "query_tile_h")
      c.queryTileH = v;
    else if (name == "key_chunk")
      c.keyChunk = v;
    else if (name == "heads_per_task")
      c.headsPerTask = v;
    else if (name == "query_block")
      c.queryBlock = v;
    else if (name == "threads")
      c.threads = v;
  }
  return c;
}

ConfigAttr WaConfig::toAttr(MLIRContext *ctx) const {
  return ConfigAttr::get(ctx, {{"vector_width", vectorWidth},
                               {"query_tile", queryTile},
                               {"query_tile_h", queryTileH},
                               {"key_chunk", keyChunk},
                               {"heads_per_task", headsPerTask},
                               {"query_block", queryBlock},
                               {"threads", threads}});
}

int64_t WaConfig::tasks(const WaGeom &g) const {
  return g.batch * ceilDiv(g.heads, headsPerTask) *
         ceilDiv(g.h, std::min(queryTileH, g.h)) *
         ceilDiv(g.w, std::min(queryTile, g.w));
}

WaScratch mlir::kjit::waScratch(const WaConfig &c, const WaGeom &g) {
  WaScratch s;
  s.keyChunk = std::max<int64_t>(1, std::min(c.keyChunk, g.kw));
  s.scoreLanes = s.keyChunk <= 4 ? 4 : (s.keyChunk <= 8 ? 8 : 16);
  s.d = g.d;
  s.pad = g.causal ? g.kw - 1 : 0;
  s.groupCols = s.pad + ceilDiv(g.w, g.dw);
  s.cols = ceilDiv(g.dw * s.groupCols + s.scoreLanes, 16) * 16;
  s.rows = g.rank == 2 ? std::min(g.h, std::min(c.queryTileH, g.h) +
                                           2 * (g.kh - 1) * g.dh)
                       : 1;
  return s;
}

LogicalResult mlir::kjit::checkWaConfig(const WaConfig &c, const WaGeom &g,
                                        const TargetInfo &t,
                                        std::string &reason) {
  auto bad = [&](std::string why) {
    reason = std::move(why);
    return failure();
  };
  if (failed(checkVectorWidth(c.vectorWidth, t, reason)))
    return failure();
  if (c.queryTile < 1)
    return bad("query_tile must be >= 1, got " + str(c.queryTile));
  if (c.queryTileH < 1)
    return bad("query_tile_h must be >= 1, got " + str(c.queryTileH));
  if (g.rank == 1 && c.queryTileH != 1)
    return bad("query_tile_h applies to 2-D attention only; it must be 1 "
               "for 1-D, got " +
               str(c.queryTileH));
  if (c.keyChunk < 1 || c.keyChunk > 16)
    return bad("key_chunk must be in [1, 16], got " + str(c.keyChunk));
  if (c.headsPerTask < 1 || c.headsPerTask > g.heads)
    return bad("heads_per_task must be in [1, heads = " + str(g.heads) +
               "], got " + str(c.headsPerTask));
  if (g.heads % c.headsPerTask != 0)
    return bad("heads_per_task " + str(c.headsPerTask) +
               " must divide heads (" + str(g.heads) + ")");
  if (c.queryBlock < 1 || c.queryBlock > 8)
    return bad("query_block must be in [1, 8], got " + str(c.queryBlock));
  {
    WaScratch sc = waScratch(c, g);
    int64_t bytes = sc.bytes();
    if (bytes > kWaMaxScratchBytes)
      return bad("query_tile_h " + str(c.queryTileH) + " needs a " +
                 str(bytes) + "-byte K scratch per task (" + str(sc.rows) +
                 " rows x D " + str(g.d) + " x " + str(sc.cols) +
                 " columns); the limit is " + str(kWaMaxScratchBytes));
  }
  if (c.threads < 1 || c.threads > 256)
    return bad("threads must be in [1, 256], got " + str(c.threads));
  return success();
}

WaConfig mlir::kjit::defaultWaConfig(const WaGeom &g, const TargetInfo &t) {
  WaConfig c;
  int64_t lanes = t.maxF32Lanes() >= 16 ? 16 : (t.maxF32Lanes() >= 8 ? 8 : 4);
  // The narrowest vector that covers D (fewest wasted lanes), else the
  // widest the target has.
  c.vectorWidth = lanes;
  for (int64_t v : {4, 8, 16})
    if (v <= lanes && v >= g.d) {
      c.vectorWidth = v;
      break;
    }
  // One softmax update per row of the window (or per <= 16 keys).
  int64_t chunks = ceilDiv(g.kw, 16);
  c.keyChunk = ceilDiv(g.kw, chunks);
  c.headsPerTask = 1;
  // Queries of a row interleaved: their accumulators (nv vectors each)
  // and score partial sums stay in registers.
  int64_t nv = ceilDiv(g.d, c.vectorWidth);
  c.queryBlock = nv <= 2 ? 4 : (nv <= 4 ? 2 : 1);
  c.threads = std::max(1u, t.numCores);
  // Large tasks: the transposed K rows of a task's window (its halo
  // rows are transposed again by the neighbouring task) cost less the
  // more query rows share them. Split rows, then columns, until every
  // thread has two tasks; keep the scratch within 1 MiB.
  c.queryTile = g.w;
  c.queryTileH = g.h;
  while (c.queryTileH > 1 && (c.tasks(g) < 2 * c.threads ||
                              waScratch(c, g).bytes() > (int64_t(1) << 20)))
    c.queryTileH = ceilDiv(c.queryTileH, 2);
  while (c.queryTile > 16 && c.tasks(g) < 2 * c.threads)
    c.queryTile = ceilDiv(c.queryTile, 2);
  return c;
}

SearchSpace mlir::kjit::waSearchSpace(const WaGeom &g, const TargetInfo &t) {
  SearchSpace s;
  Knob vw{"vector_width", {}, {}};
  for (int64_t v : {4, 8, 16})
    if (v <= (int64_t)t.maxF32Lanes())
      vw.ints.push_back(v);
  s.knobs.push_back(vw);
  Knob qt{"query_tile", {}, {}};
  for (int64_t v = 1; v < g.w; v *= 2)
    qt.ints.push_back(v);
  qt.ints.push_back(g.w);
  s.knobs.push_back(qt);
  Knob qh{"query_tile_h", {1}, {}};
  if (g.rank == 2)
    for (int64_t v = 2; v <= g.h; v *= 2)
      qh.ints.push_back(v);
  s.knobs.push_back(qh);
  Knob kc{"key_chunk", {}, {}};
  for (int64_t v : {1, 2, 4, 7, 8, 13, 16})
    kc.ints.push_back(v);
  s.knobs.push_back(kc);
  s.knobs.push_back(Knob{"query_block", {1, 2, 4, 8}, {}});
  Knob hp{"heads_per_task", {}, {}};
  for (int64_t v = 1; v <= g.heads; ++v)
    if (g.heads % v == 0)
      hp.ints.push_back(v);
  s.knobs.push_back(hp);
  Knob th{"threads", {}, {}};
  for (int64_t v = 1; v <= std::max(1u, t.numCores); ++v)
    th.ints.push_back(v);
  s.knobs.push_back(th);
  return s;
}

CostFeatures mlir::kjit::waCostFeatures(const WaConfig &c, const WaGeom &g,
                                        const TargetInfo &t) {
  CostFeatures f;
  f.flops = g.flops();
  double elems = double(g.batch) * g.heads * g.h * g.w * g.d;
  double rpbBytes =
      g.rpb ? 4.0 * g.heads * (2 * g.kh - 1) * (2 * g.kw - 1) : 0.0;
  f.compulsoryBytes = 4.0 * 4 * elems + rpbBytes; // q, k, v, out
  // A task reads the keys/values of its query tile's window: the halo
  // (kernel x dilation) is read again by neighbouring tiles.
  int64_t qw = std::min(c.queryTile, g.w), qh = std::min(c.queryTileH, g.h);
  double haloW = std::min<double>(g.w, qw + (g.kw - 1) * g.dw);
  double haloH = std::min<double>(g.h, qh + (g.kh - 1) * g.dh);
  double tasks = c.tasks(g);
  f.movedBytes = tasks * c.headsPerTask * 4.0 * g.d *
                     (2 * haloW * haloH + 2.0 * qw * qh) +
                 rpbBytes;
  WaScratch sc = waScratch(c, g);
  f.workingSetBytes = c.headsPerTask * 4.0 * g.d * 2 * haloW * haloH +
                      double(sc.bytes());
  int64_t nv = ceilDiv(g.d, c.vectorWidth);
  double pairs = g.batch * g.heads * g.keysPerImage();
  // Scores: D FMAs (keys in lanes) per query, key row and chunk; p.v: nv
  // FMAs per (query, key). Transposing K: one load + store per element
  // and halo.
  double queries = double(g.batch) * g.heads * g.h * g.w;
  double chunks = queries * g.kh * ceilDiv(g.kw, sc.keyChunk);
  f.vectorFmas = chunks * g.d + pairs * nv;
  f.l1Loads = 2.0 * chunks * g.d + pairs * nv +
              2.0 * tasks * c.headsPerTask * g.d * haloW * haloH;
  f.registerTile = std::min<int64_t>(c.queryBlock, g.w) *
                       (nv + std::clamp<int64_t>(ceilDiv(8, c.queryBlock), 1, 4)) +
                   2;
  auto lanes = [&](int64_t vw) {
    int64_t n = ceilDiv(g.d, vw);
    return double(sc.keyChunk * g.d + g.kw * g.d) /
           double(sc.scoreLanes * g.d + g.kw * n * vw);
  };
  f.laneUtilization = lanes(c.vectorWidth);
  // Generic facts for the pruning rules.
  f.vectorLanes = c.vectorWidth;
  // The widest useful vector: the target's widest, but no wider than the
  // narrowest one that covers D (wider ones only add idle lanes).
  int64_t widest = 4;
  for (int64_t v : {8, 16})
    if (v <= (int64_t)t.maxF32Lanes() && v / 2 < g.d)
      widest = v;
  f.widestVectorLanes = widest;
  f.widestLaneUtilization = lanes(widest);
  // Queries of a tile go through the register block of query_block; the
  // remainder of each tile runs one query at a time (the tail).
  {
    int64_t qwEff = std::min(c.queryTile, g.w);
    int64_t full = g.w / qwEff, last = g.w % qwEff;
    double tail = double(full) * (qwEff % c.queryBlock) +
                  (last ? double(last % c.queryBlock) : 0.0);
    f.tailWaste = c.queryBlock > 1 ? tail / double(g.w) : 0.0;
  }
  // key_chunk is clamped to the window's width: of the space's values
  // (1, 2, 4, 7, 8, 13, 16) beyond it, only the smallest is kept.
  {
    const int64_t kc[] = {1, 2, 4, 7, 8, 13, 16};
    int64_t prev = 0;
    for (int64_t v : kc)
      if (v < c.keyChunk)
        prev = v;
    f.redundantVariant = c.keyChunk > g.kw && prev >= g.kw;
  }
  f.parallelTasks = tasks;
  f.threads = c.threads;
  return f;
}

//===----------------------------------------------------------------------===//
// GPU (CUDA) config
//===----------------------------------------------------------------------===//

namespace {
const IntKnob<WaGpuConfig> kWaGpuConfigKnobs[] = {
    {"query_tile", &WaGpuConfig::queryTile},
    {"query_tile_h", &WaGpuConfig::queryTileH},
    {"threads", &WaGpuConfig::threads},
    {"kv_stage", &WaGpuConfig::kvStage},
    {"vector_width", &WaGpuConfig::vectorWidth}};
} // namespace

FailureOr<WaGpuConfig> WaGpuConfig::parse(ConfigAttr config,
                                          const WaGpuConfig &base,
                                          std::string &reason) {
  return readIntKnobs<WaGpuConfig>("window attention on CUDA",
                                   kWaGpuConfigKnobs, config, base, reason);
}

ConfigAttr WaGpuConfig::toAttr(MLIRContext *ctx) const {
  return intKnobsAttr<WaGpuConfig>(ctx, kWaGpuConfigKnobs, *this);
}

int64_t mlir::kjit::waGpuTileW(const WaGpuConfig &c, const WaGeom &g) {
  return std::min(c.queryTile, g.w);
}
int64_t mlir::kjit::waGpuTileH(const WaGpuConfig &c, const WaGeom &g) {
  return g.rank == 2 ? std::min(c.queryTileH, g.h) : 1;
}
int64_t mlir::kjit::waGpuKeyCols(const WaGpuConfig &c, const WaGeom &g) {
  return std::min(g.w, waGpuTileW(c, g) + 2 * (g.kw - 1) * g.dw);
}
int64_t mlir::kjit::waGpuSharedBytes(const WaGpuConfig &c, const WaGeom &g) {
  int64_t queries = waGpuTileW(c, g) * waGpuTileH(c, g);
  // q and the accumulators [D][queries], m and l [queries], staged K and V.
  int64_t floats = 2 * g.d * queries + 2 * queries;
  if (c.kvStage)
    floats += 2 * waGpuKeyCols(c, g) * waGpuKeyStride(g);
  return 4 * floats;
}

int64_t mlir::kjit::waGpuWidestVector(const WaGeom &g) {
  for (int64_t w : {4, 2})
    if (g.d > 0 && g.d % w == 0)
      return w;
  return 1;
}

LogicalResult mlir::kjit::checkWaGpuConfig(const WaGpuConfig &c,
                                           const WaGeom &g,
                                           const TargetInfo &t,
                                           std::string &reason) {
  auto bad = [&](std::string why) {
    reason = std::move(why);
    return failure();
  };
  if (c.queryTile < 1 || c.queryTile > 1024)
    return bad("query_tile must be in [1, 1024], got " + str(c.queryTile));
  if (c.queryTileH < 1 || c.queryTileH > 64)
    return bad("query_tile_h must be in [1, 64], got " + str(c.queryTileH));
  if (g.rank == 1 && c.queryTileH != 1)
    return bad("query_tile_h applies to 2-D attention only; it must be 1 "
               "for 1-D, got " +
               str(c.queryTileH));
  if (c.kvStage != 0 && c.kvStage != 1)
    return bad("kv_stage must be 0 or 1, got " + str(c.kvStage));
  if (c.vectorWidth != 1 && c.vectorWidth != 2 && c.vectorWidth != 4)
    return bad("vector_width must be 1, 2 or 4, got " + str(c.vectorWidth));
  if (g.d % c.vectorWidth != 0)
    return bad("vector_width (" + str(c.vectorWidth) +
               ") must divide the head dimension D = " + str(g.d) +
               "; the widest legal here is " + str(waGpuWidestVector(g)));
  if (failed(checkGpuThreads(c.threads, t, reason)))
    return failure();
  int64_t queries = waGpuTileW(c, g) * waGpuTileH(c, g);
  if (c.threads > ceilDiv(queries, 32) * 32)
    return bad("threads (" + str(c.threads) + ") exceed the " +
               str(queries) + " queries of a tile rounded up to a warp (" +
               str(ceilDiv(queries, 32) * 32) + ")");
  return checkGpuShared(
      waGpuSharedBytes(c, g), t,
      "a " + str(waGpuTileH(c, g)) + " x " + str(waGpuTileW(c, g)) +
          " query tile with D = " + str(g.d) +
          (c.kvStage ? " and " + str(waGpuKeyCols(c, g)) +
                           " staged key columns"
                     : std::string()) +
          " (use a smaller query_tile/query_tile_h or kv_stage = 0)",
      reason);
}

WaGpuConfig mlir::kjit::defaultWaGpuConfig(const WaGeom &g,
                                           const TargetInfo &t) {
  WaGpuConfig c;
  int64_t limit = gpuSharedLimit(t);
  // 64 queries per block (8 x 8 in 2-D), halved until the tile fits.
  if (g.rank == 2) {
    c.queryTileH = std::min<int64_t>(8, g.h);
    c.queryTile = std::min<int64_t>(8, g.w);
  } else {
    c.queryTileH = 1;
    c.queryTile = std::min<int64_t>(64, g.w);
  }
  c.kvStage = 1;
  while (waGpuSharedBytes(c, g) > limit &&
         (c.queryTile > 1 || c.queryTileH > 1)) {
    if (c.queryTile >= c.queryTileH && c.queryTile > 1)
      c.queryTile = ceilDiv(c.queryTile, 2);
    else
      c.queryTileH = ceilDiv(c.queryTileH, 2);
  }
  if (waGpuSharedBytes(c, g) > limit)
    c.kvStage = 0;
  int64_t queries = waGpuTileW(c, g) * waGpuTileH(c, g);
  c.threads = std::min<int64_t>(ceilDiv(queries, 32) * 32, 256);
  c.vectorWidth = waGpuWidestVector(g);
  return c;
}

SearchSpace mlir::kjit::waGpuSearchSpace(const WaGeom &g,
                                         const TargetInfo &t) {
  SearchSpace s;
  Knob qt{"query_tile", {}, {}};
  for (int64_t v : {4, 8, 16, 32, 64, 128})
    if (v < g.w)
      qt.ints.push_back(v);
  qt.ints.push_back(std::min<int64_t>(g.w, 256));
  s.knobs.push_back(qt);
  Knob qh{"query_tile_h", {1}, {}};
  if (g.rank == 2)
    for (int64_t v : {2, 4, 8, 16})
      if (v <= g.h)
        qh.ints.push_back(v);
  s.knobs.push_back(qh);
  s.knobs.push_back({"threads", {32, 64, 128, 256}, {}});
  s.knobs.push_back({"kv_stage", {0, 1}, {}});
  // Widths D allows; narrower ones than the widest are pruned
  // (breaksWidestVector).
  Knob vw{"vector_width", {}, {}};
  for (int64_t w : {4, 2, 1}) // widest first: it wins the model's ties
    if (w <= waGpuWidestVector(g))
      vw.ints.push_back(w);
  s.knobs.push_back(vw);
  return s;
}

CostFeatures mlir::kjit::waGpuCostFeatures(const WaGpuConfig &c,
                                           const WaGeom &g,
                                           const TargetInfo &t) {
  CostFeatures f;
  f.flops = g.flops();
  double elems = double(g.batch) * g.heads * g.h * g.w * g.d;
  f.compulsoryBytes = 4.0 * 4 * elems;
  int64_t tw = waGpuTileW(c, g), th = waGpuTileH(c, g);
  double blocks = double(g.batch) * g.heads * ceilDiv(g.h, th) *
                  ceilDiv(g.w, tw);
  double rows = std::min<double>(g.h, th + 2.0 * (g.kh - 1) * g.dh);
  double keyReads =
      c.kvStage ? 2.0 * rows * waGpuKeyCols(c, g) * g.d
                : 2.0 * th * tw * g.kh * g.kw * g.d; // every query its keys
  f.movedBytes = blocks * 4.0 * (keyReads + 2.0 * th * tw * g.d);
  f.workingSetBytes = waGpuSharedBytes(c, g);
  f.parallelTasks = blocks;
  f.threads = c.threads;
  f.laneUtilization = double(th * tw) / double(ceilDiv(th * tw, 32) * 32);
  // vector_width does not change the lanes used: the widest legal wins.
  f.vectorLanes = std::max<int64_t>(c.vectorWidth, 1);
  f.widestVectorLanes = waGpuWidestVector(g);
  f.widestLaneUtilization = f.laneUtilization;
  return f;
}

//===----------------------------------------------------------------------===//
// TunableOpInterface
//===----------------------------------------------------------------------===//

using WaCpuFamily = TunableFamily<WaConfig, getWaGeom, defaultWaConfig,
                                  checkWaConfig, waSearchSpace,
                                  waCostFeatures>;
using WaGpuFamily = TunableFamily<WaGpuConfig, getWaGeom, defaultWaGpuConfig,
                                  checkWaGpuConfig, waGpuSearchSpace,
                                  waGpuCostFeatures>;
using WaFamily = TargetFamily<WaCpuFamily, WaGpuFamily>;
KJIT_TUNABLE_OP(WindowAttentionOp, WaFamily)
