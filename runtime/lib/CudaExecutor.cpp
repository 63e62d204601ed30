//===- CudaExecutor.cpp - the CUDA driver API through dlopen -------------===//
#include "CudaExecutor.h"

#include <dlfcn.h>
#include <mutex>

namespace {
using CUresult = int;
using CUdevice = int;
constexpr int kAttrMaxThreadsPerBlock = 1;
constexpr int kAttrSharedMemPerBlock = 8;
constexpr int kAttrSmCount = 16;
constexpr int kAttrCcMajor = 75;
constexpr int kAttrCcMinor = 76;

struct Driver {
  void *handle = nullptr;
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int *) = nullptr;
  CUresult (*cuDeviceGetCount)(int *) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice *, int) = nullptr;
  CUresult (*cuDeviceGetName)(char *, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice) = nullptr;
  CUresult (*cuGetErrorString)(CUresult, const char **) = nullptr;
};

Driver driver;
std::mutex mu;
bool loaded = false;

llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

llvm::Error check(CUresult r, const char *call) {
  if (r == 0)
    return llvm::Error::success();
  const char *s = nullptr;
  if (driver.cuGetErrorString)
    driver.cuGetErrorString(r, &s);
  return makeError(llvm::Twine("CUDA driver: ") + call + " failed: " +
                   (s ? s : "error " + std::to_string(r)));
}
} // namespace

namespace kjit::runtime {

llvm::Error loadCudaDriver(const char *libraryName) {
  std::lock_guard<std::mutex> lock(mu);
  if (loaded)
    return llvm::Error::success();
  void *h = dlopen(libraryName, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    return makeError(llvm::Twine("no CUDA driver: cannot load ") +
                     libraryName + " (" + (why ? why : "not found") +
                     "); GPU code can still be generated (--emit=ptx)");
  }
  Driver d;
  d.handle = h;
  bool ok = true;
  auto sym = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
        dlsym(h, name));
    ok = ok && fn;
  };
  sym(d.cuInit, "cuInit");
  sym(d.cuDriverGetVersion, "cuDriverGetVersion");
  sym(d.cuDeviceGetCount, "cuDeviceGetCount");
  sym(d.cuDeviceGet, "cuDeviceGet");
  sym(d.cuDeviceGetName, "cuDeviceGetName");
  sym(d.cuDeviceGetAttribute, "cuDeviceGetAttribute");
  sym(d.cuGetErrorString, "cuGetErrorString");
  if (!ok) {
    dlclose(h);
    return makeError(llvm::Twine("no CUDA driver: ") + libraryName +
                     " lacks driver API entry points");
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
               {kAttrSharedMemPerBlock, &info.sharedMemPerBlock}};
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

} // namespace kjit::runtime
