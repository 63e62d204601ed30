//===- CudaExecutor.cpp - CudaDriver with llvm::Error results -------------===//
#include "CudaExecutor.h"

namespace kjit::runtime {
namespace {
llvm::Error toError(const std::string &e) {
  if (e.empty())
    return llvm::Error::success();
  return llvm::createStringError(llvm::inconvertibleErrorCode(), e);
}
} // namespace

llvm::Error loadCudaDriver(const char *libraryName) {
  return toError(cuda::loadDriver(libraryName));
}

llvm::Expected<int> cudaDeviceCount() {
  int n = 0;
  if (std::string e = cuda::deviceCount(n); !e.empty())
    return toError(e);
  return n;
}

llvm::Expected<CudaDeviceInfo> cudaDeviceInfo(int ordinal) {
  CudaDeviceInfo info;
  if (std::string e = cuda::deviceInfo(ordinal, info); !e.empty())
    return toError(e);
  return info;
}

std::string cudaTargetKey(const CudaDeviceInfo &info) {
  return "cuda;" + info.key();
}

llvm::Expected<uint64_t> cudaAlloc(int ordinal, size_t bytes) {
  uint64_t p = 0;
  if (std::string e = cuda::alloc(ordinal, bytes, p); !e.empty())
    return toError(e);
  return p;
}

llvm::Error cudaFree(int ordinal, uint64_t ptr) {
  return toError(cuda::free(ordinal, ptr));
}

llvm::Error cudaCopyToDevice(int ordinal, uint64_t dst, const void *src,
                             size_t bytes) {
  return toError(cuda::copyToDevice(ordinal, dst, src, bytes));
}

llvm::Error cudaCopyToHost(int ordinal, void *dst, uint64_t src,
                           size_t bytes) {
  return toError(cuda::copyToHost(ordinal, dst, src, bytes));
}

std::optional<std::pair<uint64_t, size_t>> cudaAllocationOf(int ordinal,
                                                            uint64_t ptr) {
  return cuda::allocationOf(ordinal, ptr);
}

llvm::Error cudaUnloadModule(int ordinal, void *module) {
  return toError(cuda::unloadModule(ordinal, module));
}

llvm::Expected<std::optional<uint64_t>> cudaErrorRecordOf(int ordinal,
                                                          void *module) {
  uint64_t ptr = 0;
  size_t bytes = 0;
  if (std::string e = cuda::moduleGlobal(ordinal, module,
                                         cuda::kErrorRecordSymbol, ptr, bytes);
      !e.empty())
    return toError(e);
  if (!ptr)
    return std::nullopt;
  if (bytes < cuda::kErrorRecordBytes)
    return toError(std::string("the device error record ") +
                   cuda::kErrorRecordSymbol + " has " + std::to_string(bytes) +
                   " bytes, expected " +
                   std::to_string(cuda::kErrorRecordBytes));
  return std::optional<uint64_t>(ptr);
}

llvm::Error CudaLaunchScope::finish() { return toError(scope_.finish()); }

std::vector<std::pair<const char *, void *>> cudaRuntimeSymbols() {
  return cuda::runtimeSymbols();
}

llvm::Expected<std::vector<double>>
cudaTimeLaunches(int ordinal, int repeat, bool flushL2,
                 llvm::function_ref<void()> launch) {
  std::vector<double> ms;
  if (std::string e = cuda::timeLaunches(ordinal, repeat, flushL2,
                                         [&] { launch(); }, ms);
      !e.empty())
    return toError(e);
  return ms;
}

} // namespace kjit::runtime
