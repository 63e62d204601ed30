//===- CudaExecutorTest.cpp - CUDA kernels on a real GPU ------------------===//
//
// Needs a CUDA driver and device; every test skips with the runtime's own
// "no CUDA driver: ..." message where there is none. Depthwise convolution
// (the op with a GPU generator) on the GPU against the naive reference at
// several shapes (odd, prime, stride, dilation, bias), through host views
// and through DeviceBuffer views; timing with CUDA events. Also runs on the
// CPU under the emulating driver (KJIT_GPU_EMULATE=1: the emu.* entries).
//
//===----------------------------------------------------------------------===//
#include "CudaExecutor.h"
#include "EmuDriverEnv.h"
#include "kjit/kjit.h"
#include "tests/reference/Reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

using namespace kjit;
namespace ref = kjit::reference;

namespace {
/// "" when device 0 is usable, else why not (starts "no CUDA driver" on a
/// machine without libcuda.so.1).
std::string noGpu() {
  auto info = runtime::cudaDeviceInfo(0);
  if (info)
    return "";
  return llvm::toString(info.takeError());
}

#define REQUIRE_GPU()                                                          \
  if (std::string why = noGpu(); !why.empty())                                 \
  GTEST_SKIP() << why

uint64_t seed() {
  static uint64_t s = std::random_device()();
  return s;
}

std::vector<float> randomVector(size_t n, std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (float &x : v)
    x = u(rng);
  return v;
}

JitOptions noDiskCache() {
  JitOptions o;
  o.diskCache = false;
  return o;
}

struct Case {
  int64_t n, h, w, c, k, stride, dil;
  bool bias;
};
} // namespace

TEST(CudaExecutor, DeviceQueryWithDriver) {
  REQUIRE_GPU();
  auto info = runtime::cudaDeviceInfo(0);
  ASSERT_TRUE(bool(info));
  EXPECT_FALSE(info->name.empty());
  EXPECT_GE(info->computeCapability, 50);
  EXPECT_GT(info->maxThreadsPerBlock, 0);
  EXPECT_GT(info->l2CacheBytes, 0);
  EXPECT_EQ(Target::cuda(0).key(), "cuda:" + info->key());
}

