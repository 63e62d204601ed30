//===- FakeDriverTest.cpp - the CUDA executor's plumbing on a fake driver -===//
//
// KJIT_CUDA_DRIVER points at FakeCudaDriver.cpp's library (host memory, no
// kernels run), so the whole CUDA path short of executing GPU code is
// exercised on any machine: device query and key, DeviceBuffer copies, a
// Target::cuda compile whose host object links in ORC against kjit's mgpu*
// functions and loads its device code, launches (their geometry and kernel
// name), launch errors turned into Status, host views staged and copied
// back, device-view checks, timing with events, and no leaked allocations;
// the device error record of spmm (a report injected by the fake launch
// comes back as the CPU path's malformed-CSR message; a stale one is
// cleared before each run); vector_width's alignment dispatch (a misaligned
// device view launches the scalar kernel); a kernel's device modules and
// host code unloaded when the last holder of its code lets go.
//
//===----------------------------------------------------------------------===//
#include "CpuExecutor.h"
#include "CudaExecutor.h"
#include "RuntimeInternal.h"
#include "kjit/kjit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <random>

using namespace kjit;

namespace {
struct FakeDriverEnv : ::testing::Environment {
  void SetUp() override { setenv("KJIT_CUDA_DRIVER", KJIT_FAKE_DRIVER, 1); }
};
const auto *env = ::testing::AddGlobalTestEnvironment(new FakeDriverEnv);

/// The fake driver's test controls (same library the runtime opened).
struct Fake {
  void (*setLaunchResult)(int);
  int (*launchCount)();
  const char *(*lastKernel)();
  void (*lastGeometry)(unsigned *, unsigned *);
  size_t (*liveAllocations)();
  size_t (*liveModules)();
  void (*setKernelError)(int64_t, int64_t, int64_t);
  void (*poisonErrorRecords)(int64_t);
  int64_t (*lastErrorClaims)();
  void (*setAllocFill)(int);
  int (*streamSyncCount)();
  static Fake &get() {
    static Fake f = [] {
      void *h = dlopen(KJIT_FAKE_DRIVER, RTLD_NOW | RTLD_LOCAL);
      EXPECT_NE(h, nullptr) << dlerror();
      Fake f;
      f.setLaunchResult =
          (void (*)(int))dlsym(h, "kjit_fake_set_launch_result");
      f.launchCount = (int (*)())dlsym(h, "kjit_fake_launch_count");
      f.lastKernel = (const char *(*)())dlsym(h, "kjit_fake_last_kernel");
      f.lastGeometry = (void (*)(unsigned *, unsigned *))dlsym(
          h, "kjit_fake_last_geometry");
      f.liveAllocations = (size_t(*)())dlsym(h, "kjit_fake_live_allocations");
      f.liveModules = (size_t(*)())dlsym(h, "kjit_fake_live_modules");
      f.setKernelError = (void (*)(int64_t, int64_t, int64_t))dlsym(
          h, "kjit_fake_set_kernel_error");
      f.poisonErrorRecords =
          (void (*)(int64_t))dlsym(h, "kjit_fake_poison_error_records");
      f.lastErrorClaims =
          (int64_t(*)())dlsym(h, "kjit_fake_last_error_claims");
      f.setAllocFill = (void (*)(int))dlsym(h, "kjit_fake_set_alloc_fill");
      f.streamSyncCount = (int (*)())dlsym(h, "kjit_fake_stream_sync_count");
      return f;
    }();
    return f;
  }
};

JitOptions noDiskCache() {
  JitOptions o;
  o.diskCache = false;
  return o;
}

Jit &cudaJit() {
  static Jit jit(Target::cuda(0), noDiskCache());
  return jit;
}

DepthwiseConv2d dwOp() {
  DepthwiseConv2d op;
  op.channels = 40, op.height = 13, op.width = 17;
  op.kernel = {7, 7};
  op.bias = true;
  op.samePadding();
  return op;
}

std::vector<float> randomVector(size_t n) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (float &x : v)
    x = u(rng);
  return v;
}

bool allBytes(const std::vector<float> &v, unsigned char b) {
  const auto *p = reinterpret_cast<const unsigned char *>(v.data());
  for (size_t i = 0; i < v.size() * sizeof(float); ++i)
    if (p[i] != b)
      return false;
  return true;
}
} // namespace

TEST(FakeDriver, DeviceQueryAndTargetKey) {
  auto info = runtime::cudaDeviceInfo(0);
  ASSERT_TRUE(bool(info)) << llvm::toString(info.takeError());
  EXPECT_EQ(info->name, "kjit fake GPU");
  EXPECT_EQ(info->chip(), "sm_90");
  EXPECT_EQ(Target::cuda(0).key(),
            "cuda;kjit fake GPU;cc=90;sms=132;driver=13000");
  auto bad = runtime::cudaDeviceInfo(1);
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("CUDA device 1 does not exist"),
            std::string::npos);
}

TEST(FakeDriver, DeviceBufferRoundTrip) {
  std::vector<float> src = randomVector(1001), back(1001, 0);
  {
    auto buf = DeviceBuffer::allocate(src.size() * 4);
    ASSERT_TRUE(bool(buf)) << buf.errorMessage();
    EXPECT_EQ(Fake::get().liveAllocations(), 1u);
    ASSERT_TRUE(buf->copyFromHost(src.data(), src.size() * 4).isOk());
    ASSERT_TRUE(buf->copyToHost(back.data(), back.size() * 4).isOk());
    EXPECT_EQ(src, back);
    Status over = buf->copyFromHost(src.data(), src.size() * 4 + 4);
    ASSERT_FALSE(over.isOk());
    EXPECT_NE(over.message().find("into a 4004-byte device buffer"),
              std::string::npos)
        << over.message();
    DeviceBuffer moved = std::move(*buf);
    EXPECT_EQ(buf->data(), nullptr);
    EXPECT_NE(moved.data(), nullptr);
  }
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
  auto none = DeviceBuffer::allocate(16, 1);
  ASSERT_FALSE(bool(none));
  EXPECT_NE(none.errorMessage().find("CUDA device 1 does not exist"),
            std::string::npos);
}

