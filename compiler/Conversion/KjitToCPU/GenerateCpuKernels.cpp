//===- GenerateCpuKernels.cpp - CPU bodies for outlined kernels ----------===//
#include "compiler/Compiler.h"
#include "compiler/Conversion/KernelBodies.h"
#include "compiler/Conversion/KjitToCPU/KernelGenerators.h"
#include "compiler/Passes.h"

namespace kjit::compiler {
#define GEN_PASS_DEF_KJITGENERATECPUKERNELS
#include "compiler/Passes.h.inc"
} // namespace kjit::compiler

using namespace mlir;
using namespace mlir::kjit;

namespace {
::kjit::compiler::KernelGenerator *cpuGenerator(Operation *op) {
  namespace kc = ::kjit::compiler;
  if (isa<DepthwiseConv2dOp, InceptionDepthwiseConv2dOp>(op))
    return kc::generateDepthwiseCpu;
  if (isa<WindowAttentionOp>(op))
    return kc::generateWindowAttentionCpu;
  if (isa<ButterflyMatmulOp>(op))
    return kc::generateButterflyMatmulCpu;
  if (isa<FftConvOp>(op))
    return kc::generateFftConvCpu;
  if (isa<SpmmOp>(op))
    return kc::generateSpmmCpu;
  return nullptr;
}

/// Generators of ops whose results the kernel allocates.
::kjit::compiler::DynamicKernelGenerator *cpuDynamicGenerator(Operation *op) {
  if (isa<SpgemmOp>(op))
    return ::kjit::compiler::generateSpgemmCpu;
  return nullptr;
}

struct GenerateCpuKernels
    : ::kjit::compiler::impl::KjitGenerateCpuKernelsBase<GenerateCpuKernels> {
  void runOnOperation() override {
    TargetInfo target = ::kjit::compiler::CpuTarget::host().info;
    // Legality was checked against the compile target in
    // kjit-attach-configs; here the only facts used are in the config.
    target.vectorBits = 512;
    target.numVectorRegisters = 32;
    if (failed(::kjit::compiler::generateKernelBodies(getOperation(), "CPU",
                                                      target, cpuGenerator,
                                                      cpuDynamicGenerator)))
      signalPassFailure();
  }
};
} // namespace
