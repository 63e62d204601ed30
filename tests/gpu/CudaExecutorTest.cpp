//===- CudaExecutorTest.cpp - CUDA kernels on a real GPU ------------------===//
//
// Needs a CUDA driver and device; every test skips with the runtime's own
// "no CUDA driver: ..." message where there is none. Depthwise convolution
// on the GPU against the naive reference at several shapes (odd, prime,
// stride, dilation, bias), through host views and through DeviceBuffer
// views; timing with CUDA events; spmm's and spgemm's malformed-CSR errors;
// spgemm (kernel-allocated outputs) against a map-based reference;
// vector_width 1/2/4 of depthwise NHWC, spmm, window attention and
// butterfly, also on device views one float off their aligned start (the
// scalar fallback). Also runs on the CPU under the emulating driver
// (KJIT_GPU_EMULATE=1: the emu.* entries).
//
//===----------------------------------------------------------------------===//
#include "CudaExecutor.h"
#include "GpuTestSupport.h"
#include "kjit/kjit.h"
#include "tests/reference/Reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <random>

using namespace kjit;
using kjit::testing::seed;
namespace ref = kjit::reference;

namespace {
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
  EXPECT_EQ(Target::cuda(0).key(), "cuda;" + info->key());
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

// kjit.spgemm on the GPU (kernel-allocated col_idx and values): runAllocating
// against an independent reference, per row a std::map<column, double> that
// every product A(i,k) * B(k,j) adds into (duplicates summed, columns
// ascending, explicit zeros from cancellation kept). row_ptr and col_idx
// must match exactly; values within max |c - ref| <= 1e-4 * (1 + max |ref|)
// (fp32 sums of at most a few hundred products in [-1, 1]; an indexing
// error is O(1)).
namespace {
struct Csr {
  int64_t rows = 0, cols = 0;
  std::vector<int32_t> rowPtr{0}, colIdx;
  std::vector<float> values;
  int64_t nnz() const { return int64_t(colIdx.size()); }
  std::vector<TensorView> views() {
    return {TensorView(rowPtr.data(), {rows + 1}),
            TensorView(colIdx.data(), {nnz()}),
            TensorView(values.data(), {nnz()})};
  }
};

/// `perRow` mean entries per row; unsorted columns and repeated columns
/// (which the product sums) when asked; every third row empty.
Csr randomCsr(int64_t rows, int64_t cols, double perRow, bool messy,
              std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::poisson_distribution<int> count(perRow);
  Csr a;
  a.rows = rows, a.cols = cols;
  for (int64_t i = 0; i < rows; ++i) {
    int c = i % 3 == 1 ? 0 : std::min<int>(count(rng), int(cols));
    std::vector<int32_t> js;
    for (int e = 0; e < c; ++e)
      js.push_back(int32_t(rng() % uint64_t(cols)));
    if (!messy) {
      std::sort(js.begin(), js.end());
      js.erase(std::unique(js.begin(), js.end()), js.end());
    }
    for (int32_t j : js) {
      a.colIdx.push_back(j);
      a.values.push_back(u(rng));
    }
    a.rowPtr.push_back(int32_t(a.colIdx.size()));
  }
  return a;
}

struct RefCsr {
  std::vector<int32_t> rowPtr{0}, colIdx;
  std::vector<double> values;
};
RefCsr refProduct(const Csr &a, const Csr &b) {
  RefCsr c;
  for (int64_t i = 0; i < a.rows; ++i) {
    std::map<int32_t, double> row;
    for (int32_t p = a.rowPtr[i]; p < a.rowPtr[i + 1]; ++p)
      for (int32_t q = b.rowPtr[a.colIdx[p]]; q < b.rowPtr[a.colIdx[p] + 1];
           ++q)
        row[b.colIdx[q]] += double(a.values[p]) * double(b.values[q]);
    for (auto [j, v] : row) {
      c.colIdx.push_back(j);
      c.values.push_back(v);
    }
    c.rowPtr.push_back(int32_t(c.colIdx.size()));
  }
  return c;
}

std::string spgemmModule(int64_t m, int64_t k, int64_t n, int64_t nnzA,
                         int64_t nnzB) {
  auto t = [](int64_t d, const char *e) {
    return "tensor<" + (d < 0 ? std::string("?") : std::to_string(d)) + "x" +
           e + ">";
  };
  std::string res = t(m + 1, "i32") + ", " + t(-1, "i32") + ", " +
                    t(-1, "f32");
  std::string types = t(m + 1, "i32") + ", " + t(nnzA, "i32") + ", " +
                      t(nnzA, "f32") + ", " + t(k + 1, "i32") + ", " +
                      t(nnzB, "i32") + ", " + t(nnzB, "f32");
  return "func.func @main(%a0: " + t(m + 1, "i32") + ", %a1: " +
         t(nnzA, "i32") + ", %a2: " + t(nnzA, "f32") + ", %b0: " +
         t(k + 1, "i32") + ", %b1: " + t(nnzB, "i32") + ", %b2: " +
         t(nnzB, "f32") + ") -> (" + res +
         ") {\n  %c:3 = kjit.spgemm %a0, %a1, %a2, %b0, %b1, %b2 {shape = "
         "array<i64: " +
         std::to_string(m) + ", " + std::to_string(k) + ", " +
         std::to_string(n) + ">} : " + types + " -> " + res +
         "\n  return %c#0, %c#1, %c#2 : " + res + "\n}\n";
}

/// Empty when `c` (runAllocating's three tensors) is the product.
std::string compareCsr(const std::vector<Tensor> &c, const RefCsr &want) {
  if (c.size() != 3)
    return std::to_string(c.size()) + " outputs";
  const int32_t *rp = c[0].data<int32_t>(), *ci = c[1].data<int32_t>();
  const float *v = c[2].data<float>();
  int64_t nnz = int64_t(want.colIdx.size());
  if (c[0].numElements() != int64_t(want.rowPtr.size()))
    return "row_ptr has " + std::to_string(c[0].numElements()) + " entries";
  for (size_t i = 0; i < want.rowPtr.size(); ++i)
    if (rp[i] != want.rowPtr[i])
      return "row_ptr[" + std::to_string(i) + "] = " + std::to_string(rp[i]) +
             ", expected " + std::to_string(want.rowPtr[i]);
  if (c[1].numElements() != nnz || c[2].numElements() != nnz)
    return "nnz " + std::to_string(c[1].numElements()) + "/" +
           std::to_string(c[2].numElements()) + ", expected " +
           std::to_string(nnz);
  double maxRef = 0, maxErr = 0;
  for (int64_t e = 0; e < nnz; ++e) {
    if (ci[e] != want.colIdx[e])
      return "col_idx[" + std::to_string(e) + "] = " + std::to_string(ci[e]) +
             ", expected " + std::to_string(want.colIdx[e]);
    if (!std::isfinite(v[e]))
      return "non-finite value at " + std::to_string(e);
    maxRef = std::max(maxRef, std::fabs(want.values[e]));
    maxErr = std::max(maxErr, std::fabs(want.values[e] - double(v[e])));
  }
  if (maxErr > 1e-4 * (1 + maxRef))
    return "max |c - ref| = " + std::to_string(maxErr) + " > tolerance " +
           std::to_string(1e-4 * (1 + maxRef));
  return "";
}
} // namespace

TEST(CudaExecutor, SpgemmMatchesMapReference) {
  REQUIRE_GPU();
  Jit jit(Target::cuda(0), noDiskCache());
  std::mt19937_64 rng(seed());
  struct Shape {
    int64_t m, k, n;
    double perRowA, perRowB;
    bool messy;
  } shapes[] = {
      {1, 1, 1, 1, 1, false},          {37, 41, 43, 3, 3, false},
      {97, 89, 101, 5, 4, true},       {13, 7, 1009, 4, 30, true},
      {5, 61, 3001, 40, 60, false}, // long rows: past sort_capacity
      {211, 199, 17, 2, 6, false},     {64, 64, 64, 0, 3, false},
  };
  for (const Shape &s : shapes) {
    SCOPED_TRACE(std::to_string(s.m) + "x" + std::to_string(s.k) + "x" +
                 std::to_string(s.n) + ", seed " + std::to_string(seed()));
    Csr a = randomCsr(s.m, s.k, s.perRowA, s.messy, rng);
    Csr b = randomCsr(s.k, s.n, s.perRowB, s.messy, rng);
    auto k = jit.compileModule(spgemmModule(s.m, s.k, s.n, a.nnz(), b.nnz()));
    ASSERT_TRUE(bool(k)) << k.errorMessage();
    RefCsr want = refProduct(a, b);
    std::vector<TensorView> in = a.views(), bv = b.views();
    in.insert(in.end(), bv.begin(), bv.end());
    auto c = k->runAllocating(in);
    ASSERT_TRUE(bool(c)) << c.errorMessage();
    EXPECT_EQ(compareCsr(*c, want), "");
    // Twice: scratch state left by a run does not leak into the next.
    c = k->runAllocating(in);
    ASSERT_TRUE(bool(c)) << c.errorMessage();
    EXPECT_EQ(compareCsr(*c, want), "") << "second run";
    // Device views as inputs.
    std::vector<DeviceBuffer> bufs;
    std::vector<TensorView> dev;
    for (const TensorView &v : in) {
      size_t bytes = size_t(v.numElements()) * 4;
      auto buf = DeviceBuffer::allocate(bytes);
      ASSERT_TRUE(bool(buf)) << buf.errorMessage();
      ASSERT_TRUE(buf->copyFromHost(v.data, bytes).isOk());
      dev.push_back(buf->view(v.dtype, v.shape));
      bufs.push_back(std::move(*buf));
    }
    c = k->runAllocating(dev);
    ASSERT_TRUE(bool(c)) << c.errorMessage();
    EXPECT_EQ(compareCsr(*c, want), "") << "device inputs";
    // Timing allocates and frees per run.
    std::vector<int32_t> crp(size_t(s.m + 1));
    auto ms = k->time(in, {TensorView(crp.data(), {s.m + 1}), TensorView(),
                           TensorView()},
                      TimingOptions{1, 3});
    ASSERT_TRUE(bool(ms)) << ms.errorMessage();
    EXPECT_EQ(ms->size(), 3u);
    EXPECT_EQ(crp, want.rowPtr);
  }
}

TEST(CudaExecutor, SpgemmMalformedCsrIsAnError) {
  REQUIRE_GPU();
  Jit gpu(Target::cuda(0), noDiskCache()), cpu(Target::host(), noDiskCache());
  std::mt19937_64 rng(seed());
  const int64_t m = 31, kd = 23, n = 29;
  Csr a = randomCsr(m, kd, 3, false, rng), b = randomCsr(kd, n, 3, false, rng);
  std::string text = spgemmModule(m, kd, n, a.nnz(), b.nnz());
  auto kg = gpu.compileModule(text);
  ASSERT_TRUE(bool(kg)) << kg.errorMessage();
  auto kc = cpu.compileModule(text);
  ASSERT_TRUE(bool(kc)) << kc.errorMessage();
  RefCsr want = refProduct(a, b);
  auto inputs = [](Csr &x, Csr &y) {
    std::vector<TensorView> in = x.views(), yv = y.views();
    in.insert(in.end(), yv.begin(), yv.end());
    return in;
  };
  struct Bad {
    const char *what;
    std::function<void(Csr &, Csr &)> edit;
    const char *expect;
  } cases[] = {
      {"a row_ptr[0]", [](Csr &x, Csr &) { x.rowPtr[0] = -1; },
       "kjit.spgemm: malformed CSR a: "},
      {"b last entry", [](Csr &, Csr &y) { y.rowPtr.back() += 1; },
       "kjit.spgemm: malformed CSR b: "},
      {"b column", [](Csr &, Csr &y) {
         if (y.nnz())
           y.colIdx[0] = -5;
         else
           y.rowPtr[0] = -1;
       },
       "kjit.spgemm: malformed CSR b: "},
      {"a not monotone", [](Csr &x, Csr &) { x.rowPtr[3] = x.rowPtr[4] + 2; },
       "kjit.spgemm: malformed CSR a: "},
  };
  for (const Bad &c : cases) {
    SCOPED_TRACE(std::string(c.what) + ", seed " + std::to_string(seed()));
    Csr x = a, y = b;
    c.edit(x, y);
    auto cpuOut = kc->runAllocating(inputs(x, y));
    ASSERT_FALSE(bool(cpuOut));
    EXPECT_NE(cpuOut.errorMessage().find(c.expect), std::string::npos)
        << cpuOut.errorMessage();
    auto gpuOut = kg->runAllocating(inputs(x, y));
    ASSERT_FALSE(bool(gpuOut)) << "the GPU run returned outputs";
    EXPECT_EQ(gpuOut.errorMessage(), cpuOut.errorMessage());
    // The kernel still works on valid input.
    auto ok = kg->runAllocating(inputs(a, b));
    ASSERT_TRUE(bool(ok)) << ok.errorMessage();
    EXPECT_EQ(compareCsr(*ok, want), "");
  }
}

//===----------------------------------------------------------------------===//
// vector_width (ld/st.global.v2/v4): every width gives the reference's
// results, and the same bits as width 1 (the sums keep their order). Each
// op also runs on device views that start one float into their allocation
// (4-byte aligned only): the host must take the scalar kernel, never a
// misaligned vector access (which would fault).
//===----------------------------------------------------------------------===//

namespace {
/// Runs `k` on device copies of `ins` and a device output of `outElems`
/// floats; `skew` floats before each view's start (0: the allocation's
/// 256-byte aligned start). Returns the output.
std::vector<float> runOnDevice(const Kernel &k,
                               const std::vector<TensorView> &ins,
                               std::vector<int64_t> outShape, int64_t skew,
                               Status &status) {
  std::vector<DeviceBuffer> bufs;
  std::vector<TensorView> dins;
  auto viewAt = [&](const DeviceBuffer &b, DType t, std::vector<int64_t> s) {
    TensorView v = b.view(t, std::move(s));
    v.data = static_cast<char *>(v.data) + 4 * skew;
    return v;
  };
  for (const TensorView &v : ins) {
    size_t bytes = size_t(v.numElements()) * 4;
    auto buf = DeviceBuffer::allocate(bytes + 4 * skew);
    if (!buf) {
      status = buf.status();
      return {};
    }
    TensorView dv = viewAt(*buf, v.dtype, v.shape);
    // copyFromHost writes from the allocation's start: stage through a
    // skewed host copy.
    std::vector<char> host(bytes + 4 * skew, 0);
    std::memcpy(host.data() + 4 * skew, v.data, bytes);
    if (Status s = buf->copyFromHost(host.data(), host.size()); !s.isOk()) {
      status = s;
      return {};
    }
    dins.push_back(dv);
    bufs.push_back(std::move(*buf));
  }
  int64_t n = 1;
  for (int64_t d : outShape)
    n *= d;
  auto out = DeviceBuffer::allocate(size_t(n + skew) * 4);
  if (!out) {
    status = out.status();
    return {};
  }
  status = k.run(dins, {viewAt(*out, DType::f32, outShape)});
  std::vector<float> y(size_t(n + skew), -7.0f);
  if (status.isOk())
    status = out->copyToHost(y.data(), y.size() * 4);
  return std::vector<float>(y.begin() + skew, y.end());
}

CompileOptions withWidth(int w) {
  CompileOptions o;
  o.config = "#kjit.config<{vector_width = " + std::to_string(w) + "}>";
  return o;
}
} // namespace

TEST(CudaExecutor, DepthwiseVectorWidthsMatchReference) {
  REQUIRE_GPU();
  Jit jit(Target::cuda(0), noDiskCache());
  // NHWC; channels divisible by 4 (24, 40) or only by 2 (6: widths 1, 2).
  const Case cases[] = {{1, 13, 17, 24, 7, 1, 1, true},
                        {2, 11, 9, 40, 3, 2, 1, false},
                        {1, 23, 19, 6, 5, 1, 2, true}};
  std::mt19937_64 rng(seed());
  for (const Case &t : cases) {
    ref::DwConv p;
    p.n = t.n, p.c = t.c, p.h = t.h, p.w = t.w, p.kh = p.kw = t.k;
    p.strides = {t.stride, t.stride};
    p.dilations = {t.dil, t.dil};
    DepthwiseConv2d op;
    op.batch = t.n, op.channels = t.c, op.height = t.h, op.width = t.w;
    op.kernel = {t.k, t.k};
    op.strides = {t.stride, t.stride};
    op.dilations = {t.dil, t.dil};
    op.bias = t.bias;
    op.samePadding();
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
    std::vector<float> scalar;
    for (int vw : {1, 2, 4}) {
      if (t.c % vw)
        continue;
      SCOPED_TRACE("seed " + std::to_string(seed()) + ", C" +
                   std::to_string(t.c) + " k" + std::to_string(t.k) +
                   ", vector_width " + std::to_string(vw));
      auto k = jit.compile(op, withWidth(vw));
      ASSERT_TRUE(bool(k)) << k.errorMessage();
      for (int64_t skew : {0, 1}) {
        Status s;
        std::vector<float> y = runOnDevice(*k, ins, p.outputShape(), skew, s);
        ASSERT_TRUE(s.isOk()) << "skew " << skew << ": " << s.message();
        ref::Comparison cmp = ref::compare(y.data(), want);
        EXPECT_TRUE(cmp.ok) << "skew " << skew << ": " << cmp.describe();
        if (scalar.empty())
          scalar = y;
        else
          EXPECT_EQ(y, scalar) << "skew " << skew << ": not width 1's bits";
      }
    }
  }
}

TEST(CudaExecutor, SpmmVectorWidthsMatchReference) {
  REQUIRE_GPU();
  Jit jit(Target::cuda(0), noDiskCache());
  std::mt19937_64 rng(seed());
  std::uniform_real_distribution<double> u(0, 1);
  const int64_t shapes[][3] = {{37, 29, 44}, {13, 53, 100}, {7, 5, 6}};
  for (const auto &sh : shapes) {
    const int64_t m = sh[0], kd = sh[1], n = sh[2];
    std::vector<int32_t> rowPtr{0}, colIdx;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < kd; ++j)
        if (u(rng) < 0.25)
          colIdx.push_back(int32_t(j));
      rowPtr.push_back(int32_t(colIdx.size()));
    }
    const int64_t nnz = std::max<int64_t>(1, int64_t(colIdx.size()));
    if (colIdx.empty()) { // keep one nonzero (a zero-sized tensor is not legal)
      colIdx.push_back(0);
      for (size_t i = 1; i < rowPtr.size(); ++i)
        rowPtr[i] = 1;
    }
    std::vector<float> values = randomVector(size_t(nnz), rng),
                       b = randomVector(size_t(kd * n), rng);
    std::vector<float> want(size_t(m * n), 0.0f);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t c = 0; c < n; ++c) {
        double r = 0;
        for (int32_t e = rowPtr[i]; e < rowPtr[i + 1]; ++e)
          r += double(values[e]) * b[colIdx[e] * n + c];
        want[i * n + c] = float(r);
      }
    std::vector<TensorView> ins = {TensorView(rowPtr.data(), {m + 1}),
                                   TensorView(colIdx.data(), {nnz}),
                                   TensorView(values.data(), {nnz}),
                                   TensorView(b.data(), {kd, n})};
    std::vector<float> scalar;
    for (int vw : {1, 2, 4}) {
      if (n % vw)
        continue;
      SCOPED_TRACE("seed " + std::to_string(seed()) + ", " +
                   std::to_string(m) + "x" + std::to_string(kd) + "x" +
                   std::to_string(n) + ", vector_width " + std::to_string(vw));
      auto k = jit.compileModule(spmmModule(m, kd, n, nnz), withWidth(vw));
      ASSERT_TRUE(bool(k)) << k.errorMessage();
      for (int64_t skew : {0, 1}) {
        Status s;
        std::vector<float> y = runOnDevice(*k, ins, {m, n}, skew, s);
        ASSERT_TRUE(s.isOk()) << "skew " << skew << ": " << s.message();
        ref::Comparison cmp = ref::compare(y.data(), want);
        EXPECT_TRUE(cmp.ok) << "skew " << skew << ": " << cmp.describe();
        if (scalar.empty())
          scalar = y;
        else
          EXPECT_EQ(y, scalar) << "skew " << skew << ": not width 1's bits";
      }
    }
  }
}

