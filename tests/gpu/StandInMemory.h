//===- StandInMemory.h - device memory of the stand-in libcudas -*- C++ -*-===//
//
// The memory half of the driver API for kjit's two test-only libcuda
// stand-ins (FakeCudaDriver.cpp: launches run nothing; EmuCudaDriver.cpp:
// launches run on the CPU). "Device" memory is host memory from
// aligned_alloc (256-byte aligned like cuMemAlloc), filled with `allocFill`
// so that a test sees whether data came back; module globals (registered
// by each driver in `globals`) count as device memory too. Every copy and
// memset checks its device side, as the driver would; cuMemcpyAsync follows
// unified addressing (one side may be host memory). Include it in exactly
// one file of each library: it defines the extern "C" entry points.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_TESTS_GPU_STANDINMEMORY_H
#define KJIT_TESTS_GPU_STANDINMEMORY_H

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace kjit_standin {
/// Guards the maps below and the including driver's own state.
inline std::mutex mu;
inline std::map<uintptr_t, size_t> allocations; ///< base -> bytes
inline std::map<uintptr_t, size_t> globals;     ///< module globals
inline int allocFill = 0xAB; ///< what fresh device memory holds

constexpr int kMemSuccess = 0, kMemInvalidValue = 1, kMemOutOfMemory = 2,
              kMemNotFound = 500;

/// The allocation containing p, or allocations.end() (caller holds mu).
inline std::map<uintptr_t, size_t>::iterator findAlloc(uintptr_t p) {
  auto it = allocations.upper_bound(p);
  if (it == allocations.begin())
    return allocations.end();
  --it;
  if (p >= it->first && p < it->first + it->second)
    return it;
  return allocations.end();
}
/// [p, p + n) inside one allocation or module global (caller holds mu).
inline bool inDevice(uintptr_t p, size_t n) {
  auto it = findAlloc(p);
  if (it != allocations.end() && p + n <= it->first + it->second)
    return true;
  for (auto &[base, bytes] : globals)
    if (p >= base && p + n <= base + bytes)
      return true;
  return false;
}
template <typename T> int fill(unsigned long long p, T v, size_t n) {
  std::lock_guard<std::mutex> lock(mu);
  if (!inDevice(p, n * sizeof(T)))
    return kMemInvalidValue;
  auto *d = reinterpret_cast<T *>(uintptr_t(p));
  for (size_t i = 0; i < n; ++i)
    d[i] = v;
  return kMemSuccess;
}
} // namespace kjit_standin

extern "C" {
int cuMemAlloc_v2(unsigned long long *p, size_t bytes) {
  using namespace kjit_standin;
  void *m = aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!m)
    return kMemOutOfMemory;
  std::lock_guard<std::mutex> lock(mu);
  memset(m, allocFill, bytes);
  allocations[uintptr_t(m)] = bytes;
  *p = uintptr_t(m);
  return kMemSuccess;
}
int cuMemFree_v2(unsigned long long p) {
  using namespace kjit_standin;
  std::lock_guard<std::mutex> lock(mu);
  auto it = allocations.find(uintptr_t(p));
  if (it == allocations.end())
    return kMemInvalidValue;
  allocations.erase(it);
  free(reinterpret_cast<void *>(uintptr_t(p)));
  return kMemSuccess;
}
int cuMemcpyHtoD_v2(unsigned long long dst, const void *src, size_t n) {
  using namespace kjit_standin;
  std::lock_guard<std::mutex> lock(mu);
  if (!inDevice(dst, n))
    return kMemInvalidValue;
  memcpy(reinterpret_cast<void *>(uintptr_t(dst)), src, n);
  return kMemSuccess;
}
int cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t n) {
  using namespace kjit_standin;
  std::lock_guard<std::mutex> lock(mu);
  if (!inDevice(src, n))
    return kMemInvalidValue;
  memcpy(dst, reinterpret_cast<void *>(uintptr_t(src)), n);
  return kMemSuccess;
}
int cuMemcpyAsync(unsigned long long dst, unsigned long long src, size_t n,
                  void *) {
  using namespace kjit_standin;
  std::lock_guard<std::mutex> lock(mu);
  // Unified addressing: the direction follows from the pointers, so one
  // side may be host memory (kjit.spgemm copies nnz into a host alloca).
  if (n && !inDevice(dst, n) && !inDevice(src, n))
    return kMemInvalidValue;
  memmove(reinterpret_cast<void *>(uintptr_t(dst)),
          reinterpret_cast<void *>(uintptr_t(src)), n);
  return kMemSuccess;
}
int cuMemsetD8Async(unsigned long long p, unsigned char v, size_t n, void *) {
  return kjit_standin::fill(p, v, n);
}
int cuMemsetD16Async(unsigned long long p, unsigned short v, size_t n, void *) {
  return kjit_standin::fill(p, v, n);
}
int cuMemsetD32Async(unsigned long long p, unsigned v, size_t n, void *) {
  return kjit_standin::fill(p, v, n);
}
int cuPointerGetAttribute(void *out, int attr, unsigned long long p) {
  using namespace kjit_standin;
  std::lock_guard<std::mutex> lock(mu);
  if (attr != 2 || findAlloc(uintptr_t(p)) == allocations.end())
    return kMemInvalidValue;
  *static_cast<unsigned *>(out) = 2; // CU_MEMORYTYPE_DEVICE
  return kMemSuccess;
}
int cuMemGetAddressRange_v2(unsigned long long *base, size_t *bytes,
                            unsigned long long p) {
  using namespace kjit_standin;
  std::lock_guard<std::mutex> lock(mu);
  auto it = findAlloc(uintptr_t(p));
  if (it == allocations.end())
    return kMemNotFound;
  *base = it->first;
  *bytes = it->second;
  return kMemSuccess;
}
} // extern "C"

#endif
