//===- LongConvTuning.h - Monarch / FFT-conv geometry and CPU config -*- C++ -*-===//
//
// Shared by kjit.butterfly_matmul's TunableOpInterface and its CPU lowering
// (ButterflyMatmulCPU.cpp), so the legality the tuner sees is exactly what
// the code generator needs (same split as ConvTuning.h for the conv ops).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_DIALECT_LONGCONVTUNING_H
#define KJIT_DIALECT_LONGCONVTUNING_H

#include "dialects/kjit/IR/KjitDialect.h"

namespace mlir::kjit {

/// A Monarch product over B rows of length N = m1 * m2.
struct BflyGeom {
  int64_t b = 0, m1 = 0, m2 = 0, n = 0;
  /// Two block-diagonal stages: m1 blocks m2 x m2, m2 blocks m1 x m1.
  int64_t flops() const { return 2 * b * n * (m1 + m2); }
};

/// Geometry of a butterfly_matmul with static shapes; fails otherwise.
FailureOr<BflyGeom> getBflyGeom(Operation *op, std::string &reason);

/// The CPU knobs of the Monarch kernel. Rows of x go into the vector lanes
/// (a task packs row_tile rows transposed: element (n, row) at
/// n * row_tile + row), so each block matmul is a sequence of vector FMAs
/// with a broadcast weight, and the transpose between the two stages is
/// only addressing when it is fused.
struct BflyConfig {
  int64_t vectorWidth = 16; ///< rows per vector (f32 lanes)
  int64_t rowTile = 16;     ///< rows per parallel task (packed together)
  int64_t rowBlock = 1;     ///< row vectors per register micro-tile
  int64_t blockTile = 8;    ///< block-matmul outputs per micro-tile
  bool fuseTranspose = true;
  int64_t threads = 1;

  static constexpr const char *kKnobs[] = {"vector_width", "row_tile",
                                           "row_block",    "block_tile",
                                           "transpose",    "threads"};
  static FailureOr<BflyConfig> parse(ConfigAttr config, const BflyConfig &base,
                                     std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
};

LogicalResult checkBflyConfig(const BflyConfig &cfg, const BflyGeom &g,
                              const TargetInfo &target, std::string &reason);
BflyConfig defaultBflyConfig(const BflyGeom &g, const TargetInfo &target);
SearchSpace bflySearchSpace(const BflyGeom &g, const TargetInfo &target);
CostFeatures bflyCostFeatures(const BflyConfig &cfg, const BflyGeom &g,
                              const TargetInfo &target);

} // namespace mlir::kjit

#endif