// Window attention against the CPU kernel (tested against NATTEN semantics
// in tests/integration); tolerance 1e-4 (1 + max |ref|): the GPU's e^x is
// the approximate ex2.
TEST(CudaExecutor, WindowAttentionVectorWidthsMatchCpu) {
  REQUIRE_GPU();
  Jit gpu(Target::cuda(0), noDiskCache()), cpu(Target::host(), noDiskCache());
  std::mt19937_64 rng(seed());
  struct WaCase {
    std::vector<int64_t> shape; ///< [B, heads, (H,) W, D]
    std::string attrs;
  };
  const WaCase cases[] = {
      {{2, 3, 37, 16}, "kernel_size = array<i64: 7>, dilation = array<i64: 2>"},
      {{1, 2, 13, 11, 8}, "kernel_size = array<i64: 5, 5>"},
      {{1, 1, 29, 12}, "kernel_size = array<i64: 5>, is_causal = true"}};
  for (const WaCase &c : cases) {
    std::string t = "tensor<";
    int64_t elems = 1;
    for (int64_t d : c.shape) {
      t += std::to_string(d) + "x";
      elems *= d;
    }
    t += "f32>";
    std::string mod = "func.func @main(%q: " + t + ", %k: " + t + ", %v: " +
                      t + ") -> " + t + " {\n  %y = \"kjit.window_attention\"(" +
                      "%q, %k, %v) {" + c.attrs + "} : (" + t + ", " + t +
                      ", " + t + ") -> " + t + "\n  return %y : " + t + "\n}\n";
    std::vector<float> q = randomVector(size_t(elems), rng),
                       kk = randomVector(size_t(elems), rng),
                       v = randomVector(size_t(elems), rng);
    std::vector<TensorView> ins = {TensorView(q.data(), c.shape),
                                   TensorView(kk.data(), c.shape),
                                   TensorView(v.data(), c.shape)};
    auto kc = cpu.compileModule(mod);
    ASSERT_TRUE(bool(kc)) << kc.errorMessage();
    std::vector<float> want(static_cast<size_t>(elems));
    ASSERT_TRUE(kc->run(ins, {TensorView(want.data(), c.shape)}).isOk());
    std::vector<float> scalar;
    int64_t d = c.shape.back();
    for (int vw : {1, 2, 4}) {
      if (d % vw)
        continue;
      SCOPED_TRACE("seed " + std::to_string(seed()) + ", " + c.attrs +
                   ", vector_width " + std::to_string(vw));
      auto k = gpu.compileModule(mod, withWidth(vw));
      ASSERT_TRUE(bool(k)) << k.errorMessage();
      for (int64_t skew : {0, 1}) {
        Status s;
        std::vector<float> y = runOnDevice(*k, ins, c.shape, skew, s);
        ASSERT_TRUE(s.isOk()) << "skew " << skew << ": " << s.message();
        ref::Comparison cmp = ref::compare(y.data(), want);
        EXPECT_TRUE(cmp.ok) << "skew " << skew << ": " << cmp.describe();
        if (scalar.empty())
          scalar = y;
        else
          EXPECT_EQ(y, scalar) << "skew " << skew << ": not width 1's bits";
      }
    }
  }
}

