//===- CudaCode.cpp - PTX / cubin of a module, no GPU needed -------------===//
#include "RuntimeInternal.h"
#include "compiler/Compiler.h"

namespace kjit::runtime {
const compiler::CpuTarget &hostCpu(); // Core.cpp
} // namespace kjit::runtime

namespace kjit {
using runtime::hostCpu;

Result<std::string> emitCudaCode(const std::string &mlirText,
                                 const CompileOptions &opts,
                                 const std::string &chip,
                                 CudaCodeFormat format) {
  if (opts.threads < 0)
    return runtime::userError("threads must be >= 0, got " +
                              std::to_string(opts.threads));
  compiler::CompileRequest request;
  request.mlirText = mlirText;
  request.entry = opts.entry;
  request.config = opts.config;
  request.threads = opts.threads;
  request.target = hostCpu();
  request.cudaChip = chip;
  // Test only: a host object whose device code is LLVM bitcode for the CPU
  // emulating driver (KJIT_GPU_EMULATE=1), as Jit does for Target::cuda.
  // PTX and cubin are the real thing either way.
  request.gpuEmulate = format == CudaCodeFormat::HostObject &&
                       compiler::gpuEmulationRequested();
  auto prepared = compiler::prepare(request);
  if (!prepared)
    return runtime::toStatus(prepared.takeError());
  if (format == CudaCodeFormat::HostObject) {
    auto art = compiler::generateCuda(*prepared, chip, hostCpu());
    if (!art)
      return runtime::toStatus(art.takeError());
    return art->object;
  }
  auto ptx = compiler::compileToPtx(*prepared, chip);
  if (!ptx)
    return runtime::toStatus(ptx.takeError());
  if (format == CudaCodeFormat::PTX)
    return *ptx;
  auto cubin = compiler::assemblePtx(*ptx, chip);
  if (!cubin)
    return runtime::toStatus(cubin.takeError());
  return *cubin;
}
} // namespace kjit
