//===- HostApiTest.cpp - Jit/Kernel through the real compiler -------------===//
//
// Bad input must come back as a Status naming the problem, never a crash.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace kjit;
using namespace kjit::test;

namespace {
JitOptions noDiskCache() {
  JitOptions o;
  o.diskCache = false;
  return o;
}

class HostApi : public ::testing::Test {
protected:
  void SetUp() override {
    op = smallConv();
    auto k = jit.compile(op);
    ASSERT_TRUE(k) << k.errorMessage();
    kernel = std::make_unique<Kernel>(*k);
    s = convShapes(op);
    x = randomVector(size_t(product(s.x)), 1);
    w = randomVector(size_t(product(s.w)), 2);
    y.assign(size_t(product(s.y)), 0.f);
  }
  std::string runError(const std::vector<TensorView> &ins,
                       const std::vector<TensorView> &outs) {
    Status st = kernel->run(ins, outs);
    return st ? std::string("<no error>") : st.message();
  }
  TensorView X() { return TensorView(x.data(), s.x); }
  TensorView Wt() { return TensorView(w.data(), s.w); }
  TensorView Y() { return TensorView(y.data(), s.y); }

  Jit jit{Target::host(), noDiskCache()};
  DepthwiseConv2d op;
  std::unique_ptr<Kernel> kernel;
  ConvShapes s;
  std::vector<float> x, w, y;
};
} // namespace

TEST_F(HostApi, SignatureAndNumerics) {
  ASSERT_EQ(kernel->inputs().size(), 2u);
  ASSERT_EQ(kernel->outputs().size(), 1u);
  EXPECT_EQ(kernel->inputs()[0].shape, s.x);
  EXPECT_EQ(kernel->outputs()[0].shape, s.y);
  EXPECT_TRUE(kernel->outputs()[0].isOutput);
  EXPECT_EQ(kernel->origin(), "compiled");
  EXPECT_FALSE(kernel->source().empty());
  EXPECT_FALSE(kernel->configs().empty());
  std::string err;
  EXPECT_LT(runConvAndCompare(*kernel, op, 7, &err), 1e-4) << err;
}

TEST_F(HostApi, WrongCounts) {
  EXPECT_NE(runError({X()}, {Y()}).find("takes 2 inputs, got 1"),
            std::string::npos);
  EXPECT_NE(runError({X(), Wt(), Wt()}, {Y()}).find("got 3"),
            std::string::npos);
  EXPECT_NE(runError({X(), Wt()}, {}).find("produces 1 outputs, got 0"),
            std::string::npos);
}

TEST_F(HostApi, WrongRankShapeDtype) {
  TensorView bad = X();
  bad.shape.pop_back();
  EXPECT_NE(runError({bad, Wt()}, {Y()}).find("input 0: rank 3"),
            std::string::npos);
  bad = X();
  bad.shape[1] += 1;
  EXPECT_NE(runError({bad, Wt()}, {Y()}).find("input 0: shape"),
            std::string::npos);
  bad = Y();
  bad.shape[3] -= 1;
  EXPECT_NE(runError({X(), Wt()}, {bad}).find("output 0: shape"),
            std::string::npos);
  bad = Wt();
  bad.dtype = DType::i32;
  EXPECT_NE(runError({X(), bad}, {Y()}).find("input 1: dtype i32"),
            std::string::npos);
  bad = X();
  bad.strides = {1, 2};
  EXPECT_NE(runError({bad, Wt()}, {Y()}).find("2 strides given for rank 4"),
            std::string::npos);
}

TEST_F(HostApi, NullData) {
  TensorView bad = X();
  bad.data = nullptr;
  EXPECT_NE(runError({bad, Wt()}, {Y()}).find("input 0: data pointer is null"),
            std::string::npos);
  bad = Y();
  bad.data = nullptr;
  EXPECT_NE(runError({X(), Wt()}, {bad}).find("output 0: data pointer"),
            std::string::npos);
}

