//===- SparseTuning.h - kjit.spmm/spgemm geometry, CPU configs -*- C++ -*-===//
//
// Shared by SpmmOp's TunableOpInterface and the CPU generator (SpmmCPU.cpp),
// so that the legality the tuner sees is exactly what the generator needs.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_DIALECT_SPARSETUNING_H
#define KJIT_DIALECT_SPARSETUNING_H

#include "dialects/kjit/IR/KjitDialect.h"

#include <algorithm>

namespace mlir::kjit {

/// A CSR (M x K, nnz stored entries) times a dense K x N.
struct SpmmGeom {
  int64_t m = 0, k = 0, n = 0, nnz = 0;
  /// In double: nnz and N are each up to 2^31 - 1.
  double flops() const { return 2.0 * nnz * n; }
};

/// Static geometry of `op` (a kjit.spmm). Fails for dynamic shapes.
FailureOr<SpmmGeom> getSpmmGeom(Operation *op, std::string &reason);

/// The CPU knobs of the SpMM kernel. N is in the vector lanes; one register
/// block is n_block vectors of N of one output row; each nonzero is one
/// broadcast and n_block FMAs. b is walked in column tiles of n_tile columns
/// (all rows of A stream through one tile while it sits in L2); with pack_b
/// each tile is first copied into a 64-byte aligned K x n_tile buffer (one
/// per thread), so every vector load is one cache line and the tile spans few
/// pages, whatever b's alignment and row stride.
struct SpmmConfig {
  enum class Partition { Nnz, Rows, Cols };
  int64_t vectorWidth = 16;   ///< f32 lanes per vector
  int64_t nBlock = 4;         ///< vectors of N per register block
  int64_t nTile = 512;        ///< columns of b per cache tile (rows inner)
  int64_t rowTile = 64;       ///< rows per task ("rows"; "nnz": on average)
  int64_t threads = 1;
  int64_t prefetchDistance = 0; ///< nonzeros ahead to prefetch b; 0 = off
  int64_t packB = 1;          ///< 1: copy each column tile of b first
  /// Rows of b per K block (0: none): all rows of a task add the nonzeros
  /// of one K block of the tile before the next, out carrying the sums.
  /// Taken only when every row's columns are sorted (checked per call).
  int64_t kTile = 0;
  /// Tasks: "nnz" = row ranges with balanced nonzeros + rows, "rows" =
  /// row_tile rows each, "cols" = one column tile each (all rows).
  Partition partition = Partition::Nnz;

