//===- GenerateGpuKernels.cpp - GPU bodies for outlined kernels ----------===//
//
// The GPU counterpart of kjit-generate-cpu-kernels: each kernel declaration
// that kjit-outline-kernels left (on memrefs, after bufferization) gets a
// body holding one gpu.launch; the upstream GPU pipeline then outlines it
// into a gpu.module and lowers it to NVVM and PTX.
//
//===----------------------------------------------------------------------===//
#include "compiler/Conversion/KjitToGPU/GpuKernelGenerators.h"
#include "compiler/Passes.h"
#include "compiler/Pipelines/NVVMPipeline.h"

#include "compiler/Conversion/KernelBodies.h"

namespace kjit::compiler {
#define GEN_PASS_DEF_KJITGENERATEGPUKERNELS
#include "compiler/Passes.h.inc"
} // namespace kjit::compiler

using namespace mlir;
using namespace mlir::kjit;

namespace {
::kjit::compiler::KernelGenerator *gpuGenerator(Operation *op) {
  if (isa<DepthwiseConv2dOp, InceptionDepthwiseConv2dOp>(op))
    return ::kjit::compiler::generateDepthwiseGpu;
  if (isa<WindowAttentionOp>(op))
    return ::kjit::compiler::generateWindowAttentionGpu;
  if (isa<ButterflyMatmulOp>(op))
    return ::kjit::compiler::generateButterflyGpu;
  if (isa<SpmmOp>(op))
    return ::kjit::compiler::generateSpmmGpu;
  if (isa<FftConvOp>(op))
    return ::kjit::compiler::generateFftConvGpu;
  return nullptr;
}

::kjit::compiler::DynamicKernelGenerator *gpuDynamicGenerator(Operation *op) {
  if (isa<SpgemmOp>(op))
    return ::kjit::compiler::generateSpgemmGpu;
  return nullptr;
}

struct GenerateGpuKernels
    : ::kjit::compiler::impl::KjitGenerateGpuKernelsBase<GenerateGpuKernels> {
  void runOnOperation() override {
    // Limits of every chip kjit targets (1024 threads, 48 KiB static shared
    // memory); the chip-specific check ran in kjit-attach-configs.
    TargetInfo target = *::kjit::compiler::cudaTargetInfo("sm_80");
    if (failed(::kjit::compiler::generateKernelBodies(getOperation(), "GPU",
                                                      target, gpuGenerator,
                                                      gpuDynamicGenerator)))
      signalPassFailure();
  }
};
} // namespace