TEST(CudaExecutor, DepthwiseConvMatchesReference) {
  REQUIRE_GPU();
  Jit jit(Target::cuda(0), noDiskCache());
  const Case cases[] = {{1, 13, 17, 40, 7, 1, 1, true},
                        {2, 31, 29, 67, 3, 1, 1, false},
                        {1, 23, 19, 33, 13, 1, 1, true},
                        {1, 37, 41, 24, 5, 2, 1, true},
                        {1, 29, 31, 16, 3, 1, 2, false},
                        {1, 64, 64, 32, 31, 1, 1, true}};
  std::mt19937_64 rng(seed());
  for (const Case &t : cases) {
    SCOPED_TRACE("seed " + std::to_string(seed()) + ", N" +
                 std::to_string(t.n) + " H" + std::to_string(t.h) + " W" +
                 std::to_string(t.w) + " C" + std::to_string(t.c) + " k" +
                 std::to_string(t.k) + " s" + std::to_string(t.stride) +
                 " d" + std::to_string(t.dil));
    DepthwiseConv2d op;
    op.batch = t.n, op.channels = t.c, op.height = t.h, op.width = t.w;
    op.kernel = {t.k, t.k};
    op.strides = {t.stride, t.stride};
    op.dilations = {t.dil, t.dil};
    op.bias = t.bias;
    op.samePadding();
    auto k = jit.compile(op);
    ASSERT_TRUE(bool(k)) << k.errorMessage();
    ref::DwConv p;
    p.n = t.n, p.c = t.c, p.h = t.h, p.w = t.w, p.kh = p.kw = t.k;
    p.strides = {t.stride, t.stride};
    p.dilations = {t.dil, t.dil};
    p.padding = op.padding;
    std::vector<float> x = randomVector(p.inputSize(), rng),
                       w = randomVector(p.filterSize(), rng),
                       b = randomVector(t.c, rng);
    std::vector<float> want = ref::depthwiseConv2d(p, x.data(), w.data(),
                                                   t.bias ? b.data() : nullptr);
    std::vector<TensorView> ins = {TensorView(x.data(), p.inputShape()),
                                   TensorView(w.data(), {t.c, t.k, t.k})};
    if (t.bias)
      ins.push_back(TensorView(b.data(), {t.c}));
    // Host views (staged by the runtime).
    std::vector<float> y(p.outputSize(), -7.0f);
    Status s = k->run(ins, {TensorView(y.data(), p.outputShape())});
    ASSERT_TRUE(s.isOk()) << s.message();
    ref::Comparison cmp = ref::compare(y.data(), want);
    EXPECT_TRUE(cmp.ok) << "host views: " << cmp.describe();
    // Device views.
    std::vector<DeviceBuffer> bufs;
    std::vector<TensorView> dins;
    for (const TensorView &v : ins) {
      auto buf = DeviceBuffer::allocate(v.numElements() * 4);
      ASSERT_TRUE(bool(buf)) << buf.errorMessage();
      ASSERT_TRUE(buf->copyFromHost(v.data, v.numElements() * 4).isOk());
      dins.push_back(buf->view(DType::f32, v.shape));
      bufs.push_back(std::move(*buf));
    }
    auto dy = DeviceBuffer::allocate(y.size() * 4);
    ASSERT_TRUE(bool(dy)) << dy.errorMessage();
    s = k->run(dins, {dy->view(DType::f32, p.outputShape())});
    ASSERT_TRUE(s.isOk()) << s.message();
    std::vector<float> y2(y.size(), -7.0f);
    ASSERT_TRUE(dy->copyToHost(y2.data(), y2.size() * 4).isOk());
    cmp = ref::compare(y2.data(), want);
    EXPECT_TRUE(cmp.ok) << "device views: " << cmp.describe();
  }
}

TEST(CudaExecutor, TimingWithEvents) {
  REQUIRE_GPU();
  Jit jit(Target::cuda(0), noDiskCache());
  DepthwiseConv2d op;
  op.channels = 64, op.height = 56, op.width = 56;
  op.kernel = {7, 7};
  op.samePadding();
  auto k = jit.compile(op);
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  std::mt19937_64 rng(seed());
  std::vector<float> x = randomVector(56 * 56 * 64, rng),
                     w = randomVector(64 * 49, rng), y(56 * 56 * 64);
  TimingOptions t;
  t.repeat = 5;
  auto ms = k->time({TensorView(x.data(), {1, 56, 56, 64}),
                     TensorView(w.data(), {64, 7, 7})},
                    {TensorView(y.data(), {1, 56, 56, 64})}, t);
  ASSERT_TRUE(bool(ms)) << ms.errorMessage();
  ASSERT_EQ(ms->size(), 5u);
  for (double v : *ms) {
    EXPECT_GT(v, 0.0);
    EXPECT_LT(v, 1000.0);
  }
}

