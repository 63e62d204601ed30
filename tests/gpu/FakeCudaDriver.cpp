//===- FakeCudaDriver.cpp - a libcuda.so.1 stand-in for tests -------------===//
//
// The driver API entry points kjit's CUDA executor calls, implemented on
// host memory: one device ("kjit fake GPU", compute capability 9.0),
// allocations from malloc (filled with 0xAB so that a test sees whether
// data came back from the "device"; kjit_fake_set_alloc_fill, or
// $KJIT_FAKE_CUDA_ALLOC_FILL when cuInit ran, changes the byte),
// synchronous copies and memsets (cuStreamSynchronize calls are counted:
// kjit_fake_stream_sync_count), events that report 0.25 ms. Modules: a
// cubin must be an ELF image and PTX must hold ".version";
// cuModuleGetFunction finds a kernel by its name in the
// image. cuLaunchKernel runs nothing: it records the launch and returns
// CUDA_ERROR_NOT_SUPPORTED unless kjit_fake_set_launch_result(0) was called
// (or $KJIT_FAKE_CUDA_LAUNCH_OK was set when cuInit ran).
// kjit_fake_live_modules counts modules loaded and not unloaded.
// Device error records: cuModuleGetGlobal finds `kjit_gpu_error` in a module
// whose image names it (a zeroed 32-byte buffer per module, like the real
// global: 4 x int64 {claims, code, a, b}); a successful launch of a kernel
// of such a module reports like a device kernel would (claims += 1; the
// first claim writes code, a, b) while kjit_fake_set_kernel_error(code, a,
// b) set a non-zero code (or $KJIT_FAKE_CUDA_KERNEL_ERROR="code,a,b" was
// set when cuInit ran).
// Event times: 0.25 ms, or with $KJIT_FAKE_CUDA_TIME=block (read by cuInit)
// 1 us per thread of the last launch's block (a 64-thread block: 0.064 ms),
// so that a tuner sees configs differ and its winner is known.
// The driver version is 13000, or $KJIT_FAKE_CUDA_DRIVER_VERSION.
// Loaded by the runtime through KJIT_CUDA_DRIVER; never used on a machine
// with a GPU (the real-driver tests use libcuda.so.1).
//
//===----------------------------------------------------------------------===//
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "StandInMemory.h"

namespace {
using CUresult = int;
constexpr CUresult kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2,
                   kNoDevice = 100, kInvalidDevice = 101,
                   kInvalidImage = 200, kInvalidHandle = 400,
                   kNotFound = 500, kNotSupported = 801;

using kjit_standin::allocations;
using kjit_standin::mu;
bool initialized = false;
CUresult launchResult = kNotSupported;
bool timeByBlock = false;
int numRegs = 0; // CU_FUNC_ATTRIBUTE_NUM_REGS of every kernel (0: unsupported)
struct LastLaunch {
  std::string kernel;
  unsigned grid[3] = {0, 0, 0}, block[3] = {0, 0, 0};
  unsigned smem = 0;
  int count = 0;
  struct Module *module = nullptr;
} lastLaunch;

struct Module {
  const char *image;
  size_t size;
  int64_t *errorRecord = nullptr; ///< kjit_gpu_error, when the image has it
};
struct Function {
  std::string name;
  Module *module;
};
using kjit_standin::allocFill;
using kjit_standin::globals;
std::vector<Module *> modulesWithRecords;
std::atomic<size_t> liveModules{0}; // loaded and not unloaded
int streamSyncs = 0;   // cuStreamSynchronize calls
int64_t injectedError[3] = {0, 0, 0}; // code, a, b; code 0: none

} // namespace