TEST(FakeDriver, CompileLoadsDeviceCodeAndLaunchErrorIsAStatus) {
  auto k = cudaJit().compile(dwOp());
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  EXPECT_EQ(k->target().kind, Target::Kind::CUDA);
  ASSERT_EQ(k->configs().size(), 1u);
  EXPECT_NE(k->configs()[0].find("block_w"), std::string::npos)
      << "a GPU config: " << k->configs()[0];
  std::vector<float> x = randomVector(13 * 17 * 40), w = randomVector(40 * 49),
                     b = randomVector(40), y(13 * 17 * 40, 0.0f);
  Fake::get().setLaunchResult(801);
  int before = Fake::get().launchCount();
  Status s = k->run({TensorView(x.data(), {1, 13, 17, 40}),
                     TensorView(w.data(), {40, 7, 7}),
                     TensorView(b.data(), {40})},
                    {TensorView(y.data(), {1, 13, 17, 40})});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("cuLaunchKernel failed: operation not supported"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(Fake::get().launchCount(), before + 1);
  EXPECT_STREQ(Fake::get().lastKernel(), "main_kjit_0_kernel");
  unsigned grid[3], block[3];
  Fake::get().lastGeometry(grid, block);
  EXPECT_GT(grid[0] * grid[1] * grid[2], 0u);
  EXPECT_GT(block[0] * block[1] * block[2], 0u);
  EXPECT_LE(block[0] * block[1] * block[2], 1024u);
  // The staged device copies were freed on the error path too.
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
  // The output was not touched.
  EXPECT_TRUE(allBytes(y, 0));
}

TEST(FakeDriver, DeviceAndHostCodeAreUnloadedWithTheLastKernel) {
  size_t modules = Fake::get().liveModules();
  size_t objects = runtime::CpuExecutor::liveObjects();
  {
    JitOptions o = noDiskCache();
    o.memoryCache = false; // nothing but the kernel holds its code
    Jit jit(Target::cuda(0), o);
    auto k = jit.compile(dwOp());
    ASSERT_TRUE(bool(k)) << k.errorMessage();
    EXPECT_EQ(Fake::get().liveModules(), modules + 1);
    EXPECT_EQ(runtime::CpuExecutor::liveObjects(), objects + 1);
  }
  EXPECT_EQ(Fake::get().liveModules(), modules);
  EXPECT_EQ(runtime::CpuExecutor::liveObjects(), objects);
}

TEST(FakeDriver, HostViewsAreStagedAndCopiedBack) {
  auto k = cudaJit().compile(dwOp());
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  Fake::get().setLaunchResult(0);
  std::vector<float> x = randomVector(13 * 17 * 40), w = randomVector(40 * 49),
                     b = randomVector(40), y(13 * 17 * 40, 0.0f);
  Status s = k->run({TensorView(x.data(), {1, 13, 17, 40}),
                     TensorView(w.data(), {40, 7, 7}),
                     TensorView(b.data(), {40})},
                    {TensorView(y.data(), {1, 13, 17, 40})});
  ASSERT_TRUE(s.isOk()) << s.message();
  // The fake fills fresh device memory with 0xAB and runs no kernel: the
  // output is what the device buffer held, copied back.
  EXPECT_TRUE(allBytes(y, 0xAB));
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
  // A strided host output (every other element of a wider buffer).
  std::vector<float> wide(2 * 13 * 17 * 40, 0.0f);
  TensorView strided(wide.data(), DType::f32, {1, 13, 17, 40},
                     {13 * 17 * 80, 17 * 80, 80, 2});
  s = k->run({TensorView(x.data(), {1, 13, 17, 40}),
              TensorView(w.data(), {40, 7, 7}), TensorView(b.data(), {40})},
             {strided});
  ASSERT_TRUE(s.isOk()) << s.message();
  for (size_t i = 0; i < wide.size(); ++i) {
    unsigned char byte;
    memcpy(&byte, &wide[i], 1);
    ASSERT_EQ(byte, i % 2 == 0 ? 0xAB : 0x00) << i;
  }
}

TEST(FakeDriver, DeviceViewsAreChecked) {
  auto k = cudaJit().compile(dwOp());
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  Fake::get().setLaunchResult(0);
  std::vector<float> x = randomVector(13 * 17 * 40);
  auto dx = DeviceBuffer::allocate(x.size() * 4);
  auto dw = DeviceBuffer::allocate(40 * 49 * 4);
  auto db = DeviceBuffer::allocate(40 * 4);
  auto dy = DeviceBuffer::allocate(x.size() * 4);
  auto small = DeviceBuffer::allocate(40 * 4 - 4);
  ASSERT_TRUE(dx && dw && db && dy && small);
  ASSERT_TRUE(dx->copyFromHost(x.data(), x.size() * 4).isOk());
  TensorView xv = dx->view(DType::f32, {1, 13, 17, 40});
  TensorView wv = dw->view(DType::f32, {40, 7, 7});
  TensorView bv = db->view(DType::f32, {40});
  TensorView yv = dy->view(DType::f32, {1, 13, 17, 40});
  int before = Fake::get().launchCount();
  Status s = k->run({xv, wv, bv}, {yv});
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(Fake::get().launchCount(), before + 1);
  EXPECT_EQ(Fake::get().liveAllocations(), 5u) << "no staging for device views";

  // A host pointer that claims to be device memory.
  std::vector<float> host(40);
  TensorView fakeDev = TensorView::onDevice(host.data(), DType::f32, {40});
  s = k->run({xv, wv, fakeDev}, {yv});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("input 2: not device memory"), std::string::npos)
      << s.message();
  // A view larger than its allocation.
  s = k->run({xv, wv, small->view(DType::f32, {40})}, {yv});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("input 2: the view's 160 bytes run past the end "
                             "of its device allocation (156 bytes left)"),
            std::string::npos)
      << s.message();
  // Another device's view.
  TensorView other = bv;
  other.device = 1;
  s = k->run({xv, wv, other}, {yv});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("on CUDA device 1, but the kernel runs on device 0"),
            std::string::npos)
      << s.message();
  // Output aliasing an input (same device memory).
  s = k->run({xv, wv, bv}, {xv});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("output 0 overlaps input 0"), std::string::npos)
      << s.message();
  // Shape mismatch is checked as for CPU kernels.
  s = k->run({dx->view(DType::f32, {1, 13, 40, 17}), wv, bv}, {yv});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("input 0: shape 1x13x40x17 does not match"),
            std::string::npos)
      << s.message();
}

