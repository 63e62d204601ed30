//===- PtxTest.cpp - GPU code for kjit.depthwise_conv2d without a GPU ----===//
//
// kjit::emitCudaCode: PTX for a sample of depthwise shapes and configs
// (k3, k7, k31; NHWC; stride, dilation, bias), assembled with
// `ptxas -arch=sm_90` (and sm_80). Skips with a message without ptxas.
//
//===----------------------------------------------------------------------===//
#include "kjit/kjit.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {

std::string ptxas() {
  if (const char *env = std::getenv("KJIT_PTXAS"))
    return env;
  return KJIT_TEST_PTXAS;
}

struct DwCase {
  const char *name;
  int n, h, w, c, k, stride, dil;
  bool bias;
  const char *config; ///< "" = default GPU config
};

std::string moduleText(const DwCase &t) {
  int pad = (t.k - 1) * t.dil / 2;
  int oh = (t.h + 2 * pad - t.dil * (t.k - 1) - 1) / t.stride + 1;
  int ow = (t.w + 2 * pad - t.dil * (t.k - 1) - 1) / t.stride + 1;
  auto s = [](auto v) { return std::to_string(v); };
  std::string in = "tensor<" + s(t.n) + "x" + s(t.h) + "x" + s(t.w) + "x" +
                   s(t.c) + "xf32>";
  std::string f = "tensor<" + s(t.c) + "x" + s(t.k) + "x" + s(t.k) + "xf32>";
  std::string b = "tensor<" + s(t.c) + "xf32>";
  std::string out = "tensor<" + s(t.n) + "x" + s(oh) + "x" + s(ow) + "x" +
                    s(t.c) + "xf32>";
  std::string args = "%x: " + in + ", %w: " + f + (t.bias ? ", %b: " + b : "");
  std::string ops = std::string("%x, %w") + (t.bias ? ", %b" : "");
  std::string types = in + ", " + f + (t.bias ? ", " + b : "");
  return "func.func @main(" + args + ") -> " + out + " {\n" +
         "  %y = \"kjit.depthwise_conv2d\"(" + ops + ") {strides = array<i64: " +
         s(t.stride) + ", " + s(t.stride) + ">, dilations = array<i64: " +
         s(t.dil) + ", " + s(t.dil) + ">, padding = array<i64: " + s(pad) +
         ", " + s(pad) + ", " + s(pad) + ", " + s(pad) + ">} : (" + types +
         ") -> " + out + "\n  return %y : " + out + "\n}\n";
}

const DwCase kCases[] = {
    {"k3_default", 2, 56, 56, 96, 3, 1, 1, true, ""},
    {"k7_default", 1, 28, 28, 128, 7, 1, 1, false, ""},
    {"k31_default", 1, 64, 64, 64, 31, 1, 1, true, ""},
    {"k31_global", 1, 32, 32, 64, 31, 1, 1, false,
     "#kjit.config<{smem_stage = 0, block_w = 16, block_h = 2, "
     "channels_per_block = 32, threads = 128}>"},
    {"k7_small_tile", 1, 19, 23, 40, 7, 1, 1, true,
     "#kjit.config<{block_w = 4, block_h = 2, channels_per_block = 16, "
     "threads = 64}>"},
    {"k3_stride2", 1, 33, 33, 24, 3, 2, 1, false, ""},
    {"k7_dilation2", 1, 30, 30, 32, 7, 1, 2, true, ""},
};

class DepthwisePtx : public ::testing::TestWithParam<DwCase> {};

TEST_P(DepthwisePtx, EmitsPtxThatPtxasAssembles) {
  const DwCase &t = GetParam();
  kjit::CompileOptions opts;
  opts.config = t.config;
  auto ptx = kjit::emitCudaCode(moduleText(t), opts, "sm_90",
                                kjit::CudaCodeFormat::PTX);
  ASSERT_TRUE(ptx) << ptx.errorMessage() << "\n" << moduleText(t);
  EXPECT_NE(ptx->find(".target sm_90"), std::string::npos);
  EXPECT_NE(ptx->find(".version 8.0"), std::string::npos);
  EXPECT_NE(ptx->find(".entry main_kjit_0_kernel"), std::string::npos);
  bool staged = std::string(t.config).find("smem_stage = 0") ==
                std::string::npos;
  EXPECT_EQ(ptx->find(".shared") != std::string::npos, staged) << *ptx;

  if (ptxas().empty())
    GTEST_SKIP() << "ptxas not found (install the CUDA toolkit or set "
                    "KJIT_PTXAS): PTX emitted but not assembled";
  for (const char *chip : {"sm_90", "sm_80"}) {
    auto cubin = kjit::emitCudaCode(moduleText(t), opts, chip,
                                    kjit::CudaCodeFormat::Cubin);
    ASSERT_TRUE(cubin) << chip << ": " << cubin.errorMessage();
    ASSERT_GE(cubin->size(), 4u);
    EXPECT_EQ(cubin->substr(0, 4), std::string("\x7f" "ELF", 4)) << chip;
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, DepthwisePtx, ::testing::ValuesIn(kCases),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

TEST(GpuConfig, IllegalConfigIsAnErrorNotACrash) {
  DwCase t{"big", 1, 64, 64, 64, 31, 1, 1, false, ""};
  kjit::CompileOptions opts;
  opts.config = "#kjit.config<{block_w = 32, block_h = 32}>";
  auto r = kjit::emitCudaCode(moduleText(t), opts, "sm_90");
  ASSERT_FALSE(r);
  EXPECT_NE(r.errorMessage().find("shared-memory halo tile"),
            std::string::npos)
      << r.errorMessage();
  opts.config = "#kjit.config<{threads = 96, channels_per_block = 64}>";
  r = kjit::emitCudaCode(moduleText(t), opts, "sm_90");
  ASSERT_FALSE(r);
  EXPECT_NE(r.errorMessage().find("multiple of channels_per_block"),
            std::string::npos)
      << r.errorMessage();
}

TEST(GpuConfig, UnknownChipAndUnsupportedOpsAreErrors) {
  DwCase t{"k3", 1, 8, 8, 16, 3, 1, 1, false, ""};
  auto r = kjit::emitCudaCode(moduleText(t), {}, "sm_37");
  ASSERT_FALSE(r);
  EXPECT_NE(r.errorMessage().find("unknown CUDA chip 'sm_37'"),
            std::string::npos)
      << r.errorMessage();
  std::string nchw =
      "func.func @main(%x: tensor<1x16x8x8xf32>, %w: tensor<16x3x3xf32>) -> "
      "tensor<1x16x6x6xf32> {\n  %y = \"kjit.depthwise_conv2d\"(%x, %w) "
      "{layout = \"nchw\"} : (tensor<1x16x8x8xf32>, tensor<16x3x3xf32>) -> "
      "tensor<1x16x6x6xf32>\n  return %y : tensor<1x16x6x6xf32>\n}\n";
  r = kjit::emitCudaCode(nchw, {}, "sm_90");
  ASSERT_FALSE(r);
  EXPECT_NE(r.errorMessage().find("nhwc"), std::string::npos)
      << r.errorMessage();
}

} // namespace
