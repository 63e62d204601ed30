//===- SparseTuning.h - kjit.spmm geometry and its CPU config ---*- C++ -*-===//
//
// Shared by SpmmOp's TunableOpInterface and the CPU generator (SpmmCPU.cpp),
// so that the legality the tuner sees is exactly what the generator needs.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_DIALECT_SPARSETUNING_H
#define KJIT_DIALECT_SPARSETUNING_H

#include "dialects/kjit/IR/KjitDialect.h"

namespace mlir::kjit {

/// A CSR (M x K, nnz stored entries) times a dense K x N.
struct SpmmGeom {
  int64_t m = 0, k = 0, n = 0, nnz = 0;
  int64_t flops() const { return 2 * nnz * n; }
};

/// Static geometry of `op` (a kjit.spmm). Fails for dynamic shapes.
FailureOr<SpmmGeom> getSpmmGeom(Operation *op, std::string &reason);

/// The CPU knobs of the SpMM kernel. N is in the vector lanes; one register
/// block is n_block vectors of N of one output row; each nonzero is one
/// broadcast and n_block FMAs.
struct SpmmConfig {
  int64_t vectorWidth = 16;   ///< f32 lanes per vector
  int64_t nBlock = 4;         ///< vectors of N per register block
  int64_t nTile = 512;        ///< columns of b per cache tile (rows inner)
  int64_t rowTile = 64;       ///< rows per task (on average with "nnz")
  int64_t threads = 1;
  int64_t prefetchDistance = 0; ///< nonzeros ahead to prefetch b; 0 = off
  bool balanceNnz = true;     ///< partition: "nnz" (balanced) or "rows"

  /// Reads a config; absent knobs keep `base`'s values.
  static FailureOr<SpmmConfig> parse(ConfigAttr config, const SpmmConfig &base,
                                     std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
  /// Columns of one register block.
  int64_t blockCols() const { return vectorWidth * nBlock; }
  /// Parallel tasks for `g`.
  int64_t tasks(const SpmmGeom &g) const {
    return g.m == 0 ? 0 : (g.m + rowTile - 1) / rowTile;
  }
};

LogicalResult checkSpmmConfig(const SpmmConfig &cfg, const SpmmGeom &g,
                              const TargetInfo &target, std::string &reason);
SpmmConfig defaultSpmmConfig(const SpmmGeom &g, const TargetInfo &target);
SearchSpace spmmSearchSpace(const SpmmGeom &g, const TargetInfo &target);
CostFeatures spmmCostFeatures(const SpmmConfig &cfg, const SpmmGeom &g,
                              const TargetInfo &target);

/// The GPU (CUDA) knobs of SpMM (SpmmGPU.cpp). A block holds
/// threads / col_threads rows x one tile of col_threads x cols_per_thread
/// columns of N; the col_threads threads of a row walk its nonzeros
/// together (same index and value: a broadcast load) and each keeps
/// cols_per_thread accumulators for the columns ct, ct + col_threads, ...
/// (coalesced rows of b and out).
struct SpmmGpuConfig {
  int64_t threads = 256;
  int64_t colThreads = 32;   ///< threads per row (power of two <= threads)
  int64_t colsPerThread = 2; ///< accumulators per thread (1..16)

  static FailureOr<SpmmGpuConfig> parse(ConfigAttr config,
                                        const SpmmGpuConfig &base,
                                        std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
  int64_t rowsPerBlock() const { return threads / colThreads; }
  int64_t nTile() const { return colThreads * colsPerThread; }
};
LogicalResult checkSpmmGpuConfig(const SpmmGpuConfig &cfg, const SpmmGeom &g,
                                 const TargetInfo &target,
                                 std::string &reason);
SpmmGpuConfig defaultSpmmGpuConfig(const SpmmGeom &g,
                                   const TargetInfo &target);
SearchSpace spmmGpuSearchSpace(const SpmmGeom &g, const TargetInfo &target);
CostFeatures spmmGpuCostFeatures(const SpmmGpuConfig &cfg, const SpmmGeom &g,
                                 const TargetInfo &target);

} // namespace mlir::kjit

#endif