// Two convs with a device buffer between them (kjit-host-allocs-to-gpu).
TEST(CudaExecutor, ChainedConvsMatchReference) {
  REQUIRE_GPU();
  Jit jit(Target::cuda(0), noDiskCache());
  const char *chain = R"(
func.func @main(%x: tensor<1x23x19x24xf32>, %w1: tensor<24x3x3xf32>, %w2: tensor<24x7x7xf32>) -> tensor<1x23x19x24xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w1) {padding = array<i64: 1, 1, 1, 1>} : (tensor<1x23x19x24xf32>, tensor<24x3x3xf32>) -> tensor<1x23x19x24xf32>
  %z = "kjit.depthwise_conv2d"(%y, %w2) {padding = array<i64: 3, 3, 3, 3>} : (tensor<1x23x19x24xf32>, tensor<24x7x7xf32>) -> tensor<1x23x19x24xf32>
  return %z : tensor<1x23x19x24xf32>
}
)";
  auto k = jit.compileModule(chain);
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  std::mt19937_64 rng(seed());
  ref::DwConv p1;
  p1.n = 1, p1.c = 24, p1.h = 23, p1.w = 19, p1.kh = p1.kw = 3;
  p1.padding = {1, 1, 1, 1};
  ref::DwConv p2 = p1;
  p2.kh = p2.kw = 7;
  p2.padding = {3, 3, 3, 3};
  std::vector<float> x = randomVector(p1.inputSize(), rng),
                     w1 = randomVector(p1.filterSize(), rng),
                     w2 = randomVector(p2.filterSize(), rng);
  std::vector<float> y = ref::depthwiseConv2d(p1, x.data(), w1.data(), nullptr);
  std::vector<float> want =
      ref::depthwiseConv2d(p2, y.data(), w2.data(), nullptr);
  std::vector<float> z(want.size(), -7.0f);
  Status s = k->run({TensorView(x.data(), {1, 23, 19, 24}),
                     TensorView(w1.data(), {24, 3, 3}),
                     TensorView(w2.data(), {24, 7, 7})},
                    {TensorView(z.data(), {1, 23, 19, 24})});
  ASSERT_TRUE(s.isOk()) << s.message();
  ref::Comparison cmp = ref::compare(z.data(), want);
  EXPECT_TRUE(cmp.ok) << "seed " << seed() << ": " << cmp.describe();
}

namespace {
std::string spmmModule(int64_t m, int64_t k, int64_t n, int64_t nnz) {
  auto t = [](std::string dims, const char *ty) {
    return "tensor<" + dims + "x" + ty + ">";
  };
  std::string rp = t(std::to_string(m + 1), "i32"),
              ci = t(std::to_string(nnz), "i32"),
              v = t(std::to_string(nnz), "f32"),
              bt = t(std::to_string(k) + "x" + std::to_string(n), "f32"),
              ot = t(std::to_string(m) + "x" + std::to_string(n), "f32");
  return "func.func @main(%rp: " + rp + ", %ci: " + ci + ", %v: " + v +
         ", %b: " + bt + ") -> " + ot + " {\n  %y = kjit.spmm %rp, %ci, %v, " +
         "%b : " + rp + ", " + ci + ", " + v + ", " + bt + " -> " + ot +
         "\n  return %y : " + ot + "\n}\n";
}
} // namespace

