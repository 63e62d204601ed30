//===- NVVMPipeline.h - the NVVM (CUDA) pipeline ---------------*- C++ -*-===//
//
// kjit ops -> outlined kernels -> bufferization -> gpu.launch bodies
// (kjit-generate-gpu-kernels) -> upstream GPU-to-NVVM lowering -> a
// gpu.binary holding PTX text. Replayed by `kjit-opt --kjit-nvvm-pipeline`.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_COMPILER_NVVMPIPELINE_H
#define KJIT_COMPILER_NVVMPIPELINE_H

#include "dialects/kjit/IR/TargetInfo.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <optional>
#include <string>

namespace kjit::compiler {

struct NvvmPipelineOptions
    : public mlir::PassPipelineOptions<NvvmPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("CUDA chip: sm_80, sm_86, sm_89, "
                                          "sm_90, sm_90a, ..."),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{
      *this, "features",
      llvm::cl::desc("NVPTX features, e.g. +ptx80; empty: the PTX version "
                     "kjit pins for the chip (one ptxas 12.x/13 accepts)"),
      llvm::cl::init("")};
  Option<int> optLevel{*this, "opt-level",
                       llvm::cl::desc("LLVM optimization level for NVPTX"),
                       llvm::cl::init(3)};
  /// TEST ONLY: the device code as LLVM bitcode (gpu-module-to-binary
  /// format "llvm") instead of PTX, for the CPU emulator of tests/gpu
  /// (EmuCudaDriver.cpp). A real CUDA driver cannot load it.
  Option<bool> emulate{
      *this, "emulate",
      llvm::cl::desc("test only: emit LLVM bitcode for kjit's CPU emulating "
                     "libcuda instead of PTX"),
      llvm::cl::init(false)};
};

/// Facts of a CUDA chip ("sm_90") for legality checks (compute capability,
/// 1024 threads per block, 48 KiB static shared memory per block); nullopt
/// for a chip kjit does not know.
std::optional<TargetInfo> cudaTargetInfo(llvm::StringRef chip);
/// The NVPTX feature string for `chip` given the user's `features` (empty:
/// kjit's choice). Fails with `reason` when the chip is unknown or the PTX
/// version asked for is too old for the chip (LLVM would abort with "PTX
/// version does not support target") or newer than ptxas 13 reads.
std::optional<std::string> nvptxFeatures(llvm::StringRef chip,
                                         llvm::StringRef features,
                                         std::string &reason);

/// Adds the pipeline to `pm` (a builtin.module pass manager). Fails (with a
/// message in `reason`) for an unknown chip or unusable PTX features.
mlir::LogicalResult buildNvvmPipeline(mlir::OpPassManager &pm,
                                      const NvvmPipelineOptions &options,
                                      std::string &reason);
/// Registers `kjit-nvvm-pipeline` for kjit-opt.
void registerNvvmPipeline();

} // namespace kjit::compiler

#endif