  /// Reads a config; absent knobs keep `base`'s values.
  static FailureOr<SpmmConfig> parse(ConfigAttr config, const SpmmConfig &base,
                                     std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
  /// Columns of one register block.
  int64_t blockCols() const { return vectorWidth * nBlock; }
  /// Column tiles of b.
  int64_t colTiles(const SpmmGeom &g) const {
    return (g.n + nTile - 1) / nTile;
  }
  /// Parallel tasks for `g`.
  int64_t tasks(const SpmmGeom &g) const {
    if (g.m == 0 || g.n == 0)
      return 0;
    if (partition == Partition::Cols)
      return colTiles(g);
    return (g.m + rowTile - 1) / rowTile;
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
/// (coalesced rows of b and out). With vector_width W > 1 each of those is
/// W adjacent columns (W (ct + k col_threads) + l, l < W) read and written
/// as one vector<W x f32> (ld/st.global.v2/v4); W must divide N.
struct SpmmGpuConfig {
  int64_t threads = 256;
  int64_t colThreads = 32;   ///< threads per row (power of two <= threads)
  int64_t colsPerThread = 2; ///< column slots per thread (1..16)
  int64_t vectorWidth = 1;   ///< columns per slot (1, 2, 4; divides N)

  static FailureOr<SpmmGpuConfig> parse(ConfigAttr config,
                                        const SpmmGpuConfig &base,
                                        std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
  int64_t rowsPerBlock() const { return threads / colThreads; }
  int64_t nTile() const { return colThreads * colsPerThread * vectorWidth; }
};
LogicalResult checkSpmmGpuConfig(const SpmmGpuConfig &cfg, const SpmmGeom &g,
                                 const TargetInfo &target,
                                 std::string &reason);
SpmmGpuConfig defaultSpmmGpuConfig(const SpmmGeom &g,
                                   const TargetInfo &target);
/// The widest vector_width (4, 2, 1) dividing N.
int64_t spmmGpuWidestVector(const SpmmGeom &g);
SearchSpace spmmGpuSearchSpace(const SpmmGeom &g, const TargetInfo &target);
CostFeatures spmmGpuCostFeatures(const SpmmGpuConfig &cfg, const SpmmGeom &g,
                                 const TargetInfo &target);

//===----------------------------------------------------------------------===//
// kjit.spgemm (CSR x CSR -> CSR)
//===----------------------------------------------------------------------===//

/// A (CSR M x K, nnzA entries) times B (CSR K x N, nnzB entries).
struct SpgemmGeom {
  int64_t m = 0, k = 0, n = 0, nnzA = 0, nnzB = 0;
  /// Expected products per row of the output (uniform sparsity).
  double flopsPerRow() const {
    return (m > 0 ? (double)nnzA / m : 0.0) * (k > 0 ? (double)nnzB / k : 0.0);
  }
};

/// Static geometry of `op` (a kjit.spgemm). Fails for dynamic input shapes
/// and for sizes the int32 indices cannot hold.
FailureOr<SpgemmGeom> getSpgemmGeom(Operation *op, std::string &reason);

/// The CPU knobs of the row-wise Gustavson SpGEMM (SpgemmCPU.cpp).
struct SpgemmConfig {
  enum class Accumulator { Dense, Hash, Sort };
  /// "dense": N floats + an N-bit bitmap per thread, sorted output read
  /// from the bitmap; "hash": a linear-probing table per row sized
  /// hash_scale x the row's products (at most N), then a sort; "sort": the
  /// row's products sorted and merged (ESC).
  Accumulator accumulator = Accumulator::Dense;
  int64_t threads = 1;
  bool balanceFlops = true;   ///< partition: "flops" (balanced) or "rows"
  int64_t tasksPerThread = 1; ///< tasks = min(M, threads x this)
  int64_t hashScale = 2;      ///< hash table slots per product (power of 2)
  /// symbolic: "exact" (a symbolic pass counts each row, then the numeric
  /// pass writes the exactly sized result) or "bound" (one numeric pass
  /// into buffers sized by the products, then a copy; falls back to
  /// "exact" at run time above kSpgemmMaxBoundProducts products).
  bool boundedSymbolic = true;
  /// Nonzeros of A ahead whose row of B is prefetched; 0 = off.
  int64_t prefetchDistance = 8;
  /// short_row: rows with at most this many products are merged by sorting
  /// them (as "sort") whatever the accumulator; 0 = off.
  int64_t shortRow = 0;

  static FailureOr<SpgemmConfig> parse(ConfigAttr config,
                                       const SpgemmConfig &base,
                                       std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
  int64_t tasks(const SpgemmGeom &g) const {
    return std::min<int64_t>(g.m, threads * tasksPerThread);
  }
};

/// Products at most this for symbolic = "bound" (8 bytes each: 1 GiB).
inline constexpr int64_t kSpgemmMaxBoundProducts = int64_t(1) << 27;

/// short_row at most this (its sort buffer is per task, 8 bytes a product).
inline constexpr int64_t kSpgemmMaxShortRow = 256;

/// N at most this for the dense accumulator (4 N + N / 8 bytes per thread).
inline constexpr int64_t kSpgemmMaxDenseN = int64_t(1) << 26;

LogicalResult checkSpgemmConfig(const SpgemmConfig &cfg, const SpgemmGeom &g,
                                const TargetInfo &target, std::string &reason);
SpgemmConfig defaultSpgemmConfig(const SpgemmGeom &g,
                                 const TargetInfo &target);
SearchSpace spgemmSearchSpace(const SpgemmGeom &g, const TargetInfo &target);
CostFeatures spgemmCostFeatures(const SpgemmConfig &cfg, const SpgemmGeom &g,
                                const TargetInfo &target);

/// The GPU (CUDA) knobs of SpGEMM (SpgemmGPU.cpp). `blocks` resident blocks
/// walk the output rows (row i on block i % blocks); each block owns a dense
/// marker (i32) and accumulator (f32) row of N entries in device scratch
/// (blocks x N x 8 bytes). In a block, `group` threads share one nonzero of
/// A and stride over the row of B it selects (threads / group nonzeros of A
/// at a time). A row of at most `sort_capacity` distinct columns is sorted
/// in shared memory (rank sort); a longer one is compacted by a block-wide
/// scan over its column range.
struct SpgemmGpuConfig {
  int64_t threads = 256;
  int64_t blocks = 256;        ///< resident blocks (grid of the row passes)
  int64_t group = 8;           ///< threads per nonzero of A (power of two)
  int64_t sortCapacity = 1024; ///< distinct columns sorted in shared memory

  static FailureOr<SpgemmGpuConfig> parse(ConfigAttr config,
                                          const SpgemmGpuConfig &base,
                                          std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
  /// Blocks launched for the row passes (no more than rows).
  int64_t gridBlocks(const SpgemmGeom &g) const {
    return std::max<int64_t>(1, std::min(blocks, g.m));
  }
  /// Bytes of the marker and accumulator scratch.
  int64_t scratchBytes(const SpgemmGeom &g) const {
    return gridBlocks(g) * std::max<int64_t>(g.n, 1) * 8;
  }
  /// Static shared memory of the numeric pass.
  int64_t sharedBytes() const { return 4 * sortCapacity + 8 * threads + 16; }
};

/// Device scratch of the GPU SpGEMM (markers + accumulators) at most this.
inline constexpr int64_t kSpgemmGpuMaxScratch = int64_t(1) << 30;

LogicalResult checkSpgemmGpuConfig(const SpgemmGpuConfig &cfg,
                                   const SpgemmGeom &g,
                                   const TargetInfo &target,
                                   std::string &reason);
SpgemmGpuConfig defaultSpgemmGpuConfig(const SpgemmGeom &g,
                                       const TargetInfo &target);
SearchSpace spgemmGpuSearchSpace(const SpgemmGeom &g,
                                 const TargetInfo &target);
CostFeatures spgemmGpuCostFeatures(const SpgemmGpuConfig &cfg,
                                   const SpgemmGeom &g,
                                   const TargetInfo &target);

} // namespace mlir::kjit

#endif
