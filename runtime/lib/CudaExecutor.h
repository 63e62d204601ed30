//===- CudaExecutor.h - the CUDA driver API, loaded at run time -*- C++ -*-===//
//
// libcuda.so.1 is opened with dlopen when first needed (never linked:
// binaries start on machines without a driver; $KJIT_CUDA_DRIVER names
// another library, for tests). Every entry point comes from dlsym; every
// call's CUresult becomes an llvm::Error with the driver's own message.
// Without a driver: an error starting "no CUDA driver".
//
// Kernels: compiler::generateCuda makes a host object whose code calls the
// mgpu* functions of MLIR's GPU runtime ABI (module load, launch, streams).
// This file implements them over the driver (cudaRuntimeSymbols(), bound
// as absolute symbols when the object is linked in ORC), so neither
// libmlir_cuda_runtime nor -lcuda is needed. Those functions return
// nothing: a failing call records its error in the calling thread's
// CudaLaunchScope and later calls do nothing, so the caller gets the first
// error from CudaLaunchScope::finish().
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_CUDAEXECUTOR_H
#define KJIT_RUNTIME_CUDAEXECUTOR_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kjit::runtime {

struct CudaDeviceInfo {
  int ordinal = 0;
  std::string name;
  int computeCapability = 0; ///< e.g. 90
  int smCount = 0;
  int maxThreadsPerBlock = 0;
  int sharedMemPerBlock = 0;
  int l2CacheBytes = 0;
  int driverVersion = 0; ///< e.g. 13000
  /// "sm_90" (the chip kjit compiles for).
  std::string chip() const { return "sm_" + std::to_string(computeCapability); }
  /// "NVIDIA H100 80GB HBM3;sm_90;driver=13000": the tuning key of the GPU.
  std::string key() const;
};

/// The driver, loaded once per process; an error (starting "no CUDA
/// driver") when the library cannot be opened, lacks the driver API, or
/// cuInit fails. `libraryName` null: $KJIT_CUDA_DRIVER, else libcuda.so.1.
llvm::Error loadCudaDriver(const char *libraryName = nullptr);
/// Number of CUDA devices (loads the driver).
llvm::Expected<int> cudaDeviceCount();
/// Properties of device `ordinal` (loads the driver).
llvm::Expected<CudaDeviceInfo> cudaDeviceInfo(int ordinal);

/// Device memory (the device's primary context). Addresses are unified
/// (one address space with the host's), held as uint64_t.
llvm::Expected<uint64_t> cudaAlloc(int ordinal, size_t bytes);
llvm::Error cudaFree(int ordinal, uint64_t ptr);
llvm::Error cudaCopyToDevice(int ordinal, uint64_t dst, const void *src,
                             size_t bytes);
llvm::Error cudaCopyToHost(int ordinal, void *dst, uint64_t src,
                           size_t bytes);
/// The device allocation holding `ptr` as (base, bytes); nullopt when
/// `ptr` is not device memory (or there is no driver).
std::optional<std::pair<uint64_t, size_t>> cudaAllocationOf(int ordinal,
                                                            uint64_t ptr);

/// While alive, the mgpu* functions called on this thread use device
/// `ordinal`'s primary context and a stream of kjit's own for this thread
/// and device, and record their first error here. With `deferSync` the
/// generated code's stream synchronizations are skipped (launches stay in
/// stream order): for timing many launches back to back.
class CudaLaunchScope {
public:
  explicit CudaLaunchScope(int ordinal, bool deferSync = false);
  ~CudaLaunchScope();
  CudaLaunchScope(const CudaLaunchScope &) = delete;
  CudaLaunchScope &operator=(const CudaLaunchScope &) = delete;
  /// Synchronizes the stream and returns the first error of the scope
  /// (setup, an mgpu* call, or the synchronization).
  llvm::Error finish();
  /// The stream the scope's launches go to (CUstream), null on error.
  void *stream() const;

private:
  int previousOrdinal_;
  bool previousDefer_;
};

/// The mgpu* functions kjit implements, as (symbol, address).
std::vector<std::pair<const char *, void *>> cudaRuntimeSymbols();

/// Device times of `repeat` calls of `launch` (which must launch on the
/// scope's stream, e.g. a packed kernel entry called inside a
/// CudaLaunchScope with deferSync), in milliseconds, measured with one CUDA
/// event pair around each call. `flushL2`: before each timed call, a
/// memset of twice the device's L2 size on the same stream (outside the
/// events) so that no call finds its data in L2 from the previous one.
llvm::Expected<std::vector<double>>
cudaTimeLaunches(int ordinal, int repeat, bool flushL2,
                 llvm::function_ref<void()> launch);

} // namespace kjit::runtime

#endif
