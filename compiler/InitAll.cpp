//===- InitAll.cpp - the one place that registers everything -------------===//
#include "compiler/InitAll.h"
#include "compiler/Passes.h"
#include "compiler/Pipelines/CPUPipeline.h"
#include "compiler/Pipelines/NVVMPipeline.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"

#include <mutex>

void ::kjit::compiler::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::kjit::KjitDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerOpenMPDialectTranslation(registry);
  // The GPU path: gpu.module -> LLVM IR -> PTX (gpu-module-to-binary).
  mlir::registerGPUDialectTranslation(registry);
  // #gpu.select_object: embeds a gpu.binary and emits the module load and
  // launch calls when host code is translated (CUDA targets).
  mlir::gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(
      registry);
  mlir::registerNVVMDialectTranslation(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
}

const mlir::DialectRegistry &::kjit::compiler::getRegistry() {
  // std::call_once rather than a function-local static: every caller goes
  // through pthread_once, which ThreadSanitizer sees even in this library's
  // uninstrumented code (a static's inline fast path it cannot), so the
  // TSan run does not report each first MLIRContext as a race.
  static std::once_flag once;
  static mlir::DialectRegistry *registry;
  std::call_once(once, [] {
    registry = new mlir::DialectRegistry();
    ::kjit::compiler::registerAllDialects(*registry);
  });
  return *registry;
}

void ::kjit::compiler::registerAllPasses() {
  static std::once_flag once;
  std::call_once(once, [] {
    mlir::registerAllPasses();
    registerKjitCompilerPasses();
    registerCpuPipeline();
    registerNvvmPipeline();
  });
}
