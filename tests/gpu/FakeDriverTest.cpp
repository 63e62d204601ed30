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
// cleared before each run).
//
//===----------------------------------------------------------------------===//
#include "CudaExecutor.h"
#include "kjit/kjit.h"

#include <gtest/gtest.h>

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
  void (*setKernelError)(int64_t, int64_t, int64_t);
  void (*poisonErrorRecords)(int64_t);
  int64_t (*lastErrorClaims)();
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
      f.setKernelError = (void (*)(int64_t, int64_t, int64_t))dlsym(
          h, "kjit_fake_set_kernel_error");
      f.poisonErrorRecords =
          (void (*)(int64_t))dlsym(h, "kjit_fake_poison_error_records");
      f.lastErrorClaims =
          (int64_t(*)())dlsym(h, "kjit_fake_last_error_claims");
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
  EXPECT_EQ(Target::cuda(0).key(), "cuda:kjit fake GPU;sm_90;driver=13000");
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