// Tolerance: max |y - ref| <= 1e-4 * (1 + max |ref|) (fp32 sums of at most
// K terms in [-1, 1]; an indexing error is O(1)).
TEST(CudaExecutor, SpmmMalformedCsrIsAnError) {
  REQUIRE_GPU();
  Jit gpu(Target::cuda(0), noDiskCache()), cpu(Target::host(), noDiskCache());
  const int64_t m = 37, kd = 29, n = 13;
  std::mt19937_64 rng(seed());
  std::uniform_real_distribution<double> p(0, 1);
  std::vector<int32_t> rowPtr{0}, colIdx;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < kd; ++j)
      if (p(rng) < 0.2 || (i == 3 && j == 0))
        colIdx.push_back(int32_t(j));
    rowPtr.push_back(int32_t(colIdx.size()));
  }
  const int64_t nnz = int64_t(colIdx.size());
  std::vector<float> values = randomVector(size_t(nnz), rng),
                     b = randomVector(size_t(kd * n), rng);
  auto kg = gpu.compileModule(spmmModule(m, kd, n, nnz));
  ASSERT_TRUE(bool(kg)) << kg.errorMessage();
  auto kc = cpu.compileModule(spmmModule(m, kd, n, nnz));
  ASSERT_TRUE(bool(kc)) << kc.errorMessage();
  auto run = [&](const Kernel &k, std::vector<int32_t> &rp,
                 std::vector<int32_t> &ci, std::vector<float> &y) {
    y.assign(size_t(m * n), -7.0f);
    return k.run({TensorView(rp.data(), {m + 1}), TensorView(ci.data(), {nnz}),
                  TensorView(values.data(), {nnz}),
                  TensorView(b.data(), {kd, n})},
                 {TensorView(y.data(), {m, n})});
  };
  auto checkValid = [&](const char *when) {
    std::vector<float> y;
    Status s = run(*kg, rowPtr, colIdx, y);
    ASSERT_TRUE(s.isOk()) << when << ": " << s.message();
    double maxRef = 0, maxErr = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t c = 0; c < n; ++c) {
        double r = 0;
        for (int32_t e = rowPtr[i]; e < rowPtr[i + 1]; ++e)
          r += double(values[e]) * b[colIdx[e] * n + c];
        maxRef = std::max(maxRef, std::fabs(r));
        maxErr = std::max(maxErr, std::fabs(r - y[i * n + c]));
      }
    EXPECT_LE(maxErr, 1e-4 * (1 + maxRef)) << when << ", seed " << seed();
  };
  checkValid("before");
  // One defect each; the message is the CPU kernel's, word for word.
  struct Bad {
    const char *what;
    std::function<void(std::vector<int32_t> &, std::vector<int32_t> &)> edit;
    std::string message;
  };
  const std::string pre = "kjit.spmm: malformed CSR: ";
  auto str = [](int64_t v) { return std::to_string(v); };
  const Bad cases[] = {
      {"row_ptr[0] != 0", [](auto &rp, auto &) { rp[0] = -1; },
       pre + "row_ptr[0]=-1, expected 0"},
      {"not monotone", [&](auto &rp, auto &) { rp[4] = rowPtr[5] + 1; },
       pre + "row_ptr is not monotone at row 4 (row_ptr[4]=" +
           str(rowPtr[5] + 1) + " > row_ptr[5]=" + str(rowPtr[5]) + ")"},
      {"last entry", [&](auto &rp, auto &) { rp[m] = int32_t(nnz + 1); },
       pre + "row_ptr[" + str(m) + "]=" + str(nnz + 1) +
           " (the last entry) is not nnz=" + str(nnz) +
           " (the length of col_idx and values)"},
      {"column out of range",
       [&](auto &, auto &ci) { ci[rowPtr[3]] = int32_t(kd); },
       pre + "column index " + str(kd) + " at position " + str(rowPtr[3]) +
           " (row 3) is out of range [0, " + str(kd) + ")"},
  };
  for (const Bad &c : cases) {
    SCOPED_TRACE(std::string(c.what) + ", seed " + std::to_string(seed()));
    std::vector<int32_t> rp = rowPtr, ci = colIdx;
    c.edit(rp, ci);
    std::vector<float> y;
    Status cs = run(*kc, rp, ci, y);
    ASSERT_FALSE(cs.isOk());
    EXPECT_EQ(cs.message(), c.message);
    Status gs = run(*kg, rp, ci, y);
    ASSERT_FALSE(gs.isOk()) << "the GPU run returned ok";
    EXPECT_EQ(gs.message(), c.message);
    auto t = kg->time({TensorView(rp.data(), {m + 1}),
                       TensorView(ci.data(), {nnz}),
                       TensorView(values.data(), {nnz}),
                       TensorView(b.data(), {kd, n})},
                      {TensorView(y.data(), {m, n})}, TimingOptions{0, 2});
    ASSERT_FALSE(bool(t)) << "timing a malformed CSR returned times";
    EXPECT_EQ(t.errorMessage(), c.message);
    // The record is cleared: the next valid run succeeds.
    checkValid(c.what);
  }
}