extern "C" {
// --- test controls (not part of the driver API) ---
void kjit_fake_set_launch_result(int r) { launchResult = r; }
/// What cuFuncGetAttribute(CU_FUNC_ATTRIBUTE_NUM_REGS) answers (0: the
/// attribute is reported as not supported).
void kjit_fake_set_num_regs(int n) { numRegs = n; }
int kjit_fake_launch_count() { return lastLaunch.count; }
const char *kjit_fake_last_kernel() { return lastLaunch.kernel.c_str(); }
void kjit_fake_last_geometry(unsigned *grid, unsigned *block) {
  for (int i = 0; i < 3; ++i) {
    grid[i] = lastLaunch.grid[i];
    block[i] = lastLaunch.block[i];
  }
}
void kjit_fake_set_kernel_error(int64_t code, int64_t a, int64_t b) {
  injectedError[0] = code, injectedError[1] = a, injectedError[2] = b;
}
/// Writes a stale report {1, code, 0, 0} into every loaded module's error
/// record (what a previous failed run would leave there).
void kjit_fake_poison_error_records(int64_t code) {
  std::lock_guard<std::mutex> lock(mu);
  for (Module *m : modulesWithRecords) {
    m->errorRecord[0] = 1;
    m->errorRecord[1] = code;
    m->errorRecord[2] = m->errorRecord[3] = 0;
  }
}
/// The claims field of the record of the last launched kernel's module
/// (-1 when it has none).
int64_t kjit_fake_last_error_claims() {
  std::lock_guard<std::mutex> lock(mu);
  return lastLaunch.module && lastLaunch.module->errorRecord
             ? lastLaunch.module->errorRecord[0]
             : -1;
}
/// The byte fresh allocations are filled with (0xAB unless set): 0 makes a
/// count the host code copies back from the device read as 0.
void kjit_fake_set_alloc_fill(int byte) { allocFill = byte; }
int kjit_fake_stream_sync_count() { return streamSyncs; }
size_t kjit_fake_live_allocations() {
  std::lock_guard<std::mutex> lock(mu);
  return allocations.size();
}
/// Modules loaded and not yet unloaded.
size_t kjit_fake_live_modules() { return liveModules; }

// --- driver API ---
CUresult cuInit(unsigned) {
  if (std::getenv("KJIT_FAKE_CUDA_NO_DEVICE"))
    return kNoDevice;
  if (std::getenv("KJIT_FAKE_CUDA_LAUNCH_OK"))
    launchResult = kSuccess;
  if (const char *e = std::getenv("KJIT_FAKE_CUDA_ALLOC_FILL"))
    allocFill = int(strtol(e, nullptr, 0));
  if (const char *t = std::getenv("KJIT_FAKE_CUDA_TIME"))
    timeByBlock = std::strcmp(t, "block") == 0;
  if (const char *e = std::getenv("KJIT_FAKE_CUDA_KERNEL_ERROR"))
    sscanf(e, "%ld,%ld,%ld", &injectedError[0], &injectedError[1],
           &injectedError[2]);
  initialized = true;
  return kSuccess;
}
CUresult cuDriverGetVersion(int *v) {
  // $KJIT_FAKE_CUDA_DRIVER_VERSION: a driver update, for tuning-key tests.
  const char *e = std::getenv("KJIT_FAKE_CUDA_DRIVER_VERSION");
  *v = e && *e ? atoi(e) : 13000;
  return kSuccess;
}
CUresult cuDeviceGetCount(int *n) {
  *n = 1;
  return kSuccess;
}
CUresult cuDeviceGet(int *d, int ordinal) {
  if (ordinal != 0)
    return kInvalidDevice;
  *d = 0;
  return kSuccess;
}
CUresult cuDeviceGetName(char *name, int len, int) {
  snprintf(name, size_t(len), "kjit fake GPU");
  return kSuccess;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int) {
  switch (attr) {
  case 1: *v = 1024; break;      // max threads per block
  case 8: *v = 49152; break;     // shared memory per block
  case 16: *v = 132; break;      // SMs
  case 38: *v = 1 << 20; break;  // L2 bytes
  case 75: *v = 9; break;        // cc major
  case 76: *v = 0; break;        // cc minor
  default: return kInvalidValue;
  }
  return kSuccess;
}
CUresult cuGetErrorString(CUresult r, const char **s) {
  switch (r) {
  case kInvalidValue: *s = "invalid argument"; break;
  case kOutOfMemory: *s = "out of memory"; break;
  case kNoDevice: *s = "no CUDA-capable device is detected"; break;
  case kInvalidDevice: *s = "invalid device ordinal"; break;
  case kInvalidImage: *s = "device kernel image is invalid"; break;
  case kInvalidHandle: *s = "invalid resource handle"; break;
  case kNotFound: *s = "named symbol not found"; break;
  case kNotSupported: *s = "operation not supported (fake driver: kernels "
                           "do not run)"; break;
  default: *s = nullptr; return kInvalidValue;
  }
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRetain(void **ctx, int) {
  *ctx = reinterpret_cast<void *>(0x1);
  return kSuccess;
}
CUresult cuCtxSetCurrent(void *) { return initialized ? kSuccess : 3; }

CUresult cuModuleLoadData(void **m, const void *image) {
  auto *p = static_cast<const char *>(image);
  if (memcmp(p, "\x7f" "ELF", 4) != 0)
    return kInvalidImage;
  // The section header table ends a cubin.
  uint64_t shoff;
  uint16_t shentsize, shnum;
  memcpy(&shoff, p + 0x28, 8);
  memcpy(&shentsize, p + 0x3A, 2);
  memcpy(&shnum, p + 0x3C, 2);
  *m = new Module{p, size_t(shoff + uint64_t(shentsize) * shnum)};
  ++liveModules;
  return kSuccess;
}
CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned, int *,
                            void **) {
  auto *p = static_cast<const char *>(image);
  if (!strstr(p, ".version"))
    return kInvalidImage;
  *m = new Module{p, strlen(p)};
  ++liveModules;
  return kSuccess;
}
CUresult cuModuleUnload(void *m) {
  auto *mod = static_cast<Module *>(m);
  if (mod && mod->errorRecord) {
    std::lock_guard<std::mutex> lock(mu);
    globals.erase(uintptr_t(mod->errorRecord));
    modulesWithRecords.erase(std::find(modulesWithRecords.begin(),
                                       modulesWithRecords.end(), mod));
    if (lastLaunch.module == mod)
      lastLaunch.module = nullptr;
    delete[] mod->errorRecord;
  }
  if (mod)
    --liveModules;
  delete mod;
  return kSuccess;
}
CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  if (!m)
    return kInvalidHandle;
  auto *mod = static_cast<Module *>(m);
  if (!memmem(mod->image, mod->size, name, strlen(name)))
    return kNotFound;
  *f = new Function{name, mod};
  return kSuccess;
}
CUresult cuModuleGetGlobal_v2(unsigned long long *p, size_t *bytes, void *m,
                              const char *name) {
  if (!m)
    return kInvalidHandle;
  auto *mod = static_cast<Module *>(m);
  if (strcmp(name, "kjit_gpu_error") != 0 ||
      !memmem(mod->image, mod->size, name, strlen(name)))
    return kNotFound;
  std::lock_guard<std::mutex> lock(mu);
  if (!mod->errorRecord) {
    mod->errorRecord = new int64_t[4]{0, 0, 0, 0};
    globals[uintptr_t(mod->errorRecord)] = 4 * sizeof(int64_t);
    modulesWithRecords.push_back(mod);
  }
  if (p)
    *p = uintptr_t(mod->errorRecord);
  if (bytes)
    *bytes = 4 * sizeof(int64_t);
  return kSuccess;
}
CUresult cuFuncSetAttribute(void *, int, int) { return kSuccess; }
CUresult cuFuncGetAttribute(int *v, int attr, void *f) {
  if (!v || !f)
    return kInvalidValue;
  if (attr != 4 /* CU_FUNC_ATTRIBUTE_NUM_REGS */ || numRegs == 0)
    return kNotSupported;
  *v = numRegs;
  return kSuccess;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned smem,
                        void *, void **params, void **) {
  if (!f || !params)
    return kInvalidValue;
  lastLaunch.kernel = static_cast<Function *>(f)->name;
  lastLaunch.grid[0] = gx, lastLaunch.grid[1] = gy, lastLaunch.grid[2] = gz;
  lastLaunch.block[0] = bx, lastLaunch.block[1] = by, lastLaunch.block[2] = bz;
  lastLaunch.smem = smem;
  lastLaunch.module = static_cast<Function *>(f)->module;
  ++lastLaunch.count;
  Module *mod = lastLaunch.module;
  if (launchResult == kSuccess && injectedError[0] != 0 && mod &&
      mod->errorRecord && mod->errorRecord[0]++ == 0) {
    mod->errorRecord[1] = injectedError[0];
    mod->errorRecord[2] = injectedError[1];
    mod->errorRecord[3] = injectedError[2];
  }
  return launchResult;
}
CUresult cuStreamCreate(void **s, unsigned) {
  *s = new int(0);
  return kSuccess;
}
CUresult cuStreamSynchronize(void *) {
  ++streamSyncs;
  return kSuccess;
}
CUresult cuStreamDestroy_v2(void *s) {
  delete static_cast<int *>(s);
  return kSuccess;
}
CUresult cuStreamWaitEvent(void *, void *, unsigned) { return kSuccess; }

CUresult cuEventCreate(void **e, unsigned) {
  *e = new int(0);
  return kSuccess;
}
CUresult cuEventRecord(void *, void *) { return kSuccess; }
CUresult cuEventSynchronize(void *) { return kSuccess; }
CUresult cuEventElapsedTime(float *ms, void *, void *) {
  *ms = 0.25f;
  if (timeByBlock)
    *ms = 1e-3f * float(lastLaunch.block[0] * lastLaunch.block[1] *
                        lastLaunch.block[2]);
  return kSuccess;
}
CUresult cuEventDestroy_v2(void *e) {
  delete static_cast<int *>(e);
  return kSuccess;
}
} // extern "C"
