//===- KernelUnloadTest.cpp - swapped-out kernel code is unloaded --------===//
//
// On-line tuning swaps new code into a kernel. Code that is neither current
// nor used by a run in flight must be unloaded (its JITDylib removed from
// the ORC session, its memory released), so that memory stays bounded over
// many swaps, while every run finishes on the code it started with.
//
//===----------------------------------------------------------------------===//
#include "CpuExecutor.h"
#include "OpText.h"
#include "RuntimeInternal.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <unistd.h>

using namespace kjit;
using namespace kjit::test;

namespace {
/// Resident memory of this process in bytes (/proc/self/statm), 0 when it
/// cannot be read.
size_t residentBytes() {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f)
    return 0;
  unsigned long size = 0, resident = 0;
  int n = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  return n == 2 ? size_t(resident) * size_t(sysconf(_SC_PAGESIZE)) : 0;
}
} // namespace

TEST(KernelUnload, ThousandSwapsKeepMemoryAndLoadedCodeBounded) {
  DepthwiseConv2d op = smallConv(/*channels=*/16, /*k=*/5);
  Result<std::string> text = runtime::toMlirText(op, "main");
  ASSERT_TRUE(bool(text)) << text.errorMessage();
  size_t liveBefore = runtime::CpuExecutor::liveObjects();
  auto rk = runtime::reloadableKernelForTesting(*text);
  ASSERT_TRUE(bool(rk)) << rk.errorMessage();
  const Kernel &kernel = rk->kernel;
  EXPECT_EQ(runtime::CpuExecutor::liveObjects(), liveBefore + 1);

  // Runs on another thread the whole time: each must compute right on the
  // code it started with, whatever is swapped in meanwhile.
  std::atomic<bool> done{false};
  std::atomic<int> runs{0}, wrong{0};
  std::string firstError;
  std::thread runner([&] {
    for (unsigned seed = 1; !done; ++seed) {
      std::string err;
      double e = runConvAndCompare(kernel, op, seed, &err);
      if (!(e >= 0 && e < 1e-4) && wrong++ == 0)
        firstError = err.empty() ? "error " + std::to_string(e) : err;
      ++runs;
    }
  });

  const int kWarmup = 50, kSwaps = 1000;
  size_t residentAfterWarmup = 0, mostLive = 0;
  for (int i = 1; i <= kSwaps; ++i) {
    Status s = rk->reload();
    ASSERT_TRUE(bool(s)) << "swap " << i << ": " << s.message();
    // The current code, and at most the one a run in flight still holds.
    mostLive =
        std::max(mostLive, runtime::CpuExecutor::liveObjects() - liveBefore);
    if (i == kWarmup)
      residentAfterWarmup = residentBytes();
  }
  size_t residentAtEnd = residentBytes();
  done = true;
  runner.join();

  EXPECT_EQ(wrong.load(), 0) << firstError;
  EXPECT_GT(runs.load(), 0);
  EXPECT_LE(mostLive, 2u);
  EXPECT_EQ(runtime::CpuExecutor::liveObjects(), liveBefore + 1);
  ASSERT_GT(residentAfterWarmup, 0u) << "cannot read /proc/self/statm";
  // Without unloading, every swap keeps an object's JITDylib, its linked
  // sections and symbol tables (tens of KB each: tens of MB over 950).
  const double growthMB =
      (double(residentAtEnd) - double(residentAfterWarmup)) / (1 << 20);
  printf("resident after %d swaps: %+.1f MB since swap %d; %d runs\n", kSwaps,
         growthMB, kWarmup, runs.load());
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in its quarantine (256 MB by
  // default) instead of reusing it: resident memory grows by design there.
  // The live-JITDylib bound above is the check that holds in that build.
  printf("resident-memory bound not checked under AddressSanitizer\n");
#else
  EXPECT_LT(growthMB, 20.0);
#endif

  // The kernel still computes right on its last code.
  std::string err;
  double e = runConvAndCompare(kernel, op, 12345, &err);
  EXPECT_TRUE(e >= 0 && e < 1e-4) << err << " error " << e;
}

TEST(KernelUnload, ReplacedCodeIsUnloadedWhenTheKernelDies) {
  DepthwiseConv2d op = smallConv();
  Result<std::string> text = runtime::toMlirText(op, "main");
  ASSERT_TRUE(bool(text)) << text.errorMessage();
  size_t liveBefore = runtime::CpuExecutor::liveObjects();
  {
    auto rk = runtime::reloadableKernelForTesting(*text);
    ASSERT_TRUE(bool(rk)) << rk.errorMessage();
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(bool(rk->reload()));
    EXPECT_EQ(runtime::CpuExecutor::liveObjects(), liveBefore + 1);
    // configs() and friends stay valid across swaps (one description).
    const std::vector<std::string> &configs = rk->kernel.configs();
    ASSERT_TRUE(bool(rk->reload()));
    EXPECT_EQ(&configs, &rk->kernel.configs());
    std::string err;
    double e = runConvAndCompare(rk->kernel, op, 3, &err);
    EXPECT_TRUE(e >= 0 && e < 1e-4) << err << " error " << e;
  }
  EXPECT_EQ(runtime::CpuExecutor::liveObjects(), liveBefore);
}
