//===- CudaExecutor.h - the CUDA driver API, loaded at run time -*- C++ -*-===//
//
// libcuda.so.1 is opened with dlopen when first needed (never linked:
// binaries start on machines without a driver). Every entry point comes
// from dlsym; every call's CUresult becomes an llvm::Error with the
// driver's own message. Without a driver: a "no CUDA driver" error.
// First slice: driver loading, cuInit and device query; module load,
// launch, buffers and events come next (issue 5).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_CUDAEXECUTOR_H
#define KJIT_RUNTIME_CUDAEXECUTOR_H

#include "llvm/Support/Error.h"

#include <string>

namespace kjit::runtime {

struct CudaDeviceInfo {
  int ordinal = 0;
  std::string name;
  int computeCapability = 0; ///< e.g. 90
  int smCount = 0;
  int maxThreadsPerBlock = 0;
  int sharedMemPerBlock = 0;
  int driverVersion = 0; ///< e.g. 13000
  /// "sm_90" (the chip kjit compiles for).
  std::string chip() const { return "sm_" + std::to_string(computeCapability); }
};

/// The driver, loaded once per process; an error (starting "no CUDA
/// driver") when libcuda.so.1 cannot be opened, or when cuInit fails.
/// `libraryName` is for tests (default libcuda.so.1).
llvm::Error loadCudaDriver(const char *libraryName = "libcuda.so.1");
/// Number of CUDA devices (after loadCudaDriver succeeds).
llvm::Expected<int> cudaDeviceCount();
/// Properties of device `ordinal`.
llvm::Expected<CudaDeviceInfo> cudaDeviceInfo(int ordinal);

} // namespace kjit::runtime

#endif
