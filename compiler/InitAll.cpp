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
  static const mlir::DialectRegistry *registry = [] {
    auto *r = new mlir::DialectRegistry();
    ::kjit::compiler::registerAllDialects(*r);
    return r;
  }();
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
