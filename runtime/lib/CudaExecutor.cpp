//===- CudaExecutor.cpp - the CUDA driver API through dlopen -------------===//
#include "CudaExecutor.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <mutex>

namespace {
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUevent = void *;

constexpr int kAttrMaxThreadsPerBlock = 1;
constexpr int kAttrSharedMemPerBlock = 8;
constexpr int kAttrSmCount = 16;
constexpr int kAttrL2CacheSize = 38;
constexpr int kAttrCcMajor = 75;
constexpr int kAttrCcMinor = 76;
constexpr int kFuncAttrMaxDynamicSharedBytes = 8;
constexpr int kJitErrorLogBuffer = 5;
constexpr int kJitErrorLogBufferSize = 6;
constexpr int kJitOptimizationLevel = 7;
constexpr int kPointerAttrMemoryType = 2;
constexpr unsigned kMemoryTypeDevice = 2;

struct Driver {
  void *handle = nullptr;
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int *) = nullptr;
  CUresult (*cuDeviceGetCount)(int *) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice *, int) = nullptr;
  CUresult (*cuDeviceGetName)(char *, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice) = nullptr;
  CUresult (*cuGetErrorString)(CUresult, const char **) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext) = nullptr;
  CUresult (*cuModuleLoadData)(CUmodule *, const void *) = nullptr;
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule,
                                  const char *) = nullptr;
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, CUstream,
                             void **, void **) = nullptr;
  CUresult (*cuStreamCreate)(CUstream *, unsigned) = nullptr;
  CUresult (*cuStreamSynchronize)(CUstream) = nullptr;
  CUresult (*cuStreamDestroy)(CUstream) = nullptr;
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned) = nullptr;
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t) = nullptr;
  CUresult (*cuMemFree)(CUdeviceptr) = nullptr;
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t) = nullptr;
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t) = nullptr;
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t,
                            CUstream) = nullptr;
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t,
                              CUstream) = nullptr;
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t,
                               CUstream) = nullptr;
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t,
                               CUstream) = nullptr;
  CUresult (*cuPointerGetAttribute)(void *, int, CUdeviceptr) = nullptr;
  CUresult (*cuMemGetAddressRange)(CUdeviceptr *, size_t *,
                                   CUdeviceptr) = nullptr;
  CUresult (*cuEventCreate)(CUevent *, unsigned) = nullptr;
  CUresult (*cuEventRecord)(CUevent, CUstream) = nullptr;
  CUresult (*cuEventSynchronize)(CUevent) = nullptr;
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent) = nullptr;
  CUresult (*cuEventDestroy)(CUevent) = nullptr;
};

Driver driver;
std::mutex mu;
bool loaded = false;

llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

std::string describe(CUresult r, const char *call) {
  const char *s = nullptr;
  if (driver.cuGetErrorString)
    driver.cuGetErrorString(r, &s);
  return std::string("CUDA driver: ") + call + " failed: " +
         (s ? s : "error " + std::to_string(r));
}

llvm::Error check(CUresult r, const char *call) {
  if (r == 0)
    return llvm::Error::success();
  return makeError(describe(r, call));
}

/// Per device: its primary context (retained once, kept for the process).
struct DeviceState {
  CUdevice device = 0;
  CUcontext context = nullptr;
};
std::map<int, DeviceState> devices; // guarded by mu

llvm::Error loadCudaDriverLocked(const char *libraryName = nullptr);
} // namespace

