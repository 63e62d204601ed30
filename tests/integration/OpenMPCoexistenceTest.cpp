//===- OpenMPCoexistenceTest.cpp - kjit next to GNU OpenMP ----------------===//
//
// Many host programs already hold GNU OpenMP (libgomp) when they call kjit:
// PyTorch, oneDNN, OpenBLAS-openmp builds. This binary loads GNU libgomp
// into the global symbol scope before kjit does anything (as a library such
// as libdnnl.so.2 brings it in), then runs multithreaded kjit kernels: a JIT'd
// kernel must bind every OpenMP symbol to the runtime it was compiled for,
// never half to libgomp (found first in the process's global scope) and half to
// LLVM's libomp -- a mix that makes every thread believe it is thread 0 and
// leaves parts of the output unwritten.
//
// Tolerance as in ConvNumericsTest: max|out-ref| <= 1e-4 * (1 + max|ref|).
//
//===----------------------------------------------------------------------===//
#include "kjit/kjit.h"
#include "tests/reference/Reference.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <limits>
#include <random>

namespace ref = kjit::reference;

namespace {

void checkTwoThreads(const char *layout, int64_t k, bool bias) {
  std::random_device rd;
  const uint64_t seed = (uint64_t(rd()) << 32) ^ rd();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);

  kjit::DepthwiseConv2d op;
  op.channels = 64, op.height = 40, op.width = 40;
  op.kernel = {k, k};
  op.layout = layout;
  op.bias = bias;
  op.samePadding();
  ref::DwConv p;
  p.c = 64, p.h = 40, p.w = 40, p.kh = k, p.kw = k;
  p.padding = op.padding;
  p.nchw = op.layout == "nchw";

  std::vector<float> x(p.inputSize()), f(p.filterSize()), b(p.c);
  for (auto *v : {&x, &f, &b})
    for (float &e : *v)
      e = u(rng);
  std::vector<float> y(p.outputSize(), std::numeric_limits<float>::quiet_NaN());

  kjit::JitOptions jo;
  jo.diskCache = false;
  kjit::Jit jit(kjit::Target::host(), jo);
  kjit::CompileOptions co;
  co.threads = 2;
  auto kern = jit.compile(op, co);
  ASSERT_TRUE(bool(kern)) << kern.errorMessage();
  std::vector<kjit::TensorView> ins = {{x.data(), p.inputShape()},
                                       {f.data(), {p.c, k, k}}};
  if (bias)
    ins.push_back({b.data(), {p.c}});
  ASSERT_TRUE(kern->run(ins, {{y.data(), p.outputShape()}}).isOk());
  auto r =
      ref::depthwiseConv2d(p, x.data(), f.data(), bias ? b.data() : nullptr);
  ref::Comparison c = ref::compare(y.data(), r, 1e-4);
  EXPECT_TRUE(c.ok) << c.describe() << "\nconfig: "
                    << (kern->configs().empty() ? "" : kern->configs()[0]);
}

/// GNU libgomp by its full path (a bare "libgomp.so.1" may resolve to LLVM's
/// libomp through the build's run path, which would hide the problem).
void *loadGnuOpenMP() {
  static void *h = [] {
    for (const char *p :
         {KJIT_GNU_LIBGOMP, "/usr/lib/x86_64-linux-gnu/libgomp.so.1",
          "/lib/x86_64-linux-gnu/libgomp.so.1"})
      if (void *q = dlopen(p, RTLD_NOW | RTLD_GLOBAL))
        return q;
    return (void *)nullptr;
  }();
  return h;
}

class OpenMPCoexistence : public testing::Test {
protected:
  void SetUp() override {
    if (!loadGnuOpenMP())
      GTEST_SKIP() << "GNU libgomp not found";
  }
};

TEST_F(OpenMPCoexistence, LibgompIsLoaded) {
  auto f = (int (*)())dlsym(loadGnuOpenMP(), "omp_get_max_threads");
  ASSERT_NE(f, nullptr);
  EXPECT_GE(f(), 1);
}

TEST_F(OpenMPCoexistence, TwoThreadsNhwcK7) {
  checkTwoThreads("nhwc", 7, false);
}
TEST_F(OpenMPCoexistence, TwoThreadsNchwK13Bias) {
  checkTwoThreads("nchw", 13, true);
}

} // namespace