// vector_width = W: the host launches the vector kernel (the module's first,
// main_kjit_0_kernel) only when input, bias and output start 4 W-byte
// aligned, else the scalar one (main_kjit_0_kernel_0); the filter, read per
// lane, does not matter. Views one or two floats into their allocation.
TEST(FakeDriver, VectorWidthTakesTheScalarKernelForMisalignedViews) {
  Fake::get().setLaunchResult(0);
  const int64_t n = 13 * 17 * 40;
  auto dx = DeviceBuffer::allocate((n + 2) * 4);
  auto dw = DeviceBuffer::allocate((40 * 49 + 2) * 4);
  auto db = DeviceBuffer::allocate((40 + 2) * 4);
  auto dy = DeviceBuffer::allocate((n + 2) * 4);
  ASSERT_TRUE(dx && dw && db && dy);
  auto at = [](const DeviceBuffer &b, std::vector<int64_t> shape,
               int64_t skew) {
    TensorView v = b.view(DType::f32, std::move(shape));
    v.data = static_cast<char *>(v.data) + 4 * skew;
    return v;
  };
  struct Skews {
    int64_t x, w, b, y;
  };
  auto lastKernel = [&](const Kernel &k, Skews s) -> std::string {
    Status st = k.run({at(*dx, {1, 13, 17, 40}, s.x),
                       at(*dw, {40, 7, 7}, s.w), at(*db, {40}, s.b)},
                      {at(*dy, {1, 13, 17, 40}, s.y)});
    EXPECT_TRUE(st.isOk()) << st.message();
    return Fake::get().lastKernel();
  };
  const std::string vec = "main_kjit_0_kernel", scalar = "main_kjit_0_kernel_0";
  CompileOptions o4;
  o4.config = "#kjit.config<{vector_width = 4}>";
  auto k4 = cudaJit().compile(dwOp(), o4);
  ASSERT_TRUE(bool(k4)) << k4.errorMessage();
  EXPECT_EQ(lastKernel(*k4, {0, 0, 0, 0}), vec);
  EXPECT_EQ(lastKernel(*k4, {0, 1, 0, 0}), vec) << "the filter is per lane";
  EXPECT_EQ(lastKernel(*k4, {1, 0, 0, 0}), scalar);
  EXPECT_EQ(lastKernel(*k4, {0, 0, 1, 0}), scalar);
  EXPECT_EQ(lastKernel(*k4, {0, 0, 0, 1}), scalar);
  EXPECT_EQ(lastKernel(*k4, {2, 0, 2, 2}), scalar) << "8-byte aligned < 16";
  // Host views: kjit stages them in 256-byte aligned allocations.
  std::vector<float> x(n, 0.5f), w(40 * 49, 0.25f), b(40, 0.0f), y(n);
  Status st = k4->run({TensorView(x.data(), {1, 13, 17, 40}),
                       TensorView(w.data(), {40, 7, 7}),
                       TensorView(b.data(), {40})},
                      {TensorView(y.data(), {1, 13, 17, 40})});
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(std::string(Fake::get().lastKernel()), vec);
  // Width 2 needs 8 bytes.
  CompileOptions o2;
  o2.config = "#kjit.config<{vector_width = 2}>";
  auto k2 = cudaJit().compile(dwOp(), o2);
  ASSERT_TRUE(bool(k2)) << k2.errorMessage();
  EXPECT_EQ(lastKernel(*k2, {2, 0, 2, 2}), vec);
  EXPECT_EQ(lastKernel(*k2, {1, 0, 0, 0}), scalar);
  // Width 1: one kernel, no check.
  CompileOptions o1;
  o1.config = "#kjit.config<{vector_width = 1}>";
  auto k1 = cudaJit().compile(dwOp(), o1);
  ASSERT_TRUE(bool(k1)) << k1.errorMessage();
  EXPECT_EQ(lastKernel(*k1, {1, 1, 1, 1}), vec);
}

TEST(FakeDriver, TimingUsesEvents) {
  auto k = cudaJit().compile(dwOp());
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  Fake::get().setLaunchResult(0);
  std::vector<float> x = randomVector(13 * 17 * 40), w = randomVector(40 * 49),
                     b = randomVector(40), y(13 * 17 * 40);
  TimingOptions t;
  t.warmup = 2;
  t.repeat = 5;
  int before = Fake::get().launchCount();
  auto ms = k->time({TensorView(x.data(), {1, 13, 17, 40}),
                     TensorView(w.data(), {40, 7, 7}),
                     TensorView(b.data(), {40})},
                    {TensorView(y.data(), {1, 13, 17, 40})}, t);
  ASSERT_TRUE(bool(ms)) << ms.errorMessage();
  ASSERT_EQ(ms->size(), 5u);
  for (double v : *ms)
    EXPECT_DOUBLE_EQ(v, 0.25); // the fake's event time
  EXPECT_EQ(Fake::get().launchCount(), before + 7);
  EXPECT_EQ(Fake::get().liveAllocations(), 0u) << "L2 scratch and temps freed";
  // A failing launch inside the timed loop is an error, not a time.
  Fake::get().setLaunchResult(801);
  t.warmup = 0;
  ms = k->time({TensorView(x.data(), {1, 13, 17, 40}),
                TensorView(w.data(), {40, 7, 7}), TensorView(b.data(), {40})},
               {TensorView(y.data(), {1, 13, 17, 40})}, t);
  ASSERT_FALSE(bool(ms));
  EXPECT_NE(ms.errorMessage().find("cuLaunchKernel failed"), std::string::npos)
      << ms.errorMessage();
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
}

