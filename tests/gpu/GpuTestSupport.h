//===- GpuTestSupport.h - shared pieces of the GPU numerics tests -*- C++
//-*-===//
//
// For tests that need a CUDA device: REQUIRE_GPU() skips with the runtime's
// own reason ("no CUDA driver: ..." without libcuda.so.1), the emulating
// driver under KJIT_GPU_EMULATE=1 (EmuDriverEnv.h), and one random seed
// per process (KJIT_TEST_SEED=<n> reproduces a run).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_TESTS_GPU_GPUTESTSUPPORT_H
#define KJIT_TESTS_GPU_GPUTESTSUPPORT_H

#include "CudaExecutor.h"
#include "EmuDriverEnv.h"

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

namespace kjit::testing {
/// "" when device 0 is usable, else why not.
inline std::string noGpu() {
  auto info = runtime::cudaDeviceInfo(0);
  if (info)
    return "";
  return llvm::toString(info.takeError());
}

/// The process's seed: $KJIT_TEST_SEED, else a fresh random one.
inline uint64_t seed() {
  static uint64_t s = [] {
    if (const char *e = std::getenv("KJIT_TEST_SEED"))
      return uint64_t(std::strtoull(e, nullptr, 10));
    return uint64_t(std::random_device()());
  }();
  return s;
}
} // namespace kjit::testing

#define REQUIRE_GPU()                                                          \
  if (std::string why = ::kjit::testing::noGpu(); !why.empty())                \
  GTEST_SKIP() << why

#endif
