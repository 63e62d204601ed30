//===- CudaDriver.cpp - the CUDA driver API through dlopen ---------------===//
//
// No LLVM or MLIR here (errors are strings): the same file builds the
// runtime (CudaExecutor.cpp wraps it in llvm::Error) and, on a GPU machine
// without MLIR, bench/gpu's kernel runner.
//
//===----------------------------------------------------------------------===//
#include "CudaDriver.h"

#include <algorithm>

#include <cstdio>
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
constexpr int kFuncAttrNumRegs = 4; // CU_FUNC_ATTRIBUTE_NUM_REGS
constexpr int kJitErrorLogBuffer = 5;
constexpr int kJitErrorLogBufferSize = 6;
constexpr int kJitOptimizationLevel = 7;
constexpr int kPointerAttrMemoryType = 2;
constexpr unsigned kMemoryTypeDevice = 2;
constexpr int kErrorNotFound = 500; // CUDA_ERROR_NOT_FOUND

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
  CUresult (*cuModuleGetGlobal)(CUdeviceptr *, size_t *, CUmodule,
                                const char *) = nullptr;
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int) = nullptr;
  /// Optional (kernelRegisters says so when the library lacks it).
  CUresult (*cuFuncGetAttribute)(int *, int, CUfunction) = nullptr;
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


std::string describe(CUresult r, const char *call) {
  const char *s = nullptr;
  if (driver.cuGetErrorString)
    driver.cuGetErrorString(r, &s);
  return std::string("CUDA driver: ") + call + " failed: " +
         (s ? s : "error " + std::to_string(r));
}

std::string check(CUresult r, const char *call) {
  if (r == 0)
    return "";
  return describe(r, call);
}

/// Per device: its primary context (retained once, kept for the process).
struct DeviceState {
  CUdevice device = 0;
  CUcontext context = nullptr;
};
std::map<int, DeviceState> devices; // guarded by mu

std::string loadCudaDriverLocked(const char *libraryName = nullptr);
} // namespace

