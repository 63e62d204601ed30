//===- TargetInfo.h - facts about a target the tuner needs ----*- C++ -*-===//
#ifndef KJIT_DIALECT_TARGETINFO_H
#define KJIT_DIALECT_TARGETINFO_H

#include <cstdint>
#include <string>

namespace kjit {

/// The facts of a target that legality, pruning and the cost model read.
/// Plain data: the dialect does no host detection (the compiler does).
struct TargetInfo {
  enum class Kind { CPU, CUDA } kind = Kind::CPU;
  // CPU
  bool hasAVX2 = false, hasFMA = false, hasAVX512 = false;
  unsigned vectorBits = 128;        ///< widest SIMD register usable
  unsigned numVectorRegisters = 16; ///< architectural SIMD registers
  uint64_t l1dBytes = 32 * 1024;
  uint64_t l2Bytes = 1024 * 1024;
  unsigned numCores = 1;
  double peakGflopsPerCore = 50.0; ///< fp32 FMA peak, one core
  double dramGBs = 10.0;           ///< sustained bandwidth, one core
  // CUDA (filled when kind == CUDA)
  int computeCapability = 0;
  unsigned smCount = 0, maxThreadsPerBlock = 0;
  uint64_t sharedMemPerBlock = 0;
  unsigned warpSize = 32;
  uint64_t sharedMemPerSM = 0;  ///< 0: unknown
  unsigned maxThreadsPerSM = 0; ///< 0: unknown
  unsigned maxBlocksPerSM = 0;  ///< 0: unknown
  unsigned registersPerSM = 0;  ///< 32-bit registers; 0: unknown
  // CUDA throughput facts for the cost model: NVIDIA's published figures
  // for one reference part of each chip (see cudaTargetInfo), not
  // measurements. 0: unknown.
  unsigned fp32LanesPerSM = 0;  ///< FP32 FMA lanes of one SM
  double gpuBoostGHz = 0;       ///< boost clock of the reference part
  unsigned gpuModelSmCount = 0; ///< SMs of the reference part: the model's
                                ///< count while smCount is 0 (unknown)
  double gpuDramGBs = 0;        ///< DRAM bandwidth of the whole chip
  uint64_t gpuL2Bytes = 0;      ///< L2 cache of the whole chip

  /// The fp32 FMA peak of the chip in GFLOP/s (2 flops per lane per clock
  /// over the SMs: smCount, else the reference part's); 0: unknown.
  double gpuPeakGflops() const {
    unsigned sms = smCount ? smCount : gpuModelSmCount;
    return double(sms) * fp32LanesPerSM * 2.0 * gpuBoostGHz;
  }

  unsigned maxF32Lanes() const { return vectorBits / 32; }
};

} // namespace kjit

#endif
