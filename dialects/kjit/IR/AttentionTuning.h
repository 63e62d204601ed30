//===- AttentionTuning.h - window attention geometry and config -*- C++ -*-===//
//
// Shared by kjit.window_attention's TunableOpInterface and its CPU lowering
// (compiler/Conversion/KjitToCPU/WindowAttentionCPU.cpp), so that the
// legality the tuner sees is exactly what the code generator needs.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_DIALECT_ATTENTIONTUNING_H
#define KJIT_DIALECT_ATTENTIONTUNING_H

#include "dialects/kjit/IR/KjitDialect.h"

namespace mlir::kjit {

/// The static geometry of one kjit.window_attention. 1-D attention is
/// described as 2-D with h = kh = dh = 1.
struct WaGeom {
  int64_t rank = 1;  ///< spatial dims: 1 or 2
  int64_t batch = 1, heads = 1;
  int64_t h = 1, w = 1; ///< spatial sizes (1-D: h = 1, w = L)
  int64_t d = 1;        ///< head dim
  int64_t kh = 1, kw = 1, dh = 1, dw = 1;
  bool causal = false, rpb = false;
  float scale = 1.0f;
  /// Keys each query attends, summed over all queries (causal: fewer).
  double keysPerImage() const;
  /// 2·D flops for q·k and 2·D for p·v per (query, key).
  double flops() const { return 4.0 * batch * heads * keysPerImage() * d; }
};

FailureOr<WaGeom> getWaGeom(WindowAttentionOp op, std::string &reason);

/// The CPU knobs of the fused window-attention kernel.
struct WaConfig {
  int64_t vectorWidth = 16; ///< head-dim lanes per vector (4/8/16)
  int64_t queryTile = 16;   ///< queries per task along the last spatial dim
  int64_t queryTileH = 1;   ///< query rows per task (2-D only)
  int64_t keyChunk = 8;     ///< keys per online-softmax update (1..16)
  int64_t headsPerTask = 1; ///< heads per task (divides heads)
  int64_t queryBlock = 4;   ///< queries of one row run interleaved (1..8)
  int64_t threads = 1;

  static constexpr const char *kKnobs[] = {
      "vector_width",   "query_tile",  "query_tile_h", "key_chunk",
      "heads_per_task", "query_block", "threads"};
  /// Reads a config; absent knobs keep `base`'s values.
  static FailureOr<WaConfig> parse(ConfigAttr config, const WaConfig &base,
                                   std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
  /// Tasks of one call: batch x head groups x row tiles x column tiles.
  int64_t tasks(const WaGeom &g) const;
};

/// The per-task scratch of the CPU kernel: K of the task's key rows,
/// transposed to [rows][D][cols] so that the keys of a window row are
/// contiguous (column c of the image at (c mod dw) * groupCols + pad +
/// c div dw) and a score vector is D FMAs with the keys in the lanes.
struct WaScratch {
  int64_t keyChunk = 1;   ///< keys per online-softmax update
  int64_t scoreLanes = 4; ///< lanes of a score vector: 4/8/16 >= keyChunk
  int64_t pad = 0;        ///< leading columns per group (causal: k-1)
  int64_t groupCols = 1;  ///< pad + ceil(w / dw)
  int64_t cols = 16;      ///< row length, multiple of 16, with the tail a
                          ///< score vector may read past the last key
  int64_t rows = 1;       ///< query_tile_h + 2 (kh-1) dh, at most h
  int64_t d = 1;          ///< head dim
  int64_t bytes() const { return 4 * rows * d * cols; }
};
WaScratch waScratch(const WaConfig &cfg, const WaGeom &g);
/// Largest scratch a config may ask for.
constexpr int64_t kWaMaxScratchBytes = int64_t(64) << 20;

LogicalResult checkWaConfig(const WaConfig &cfg, const WaGeom &g,
                            const TargetInfo &target, std::string &reason);
WaConfig defaultWaConfig(const WaGeom &g, const TargetInfo &target);
SearchSpace waSearchSpace(const WaGeom &g, const TargetInfo &target);
CostFeatures waCostFeatures(const WaConfig &cfg, const WaGeom &g,
                            const TargetInfo &target);

/// The GPU (CUDA) knobs of window attention (WindowAttentionGPU.cpp). One
/// thread block per (batch, head, tile of query_tile_h x query_tile
/// queries); each query is one thread's (threads < queries: several per
/// thread), with its q, its output accumulator and its online-softmax state
/// (m, l) in shared memory ([D][queries]: conflict-free). The block walks
/// the key rows its tile's windows reach; with kv_stage = 1 each key row's
/// K and V columns that the tile reaches are first copied to shared memory
/// by all threads (one barrier), so a key read by several queries of the
/// tile is read from global memory once.
struct WaGpuConfig {
  int64_t queryTile = 32;  ///< queries per block along the last spatial dim
  int64_t queryTileH = 1;  ///< query rows per block (2-D only)
  int64_t threads = 32;    ///< threads per block (multiple of 32)
  int64_t kvStage = 1;     ///< 1: K/V rows in shared memory; 0: global
  /// Adjacent elements of D per global access of q, K, V and out (1, 2, 4:
  /// ld/st.global.v2/v4.f32); must divide D.
  int64_t vectorWidth = 1;

  static FailureOr<WaGpuConfig> parse(ConfigAttr config,
                                      const WaGpuConfig &base,
                                      std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
};
/// Query tile sizes clamped to the image.
int64_t waGpuTileW(const WaGpuConfig &c, const WaGeom &g);
int64_t waGpuTileH(const WaGpuConfig &c, const WaGeom &g);
/// Key columns of one staged key row: every column the tile's windows can
/// reach (at most tile + 2 (k - 1) dilation, and the row's length).
int64_t waGpuKeyCols(const WaGpuConfig &c, const WaGeom &g);
/// Head-dim stride of a staged key (D + 1: no bank conflicts).
inline int64_t waGpuKeyStride(const WaGeom &g) { return g.d + 1; }
int64_t waGpuSharedBytes(const WaGpuConfig &c, const WaGeom &g);
/// The widest vector_width (4, 2, 1) dividing D.
int64_t waGpuWidestVector(const WaGeom &g);
LogicalResult checkWaGpuConfig(const WaGpuConfig &cfg, const WaGeom &g,
                               const TargetInfo &target, std::string &reason);
WaGpuConfig defaultWaGpuConfig(const WaGeom &g, const TargetInfo &target);
SearchSpace waGpuSearchSpace(const WaGeom &g, const TargetInfo &target);
CostFeatures waGpuCostFeatures(const WaGpuConfig &cfg, const WaGeom &g,
                               const TargetInfo &target);

} // namespace mlir::kjit

#endif
