//===- CudaExecutor.h - the CUDA driver for the runtime ---------*- C++ -*-===//
//
// CudaDriver.h (driver through dlopen, the mgpu* functions kjit's CUDA host
// code calls, launch scopes, event timing) with llvm::Error results, for
// the runtime. See CudaDriver.h for how kernels reach the driver.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_CUDAEXECUTOR_H
#define KJIT_RUNTIME_CUDAEXECUTOR_H

#include "CudaDriver.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kjit::runtime {

using CudaDeviceInfo = cuda::DeviceInfo;

/// The driver, loaded once per process; an error (starting "no CUDA
/// driver") when the library cannot be opened, lacks the driver API, or
/// cuInit fails. `libraryName` null: $KJIT_CUDA_DRIVER, else libcuda.so.1.
llvm::Error loadCudaDriver(const char *libraryName = nullptr);
/// Number of CUDA devices (loads the driver).
llvm::Expected<int> cudaDeviceCount();
/// Properties of device `ordinal` (loads the driver).
llvm::Expected<CudaDeviceInfo> cudaDeviceInfo(int ordinal);

/// The tuning database's key of a GPU: "cuda;" + DeviceInfo::key(), e.g.
/// "cuda;NVIDIA H100 80GB HBM3;cc=90;sms=132;driver=13000". The one
/// spelling: Target::key(), run-time selection, on-line tuning and
/// kjit-tune --target=cuda all use it.
std::string cudaTargetKey(const CudaDeviceInfo &info);

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

/// cuda::LaunchScope with an llvm::Error from finish().
class CudaLaunchScope {
public:
  explicit CudaLaunchScope(int ordinal, bool deferSync = false)
      : scope_(ordinal, deferSync) {}
  llvm::Error finish();
  void *stream() const { return scope_.stream(); }
  /// Modules loaded on this thread while the scope was active.
  std::vector<void *> loadedModules() const { return scope_.loadedModules(); }
  /// Zeroes device bytes on the scope's stream, before its later launches.
  void zeroAsync(uint64_t ptr, size_t bytes) { scope_.zeroAsync(ptr, bytes); }

private:
  cuda::LaunchScope scope_;
};

/// Unloads a device module the kernel's code loaded (CudaLaunchScope::
/// loadedModules()); nothing may launch its kernels any more.
llvm::Error cudaUnloadModule(int ordinal, void *module);

/// The device address of `module`'s error record (cuda::kErrorRecordSymbol,
/// 4 x int64 {claims, code, a, b}); nullopt when the module has none (ops
/// that report no errors). An error when the lookup fails otherwise or the
/// global is too small.
llvm::Expected<std::optional<uint64_t>> cudaErrorRecordOf(int ordinal,
                                                          void *module);

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
