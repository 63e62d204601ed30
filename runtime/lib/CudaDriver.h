//===- CudaDriver.h - the CUDA driver API, loaded at run time --*- C++ -*-===//
//
// libcuda.so.1 is opened with dlopen when first needed (never linked:
// binaries start on machines without a driver; $KJIT_CUDA_DRIVER names
// another library, for tests). Every entry point comes from dlsym; every
// failing call gives an error text with the driver's own message ("" is
// success). Without a driver: an error starting "no CUDA driver".
//
// Kernels: compiler::generateCuda makes a host object whose code calls the
// mgpu* functions of MLIR's GPU runtime ABI (module load, launch, streams).
// This file implements them over the driver (runtimeSymbols(), bound as
// absolute symbols when the runtime links the object in ORC; or exported
// under their mgpu* names with KJIT_CUDA_EXPORT_MGPU, for bench/gpu's
// runner), so neither libmlir_cuda_runtime nor -lcuda is needed. Those
// functions return nothing: a failing call records its error in the calling
// thread's LaunchScope and later calls do nothing, so the caller gets the
// first error from LaunchScope::finish().
//
// No LLVM or MLIR headers: bench/gpu builds this file on a GPU machine
// that has neither. The runtime's llvm::Error API is CudaExecutor.h.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_CUDADRIVER_H
#define KJIT_RUNTIME_CUDADRIVER_H

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kjit::cuda {

struct DeviceInfo {
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
  /// "NVIDIA H100 80GB HBM3;cc=90;sms=132;driver=13000": the GPU as the
  /// tuning database knows it (Target::key() is "cuda;" + this), so that
  /// another GPU, SM count or driver never silently serves a stale winner.
  std::string key() const;
};

/// Loads the driver once per process. `libraryName` null: $KJIT_CUDA_DRIVER,
/// else libcuda.so.1.
std::string loadDriver(const char *libraryName = nullptr);
std::string deviceCount(int &n);
std::string deviceInfo(int ordinal, DeviceInfo &info);

/// Device memory in device `ordinal`'s primary context (unified addresses).
std::string alloc(int ordinal, size_t bytes, uint64_t &ptr);
std::string free(int ordinal, uint64_t ptr);
std::string copyToDevice(int ordinal, uint64_t dst, const void *src,
                         size_t bytes);
std::string copyToHost(int ordinal, void *dst, uint64_t src, size_t bytes);
/// The device allocation holding `ptr` as (base, bytes); nullopt when `ptr`
/// is not device memory (or there is no driver).
std::optional<std::pair<uint64_t, size_t>> allocationOf(int ordinal,
                                                        uint64_t ptr);

/// Checks a buffer that generated code allocated on the device
/// (mgpuMemAlloc) and returned in a memref descriptor: a kernel-allocated
/// output such as kjit.spgemm's col_idx. `alloc` is what the caller frees
/// (cuda::free), the data `elems` elements of `elemBytes` bytes at `aligned`
/// + `offset` elements. "" when `alloc` is null or the start of a device
/// allocation and the data (none when elems is 0) lies inside that
/// allocation; `data` gets its address (0 when empty). Otherwise what is
/// wrong, e.g. "negative size -3", "a null pointer for 12 elements", "its
/// pointer 0x... is not the start of a device allocation".
std::string checkKernelBuffer(int ordinal, uint64_t alloc, uint64_t aligned,
                              int64_t offset, int64_t elems,
                              size_t elemBytes, uint64_t &data);

/// While alive, the mgpu* functions called on this thread use device
/// `ordinal`'s primary context and a stream of kjit's own for this thread
/// and device, and record their first error here. With `deferSync` the
/// generated code's stream synchronizations are skipped (launches stay in
/// stream order): for timing many launches back to back. A copy into host
/// memory (mgpuMemcpy whose destination is not device memory) completes
/// before it returns either way: host code reads it next (kjit.spgemm's
/// nnz sizes its outputs).
class LaunchScope {
public:
  explicit LaunchScope(int ordinal, bool deferSync = false);
  ~LaunchScope();
  LaunchScope(const LaunchScope &) = delete;
  LaunchScope &operator=(const LaunchScope &) = delete;
  /// Synchronizes the stream; the first error of the scope ("" if none).
  std::string finish();
  /// The stream the scope's launches go to (a CUstream), null on error.
  void *stream() const;
  /// The modules (CUmodule) that mgpuModuleLoad / mgpuModuleLoadJIT loaded
  /// on this thread while the scope was active.
  std::vector<void *> loadedModules() const;
  /// Queues a zeroing of `bytes` device bytes at `ptr` on the scope's stream
  /// (ordered before the scope's later launches); a failure is the scope's
  /// error.
  void zeroAsync(uint64_t ptr, size_t bytes);

private:
  int previousOrdinal_;
  bool previousDefer_;
};

/// The device error record of kernels that validate their inputs (spmm):
/// a module global of 4 x int64 {claims, code, a, b} (the compiler's
/// kGpuErrorRecord, GpuKernelGenerators.h). claims != 0 after a launch:
/// the kernel found a defect, described by (code, a, b) with the meanings
/// of KernelErrorCodes.h (those of the CPU's kjit_rt_report_error).
inline constexpr const char *kErrorRecordSymbol = "kjit_gpu_error";
inline constexpr size_t kErrorRecordBytes = 4 * sizeof(int64_t);
/// Unloads `module` (a CUmodule loaded in device `ordinal`'s primary
/// context, e.g. one of LaunchScope::loadedModules()); nothing may launch
/// its kernels any more.
std::string unloadModule(int ordinal, void *module);
/// The device address and size of global `name` in `module` (a CUmodule
/// loaded in device `ordinal`'s primary context); ptr = 0 and "" when the
/// module has no such global.
std::string moduleGlobal(int ordinal, void *module, const char *name,
                         uint64_t &ptr, size_t &bytes);

/// Registers per thread of kernel `name` in `module` (a CUmodule loaded in
/// device `ordinal`'s primary context): cuFuncGetAttribute
/// (CU_FUNC_ATTRIBUTE_NUM_REGS), the number ptxas -v reports. An error when
/// the driver lacks cuFuncGetAttribute (an optional entry point here) or
/// the module has no such kernel.
std::string kernelRegisters(int ordinal, void *module, const char *name,
                            int &registers);

/// The mgpu* functions, as (symbol, address).
std::vector<std::pair<const char *, void *>> runtimeSymbols();

/// Device times (ms) of `repeat` calls of `launch`, which must launch through
/// the mgpu* functions (a packed kernel entry): one CUDA event pair around
/// each call, all queued back to back on the scope's stream and read after
/// one synchronization. `flushL2`: before each call, a memset of twice the
/// device's L2 size on the same stream, outside the events.
std::string timeLaunches(int ordinal, int repeat, bool flushL2,
                         const std::function<void()> &launch,
                         std::vector<double> &ms);

} // namespace kjit::cuda

#endif