namespace {
llvm::Error loadCudaDriverLocked(const char *libraryName) {
  if (loaded)
    return llvm::Error::success();
  if (!libraryName) {
    const char *env = std::getenv("KJIT_CUDA_DRIVER");
    libraryName = env && *env ? env : "libcuda.so.1";
  }
  void *h = dlopen(libraryName, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    return makeError(llvm::Twine("no CUDA driver: cannot load ") +
                     libraryName + " (" + (why ? why : "not found") +
                     "); GPU code can still be generated (--emit=ptx)");
  }
  Driver d;
  d.handle = h;
  std::string missing;
  // The first name that the library exports (versioned names first).
  auto sym = [&](auto &fn, std::initializer_list<const char *> names) {
    for (const char *name : names)
      if (void *p = dlsym(h, name)) {
        fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
        return;
      }
    missing += (missing.empty() ? "" : ", ") + std::string(*names.begin());
  };
  sym(d.cuInit, {"cuInit"});
  sym(d.cuDriverGetVersion, {"cuDriverGetVersion"});
  sym(d.cuDeviceGetCount, {"cuDeviceGetCount"});
  sym(d.cuDeviceGet, {"cuDeviceGet"});
  sym(d.cuDeviceGetName, {"cuDeviceGetName"});
  sym(d.cuDeviceGetAttribute, {"cuDeviceGetAttribute"});
  sym(d.cuGetErrorString, {"cuGetErrorString"});
  sym(d.cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"});
  sym(d.cuCtxSetCurrent, {"cuCtxSetCurrent"});
  sym(d.cuModuleLoadData, {"cuModuleLoadData"});
  sym(d.cuModuleLoadDataEx, {"cuModuleLoadDataEx"});
  sym(d.cuModuleUnload, {"cuModuleUnload"});
  sym(d.cuModuleGetFunction, {"cuModuleGetFunction"});
  sym(d.cuFuncSetAttribute, {"cuFuncSetAttribute"});
  sym(d.cuLaunchKernel, {"cuLaunchKernel"});
  sym(d.cuStreamCreate, {"cuStreamCreate"});
  sym(d.cuStreamSynchronize, {"cuStreamSynchronize"});
  sym(d.cuStreamDestroy, {"cuStreamDestroy_v2", "cuStreamDestroy"});
  sym(d.cuStreamWaitEvent, {"cuStreamWaitEvent"});
  sym(d.cuMemAlloc, {"cuMemAlloc_v2", "cuMemAlloc"});
  sym(d.cuMemFree, {"cuMemFree_v2", "cuMemFree"});
  sym(d.cuMemcpyHtoD, {"cuMemcpyHtoD_v2", "cuMemcpyHtoD"});
  sym(d.cuMemcpyDtoH, {"cuMemcpyDtoH_v2", "cuMemcpyDtoH"});
  sym(d.cuMemcpyAsync, {"cuMemcpyAsync"});
  sym(d.cuMemsetD8Async, {"cuMemsetD8Async"});
  sym(d.cuMemsetD16Async, {"cuMemsetD16Async"});
  sym(d.cuMemsetD32Async, {"cuMemsetD32Async"});
  sym(d.cuPointerGetAttribute, {"cuPointerGetAttribute"});
  sym(d.cuMemGetAddressRange,
      {"cuMemGetAddressRange_v2", "cuMemGetAddressRange"});
  sym(d.cuEventCreate, {"cuEventCreate"});
  sym(d.cuEventRecord, {"cuEventRecord"});
  sym(d.cuEventSynchronize, {"cuEventSynchronize"});
  sym(d.cuEventElapsedTime, {"cuEventElapsedTime_v2", "cuEventElapsedTime"});
  sym(d.cuEventDestroy, {"cuEventDestroy_v2", "cuEventDestroy"});
  if (!missing.empty()) {
    dlclose(h);
    return makeError(llvm::Twine("no CUDA driver: ") + libraryName +
                     " lacks driver API entry points (" + missing + ")");
  }
  driver = d;
  if (auto err = check(driver.cuInit(0), "cuInit")) {
    driver = Driver();
    dlclose(h);
    return err;
  }
  loaded = true;
  return llvm::Error::success();
}

/// Device `ordinal`'s primary context, retained on first use.
llvm::Expected<CUcontext> contextOf(int ordinal) {
  std::lock_guard<std::mutex> lock(mu);
  if (auto err = loadCudaDriverLocked())
    return std::move(err);
  auto it = devices.find(ordinal);
  if (it != devices.end())
    return it->second.context;
  int count = 0;
  if (auto err = check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount"))
    return std::move(err);
  if (ordinal < 0 || ordinal >= count)
    return makeError("CUDA device " + llvm::Twine(ordinal) +
                     " does not exist (" + llvm::Twine(count) + " devices)");
  DeviceState s;
  if (auto err = check(driver.cuDeviceGet(&s.device, ordinal), "cuDeviceGet"))
    return std::move(err);
  if (auto err = check(driver.cuDevicePrimaryCtxRetain(&s.context, s.device),
                       "cuDevicePrimaryCtxRetain"))
    return std::move(err);
  devices[ordinal] = s;
  return s.context;
}

/// Makes device `ordinal`'s primary context current on this thread.
llvm::Error makeCurrent(int ordinal) {
  auto ctx = contextOf(ordinal);
  if (!ctx)
    return ctx.takeError();
  return check(driver.cuCtxSetCurrent(*ctx), "cuCtxSetCurrent");
}

//===----------------------------------------------------------------------===//
// The launch scope's thread state and the mgpu* functions
//===----------------------------------------------------------------------===//

/// kjit's streams of this thread, one per device; destroyed with the thread.
struct ThreadStreams {
  std::map<int, CUstream> streams;
  ~ThreadStreams() {
    if (!loaded)
      return;
    for (auto &[ordinal, s] : streams) {
      if (!s)
        continue;
      if (llvm::Error e = makeCurrent(ordinal)) {
        llvm::consumeError(std::move(e));
        continue;
      }
      driver.cuStreamDestroy(s);
    }
  }
};
thread_local ThreadStreams threadStreams;

struct ShimState {
  int ordinal = -1; ///< -1: no scope on this thread
  bool deferSync = false;
  CUstream stream = nullptr;
  std::string error; ///< the scope's first error
};
thread_local ShimState shim;

/// Records a failed call in the scope; true when the call failed.
bool failed(CUresult r, const char *call) {
  if (r == 0)
    return false;
  if (shim.error.empty())
    shim.error = describe(r, call);
  return true;
}
/// True (and an error recorded) when no scope is active or one failed.
bool unusable(const char *call) {
  if (shim.ordinal < 0) {
    if (shim.error.empty())
      shim.error = std::string("internal error: ") + call +
                   " called outside a CudaLaunchScope";
    return true;
  }
  return !shim.error.empty();
}

extern "C" {
void *kjit_mgpuModuleLoad(void *data, size_t /*size*/) {
  if (unusable("mgpuModuleLoad"))
    return nullptr;
  CUmodule m = nullptr;
  if (failed(driver.cuModuleLoadData(&m, data), "cuModuleLoadData (cubin)"))
    return nullptr;
  return m;
}

void *kjit_mgpuModuleLoadJIT(void *data, int optLevel) {
  if (unusable("mgpuModuleLoadJIT"))
    return nullptr;
  char log[8192] = {0};
  int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSize,
                   kJitOptimizationLevel};
  void *values[] = {log, reinterpret_cast<void *>(uintptr_t(sizeof(log))),
                    reinterpret_cast<void *>(uintptr_t(optLevel))};
  CUmodule m = nullptr;
  CUresult r = driver.cuModuleLoadDataEx(&m, data, 3, options, values);
  if (r != 0 && shim.error.empty()) {
    shim.error = describe(r, "cuModuleLoadDataEx (PTX, driver JIT)");
    if (log[0])
      shim.error += std::string(": ") + log;
    return nullptr;
  }
  return r == 0 ? m : nullptr;
}

void kjit_mgpuModuleUnload(void *module) {
  if (shim.ordinal < 0 || !module)
    return;
  driver.cuModuleUnload(module); // nothing to do about a failure here
}

void *kjit_mgpuModuleGetFunction(void *module, const char *name) {
  if (unusable("mgpuModuleGetFunction"))
    return nullptr;
  if (!module) {
    shim.error = std::string("the kernel's GPU module is not loaded (looking "
                             "up ") +
                 name + ")";
    return nullptr;
  }
  CUfunction f = nullptr;
  if (failed(driver.cuModuleGetFunction(&f, module, name),
             "cuModuleGetFunction"))
    return nullptr;
  return f;
}

void kjit_mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                           intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                           intptr_t blockZ, int32_t smem, void *stream,
                           void **params, void **extra,
                           size_t /*paramsCount*/) {
  if (unusable("mgpuLaunchKernel") || !function)
    return;
  if (smem > 48 * 1024 &&
      failed(driver.cuFuncSetAttribute(function,
                                       kFuncAttrMaxDynamicSharedBytes, smem),
             "cuFuncSetAttribute (dynamic shared memory)"))
    return;
  failed(driver.cuLaunchKernel(function, unsigned(gridX), unsigned(gridY),
                               unsigned(gridZ), unsigned(blockX),
                               unsigned(blockY), unsigned(blockZ),
                               unsigned(smem), stream ? stream : shim.stream,
                               params, extra),
         "cuLaunchKernel");
}

void *kjit_mgpuStreamCreate() {
  // The scope's stream: generated code creates and destroys a stream around
  // every launch; kjit keeps one per thread and device instead.
  if (unusable("mgpuStreamCreate"))
    return nullptr;
  return shim.stream;
}

void kjit_mgpuStreamDestroy(void * /*stream*/) {}

void kjit_mgpuStreamSynchronize(void *stream) {
  if (unusable("mgpuStreamSynchronize") || shim.deferSync)
    return;
  failed(driver.cuStreamSynchronize(stream ? stream : shim.stream),
         "cuStreamSynchronize (kernel execution)");
}

void kjit_mgpuStreamWaitEvent(void *stream, void *event) {
  if (unusable("mgpuStreamWaitEvent"))
    return;
  failed(driver.cuStreamWaitEvent(stream ? stream : shim.stream, event, 0),
         "cuStreamWaitEvent");
}

void *kjit_mgpuEventCreate() {
  if (unusable("mgpuEventCreate"))
    return nullptr;
  CUevent e = nullptr;
  if (failed(driver.cuEventCreate(&e, 0), "cuEventCreate"))
    return nullptr;
  return e;
}

void kjit_mgpuEventDestroy(void *event) {
  if (shim.ordinal >= 0 && event)
    driver.cuEventDestroy(event);
}

void kjit_mgpuEventSynchronize(void *event) {
  if (unusable("mgpuEventSynchronize") || !event)
    return;
  failed(driver.cuEventSynchronize(event), "cuEventSynchronize");
}

void kjit_mgpuEventRecord(void *event, void *stream) {
  if (unusable("mgpuEventRecord") || !event)
    return;
  failed(driver.cuEventRecord(event, stream ? stream : shim.stream),
         "cuEventRecord");
}

void *kjit_mgpuMemAlloc(uint64_t bytes, void * /*stream*/,
                        bool /*isHostShared*/) {
  if (unusable("mgpuMemAlloc"))
    return nullptr;
  CUdeviceptr p = 0;
  if (bytes && failed(driver.cuMemAlloc(&p, bytes), "cuMemAlloc"))
    return nullptr;
  return reinterpret_cast<void *>(uintptr_t(p));
}

void kjit_mgpuMemFree(void *ptr, void *stream) {
  if (shim.ordinal < 0 || !ptr)
    return;
  // Work queued on the stream may still use the memory.
  driver.cuStreamSynchronize(stream ? stream : shim.stream);
  failed(driver.cuMemFree(CUdeviceptr(uintptr_t(ptr))), "cuMemFree");
}

void kjit_mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream) {
  if (unusable("mgpuMemcpy"))
    return;
  failed(driver.cuMemcpyAsync(CUdeviceptr(uintptr_t(dst)),
                              CUdeviceptr(uintptr_t(src)), bytes,
                              stream ? stream : shim.stream),
         "cuMemcpyAsync");
}

void kjit_mgpuMemset32(void *dst, unsigned value, size_t count,
                       void *stream) {
  if (unusable("mgpuMemset32"))
    return;
  failed(driver.cuMemsetD32Async(CUdeviceptr(uintptr_t(dst)), value, count,
                                 stream ? stream : shim.stream),
         "cuMemsetD32Async");
}

void kjit_mgpuMemset16(void *dst, unsigned short value, size_t count,
                       void *stream) {
  if (unusable("mgpuMemset16"))
    return;
  failed(driver.cuMemsetD16Async(CUdeviceptr(uintptr_t(dst)), value, count,
                                 stream ? stream : shim.stream),
         "cuMemsetD16Async");
}

void kjit_mgpuSetDefaultDevice(int32_t ordinal) {
  if (shim.ordinal >= 0 && ordinal != shim.ordinal && shim.error.empty())
    shim.error = "generated code asked for CUDA device " +
                 std::to_string(ordinal) + " inside a launch on device " +
                 std::to_string(shim.ordinal);
}
} // extern "C"
} // namespace

