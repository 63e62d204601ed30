//===- AttentionTuning.cpp - TunableOpInterface of window_attention ------===//
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
                "query_tile_h, key_chunk, heads_per_task, threads)")
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
                               {"threads", threads}});
}

int64_t WaConfig::tasks(const WaGeom &g) const {
  return g.batch * ceilDiv(g.heads, headsPerTask) *
         ceilDiv(g.h, std::min(queryTileH, g.h)) *
         ceilDiv(g.w, std::min(queryTile, g.w));
}

LogicalResult mlir::kjit::checkWaConfig(const WaConfig &c, const WaGeom &g,
                                        const TargetInfo &t,
                                        std::string &reason) {
  auto bad = [&](std::string why) {
    reason = std::move(why);
    return failure();
  };
  if (c.vectorWidth != 4 && c.vectorWidth != 8 && c.vectorWidth != 16)
    return bad("vector_width must be 4, 8 or 16, got " + str(c.vectorWidth));
  if (c.vectorWidth > (int64_t)t.maxF32Lanes())
    return bad("vector_width " + str(c.vectorWidth) + " needs " +
               str(c.vectorWidth * 32) + "-bit vectors; the target has " +
               str(t.vectorBits));
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
  c.queryTileH = 1;
  c.threads = std::max(1u, t.numCores);
  c.queryTile = g.w;
  // Enough tasks to keep the threads busy (and balanced).
  while (c.queryTile > 4 && c.tasks(g) < 8 * c.threads)
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
  f.workingSetBytes = c.headsPerTask * 4.0 * g.d * 2 * haloW * haloH;
  int64_t nv = ceilDiv(g.d, c.vectorWidth);
  double pairs = g.batch * g.heads * g.keysPerImage();
  f.vectorFmas = 2.0 * pairs * nv;
  f.l1Loads = 2.0 * pairs * nv;
  f.registerTile = 2 * nv + 2; // q and accumulators + score and exp
  f.laneUtilization = double(g.d) / double(nv * c.vectorWidth);
  f.parallelTasks = tasks;
  f.threads = c.threads;
  return f;
}

//===----------------------------------------------------------------------===//
// TunableOpInterface
//===----------------------------------------------------------------------===//

SearchSpace WindowAttentionOp::getSearchSpace(const TargetInfo &t) {
  std::string why;
  auto g = getWaGeom(*this, why);
  return succeeded(g) ? waSearchSpace(*g, t) : SearchSpace();
}

LogicalResult WindowAttentionOp::verifyConfig(ConfigAttr config,
                                              const TargetInfo &t,
                                              std::string &reason) {
  auto g = getWaGeom(*this, reason);
  if (failed(g))
    return failure();
  auto c = WaConfig::parse(config, defaultWaConfig(*g, t), reason);
  if (failed(c))
    return failure();
  return checkWaConfig(*c, *g, t, reason);
}

ConfigAttr WindowAttentionOp::getDefaultConfig(const TargetInfo &t) {
  std::string why;
  auto g = getWaGeom(*this, why);
  return defaultWaConfig(succeeded(g) ? *g : WaGeom(), t)
      .toAttr(getContext());
}

CostFeatures WindowAttentionOp::getCostFeatures(ConfigAttr config,
                                                const TargetInfo &t) {
  std::string why;
  auto g = getWaGeom(*this, why);
  if (failed(g))
    return {};
  auto c = WaConfig::parse(config, defaultWaConfig(*g, t), why);
  return waCostFeatures(succeeded(c) ? *c : defaultWaConfig(*g, t), *g, t);
}
