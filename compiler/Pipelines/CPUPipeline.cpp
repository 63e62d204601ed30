//===- CPUPipeline.cpp - the CPU pipeline --------------------------------===//
//
// One function builds the pipeline for the JIT and for kjit-opt
// (`--kjit-cpu-pipeline`), so a lit test can replay any JIT compile.
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipelines/CPUPipeline.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kjit::compiler {
std::string cpuPipelineText(const CpuPipelineOptions &options) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "kjit-outline-kernels,canonicalize,"
     // Tensors -> memrefs; results become caller-provided out-params.
     << "one-shot-bufferize{bufferize-function-boundaries=1 "
        "function-boundary-type-conversion=identity-layout-map},"
     << "buffer-results-to-out-params{hoist-static-allocs=1 modify-public-functions=1},"
     // ... except the results a kernel allocates (dynamic-output protocol).
     << "kjit-return-dynamic-results,"
     // Frees intermediates between chained ops; kernels are still calls.
     << "buffer-deallocation-pipeline,"
     // No canonicalize on the generated kernels: it costs a third of the
     // MLIR time of a compile and LLVM -O3 does the same clean-up.
     << "kjit-generate-cpu-kernels,cse,"
     << "expand-strided-metadata,lower-affine,convert-scf-to-cf,"
     << "convert-vector-to-llvm{vector-transpose-lowering="
     << options.transposeLowering.getValue() << "},"
     << "finalize-memref-to-llvm,convert-arith-to-llvm,convert-index-to-llvm,"
     << "convert-ub-to-llvm,"
     << "convert-cf-to-llvm,convert-func-to-llvm,convert-openmp-to-llvm,"
     << "reconcile-unrealized-casts,"
     << "kjit-emit-packed-entry{entry=" << options.entry.getValue() << "}";
  return text;
}

LogicalResult buildCpuPipeline(OpPassManager &pm,
                                 const CpuPipelineOptions &options) {
  std::string err;
  llvm::raw_string_ostream os(err);
  if (failed(parsePassPipeline(cpuPipelineText(options), pm, os))) {
    llvm::errs() << "kjit: internal error: bad CPU pipeline: " << err << "\n";
    return failure();
  }
  return success();
}

void registerCpuPipeline() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "kjit-cpu-pipeline",
      "Lower kjit ops (with configs attached) to the LLVM dialect for the CPU",
      [](OpPassManager &pm, const CpuPipelineOptions &options) {
        (void)buildCpuPipeline(pm, options);
      });
}
} // namespace kjit::compiler
