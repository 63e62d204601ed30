//===- LongConvTuning.h - Monarch / FFT-conv geometry and CPU config -*- C++ -*-===//
//
// Shared by kjit.butterfly_matmul's and kjit.fft_conv's TunableOpInterface
// and their CPU lowerings (ButterflyMatmulCPU.cpp, FftConvCPU.cpp), so the
// legality the tuner sees is exactly what the code generator needs (same
// split as ConvTuning.h for the conv ops).
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
  /// In double: B N (< 2^40) times m1 + m2 is past int64.
  double flops() const { return 2.0 * b * n * (m1 + m2); }
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
  /// weights = "packed": r and l copied once per call into the order the
  /// micro-tile reads them (per tile of block_tile outputs, k-major).
  bool packWeights = true;
  int64_t threads = 1;

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


/// The GPU (CUDA) knobs of the Monarch kernel (ButterflyGPU.cpp).
/// "fused": one block per rows_per_block rows; each row's X and X1 live in
/// shared memory, stage 2 writes y directly. "split" (rows too long for
/// shared memory): two launches; the first computes X1 = r . X per block of
/// `chunk` X rows (staged in shared memory) into y, the second, per block
/// of `chunk` X1 columns (staged), overwrites those same columns of y with
/// the final values (a column j of X1 only feeds column j of y).
struct BflyGpuConfig {
  bool fused = true;
  int64_t rowsPerBlock = 1;
  int64_t chunk = 16;
  int64_t threads = 256;
  /// Adjacent floats per global access (1, 2, 4: ld/st.global.v2/v4): the
  /// rows of x read into shared memory (both variants) and, fused, y
  /// written W outputs per thread item. Must divide m2.
  int64_t vectorWidth = 1;

  static FailureOr<BflyGpuConfig> parse(ConfigAttr config,
                                        const BflyGpuConfig &base,
                                        std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
  /// Stage-1 X rows / stage-2 X1 columns per block of the split variant.
  int64_t rowChunk(const BflyGeom &g) const { return std::min(chunk, g.m1); }
  int64_t colChunk(const BflyGeom &g) const { return std::min(chunk, g.m2); }
};
int64_t bflyGpuSharedBytes(const BflyGpuConfig &c, const BflyGeom &g);
/// The widest vector_width (4, 2, 1) dividing m2.
int64_t bflyGpuWidestVector(const BflyGeom &g);
LogicalResult checkBflyGpuConfig(const BflyGpuConfig &cfg, const BflyGeom &g,
                                 const TargetInfo &target,
                                 std::string &reason);
BflyGpuConfig defaultBflyGpuConfig(const BflyGeom &g,
                                   const TargetInfo &target);
SearchSpace bflyGpuSearchSpace(const BflyGeom &g, const TargetInfo &target);
CostFeatures bflyGpuCostFeatures(const BflyGpuConfig &cfg, const BflyGeom &g,
                                 const TargetInfo &target);

/// A causal long convolution (kjit.fft_conv) over B x C rows of length L
/// with a C x Lk kernel, computed through real FFTs of size n (a power of
/// two >= max(32, L + Lk - 1)), each a complex FFT of n/2 points.
struct FftGeom {
  int64_t b = 0, c = 0, l = 0, lk = 0, n = 32, logN = 5;
  bool hasD = false;
  int64_t rows() const { return b * c; }
  /// Nominal flops of a forward and an inverse real FFT per row (2.5 n
  /// log2 n each, half of a complex FFT's 5 n log2 n) and the product (3 n);
  /// the kernel spectra are cached across calls and not counted.
  double flops() const {
    double fft = 2.5 * n * logN;
    return rows() * (2 * fft + 3.0 * n);
  }
};
/// Geometry of an fft_conv with static shapes; fails otherwise.
FailureOr<FftGeom> getFftGeom(Operation *op, std::string &reason);

/// The CPU knobs of the FFT convolution (FftConvCPU.cpp). A row is a
/// complex split (re, im) array of m = n/2 points; the butterfly stages
/// with half-size h >= vector_width run vectorized across butterflies,
/// `radix` = 2, 4 or 8 fuses 1, 2 or 3 radix-2 stages per pass; the last
/// log2(vector_width) stages run on vector_width x vector_width blocks
/// transposed in registers; monarch_n2 splits m = N1 x N2 so that each
/// N2-point inner transform (with the product) is finished in cache.
struct FftConfig {
  int64_t vectorWidth = 16; ///< f32 lanes
  int64_t radix = 4;        ///< 2, 4 or 8
  /// The half-size complex FFT of m = n/2 points as m = N1 x N2: N1-point
  /// column transforms over the whole row, then N1 contiguous N2-point
  /// transforms, each finished (with the product and its inverse) while it
  /// is in cache. monarch_n2 >= m: no split.
  int64_t monarchN2 = 1024;
  int64_t rowsPerTask = 1;  ///< rows per parallel task
  int64_t threads = 1;

  static FailureOr<FftConfig> parse(ConfigAttr config, const FftConfig &base,
                                    std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
};

LogicalResult checkFftConfig(const FftConfig &cfg, const FftGeom &g,
                             const TargetInfo &target, std::string &reason);
FftConfig defaultFftConfig(const FftGeom &g, const TargetInfo &target);
SearchSpace fftSearchSpace(const FftGeom &g, const TargetInfo &target);
CostFeatures fftCostFeatures(const FftConfig &cfg, const FftGeom &g,
                             const TargetInfo &target);

/// The GPU (CUDA) knobs of the FFT convolution (FftConvGPU.cpp). Per row,
/// z = u + i k (both zero-padded to N) is transformed once (decimation in
/// frequency), U.K is formed from Z[f] and Z[N-f], and the product is
/// transformed back (decimation in time). When N <= smem_fft one block per
/// row does it all in shared memory (2 N floats); otherwise the rows live
/// in a device scratch buffer and every stage (radix 4: two radix-2 stages)
/// is its own launch over all rows.
struct FftGpuConfig {
  int64_t smemFft = 4096; ///< largest FFT size computed in shared memory
  int64_t radix = 4;      ///< 2 or 4 (two radix-2 stages per pass)
  int64_t threads = 256;

  static FailureOr<FftGpuConfig> parse(ConfigAttr config,
                                       const FftGpuConfig &base,
                                       std::string &reason);
  ConfigAttr toAttr(MLIRContext *ctx) const;
  bool inShared(const FftGeom &g) const { return g.n <= smemFft; }
};
int64_t fftGpuSharedBytes(const FftGpuConfig &c, const FftGeom &g);
LogicalResult checkFftGpuConfig(const FftGpuConfig &cfg, const FftGeom &g,
                                const TargetInfo &target, std::string &reason);
FftGpuConfig defaultFftGpuConfig(const FftGeom &g, const TargetInfo &target);
SearchSpace fftGpuSearchSpace(const FftGeom &g, const TargetInfo &target);
CostFeatures fftGpuCostFeatures(const FftGpuConfig &cfg, const FftGeom &g,
                                const TargetInfo &target);

} // namespace mlir::kjit

#endif
