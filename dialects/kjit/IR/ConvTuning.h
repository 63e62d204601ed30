//===- ConvTuning.h - depthwise conv geometry and its CPU config -*- C++ -*-===//
//
// Shared by the ops' TunableOpInterface and the CPU lowering, so that the
// legality the tuner sees is exactly what the code generator needs.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_DIALECT_CONVTUNING_H
#define KJIT_DIALECT_CONVTUNING_H

#include "dialects/kjit/IR/KjitDialect.h"

#include <utility>

namespace mlir::kjit {

/// One depthwise convolution over a slice of channels (a whole
/// depthwise_conv2d, or one branch of the Inception mixer).
struct DwGeom {
  int64_t n = 1, c = 0, h = 0, w = 0; ///< c: channels of this slice
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  int64_t oh = 0, ow = 0;
  int64_t cIn0 = 0;  ///< first channel of the slice in the input
  int64_t cOut0 = 0; ///< first channel of the slice in the output
  bool nhwc = true;  ///< layout of the op (channels contiguous)
  /// In double: the output (< 2^40 elements) times the filter window
  /// (< 2^40) is past int64.
  double flops() const { return 2.0 * n * c * oh * ow * kh * kw; }
};

/// The branches of a conv op with static shapes (the identity slice of the
/// Inception mixer is not a branch). Fails for dynamic shapes.
FailureOr<SmallVector<DwGeom>> getDwBranches(Operation *op,
                                             std::string &reason);

/// The CPU knobs of the depthwise kernels.
struct DwConfig {
  int64_t vectorWidth = 16; ///< f32 lanes per vector (channels per block)
  int64_t owBlock = 14;     ///< output columns per register tile
  int64_t ohBlock = 1;      ///< output rows sharing one input-row pass
  int64_t kwUnroll = 1;     ///< unroll of the filter-column loop
  int64_t ohTile = 8;       ///< output rows per parallel task
  int64_t threads = 1;
  bool hOuter = false; ///< task order: false = channel blocks outermost

  /// Reads a config; absent knobs keep `base`'s values.
  static FailureOr<DwConfig> parse(ConfigAttr config, const DwConfig &base,
                                   std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
};

/// Legality of `cfg` for every branch on `target`.
LogicalResult checkDwConfig(const DwConfig &cfg, ArrayRef<DwGeom> branches,
                            const TargetInfo &target, std::string &reason);
DwConfig defaultDwConfig(ArrayRef<DwGeom> branches, const TargetInfo &target);
SearchSpace dwSearchSpace(ArrayRef<DwGeom> branches,
                                const TargetInfo &target);
CostFeatures dwCostFeatures(const DwConfig &cfg,
                                  ArrayRef<DwGeom> branches,
                                  const TargetInfo &target);
/// Rows of input the packed tile of one task holds.
int64_t dwPackedRows(const DwGeom &g, int64_t ohTile);
/// Columns of padded input the kernel reads.
int64_t dwPackedCols(const DwGeom &g);

/// Can the CPU kernel read this branch's input in place (no packed tile)
/// when a register block has one output row? NHWC, whole vectors of
/// channels, and filter rows short enough to unroll in the border blocks.
bool dwCanReadInPlace(const DwGeom &g, int64_t vectorWidth);

/// Filter columns [lo, hi) that meet at least one input column for the
/// output columns [ow0, ow0 + jc); the others meet only zero padding.
std::pair<int64_t, int64_t> dwKwRange(const DwGeom &g, int64_t ow0, int64_t jc);

/// The GPU (CUDA) knobs of the depthwise kernel, used when the target's
/// kind is CUDA (the CPU knobs above are untouched). One thread block
/// computes a tile of block_h x block_w output pixels x channels_per_block
/// channels; `threads` threads per block, channel fastest (coalesced NHWC
/// accesses); the input halo of the tile is staged in shared memory when
/// `smem_stage` = 1.
struct DwGpuConfig {
  int64_t blockW = 8;
  int64_t blockH = 8;
  int64_t channelsPerBlock = 32;
  int64_t threads = 256;
  int64_t smemStage = 1; ///< 1: input halo in shared memory; 0: global reads
  /// Adjacent channels per thread access (1, 2, 4: ld/st.global.v2/v4.f32);
  /// NHWC only, dividing channels_per_block and every branch's channels.
  int64_t vectorWidth = 1;

  static FailureOr<DwGpuConfig> parse(ConfigAttr config,
                                      const DwGpuConfig &base,
                                      std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
};

/// Shared memory limit per block kjit assumes without opt-in (48 KiB).
constexpr int64_t kGpuStaticSharedLimit = 48 * 1024;
/// Bytes of shared memory the halo tile of `cfg` needs for branch `g`.
int64_t dwGpuSharedBytes(const DwGpuConfig &cfg, const DwGeom &g);
/// Rows / columns of the input halo of one output tile.
int64_t dwGpuHaloRows(const DwGpuConfig &cfg, const DwGeom &g);
int64_t dwGpuHaloCols(const DwGpuConfig &cfg, const DwGeom &g);
/// The widest vector_width (4, 2 or 1) legal for `branches` (NHWC with
/// channel counts and offsets it divides).
int64_t dwGpuWidestVector(ArrayRef<DwGeom> branches);
LogicalResult checkDwGpuConfig(const DwGpuConfig &cfg,
                               ArrayRef<DwGeom> branches,
                               const TargetInfo &target, std::string &reason);
DwGpuConfig defaultDwGpuConfig(ArrayRef<DwGeom> branches,
                               const TargetInfo &target);
SearchSpace dwGpuSearchSpace(ArrayRef<DwGeom> branches,
                             const TargetInfo &target);
CostFeatures dwGpuCostFeatures(const DwGpuConfig &cfg,
                               ArrayRef<DwGeom> branches,
                               const TargetInfo &target);

} // namespace mlir::kjit

#endif