TEST(FakeDriver, DiskCacheServesCudaKernels) {
  char tmpl[] = "/tmp/kjit-fake-cache-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  JitOptions o;
  o.cacheDir = tmpl;
  DepthwiseConv2d op = dwOp();
  op.channels = 24; // a workload no other test compiled
  {
    Jit jit(Target::cuda(0), o);
    auto k = jit.compile(op);
    ASSERT_TRUE(bool(k)) << k.errorMessage();
    EXPECT_EQ(k->origin(), "compiled");
  }
  Jit jit(Target::cuda(0), o);
  auto k = jit.compile(op);
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  EXPECT_EQ(k->origin(), "disk-cache");
  // The cached kernel launches like a fresh one.
  Fake::get().setLaunchResult(0);
  int before = Fake::get().launchCount();
  std::vector<float> x = randomVector(13 * 17 * 24), w = randomVector(24 * 49),
                     b = randomVector(24), y(13 * 17 * 24);
  Status s = k->run({TensorView(x.data(), {1, 13, 17, 24}),
                     TensorView(w.data(), {24, 7, 7}),
                     TensorView(b.data(), {24})},
                    {TensorView(y.data(), {1, 13, 17, 24})});
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(Fake::get().launchCount(), before + 1);
  // A CPU Jit on the same directory does not see the CUDA entry.
  Jit cpu(Target::host(), o);
  auto kc = cpu.compile(op);
  ASSERT_TRUE(bool(kc)) << kc.errorMessage();
  EXPECT_EQ(kc->origin(), "compiled");
  std::string rm = std::string("rm -rf ") + tmpl;
  EXPECT_EQ(system(rm.c_str()), 0);
}

// Two kjit ops with a buffer between them that no one returns: the buffer
// is device memory (mgpuMemAlloc/mgpuMemFree through the driver), both
// kernels launch in order, and nothing is left allocated.
TEST(FakeDriver, IntermediateBufferIsDeviceMemory) {
  const char *chain = R"(
func.func @main(%x: tensor<1x21x21x16xf32>, %w1: tensor<16x3x3xf32>, %w2: tensor<16x5x5xf32>) -> tensor<1x21x21x16xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w1) {padding = array<i64: 1, 1, 1, 1>} : (tensor<1x21x21x16xf32>, tensor<16x3x3xf32>) -> tensor<1x21x21x16xf32>
  %z = "kjit.depthwise_conv2d"(%y, %w2) {padding = array<i64: 2, 2, 2, 2>} : (tensor<1x21x21x16xf32>, tensor<16x5x5xf32>) -> tensor<1x21x21x16xf32>
  return %z : tensor<1x21x21x16xf32>
}
)";
  auto k = cudaJit().compileModule(chain);
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  Fake::get().setLaunchResult(0);
  std::vector<float> x = randomVector(21 * 21 * 16), w1 = randomVector(16 * 9),
                     w2 = randomVector(16 * 25), z(21 * 21 * 16);
  int before = Fake::get().launchCount();
  Status s = k->run({TensorView(x.data(), {1, 21, 21, 16}),
                     TensorView(w1.data(), {16, 3, 3}),
                     TensorView(w2.data(), {16, 5, 5})},
                    {TensorView(z.data(), {1, 21, 21, 16})});
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(Fake::get().launchCount(), before + 2);
  EXPECT_STREQ(Fake::get().lastKernel(), "main_kjit_1_kernel");
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
}

namespace {
/// kjit.spmm: CSR (m x k, nnz entries) times a dense k x n matrix.
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

struct SpmmArgs {
  // 5 x 4, nnz = 6; row_ptr's last entry is 4, not 6 (malformed).
  std::vector<int32_t> rowPtr{0, 1, 2, 3, 4, 4}, colIdx{0, 1, 2, 3, 0, 1};
  std::vector<float> values = randomVector(6), b = randomVector(4 * 3),
                     y = std::vector<float>(5 * 3, 0.0f);
  std::vector<TensorView> inputs() {
    return {TensorView(rowPtr.data(), {6}), TensorView(colIdx.data(), {6}),
            TensorView(values.data(), {6}), TensorView(b.data(), {4, 3})};
  }
  std::vector<TensorView> outputs() { return {TensorView(y.data(), {5, 3})}; }
};
constexpr int64_t pack(int64_t hi, int64_t lo) {
  return int64_t((uint64_t(hi) << 32) | uint64_t(uint32_t(lo)));
}
} // namespace