TEST_F(HostApi, AliasingOutputs) {
  // Same-shape in/out: "same" padding with stride 1 keeps H, W.
  ASSERT_EQ(s.x, s.y);
  EXPECT_NE(runError({X(), Wt()}, {TensorView(x.data(), s.y)})
                .find("output 0 overlaps input 0"),
            std::string::npos);
  // Partial overlap: output starts inside the input's last element range.
  std::vector<float> big(x.size() * 2);
  TensorView in(big.data(), s.x);
  TensorView out(big.data() + x.size() - 1, s.y);
  EXPECT_NE(runError({in, Wt()}, {out}).find("overlaps"), std::string::npos);
  // Adjacent, not overlapping: fine.
  TensorView adjacent(big.data() + x.size(), s.y);
  EXPECT_TRUE(kernel->run({in, Wt()}, {adjacent}).isOk());
  // A broadcast (stride 0) output overlaps itself.
  TensorView zero = Y();
  zero.strides = {0, 0, 0, 0};
  EXPECT_NE(runError({X(), Wt()}, {zero}).find("stride 0"), std::string::npos);
}

TEST_F(HostApi, StridedViewsAreCopied) {
  // Input stored as NCHW memory but viewed as NHWC through strides; output
  // written through a strided view too. Results must match the dense run.
  int64_t N = s.x[0], H = s.x[1], W = s.x[2], C = s.x[3];
  std::vector<float> xn(x.size());
  for (int64_t h = 0; h < H; ++h)
    for (int64_t ww = 0; ww < W; ++ww)
      for (int64_t c = 0; c < C; ++c)
        xn[(c * H + h) * W + ww] = x[(h * W + ww) * C + c];
  TensorView xs(xn.data(), DType::f32, s.x, {C * H * W, W, 1, H * W});
  std::vector<float> dense(y.size()), strided(y.size() * 2, -7.f);
  ASSERT_TRUE(kernel->run({X(), Wt()}, {TensorView(dense.data(), s.y)}).isOk());
  TensorView ys(strided.data(), DType::f32, s.y,
                {2 * s.y[1] * s.y[2] * s.y[3], 2 * s.y[2] * s.y[3],
                 2 * s.y[3], 2});
  Status st = kernel->run({xs, Wt()}, {ys});
  ASSERT_TRUE(st) << st.message();
  for (size_t i = 0; i < dense.size(); ++i) {
    ASSERT_EQ(strided[2 * i], dense[i]) << i;
    ASSERT_EQ(strided[2 * i + 1], -7.f) << "gap written at " << i;
  }
  (void)N;
}

// Strides whose byte span overflows 64 bits (found by the hostapi fuzzer,
// tests/fuzz/corpus/hostapi/crash-stride-extent-overflow) are refused;
// before, the offsets wrapped and the staging copy read out of bounds.
TEST_F(HostApi, StridesBeyondTheAddressSpaceAreRefused) {
  int64_t huge = int64_t(1) << 61;
  for (std::vector<int64_t> strides :
       {std::vector<int64_t>{1, huge, 1, 1}, {1, 1, -huge, 1},
        {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX}}) {
    TensorView xs(x.data(), DType::f32, s.x, strides);
    Status st = kernel->run({xs, Wt()}, {Y()});
    ASSERT_FALSE(st);
    EXPECT_NE(st.message().find("input 0: strides"), std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find("reach beyond the address space"),
              std::string::npos)
        << st.message();
  }
}