namespace kjit::runtime {

std::string CudaDeviceInfo::key() const {
  return name + ";" + chip() + ";driver=" + std::to_string(driverVersion);
}

llvm::Error loadCudaDriver(const char *libraryName) {
  std::lock_guard<std::mutex> lock(mu);
  return loadCudaDriverLocked(libraryName);
}

llvm::Expected<int> cudaDeviceCount() {
  if (auto err = loadCudaDriver())
    return std::move(err);
  int n = 0;
  if (auto err = check(driver.cuDeviceGetCount(&n), "cuDeviceGetCount"))
    return std::move(err);
  return n;
}

llvm::Expected<CudaDeviceInfo> cudaDeviceInfo(int ordinal) {
  auto count = cudaDeviceCount();
  if (!count)
    return count.takeError();
  if (ordinal < 0 || ordinal >= *count)
    return makeError("CUDA device " + llvm::Twine(ordinal) +
                     " does not exist (" + llvm::Twine(*count) +
                     " devices)");
  CUdevice dev;
  if (auto err = check(driver.cuDeviceGet(&dev, ordinal), "cuDeviceGet"))
    return std::move(err);
  CudaDeviceInfo info;
  info.ordinal = ordinal;
  char name[256] = {0};
  if (auto err = check(driver.cuDeviceGetName(name, sizeof(name), dev),
                       "cuDeviceGetName"))
    return std::move(err);
  info.name = name;
  int major = 0, minor = 0;
  struct {
    int attr;
    int *out;
  } attrs[] = {{kAttrCcMajor, &major},
               {kAttrCcMinor, &minor},
               {kAttrSmCount, &info.smCount},
               {kAttrMaxThreadsPerBlock, &info.maxThreadsPerBlock},
               {kAttrSharedMemPerBlock, &info.sharedMemPerBlock},
               {kAttrL2CacheSize, &info.l2CacheBytes}};
  for (auto &a : attrs)
    if (auto err = check(driver.cuDeviceGetAttribute(a.out, a.attr, dev),
                         "cuDeviceGetAttribute"))
      return std::move(err);
  info.computeCapability = major * 10 + minor;
  if (auto err = check(driver.cuDriverGetVersion(&info.driverVersion),
                       "cuDriverGetVersion"))
    return std::move(err);
  return info;
}

llvm::Expected<uint64_t> cudaAlloc(int ordinal, size_t bytes) {
  if (auto err = makeCurrent(ordinal))
    return std::move(err);
  CUdeviceptr p = 0;
  if (auto err = check(driver.cuMemAlloc(&p, bytes ? bytes : 1),
                       "cuMemAlloc"))
    return makeError(llvm::toString(std::move(err)) + " (" +
                     llvm::Twine(uint64_t(bytes)) + " bytes on device " +
                     llvm::Twine(ordinal) + ")");
  return uint64_t(p);
}

llvm::Error cudaFree(int ordinal, uint64_t ptr) {
  if (auto err = makeCurrent(ordinal))
    return err;
  return check(driver.cuMemFree(ptr), "cuMemFree");
}

llvm::Error cudaCopyToDevice(int ordinal, uint64_t dst, const void *src,
                             size_t bytes) {
  if (auto err = makeCurrent(ordinal))
    return err;
  if (!bytes)
    return llvm::Error::success();
  return check(driver.cuMemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD");
}

llvm::Error cudaCopyToHost(int ordinal, void *dst, uint64_t src,
                           size_t bytes) {
  if (auto err = makeCurrent(ordinal))
    return err;
  if (!bytes)
    return llvm::Error::success();
  return check(driver.cuMemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH");
}

std::optional<std::pair<uint64_t, size_t>> cudaAllocationOf(int ordinal,
                                                            uint64_t ptr) {
  if (llvm::Error e = makeCurrent(ordinal)) {
    llvm::consumeError(std::move(e));
    return std::nullopt;
  }
  unsigned type = 0;
  if (driver.cuPointerGetAttribute(&type, kPointerAttrMemoryType, ptr) != 0 ||
      type != kMemoryTypeDevice)
    return std::nullopt;
  CUdeviceptr base = 0;
  size_t bytes = 0;
  if (driver.cuMemGetAddressRange(&base, &bytes, ptr) != 0)
    return std::nullopt;
  return std::make_pair(uint64_t(base), bytes);
}

CudaLaunchScope::CudaLaunchScope(int ordinal, bool deferSync)
    : previousOrdinal_(shim.ordinal), previousDefer_(shim.deferSync) {
  shim.ordinal = ordinal;
  shim.deferSync = deferSync;
  shim.error.clear();
  shim.stream = nullptr;
  if (auto err = makeCurrent(ordinal)) {
    shim.error = llvm::toString(std::move(err));
    return;
  }
  CUstream &s = threadStreams.streams[ordinal];
  // Flags 0 (a blocking stream): ordered with the synchronous copies that
  // kjit makes on the legacy default stream.
  if (!s && failed(driver.cuStreamCreate(&s, 0), "cuStreamCreate"))
    return;
  shim.stream = s;
}

CudaLaunchScope::~CudaLaunchScope() {
  shim.ordinal = previousOrdinal_;
  shim.deferSync = previousDefer_;
  shim.error.clear();
}

void *CudaLaunchScope::stream() const { return shim.stream; }

llvm::Error CudaLaunchScope::finish() {
  if (shim.error.empty() && shim.stream)
    failed(driver.cuStreamSynchronize(shim.stream),
           "cuStreamSynchronize (kernel execution)");
  if (shim.error.empty())
    return llvm::Error::success();
  std::string e = shim.error;
  shim.error.clear();
  return makeError(e);
}

std::vector<std::pair<const char *, void *>> cudaRuntimeSymbols() {
  return {
      {"mgpuModuleLoad", reinterpret_cast<void *>(&kjit_mgpuModuleLoad)},
      {"mgpuModuleLoadJIT", reinterpret_cast<void *>(&kjit_mgpuModuleLoadJIT)},
      {"mgpuModuleUnload", reinterpret_cast<void *>(&kjit_mgpuModuleUnload)},
      {"mgpuModuleGetFunction",
       reinterpret_cast<void *>(&kjit_mgpuModuleGetFunction)},
      {"mgpuLaunchKernel", reinterpret_cast<void *>(&kjit_mgpuLaunchKernel)},
      {"mgpuStreamCreate", reinterpret_cast<void *>(&kjit_mgpuStreamCreate)},
      {"mgpuStreamDestroy", reinterpret_cast<void *>(&kjit_mgpuStreamDestroy)},
      {"mgpuStreamSynchronize",
       reinterpret_cast<void *>(&kjit_mgpuStreamSynchronize)},
      {"mgpuStreamWaitEvent",
       reinterpret_cast<void *>(&kjit_mgpuStreamWaitEvent)},
      {"mgpuEventCreate", reinterpret_cast<void *>(&kjit_mgpuEventCreate)},
      {"mgpuEventDestroy", reinterpret_cast<void *>(&kjit_mgpuEventDestroy)},
      {"mgpuEventSynchronize",
       reinterpret_cast<void *>(&kjit_mgpuEventSynchronize)},
      {"mgpuEventRecord", reinterpret_cast<void *>(&kjit_mgpuEventRecord)},
      {"mgpuMemAlloc", reinterpret_cast<void *>(&kjit_mgpuMemAlloc)},
      {"mgpuMemFree", reinterpret_cast<void *>(&kjit_mgpuMemFree)},
      {"mgpuMemcpy", reinterpret_cast<void *>(&kjit_mgpuMemcpy)},
      {"mgpuMemset32", reinterpret_cast<void *>(&kjit_mgpuMemset32)},
      {"mgpuMemset16", reinterpret_cast<void *>(&kjit_mgpuMemset16)},
      {"mgpuSetDefaultDevice",
       reinterpret_cast<void *>(&kjit_mgpuSetDefaultDevice)},
  };
}

llvm::Expected<std::vector<double>>
cudaTimeLaunches(int ordinal, int repeat, bool flushL2,
                 llvm::function_ref<void()> launch) {
  if (repeat <= 0)
    return std::vector<double>();
  auto info = cudaDeviceInfo(ordinal);
  if (!info)
    return info.takeError();
  CudaLaunchScope scope(ordinal, /*deferSync=*/true);
  if (!shim.error.empty())
    return scope.finish();
  CUstream stream = shim.stream;
  uint64_t scratch = 0;
  size_t scratchBytes = size_t(std::max(info->l2CacheBytes, 1 << 20)) * 2;
  std::vector<CUevent> events(2 * size_t(repeat), nullptr);
  auto cleanup = [&] {
    for (CUevent e : events)
      if (e)
        driver.cuEventDestroy(e);
    if (scratch)
      driver.cuMemFree(scratch);
  };
  llvm::Error err = llvm::Error::success();
  if (!err && flushL2) {
    CUdeviceptr p = 0;
    err = check(driver.cuMemAlloc(&p, scratchBytes), "cuMemAlloc (L2 flush)");
    scratch = p;
  }
  for (size_t i = 0; !err && i < events.size(); ++i)
    err = check(driver.cuEventCreate(&events[i], 0), "cuEventCreate");
  for (int i = 0; !err && i < repeat; ++i) {
    if (flushL2)
      err = check(driver.cuMemsetD8Async(scratch, (unsigned char)i,
                                         scratchBytes, stream),
                  "cuMemsetD8Async (L2 flush)");
    if (!err)
      err = check(driver.cuEventRecord(events[2 * i], stream),
                  "cuEventRecord");
    if (!err) {
      launch();
      if (!shim.error.empty())
        err = makeError(shim.error);
    }
    if (!err)
      err = check(driver.cuEventRecord(events[2 * i + 1], stream),
                  "cuEventRecord");
  }
  if (!err)
    err = check(driver.cuStreamSynchronize(stream),
                "cuStreamSynchronize (kernel execution)");
  std::vector<double> ms;
  for (int i = 0; !err && i < repeat; ++i) {
    float t = 0;
    err = check(driver.cuEventElapsedTime(&t, events[2 * i], events[2 * i + 1]),
                "cuEventElapsedTime");
    ms.push_back(t);
  }
  cleanup();
  if (err)
    return std::move(err);
  return ms;
}

} // namespace kjit::runtime