// Butterfly (Monarch) against the CPU kernel; fused and split.
TEST(CudaExecutor, ButterflyVectorWidthsMatchCpu) {
  REQUIRE_GPU();
  Jit gpu(Target::cuda(0), noDiskCache()), cpu(Target::host(), noDiskCache());
  std::mt19937_64 rng(seed());
  struct BfCase {
    int64_t b, m1, m2;
    const char *variant;
  };
  const BfCase cases[] = {{7, 5, 12, "fused"}, {3, 9, 20, "split"},
                          {5, 7, 6, "fused"}};
  for (const BfCase &c : cases) {
    int64_t n = c.m1 * c.m2;
    auto t = [](std::vector<int64_t> d) {
      std::string s = "tensor<";
      for (int64_t v : d)
        s += std::to_string(v) + "x";
      return s + "f32>";
    };
    std::string xt = t({c.b, n}), rt = t({c.m1, c.m2, c.m2}),
                lt = t({c.m2, c.m1, c.m1});
    std::string mod = "func.func @main(%x: " + xt + ", %r: " + rt + ", %l: " +
                      lt + ") -> " + xt +
                      " {\n  %y = \"kjit.butterfly_matmul\"(%x, %r, %l) : (" +
                      xt + ", " + rt + ", " + lt + ") -> " + xt +
                      "\n  return %y : " + xt + "\n}\n";
    std::vector<float> x = randomVector(size_t(c.b * n), rng),
                       r = randomVector(size_t(c.m1 * c.m2 * c.m2), rng),
                       l = randomVector(size_t(c.m2 * c.m1 * c.m1), rng);
    std::vector<TensorView> ins = {TensorView(x.data(), {c.b, n}),
                                   TensorView(r.data(), {c.m1, c.m2, c.m2}),
                                   TensorView(l.data(), {c.m2, c.m1, c.m1})};
    auto kc = cpu.compileModule(mod);
    ASSERT_TRUE(bool(kc)) << kc.errorMessage();
    std::vector<float> want(static_cast<size_t>(c.b * n));
    ASSERT_TRUE(kc->run(ins, {TensorView(want.data(), {c.b, n})}).isOk());
    std::vector<float> scalar;
    for (int vw : {1, 2, 4}) {
      if (c.m2 % vw)
        continue;
      SCOPED_TRACE("seed " + std::to_string(seed()) + ", " + c.variant +
                   " m2 " + std::to_string(c.m2) + ", vector_width " +
                   std::to_string(vw));
      CompileOptions o;
      o.config = std::string("#kjit.config<{variant = \"") + c.variant +
                 "\", vector_width = " + std::to_string(vw) + "}>";
      auto k = gpu.compileModule(mod, o);
      ASSERT_TRUE(bool(k)) << k.errorMessage();
      for (int64_t skew : {0, 1}) {
        Status s;
        std::vector<float> y = runOnDevice(*k, ins, {c.b, n}, skew, s);
        ASSERT_TRUE(s.isOk()) << "skew " << skew << ": " << s.message();
        ref::Comparison cmp = ref::compare(y.data(), want);
        EXPECT_TRUE(cmp.ok) << "skew " << skew << ": " << cmp.describe();
        if (scalar.empty())
          scalar = y;
        else
          EXPECT_EQ(y, scalar) << "skew " << skew << ": not width 1's bits";
      }
    }
  }
}
