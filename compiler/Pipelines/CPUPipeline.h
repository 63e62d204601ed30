//===- CPUPipeline.h - the CPU pipeline the JIT and kjit-opt run -*- C++ -*-===//
#ifndef KJIT_COMPILER_CPUPIPELINE_H
#define KJIT_COMPILER_CPUPIPELINE_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace kjit::compiler {

struct CpuPipelineOptions
    : public mlir::PassPipelineOptions<CpuPipelineOptions> {
  Option<std::string> entry{*this, "entry",
                            llvm::cl::desc("function the runtime calls"),
                            llvm::cl::init("main")};
  Option<std::string> transposeLowering{
      *this, "transpose-lowering",
      llvm::cl::desc("vector.transpose lowering (eltwise, shuffle1d, "
                     "shuffle16x16)"),
      llvm::cl::init("shuffle16x16")};
};

/// The pipeline as text: kjit-outline-kernels, bufferization, deallocation,
/// kjit-generate-cpu-kernels, lowering to the LLVM dialect, packed entry.
std::string cpuPipelineText(const CpuPipelineOptions &options);
/// Adds the pipeline to `pm` (a builtin.module pass manager).
mlir::LogicalResult buildCpuPipeline(mlir::OpPassManager &pm,
                                     const CpuPipelineOptions &options);
/// Registers `kjit-cpu-pipeline` for kjit-opt.
void registerCpuPipeline();

} // namespace kjit::compiler

#endif
