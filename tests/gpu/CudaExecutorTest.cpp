//===- CudaExecutorTest.cpp - the driver loader with and without a GPU ---===//
#include "CudaExecutor.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

using namespace kjit::runtime;

static bool driverPresent() {
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h)
    dlclose(h);
  return h != nullptr;
}

TEST(CudaExecutor, MissingLibraryIsNoCudaDriverError) {
  // A library that exists nowhere: the same path as a machine without one.
  llvm::Error err = loadCudaDriver("libkjit-no-such-cuda.so.1");
  ASSERT_TRUE(bool(err));
  std::string msg = llvm::toString(std::move(err));
  EXPECT_EQ(msg.rfind("no CUDA driver: cannot load libkjit-no-such-cuda.so.1",
                      0),
            0u)
      << msg;
}

TEST(CudaExecutor, DeviceQueryWithoutDriverSaysNoCudaDriver) {
  if (driverPresent())
    GTEST_SKIP() << "a CUDA driver (libcuda.so.1) is present; this test "
                    "checks the no-driver path";
  auto n = cudaDeviceCount();
  ASSERT_FALSE(bool(n));
  std::string msg = llvm::toString(n.takeError());
  EXPECT_EQ(msg.rfind("no CUDA driver: cannot load libcuda.so.1", 0), 0u)
      << msg;
  auto info = cudaDeviceInfo(0);
  ASSERT_FALSE(bool(info));
  EXPECT_NE(llvm::toString(info.takeError()).find("no CUDA driver"),
            std::string::npos);
}

TEST(CudaExecutor, DeviceQueryWithDriver) {
  if (!driverPresent())
    GTEST_SKIP() << "no CUDA driver (libcuda.so.1) on this machine";
  auto info = cudaDeviceInfo(0);
  if (!info) {
    std::string msg = llvm::toString(info.takeError());
    GTEST_SKIP() << "driver present but no usable device: " << msg;
  }
  EXPECT_FALSE(info->name.empty());
  EXPECT_GE(info->computeCapability, 50);
  EXPECT_GT(info->maxThreadsPerBlock, 0);
}