TEST(FakeDriver, SpmmDeviceErrorRecordIsAStatus) {
  auto k = cudaJit().compileModule(spmmModule(5, 4, 3, 6));
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  Fake::get().setLaunchResult(0);
  Fake::get().setKernelError(0, 0, 0);
  SpmmArgs args;

  // A stale report (a previous failed run) is cleared before the launch.
  Fake::get().poisonErrorRecords(104);
  Status s = k->run(args.inputs(), args.outputs());
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_STREQ(Fake::get().lastKernel(), "main_kjit_0_kernel");
  EXPECT_EQ(Fake::get().lastErrorClaims(), 0)
      << "the record was zeroed before the launch";
  EXPECT_TRUE(allBytes(args.y, 0xAB)) << "a clean run copies the output back";

  // What the device kernel writes for row_ptr[5]=4 != nnz=6 (code 103):
  // the same message as the CPU kernel's report of that CSR.
  Jit cpuJit(Target::host(), noDiskCache());
  auto cpu = cpuJit.compileModule(spmmModule(5, 4, 3, 6));
  ASSERT_TRUE(bool(cpu)) << cpu.errorMessage();
  Status cpuStatus = cpu->run(args.inputs(), args.outputs());
  ASSERT_FALSE(cpuStatus.isOk());
  EXPECT_EQ(cpuStatus.message(),
            "kjit.spmm: malformed CSR: row_ptr[5]=4 (the last entry) is not "
            "nnz=6 (the length of col_idx and values)");

  std::fill(args.y.begin(), args.y.end(), 0.0f);
  Fake::get().setKernelError(103, pack(5, 4), 6);
  s = k->run(args.inputs(), args.outputs());
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.message(), cpuStatus.message());
  EXPECT_EQ(Fake::get().lastErrorClaims(), 1);
  EXPECT_TRUE(allBytes(args.y, 0)) << "no output on an error";
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);

  // Another kind (column out of range), and through time().
  Fake::get().setKernelError(104, pack(2, 9), pack(3, 4));
  auto t = k->time(args.inputs(), args.outputs(), TimingOptions{});
  ASSERT_FALSE(bool(t));
  EXPECT_EQ(t.errorMessage(), "kjit.spmm: malformed CSR: column index 9 at "
                              "position 3 (row 2) is out of range [0, 4)");
  TimingOptions timedOnly;
  timedOnly.warmup = 0;
  timedOnly.repeat = 3;
  t = k->time(args.inputs(), args.outputs(), timedOnly);
  ASSERT_FALSE(bool(t));
  EXPECT_NE(t.errorMessage().find("column index 9"), std::string::npos)
      << t.errorMessage();
  EXPECT_EQ(Fake::get().lastErrorClaims(), 3) << "every timed launch claimed";

  // Clean again: the record from the failed runs does not leak into this one.
  Fake::get().setKernelError(0, 0, 0);
  s = k->run(args.inputs(), args.outputs());
  EXPECT_TRUE(s.isOk()) << s.message();
  t = k->time(args.inputs(), args.outputs(), timedOnly);
  EXPECT_TRUE(bool(t)) << t.errorMessage();
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);

  // Ops without a record (depthwise) have none to look up.
  auto dw = cudaJit().compile(dwOp());
  ASSERT_TRUE(bool(dw)) << dw.errorMessage();
  std::vector<float> x = randomVector(13 * 17 * 40), w = randomVector(40 * 49),
                     bias = randomVector(40), y(13 * 17 * 40, 0.0f);
  Fake::get().setKernelError(103, 1, 2); // ignored: no record
  s = dw->run({TensorView(x.data(), {1, 13, 17, 40}),
               TensorView(w.data(), {40, 7, 7}), TensorView(bias.data(), {40})},
              {TensorView(y.data(), {1, 13, 17, 40})});
  EXPECT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(Fake::get().lastErrorClaims(), -1);
  Fake::get().setKernelError(0, 0, 0);
}

//===----------------------------------------------------------------------===//
// Kernel-allocated (dynamic) outputs on CUDA targets: the run protocol
//===----------------------------------------------------------------------===//
//
// A packed entry written here (runtime::cudaKernelForTesting) behaves like
// the host code of kjit.spgemm's GPU kernel: it copies a count from device
// memory into a host variable (mgpuMemcpy), allocates two device buffers of
// that many elements (mgpuMemAlloc), fills them on the "device" and puts
// them in the descriptors of its two dynamic outputs. `gMode` makes it
// return the nonsense a broken kernel could; the runtime must turn each
// into an error, free every device buffer it owns exactly once, and free
// nothing it does not own.

namespace {
enum class Mode {
  Ok,
  SameBufferTwice,
  NegativeSize,
  NullWithSize,
  TooLarge,
  HostPointer,
  ArgumentPointer,
  NotContiguous,
  FailSecondAlloc,
};
Mode gMode = Mode::Ok;
int gCalls = 0;
int64_t gHostCount = -1; // what the last call read from the device

struct Mgpu {
  void *(*streamCreate)();
  void (*streamSynchronize)(void *);
  void *(*memAlloc)(uint64_t, void *, bool);
  void (*memFree)(void *, void *);
  void (*memcpy)(void *, void *, size_t, void *);
  void (*memset32)(void *, unsigned, size_t, void *);
  static Mgpu &get() {
    static Mgpu m = [] {
      Mgpu m{};
      for (auto [name, addr] : runtime::cudaRuntimeSymbols()) {
        std::string n = name;
        if (n == "mgpuStreamCreate")
          m.streamCreate = (void *(*)())addr;
        else if (n == "mgpuStreamSynchronize")
          m.streamSynchronize = (void (*)(void *))addr;
        else if (n == "mgpuMemAlloc")
          m.memAlloc = (void *(*)(uint64_t, void *, bool))addr;
        else if (n == "mgpuMemFree")
          m.memFree = (void (*)(void *, void *))addr;
        else if (n == "mgpuMemcpy")
          m.memcpy = (void (*)(void *, void *, size_t, void *))addr;
        else if (n == "mgpuMemset32")
          m.memset32 = (void (*)(void *, unsigned, size_t, void *))addr;
      }
      return m;
    }();
    return m;
  }
};

/// Descriptor of a rank-1 memref: {alloc, aligned, offset, size, stride}.
int64_t *desc(void **args, int i) { return static_cast<int64_t *>(args[i]); }
void setDesc(int64_t *d, void *p, int64_t size, int64_t stride = 1) {
  d[0] = d[1] = int64_t(reinterpret_cast<uintptr_t>(p));
  d[2] = 0;
  d[3] = size;
  d[4] = stride;
}

/// inputs: count i32[1], src f32[8]; outputs: row i32[2] (static), col
/// i32[?], val f32[?].
void fakeSpgemmEntry(void **args) {
  ++gCalls;
  Mgpu &g = Mgpu::get();
  void *stream = g.streamCreate();
  int32_t count = -1; // a host alloca, as in the generated code
  g.memcpy(&count, reinterpret_cast<void *>(desc(args, 0)[1]), 4, stream);
  g.streamSynchronize(stream); // gpu.wait (skipped when timing)
  gHostCount = count;
  int64_t n = std::clamp<int64_t>(count, 0, 8);
  void *src = reinterpret_cast<void *>(desc(args, 1)[1]);
  void *row = reinterpret_cast<void *>(desc(args, 2)[1]);
  g.memset32(row, unsigned(n), 2, stream);
  void *col = g.memAlloc(uint64_t(n) * 4, stream, false);
  void *val = g.memAlloc(gMode == Mode::FailSecondAlloc ? (uint64_t(1) << 62)
                                                       : uint64_t(n) * 4,
                         stream, false);
  if (col)
    g.memset32(col, 7, size_t(n), stream);
  if (val)
    g.memcpy(val, src, size_t(n) * 4, stream);
  setDesc(desc(args, 3), col, n);
  setDesc(desc(args, 4), val, n);
  switch (gMode) {
  case Mode::SameBufferTwice:
    g.memFree(val, stream);
    setDesc(desc(args, 4), col, n); // i32 bits read as f32: fine here
    break;
  case Mode::NegativeSize:
    desc(args, 3)[3] = -3;
    break;
  case Mode::NullWithSize:
    g.memFree(col, stream);
    setDesc(desc(args, 3), nullptr, n);
    break;
  case Mode::TooLarge:
    desc(args, 4)[3] = n + 1;
    break;
  case Mode::HostPointer: {
    static float host[8];
    g.memFree(val, stream);
    setDesc(desc(args, 4), host, n);
    break;
  }
  case Mode::ArgumentPointer:
    g.memFree(val, stream);
    setDesc(desc(args, 4), src, n);
    break;
  case Mode::NotContiguous:
    desc(args, 4)[4] = 2;
    break;
  default:
    break;
  }
}

Kernel fakeSpgemmKernel() {
  return runtime::cudaKernelForTesting(
      fakeSpgemmEntry,
      {ArgInfo{DType::i32, {1}, false}, ArgInfo{DType::f32, {8}, false}},
      {ArgInfo{DType::i32, {2}, true},
       ArgInfo{DType::i32, {ArgInfo::kDynamic}, true},
       ArgInfo{DType::f32, {ArgInfo::kDynamic}, true}});
}

struct DynArgs {
  std::vector<int32_t> count{5};
  std::vector<float> src = randomVector(8);
  std::vector<TensorView> inputs() {
    return {TensorView(count.data(), {1}), TensorView(src.data(), {8})};
  }
};
} // namespace