TEST(HostApiCompile, BadDescriptorsAndModules) {
  Jit jit(Target::host(), noDiskCache());
  DepthwiseConv2d op = smallConv();
  op.width = -3;
  auto k = jit.compile(op);
  ASSERT_FALSE(k);
  EXPECT_NE(k.errorMessage().find("width must be positive"),
            std::string::npos);

  k = jit.compileModule("this is not MLIR");
  ASSERT_FALSE(k);
  EXPECT_FALSE(k.errorMessage().empty());

  // A verifier error from the dialect (bad attribute length).
  k = jit.compileModule(R"(
func.func @main(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  %0 = "kjit.depthwise_conv2d"(%x, %w) {layout = "nhwc", strides = array<i64: 1, 1, 1>} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32>
  func.return %0 : tensor<1x6x6x4xf32>
})");
  ASSERT_FALSE(k);
  EXPECT_FALSE(k.errorMessage().empty());

  CompileOptions opts;
  opts.entry = "nope";
  k = jit.compile(smallConv(), opts);
  EXPECT_TRUE(k) << "entry names the generated function: "
                 << (k ? "" : k.errorMessage());
  opts.entry = "bad name";
  k = jit.compile(smallConv(), opts);
  ASSERT_FALSE(k);
  opts = {};
  opts.threads = -1;
  k = jit.compile(smallConv(), opts);
  ASSERT_FALSE(k);
}

// Descriptor sizes beyond the dialect's limits are refused with the limit
// named, before any size arithmetic (a dilation of 2^62 + 1 overflowed the
// output-size formula, undefined behaviour, before the check existed).
TEST(HostApiCompile, DescriptorSizesBeyondTheLimitsAreRefused) {
  Jit jit(Target::host(), noDiskCache());
  DepthwiseConv2d op = smallConv();
  op.dilations = {(int64_t(1) << 62) + 1, 1};
  auto k = jit.compile(op);
  ASSERT_FALSE(k);
  EXPECT_NE(k.errorMessage().find("dilations[0] is 4611686018427387905, "
                                  "more than kjit's limit of 2^31-1"),
            std::string::npos)
      << k.errorMessage();

  op = smallConv();
  op.padding = {0, INT64_MAX, 0, 0};
  k = jit.compile(op);
  ASSERT_FALSE(k);
  EXPECT_NE(k.errorMessage().find("padding[1]"), std::string::npos)
      << k.errorMessage();

  InceptionDepthwiseConv2d mix;
  mix.batch = 1;
  mix.channels = 8;
  mix.height = mix.width = 5;
  mix.squareKernel = 3;
  mix.bandKernel = 5;
  mix.branchChannels = {INT64_MAX, INT64_MAX, 2};
  k = jit.compile(mix);
  ASSERT_FALSE(k);
  EXPECT_NE(k.errorMessage().find("branchChannels[0]"), std::string::npos)
      << k.errorMessage();
}

// Target::cuda: tests/gpu (CudaNoDriverTest without a driver,
// FakeDriverTest on a stand-in driver, CudaExecutorTest on a GPU).

TEST(HostApiCompile, ConvVariantsMatchReference) {
  Jit jit(Target::host(), noDiskCache());
  std::vector<DepthwiseConv2d> ops;
  DepthwiseConv2d a = smallConv(3, 3);
  a.layout = "nchw";
  a.bias = true;
  ops.push_back(a);
  DepthwiseConv2d b = smallConv(5, 3);
  b.strides = {2, 2};
  b.dilations = {2, 1};
  b.padding = {1, 2, 0, 1};
  ops.push_back(b);
  for (const DepthwiseConv2d &op : ops) {
    auto k = jit.compile(op);
    ASSERT_TRUE(k) << k.errorMessage();
    std::string err;
    EXPECT_LT(runConvAndCompare(*k, op, 3, &err), 1e-4) << err;
  }
}

TEST(HostApiCompile, TargetAndVersion) {
  EXPECT_EQ(Target::host().kind, Target::Kind::CPU);
  EXPECT_FALSE(Target::host().key().empty());
  // "cuda;<GPU name>;cc=XY;sms=N;driver=V", or "cuda:1;no-driver".
  EXPECT_EQ(Target::cuda(1).key().rfind("cuda", 0), 0u);
  EXPECT_NE(version().find("kjit"), std::string::npos);
  EXPECT_FALSE(compilerKey().empty());
}
