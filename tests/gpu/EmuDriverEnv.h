//===- EmuDriverEnv.h - run the real-GPU tests under the emulator -*- C++ -*-===//
//
// With KJIT_GPU_EMULATE=1 (test only) and no KJIT_CUDA_DRIVER, a test binary
// that includes this loads the CPU emulating driver (EmuCudaDriver.cpp,
// KJIT_EMU_DRIVER: its path at build time). The emu.* ctest entries set
// only KJIT_GPU_EMULATE=1; without it the tests use libcuda.so.1 (a real
// GPU) or skip.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_TESTS_GPU_EMUDRIVERENV_H
#define KJIT_TESTS_GPU_EMUDRIVERENV_H

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace kjit::testing {
struct EmuDriverEnv : ::testing::Environment {
  void SetUp() override {
    const char *emulate = std::getenv("KJIT_GPU_EMULATE");
    if (emulate && std::string(emulate) == "1" &&
        !std::getenv("KJIT_CUDA_DRIVER"))
      setenv("KJIT_CUDA_DRIVER", KJIT_EMU_DRIVER, 1);
  }
};
static ::testing::Environment *const emuDriverEnv [[maybe_unused]] =
    ::testing::AddGlobalTestEnvironment(new EmuDriverEnv);
} // namespace kjit::testing

#endif