TEST(FakeDriverDynamic, OutputsComeBackAsHostTensorsAndDeviceMemoryIsFreed) {
  Kernel k = fakeSpgemmKernel();
  Fake::get().setLaunchResult(0);
  gMode = Mode::Ok;
  for (int32_t n : {5, 0, 8, 1}) {
    DynArgs args;
    args.count[0] = n;
    auto outs = k.runAllocating(args.inputs());
    ASSERT_TRUE(bool(outs)) << outs.errorMessage();
    EXPECT_EQ(gHostCount, n) << "the count reached the host code";
    ASSERT_EQ(outs->size(), 3u);
    Tensor &row = (*outs)[0], &col = (*outs)[1], &val = (*outs)[2];
    EXPECT_EQ(row.shape(), std::vector<int64_t>{2});
    EXPECT_EQ(row.data<int32_t>()[0], n) << "static output copied back";
    EXPECT_EQ(col.shape(), std::vector<int64_t>{n});
    EXPECT_EQ(val.shape(), std::vector<int64_t>{n});
    EXPECT_EQ(col.dtype(), DType::i32);
    EXPECT_EQ(val.dtype(), DType::f32);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(col.data<int32_t>()[i], 7) << i;
      EXPECT_EQ(val.data<float>()[i], args.src[i]) << i;
    }
    EXPECT_EQ(Fake::get().liveAllocations(), 0u) << "n=" << n;
  }
  // Device views as inputs: the outputs still come back to the host.
  DynArgs args;
  auto dc = DeviceBuffer::allocate(4), ds = DeviceBuffer::allocate(32);
  ASSERT_TRUE(dc && ds);
  ASSERT_TRUE(dc->copyFromHost(args.count.data(), 4).isOk());
  ASSERT_TRUE(ds->copyFromHost(args.src.data(), 32).isOk());
  auto outs = k.runAllocating({dc->view(DType::i32, {1}),
                               ds->view(DType::f32, {8})});
  ASSERT_TRUE(bool(outs)) << outs.errorMessage();
  EXPECT_EQ((*outs)[2].shape(), std::vector<int64_t>{5});
  EXPECT_EQ((*outs)[2].data<float>()[4], args.src[4]);
  EXPECT_EQ(Fake::get().liveAllocations(), 2u) << "only the caller's buffers";
}

TEST(FakeDriverDynamic, RunRefusesAndTimingFreesEveryRun) {
  Kernel k = fakeSpgemmKernel();
  Fake::get().setLaunchResult(0);
  gMode = Mode::Ok;
  DynArgs args;
  std::vector<int32_t> row(2);
  Status s = k.run(args.inputs(), {TensorView(row.data(), {2}), TensorView(),
                                   TensorView()});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("use Kernel::runAllocating"), std::string::npos)
      << s.message();

  TimingOptions t;
  t.warmup = 2;
  t.repeat = 4;
  int before = gCalls;
  auto ms = k.time(args.inputs(),
                   {TensorView(row.data(), {2}), TensorView(), TensorView()},
                   t);
  ASSERT_TRUE(bool(ms)) << ms.errorMessage();
  ASSERT_EQ(ms->size(), 4u);
  EXPECT_DOUBLE_EQ((*ms)[0], 0.25);
  EXPECT_EQ(gCalls, before + 6);
  EXPECT_EQ(gHostCount, 5) << "the count is read under deferred syncs too";
  EXPECT_EQ(row[0], 5) << "the static output is copied back";
  EXPECT_EQ(Fake::get().liveAllocations(), 0u) << "every run's outputs freed";

  // A failure in the timed loop frees what the runs before it allocated.
  gMode = Mode::FailSecondAlloc;
  t.warmup = 0;
  ms = k.time(args.inputs(),
              {TensorView(row.data(), {2}), TensorView(), TensorView()}, t);
  ASSERT_FALSE(bool(ms));
  EXPECT_NE(ms.errorMessage().find("cuMemAlloc"), std::string::npos)
      << ms.errorMessage();
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
  gMode = Mode::Ok;
}