namespace {
std::string loadCudaDriverLocked(const char *libraryName) {
  if (loaded)
    return "";
  if (!libraryName) {
    const char *env = std::getenv("KJIT_CUDA_DRIVER");
    libraryName = env && *env ? env : "libcuda.so.1";
  }
  void *h = dlopen(libraryName, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    return std::string("no CUDA driver: cannot load ") + libraryName + " (" +
           (why ? why : "not found") +
           "); GPU code can still be generated (--emit=ptx)";
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
  sym(d.cuModuleGetGlobal, {"cuModuleGetGlobal_v2", "cuModuleGetGlobal"});
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
  // Optional: read-only kernel attributes (registers per thread).
  d.cuFuncGetAttribute = reinterpret_cast<decltype(d.cuFuncGetAttribute)>(
      dlsym(h, "cuFuncGetAttribute"));
  if (!missing.empty()) {
    dlclose(h);
    return std::string("no CUDA driver: ") + libraryName +
           " lacks driver API entry points (" + missing + ")";
  }
  driver = d;
  if (std::string err = check(driver.cuInit(0), "cuInit"); !err.empty()) {
    driver = Driver();
    dlclose(h);
    return err;
  }
  loaded = true;
  return "";
}

/// Device `ordinal`'s primary context, retained on first use.
std::string contextOf(int ordinal, CUcontext &out) {
  std::lock_guard<std::mutex> lock(mu);
  if (std::string err = loadCudaDriverLocked(); !err.empty())
    return err;
  auto it = devices.find(ordinal);
  if (it != devices.end()) {
    out = it->second.context;
    return "";
  }
  int count = 0;
  if (std::string err =
          check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount");
      !err.empty())
    return err;
  if (ordinal < 0 || ordinal >= count)
    return "CUDA device " + std::to_string(ordinal) + " does not exist (" +
           std::to_string(count) + " devices)";
  DeviceState st;
  if (std::string err =
          check(driver.cuDeviceGet(&st.device, ordinal), "cuDeviceGet");
      !err.empty())
    return err;
  if (std::string err =
          check(driver.cuDevicePrimaryCtxRetain(&st.context, st.device),
                "cuDevicePrimaryCtxRetain");
      !err.empty())
    return err;
  devices[ordinal] = st;
  out = st.context;
  return "";
}

/// Makes device `ordinal`'s primary context current on this thread.
std::string makeCurrent(int ordinal) {
  CUcontext ctx = nullptr;
  if (std::string err = contextOf(ordinal, ctx); !err.empty())
    return err;
  return check(driver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
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
      if (!makeCurrent(ordinal).empty())
        continue;
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
  std::vector<CUmodule> modules; ///< loaded while the scope was active
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
void *kjit_mgpuModuleLoad(void *data, size_t size) {
  if (unusable("mgpuModuleLoad"))
    return nullptr;
  // Raw LLVM bitcode ('BC' 0xC0DE: KJIT_GPU_EMULATE=1, test only) goes to
  // the emulating driver in LLVM's bitcode wrapper (magic 0x0B17C0DE,
  // version, offset, size, cputype), which says its length:
  // cuModuleLoadData takes none.
  std::string wrapped;
  if (size >= 4 && memcmp(data, "BC\xC0\xDE", 4) == 0) {
    uint32_t header[5] = {0x0B17C0DEu, 0, 20, uint32_t(size), 0};
    wrapped.assign(reinterpret_cast<const char *>(header), sizeof(header));
    wrapped.append(static_cast<const char *>(data), size);
    data = wrapped.data();
  }
  CUmodule m = nullptr;
  if (failed(driver.cuModuleLoadData(&m, data),
             wrapped.empty() ? "cuModuleLoadData (cubin)"
                             : "cuModuleLoadData (LLVM bitcode)"))
    return nullptr;
  shim.modules.push_back(m);
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
  if (r != 0)
    return nullptr;
  shim.modules.push_back(m);
  return m;
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

/// True when `p` is device memory (cuMemAlloc'ed); false for host memory,
/// pinned or pageable (the driver does not know the latter).
bool isDeviceMemory(const void *p) {
  unsigned type = 0;
  return driver.cuPointerGetAttribute(&type, kPointerAttrMemoryType,
                                      CUdeviceptr(uintptr_t(p))) == 0 &&
         type == kMemoryTypeDevice;
}

void kjit_mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream) {
  if (unusable("mgpuMemcpy"))
    return;
  CUstream s = stream ? static_cast<CUstream>(stream) : shim.stream;
  if (failed(driver.cuMemcpyAsync(CUdeviceptr(uintptr_t(dst)),
                                  CUdeviceptr(uintptr_t(src)), bytes, s),
             "cuMemcpyAsync"))
    return;
  // Host code reads what it copied into host memory right after the call
  // (kjit.spgemm's nnz, which sizes its outputs). Its gpu.wait is skipped
  // in a deferSync scope (timing), so a copy into memory that is not device
  // memory completes here, deferred or not. Device-to-device copies stay
  // asynchronous (stream order is enough).
  if (bytes && !isDeviceMemory(dst))
    failed(driver.cuStreamSynchronize(s),
           "cuStreamSynchronize (copy into host memory)");
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

#ifdef KJIT_CUDA_EXPORT_MGPU
// The mgpu* names themselves, for code linked outside ORC (bench/gpu's
// runner exports them to the kernel libraries it dlopens).
extern "C" {
void *mgpuModuleLoad(void *d, size_t n) { return kjit_mgpuModuleLoad(d, n); }
void *mgpuModuleLoadJIT(void *d, int o) { return kjit_mgpuModuleLoadJIT(d, o); }
void mgpuModuleUnload(void *m) { kjit_mgpuModuleUnload(m); }
void *mgpuModuleGetFunction(void *m, const char *n) {
  return kjit_mgpuModuleGetFunction(m, n);
}
void mgpuLaunchKernel(void *f, intptr_t gx, intptr_t gy, intptr_t gz,
                      intptr_t bx, intptr_t by, intptr_t bz, int32_t smem,
                      void *s, void **p, void **e, size_t n) {
  kjit_mgpuLaunchKernel(f, gx, gy, gz, bx, by, bz, smem, s, p, e, n);
}
void *mgpuStreamCreate() { return kjit_mgpuStreamCreate(); }
void mgpuStreamDestroy(void *s) { kjit_mgpuStreamDestroy(s); }
void mgpuStreamSynchronize(void *s) { kjit_mgpuStreamSynchronize(s); }
void mgpuStreamWaitEvent(void *s, void *e) { kjit_mgpuStreamWaitEvent(s, e); }
void *mgpuEventCreate() { return kjit_mgpuEventCreate(); }
void mgpuEventDestroy(void *e) { kjit_mgpuEventDestroy(e); }
void mgpuEventSynchronize(void *e) { kjit_mgpuEventSynchronize(e); }
void mgpuEventRecord(void *e, void *s) { kjit_mgpuEventRecord(e, s); }
void *mgpuMemAlloc(uint64_t n, void *s, bool h) {
  return kjit_mgpuMemAlloc(n, s, h);
}
void mgpuMemFree(void *p, void *s) { kjit_mgpuMemFree(p, s); }
void mgpuMemcpy(void *d, void *s, size_t n, void *st) {
  kjit_mgpuMemcpy(d, s, n, st);
}
void mgpuMemset32(void *d, unsigned v, size_t n, void *s) {
  kjit_mgpuMemset32(d, v, n, s);
}
void mgpuMemset16(void *d, unsigned short v, size_t n, void *s) {
  kjit_mgpuMemset16(d, v, n, s);
}
void mgpuSetDefaultDevice(int32_t d) { kjit_mgpuSetDefaultDevice(d); }
}
#endif

namespace kjit::cuda {

std::string DeviceInfo::key() const {
  return name + ";cc=" + std::to_string(computeCapability) +
         ";sms=" + std::to_string(smCount) +
         ";driver=" + std::to_string(driverVersion);
}

std::string loadDriver(const char *libraryName) {
  std::lock_guard<std::mutex> lock(mu);
  return loadCudaDriverLocked(libraryName);
}

std::string deviceCount(int &n) {
  if (std::string err = loadDriver(); !err.empty())
    return err;
  return check(driver.cuDeviceGetCount(&n), "cuDeviceGetCount");
}

std::string deviceInfo(int ordinal, DeviceInfo &info) {
  int count = 0;
  if (std::string err = deviceCount(count); !err.empty())
    return err;
  if (ordinal < 0 || ordinal >= count)
    return "CUDA device " + std::to_string(ordinal) + " does not exist (" +
           std::to_string(count) + " devices)";
  CUdevice dev;
  if (std::string err = check(driver.cuDeviceGet(&dev, ordinal), "cuDeviceGet");
      !err.empty())
    return err;
  info = DeviceInfo();
  info.ordinal = ordinal;
  char name[256] = {0};
  if (std::string err = check(driver.cuDeviceGetName(name, sizeof(name), dev),
                              "cuDeviceGetName");
      !err.empty())
    return err;
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
    if (std::string err = check(driver.cuDeviceGetAttribute(a.out, a.attr, dev),
                                "cuDeviceGetAttribute");
        !err.empty())
      return err;
  info.computeCapability = major * 10 + minor;
  return check(driver.cuDriverGetVersion(&info.driverVersion),
               "cuDriverGetVersion");
}

std::string alloc(int ordinal, size_t bytes, uint64_t &out) {
  if (std::string err = makeCurrent(ordinal); !err.empty())
    return err;
  CUdeviceptr p = 0;
  if (std::string err = check(driver.cuMemAlloc(&p, bytes ? bytes : 1),
                              "cuMemAlloc");
      !err.empty())
    return err + " (" + std::to_string(bytes) + " bytes on device " +
           std::to_string(ordinal) + ")";
  out = uint64_t(p);
  return "";
}

std::string free(int ordinal, uint64_t ptr) {
  if (std::string err = makeCurrent(ordinal); !err.empty())
    return err;
  return check(driver.cuMemFree(ptr), "cuMemFree");
}

std::string copyToDevice(int ordinal, uint64_t dst, const void *src,
                         size_t bytes) {
  if (std::string err = makeCurrent(ordinal); !err.empty())
    return err;
  if (!bytes)
    return "";
  return check(driver.cuMemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD");
}

std::string copyToHost(int ordinal, void *dst, uint64_t src, size_t bytes) {
  if (std::string err = makeCurrent(ordinal); !err.empty())
    return err;
  if (!bytes)
    return "";
  return check(driver.cuMemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH");
}

std::optional<std::pair<uint64_t, size_t>> allocationOf(int ordinal,
                                                        uint64_t ptr) {
  if (!makeCurrent(ordinal).empty())
    return std::nullopt;
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

std::string checkKernelBuffer(int ordinal, uint64_t alloc, uint64_t aligned,
                              int64_t offset, int64_t elems,
                              size_t elemBytes, uint64_t &data) {
  data = 0;
  auto hex = [](uint64_t v) {
    char b[32];
    snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
    return std::string(b);
  };
  if (elems < 0)
    return "negative size " + std::to_string(elems);
  std::optional<std::pair<uint64_t, size_t>> range;
  if (alloc) {
    range = allocationOf(ordinal, alloc);
    if (!range || range->first != alloc)
      return "its pointer " + hex(alloc) +
             " is not the start of a device allocation";
  }
  if (elems == 0)
    return "";
  if (!alloc)
    return "a null pointer for " + std::to_string(elems) + " elements";
  if (offset < 0)
    return "negative offset " + std::to_string(offset);
  uint64_t base = range->first, bytes = range->second;
  // [aligned + offset, + elems) inside [base, base + bytes), overflow-safe.
  if (aligned < base || aligned - base > bytes ||
      uint64_t(offset) > (bytes - (aligned - base)) / elemBytes ||
      uint64_t(elems) > (bytes - (aligned - base)) / elemBytes -
                            uint64_t(offset))
    return std::to_string(elems) + " elements of " +
           std::to_string(elemBytes) + " bytes at " + hex(aligned) + "+" +
           std::to_string(offset) + " do not fit its " +
           std::to_string(bytes) + "-byte device allocation at " + hex(base);
  data = aligned + uint64_t(offset) * elemBytes;
  return "";
}

LaunchScope::LaunchScope(int ordinal, bool deferSync)
    : previousOrdinal_(shim.ordinal), previousDefer_(shim.deferSync) {
  shim.ordinal = ordinal;
  shim.deferSync = deferSync;
  shim.error.clear();
  shim.modules.clear();
  shim.stream = nullptr;
  if (std::string err = makeCurrent(ordinal); !err.empty()) {
    shim.error = err;
    return;
  }
  CUstream &s = threadStreams.streams[ordinal];
  // Flags 0 (a blocking stream): ordered with the synchronous copies that
  // kjit makes on the legacy default stream.
  if (!s && failed(driver.cuStreamCreate(&s, 0), "cuStreamCreate"))
    return;
  shim.stream = s;
}

LaunchScope::~LaunchScope() {
  shim.ordinal = previousOrdinal_;
  shim.deferSync = previousDefer_;
  shim.error.clear();
  shim.modules.clear();
}

void *LaunchScope::stream() const { return shim.stream; }

std::vector<void *> LaunchScope::loadedModules() const { return shim.modules; }

void LaunchScope::zeroAsync(uint64_t ptr, size_t bytes) {
  if (!shim.error.empty() || !shim.stream || !bytes)
    return;
  failed(driver.cuMemsetD8Async(ptr, 0, bytes, shim.stream),
         "cuMemsetD8Async (clearing the device error record)");
}

std::string unloadModule(int ordinal, void *module) {
  if (std::string err = makeCurrent(ordinal); !err.empty())
    return err;
  if (!module)
    return "";
  return check(driver.cuModuleUnload(module), "cuModuleUnload");
}

std::string moduleGlobal(int ordinal, void *module, const char *name,
                         uint64_t &ptr, size_t &bytes) {
  ptr = 0;
  bytes = 0;
  if (std::string err = makeCurrent(ordinal); !err.empty())
    return err;
  if (!module)
    return std::string("no module to look up ") + name + " in";
  CUdeviceptr p = 0;
  size_t n = 0;
  CUresult r = driver.cuModuleGetGlobal(&p, &n, module, name);
  if (r == kErrorNotFound)
    return "";
  if (std::string err = check(r, "cuModuleGetGlobal"); !err.empty())
    return err + " (" + name + ")";
  ptr = uint64_t(p);
  bytes = n;
  return "";
}

std::string kernelRegisters(int ordinal, void *module, const char *name,
                            int &registers) {
  registers = 0;
  if (std::string err = makeCurrent(ordinal); !err.empty())
    return err;
  if (!module)
    return std::string("no module to look up ") + name + " in";
  if (!driver.cuFuncGetAttribute)
    return "the CUDA driver has no cuFuncGetAttribute";
  CUfunction f = nullptr;
  if (std::string err =
          check(driver.cuModuleGetFunction(&f, module, name),
                "cuModuleGetFunction");
      !err.empty())
    return err + " (" + name + ")";
  int n = 0;
  if (std::string err = check(driver.cuFuncGetAttribute(
                                  &n, kFuncAttrNumRegs, f),
                              "cuFuncGetAttribute (registers)");
      !err.empty())
    return err;
  registers = n;
  return "";
}

std::string LaunchScope::finish() {
  if (shim.error.empty() && shim.stream)
    failed(driver.cuStreamSynchronize(shim.stream),
           "cuStreamSynchronize (kernel execution)");
  std::string e = shim.error;
  shim.error.clear();
  return e;
}

std::vector<std::pair<const char *, void *>> runtimeSymbols() {
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

std::string timeLaunches(int ordinal, int repeat, bool flushL2,
                         const std::function<void()> &launch,
                         std::vector<double> &ms) {
  ms.clear();
  if (repeat <= 0)
    return "";
  DeviceInfo info;
  if (std::string err = deviceInfo(ordinal, info); !err.empty())
    return err;
  LaunchScope scope(ordinal, /*deferSync=*/true);
  if (!shim.error.empty())
    return scope.finish();
  CUstream stream = shim.stream;
  CUdeviceptr scratch = 0;
  size_t scratchBytes = size_t(std::max(info.l2CacheBytes, 1 << 20)) * 2;
  std::vector<CUevent> events(2 * size_t(repeat), nullptr);
  std::string err;
  if (flushL2)
    err = check(driver.cuMemAlloc(&scratch, scratchBytes),
                "cuMemAlloc (L2 flush)");
  for (size_t i = 0; err.empty() && i < events.size(); ++i)
    err = check(driver.cuEventCreate(&events[i], 0), "cuEventCreate");
  for (int i = 0; err.empty() && i < repeat; ++i) {
    if (flushL2)
      err = check(driver.cuMemsetD8Async(scratch, (unsigned char)i,
                                         scratchBytes, stream),
                  "cuMemsetD8Async (L2 flush)");
    if (err.empty())
      err = check(driver.cuEventRecord(events[2 * i], stream),
                  "cuEventRecord");
    if (err.empty()) {
      launch();
      err = shim.error;
    }
    if (err.empty())
      err = check(driver.cuEventRecord(events[2 * i + 1], stream),
                  "cuEventRecord");
  }
  if (err.empty())
    err = check(driver.cuStreamSynchronize(stream),
                "cuStreamSynchronize (kernel execution)");
  for (int i = 0; err.empty() && i < repeat; ++i) {
    float t = 0;
    err = check(driver.cuEventElapsedTime(&t, events[2 * i], events[2 * i + 1]),
                "cuEventElapsedTime");
    ms.push_back(t);
  }
  for (CUevent e : events)
    if (e)
      driver.cuEventDestroy(e);
  if (scratch)
    driver.cuMemFree(scratch);
  if (!err.empty())
    ms.clear();
  return err;
}

} // namespace kjit::cuda