TEST(FakeDriverDynamic, ErrorsFreeEverythingTheRuntimeOwns) {
  Kernel k = fakeSpgemmKernel();
  Fake::get().setLaunchResult(0);
  struct Case {
    Mode mode;
    const char *message;
  } cases[] = {
      {Mode::NegativeSize, "malformed buffer for output 1: negative size -3"},
      {Mode::NullWithSize,
       "malformed buffer for output 1: a null pointer for 5 elements"},
      {Mode::TooLarge, "malformed buffer for output 2: 6 elements of 4 "
                       "bytes at 0x"},
      {Mode::HostPointer,
       "malformed buffer for output 2: its pointer 0x"},
      {Mode::ArgumentPointer,
       "the kernel returned the memory of one of its arguments for output 2"},
      {Mode::NotContiguous,
       "malformed buffer for output 2: not contiguous (stride 2"},
      {Mode::FailSecondAlloc,
       "CUDA kernel launch: CUDA driver: cuMemAlloc failed: out of memory"},
  };
  for (const Case &c : cases) {
    gMode = c.mode;
    DynArgs args;
    auto outs = k.runAllocating(args.inputs());
    ASSERT_FALSE(bool(outs)) << int(c.mode);
    EXPECT_NE(outs.errorMessage().find(c.message), std::string::npos)
        << int(c.mode) << ": " << outs.errorMessage();
    EXPECT_EQ(Fake::get().liveAllocations(), 0u) << int(c.mode);
  }
  // One buffer in two outputs: copied for both, freed once.
  gMode = Mode::SameBufferTwice;
  DynArgs args;
  auto outs = k.runAllocating(args.inputs());
  ASSERT_TRUE(bool(outs)) << outs.errorMessage();
  EXPECT_EQ((*outs)[1].shape(), (*outs)[2].shape());
  EXPECT_EQ(memcmp((*outs)[1].data(), (*outs)[2].data(), 5 * 4), 0);
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
  // And the kernel still works.
  gMode = Mode::Ok;
  outs = k.runAllocating(args.inputs());
  EXPECT_TRUE(bool(outs)) << outs.errorMessage();
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
}

// mgpuMemcpy into host memory completes before it returns even when the
// scope defers the generated code's synchronizations (timing); copies
// between device buffers do not synchronize.
TEST(FakeDriverDynamic, CopyIntoHostMemorySynchronizesUnderDeferredSync) {
  auto syncs = Fake::get().streamSyncCount;
  ASSERT_NE(syncs, nullptr);
  auto a = DeviceBuffer::allocate(64), b = DeviceBuffer::allocate(64);
  ASSERT_TRUE(a && b);
  Mgpu &g = Mgpu::get();
  int32_t host = 0;
  {
    cuda::LaunchScope scope(0, /*deferSync=*/true);
    void *stream = g.streamCreate();
    int s0 = syncs();
    g.streamSynchronize(stream);
    EXPECT_EQ(syncs(), s0) << "deferred";
    g.memcpy(b->data(), a->data(), 64, stream);
    EXPECT_EQ(syncs(), s0) << "device to device stays asynchronous";
    g.memcpy(&host, a->data(), 4, stream);
    EXPECT_EQ(syncs(), s0 + 1) << "device to host completes at once";
    EXPECT_EQ(scope.finish(), "");
  }
  EXPECT_EQ(uint32_t(host), 0xABABABABu);
}

// The generated kjit.spgemm kernel for a CUDA target, on the fake (its
// launches run nothing): the nnz the host code reads back is whatever the
// fake's fresh device memory holds, clamped by the kernel to a static bound
// (min(M x N, nnzA x min(nnzB, N))); kjit_fake_set_alloc_fill picks it.
namespace {
std::string spgemmModule(int64_t m, int64_t k, int64_t n, int64_t nnzA,
                         int64_t nnzB) {
  auto t = [](int64_t d, const char *e) {
    return "tensor<" + (d < 0 ? std::string("?") : std::to_string(d)) + "x" +
           e + ">";
  };
  std::string arp = t(m + 1, "i32"), aci = t(nnzA, "i32"),
              av = t(nnzA, "f32"), brp = t(k + 1, "i32"),
              bci = t(nnzB, "i32"), bv = t(nnzB, "f32"),
              res = t(m + 1, "i32") + ", " + t(-1, "i32") + ", " +
                    t(-1, "f32");
  std::string types = arp + ", " + aci + ", " + av + ", " + brp + ", " + bci +
                      ", " + bv;
  return "func.func @main(%a0: " + arp + ", %a1: " + aci + ", %a2: " + av +
         ", %b0: " + brp + ", %b1: " + bci + ", %b2: " + bv + ") -> (" + res +
         ") {\n  %c:3 = kjit.spgemm %a0, %a1, %a2, %b0, %b1, %b2 {shape = "
         "array<i64: " +
         std::to_string(m) + ", " + std::to_string(k) + ", " +
         std::to_string(n) + ">} : " + types + " -> " + res +
         "\n  return %c#0, %c#1, %c#2 : " + res + "\n}\n";
}
} // namespace

TEST(FakeDriverDynamic, GeneratedSpgemmKernelRunsTheProtocol) {
  // A: 7 x 5 with 6 entries, B: 5 x 11 with 9 (a valid CSR each).
  const int64_t m = 7, kd = 5, n = 11;
  std::vector<int32_t> arp{0, 1, 2, 2, 3, 4, 5, 6}, aci{0, 1, 2, 3, 4, 0},
      brp{0, 2, 4, 6, 8, 9}, bci{0, 10, 1, 9, 2, 8, 3, 7, 4};
  std::vector<float> av = randomVector(6), bv = randomVector(9);
  std::vector<TensorView> in = {
      TensorView(arp.data(), {m + 1}), TensorView(aci.data(), {6}),
      TensorView(av.data(), {6}),      TensorView(brp.data(), {kd + 1}),
      TensorView(bci.data(), {9}),     TensorView(bv.data(), {9})};
  auto k = cudaJit().compileModule(spgemmModule(m, kd, n, 6, 9));
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  ASSERT_EQ(k->outputs().size(), 3u);
  EXPECT_FALSE(k->outputs()[0].isDynamic());
  EXPECT_TRUE(k->outputs()[1].isDynamic());
  EXPECT_TRUE(k->outputs()[2].isDynamic());
  Fake::get().setLaunchResult(0);
  Fake::get().setKernelError(0, 0, 0);

  const int64_t bound = std::min<int64_t>(m * n, 6 * std::min<int64_t>(9, n));
  struct Fill {
    int byte;
    int64_t nnz;
  } fills[] = {{0x00, 0}, {0xAB, 0} /* negative: clamped to 0 */,
               {0x01, bound} /* huge: clamped to the bound */};
  for (const Fill &f : fills) {
    SCOPED_TRACE("fill " + std::to_string(f.byte));
    Fake::get().setAllocFill(f.byte);
    int launches = Fake::get().launchCount();
    auto outs = k->runAllocating(in);
    ASSERT_TRUE(bool(outs)) << outs.errorMessage();
    EXPECT_GT(Fake::get().launchCount(), launches + 3) << "validate, count, "
                                                          "scan, numeric";
    ASSERT_EQ(outs->size(), 3u);
    EXPECT_EQ((*outs)[0].shape(), std::vector<int64_t>{m + 1});
    EXPECT_EQ((*outs)[1].shape(), std::vector<int64_t>{f.nnz});
    EXPECT_EQ((*outs)[2].shape(), std::vector<int64_t>{f.nnz});
    // What the device buffers held came back (the kernels did not run).
    uint32_t word = 0x01010101u * uint32_t(f.byte);
    for (int64_t i = 0; i < f.nnz; ++i) {
      ASSERT_EQ(uint32_t((*outs)[1].data<int32_t>()[i]), word) << i;
      uint32_t bits;
      memcpy(&bits, &(*outs)[2].data<float>()[i], 4);
      ASSERT_EQ(bits, word) << i;
    }
    EXPECT_EQ(Fake::get().liveAllocations(), 0u)
        << "inputs, scratch and the kernel's outputs all freed";
  }

  // Timing: every run allocates; all freed.
  TimingOptions t;
  t.warmup = 1;
  t.repeat = 3;
  std::vector<int32_t> crp(m + 1);
  auto ms = k->time(in, {TensorView(crp.data(), {m + 1}), TensorView(),
                         TensorView()},
                    t);
  ASSERT_TRUE(bool(ms)) << ms.errorMessage();
  EXPECT_EQ(ms->size(), 3u);
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);

  // A failed launch and a device error report: errors, nothing leaks.
  Fake::get().setLaunchResult(801);
  auto outs = k->runAllocating(in);
  ASSERT_FALSE(bool(outs));
  EXPECT_NE(outs.errorMessage().find("cuLaunchKernel failed"),
            std::string::npos)
      << outs.errorMessage();
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
  ms = k->time(in, {TensorView(crp.data(), {m + 1}), TensorView(),
                    TensorView()},
               t);
  ASSERT_FALSE(bool(ms));
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
  Fake::get().setLaunchResult(0);
  // B's row_ptr[5] = 9 reported as 8: code 303 (kSpgemmB, kRowPtrEnd).
  Fake::get().setKernelError(303, pack(5, 8), 9);
  outs = k->runAllocating(in);
  ASSERT_FALSE(bool(outs));
  EXPECT_EQ(outs.errorMessage(),
            "kjit.spgemm: malformed CSR b: row_ptr[5]=8 (the last entry) is "
            "not nnz=9 (the length of col_idx and values)");
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
  ms = k->time(in, {TensorView(crp.data(), {m + 1}), TensorView(),
                    TensorView()},
               t);
  ASSERT_FALSE(bool(ms));
  EXPECT_NE(ms.errorMessage().find("malformed CSR b"), std::string::npos);
  EXPECT_EQ(Fake::get().liveAllocations(), 0u);
  Fake::get().setKernelError(0, 0, 0);
  Fake::get().setAllocFill(0xAB);
  outs = k->runAllocating(in);
  EXPECT_TRUE(bool(outs)) << outs.errorMessage();
}

// cuFuncGetAttribute(CU_FUNC_ATTRIBUTE_NUM_REGS) reaches the caller: a PTX
// module loaded through the mgpu* functions, its kernel looked up by name.
TEST(FakeDriver, KernelRegistersFromTheDriver) {
  void *h = dlopen(KJIT_FAKE_DRIVER, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(h, nullptr) << dlerror();
  auto setRegs = (void (*)(int))dlsym(h, "kjit_fake_set_num_regs");
  ASSERT_NE(setRegs, nullptr);
  ASSERT_EQ(cuda::loadDriver(), "");
  void *(*load)(void *, int) = nullptr;
  void (*unload)(void *) = nullptr;
  for (auto &[name, addr] : cuda::runtimeSymbols()) {
    if (std::string(name) == "mgpuModuleLoadJIT")
      load = (void *(*)(void *, int))addr;
    if (std::string(name) == "mgpuModuleUnload")
      unload = (void (*)(void *))addr;
  }
  ASSERT_TRUE(load && unload);
  std::string ptx = ".version 8.0\n.entry main_kjit_0_kernel()\n";
  cuda::LaunchScope scope(0);
  void *module = load(ptx.data(), 2);
  ASSERT_NE(module, nullptr) << scope.finish();
  int regs = -1;
  setRegs(57);
  EXPECT_EQ(cuda::kernelRegisters(0, module, "main_kjit_0_kernel", regs), "");
  EXPECT_EQ(regs, 57);
  setRegs(0); // the driver does not answer: an error with its message
  std::string err = cuda::kernelRegisters(0, module, "main_kjit_0_kernel", regs);
  EXPECT_NE(err.find("cuFuncGetAttribute"), std::string::npos) << err;
  EXPECT_EQ(regs, 0);
  err = cuda::kernelRegisters(0, module, "no_such_kernel", regs);
  EXPECT_NE(err.find("no_such_kernel"), std::string::npos) << err;
  EXPECT_NE(cuda::kernelRegisters(0, nullptr, "k", regs), "");
  unload(module);
  EXPECT_EQ(scope.finish(), "");
}
