//===- PtxTest.cpp - GPU code for every kjit op without a GPU ------------===//
//
// kjit::emitCudaCode: PTX for a sample of shapes (odd and prime sizes) and
// legal configs of every op with a GPU generator (depthwise NHWC/NCHW up to
// 51x51, the Inception mixer, window attention 1-D/2-D, butterfly fused and
// split, spmm, spgemm, fft_conv in shared memory and multi-launch),
// assembled with `ptxas -arch=sm_90` (and sm_80 for some). Illegal configs are errors with
// a message. Numerics need a GPU and are not checked here. Skips the
// assembly with a message without ptxas.
//
//===----------------------------------------------------------------------===//
#include "OpModuleText.h"
#include "kjit/kjit.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

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

TEST(GpuConfig, UnknownChipIsAnError) {
  DwCase t{"k3", 1, 8, 8, 16, 3, 1, 1, false, ""};
  auto r = kjit::emitCudaCode(moduleText(t), {}, "sm_37");
  ASSERT_FALSE(r);
  EXPECT_NE(r.errorMessage().find("unknown CUDA chip 'sm_37'"),
            std::string::npos)
      << r.errorMessage();
}

//===----------------------------------------------------------------------===//
// Every op: module texts, a sample of shapes and legal configs.
//===----------------------------------------------------------------------===//

std::string s(int64_t v) { return std::to_string(v); }
using kjit::testing::tensor;
using kjit::testing::wrap;

std::string dwModule(bool nhwc, int n, int h, int w, int c, int k, bool bias) {
  int p = k / 2;
  std::string in = nhwc ? tensor({n, h, w, c}) : tensor({n, c, h, w});
  std::vector<std::string> types = {in, tensor({c, k, k})};
  if (bias)
    types.push_back(tensor({c}));
  return wrap("kjit.depthwise_conv2d", types, in,
              std::string("layout = \"") + (nhwc ? "nhwc" : "nchw") +
                  "\", padding = array<i64: " + s(p) + ", " + s(p) + ", " +
                  s(p) + ", " + s(p) + ">");
}
std::string inceptionModule(bool nhwc, int n, int h, int w, int c, int gs,
                            int gw, int gh, int k, int band) {
  std::string in = nhwc ? tensor({n, h, w, c}) : tensor({n, c, h, w});
  return wrap("kjit.inception_depthwise_conv2d",
              {in, tensor({gs, k, k}), tensor({gw, 1, band}),
               tensor({gh, band, 1})},
              in,
              std::string("layout = \"") + (nhwc ? "nhwc" : "nchw") +
                  "\", branch_channels = array<i64: " + s(gs) + ", " + s(gw) +
                  ", " + s(gh) + ">");
}
/// 1-D (h = 0) or 2-D window attention.
std::string waModule(int b, int heads, int h, int w, int d, int k, int dil,
                     bool causal, bool rpb) {
  std::string t = h ? tensor({b, heads, h, w, d}) : tensor({b, heads, w, d});
  std::vector<std::string> types = {t, t, t};
  if (rpb)
    types.push_back(h ? tensor({heads, 2 * k - 1, 2 * k - 1})
                      : tensor({heads, 2 * k - 1}));
  std::string ks = h ? s(k) + ", " + s(k) : s(k);
  std::string ds = h ? s(dil) + ", " + s(dil) : s(dil);
  return wrap("kjit.window_attention", types, t,
              "kernel_size = array<i64: " + ks + ">, dilation = array<i64: " +
                  ds + ">" + (causal ? ", is_causal = true" : ""));
}
std::string bflyModule(int b, int m1, int m2) {
  return wrap("kjit.butterfly_matmul",
              {tensor({b, m1 * m2}), tensor({m1, m2, m2}),
               tensor({m2, m1, m1})},
              tensor({b, m1 * m2}), "");
}
std::string spmmModule(int m, int k, int n, int nnz) {
  return wrap("kjit.spmm",
              {tensor({m + 1}, "i32"), tensor({nnz}, "i32"), tensor({nnz}),
               tensor({k, n})},
              tensor({m, n}), "");
}
/// kjit.spgemm: A (CSR m x k, nnzA) x B (CSR k x n, nnzB) -> CSR with
/// kernel-allocated col_idx and values.
std::string spgemmModule(int m, int k, int n, int nnzA, int nnzB) {
  std::string arp = tensor({m + 1}, "i32"), aci = tensor({nnzA}, "i32"),
              av = tensor({nnzA}), brp = tensor({k + 1}, "i32"),
              bci = tensor({nnzB}, "i32"), bv = tensor({nnzB});
  std::string ins = arp + ", " + aci + ", " + av + ", " + brp + ", " + bci +
                    ", " + bv;
  std::string outs = arp + ", tensor<?xi32>, tensor<?xf32>";
  return "func.func @main(%a0: " + arp + ", %a1: " + aci + ", %a2: " + av +
         ", %b0: " + brp + ", %b1: " + bci + ", %b2: " + bv + ") -> (" +
         outs + ") {\n  %c:3 = kjit.spgemm %a0, %a1, %a2, %b0, %b1, %b2 "
         "{shape = array<i64: " + s(m) + ", " + s(k) + ", " + s(n) + ">} : " +
         ins + " -> " + outs + "\n  return %c#0, %c#1, %c#2 : " + outs +
         "\n}\n";
}
std::string fftModule(int b, int c, int l, int lk, bool d) {
  std::vector<std::string> types = {tensor({b, c, l}), tensor({c, lk})};
  if (d)
    types.push_back(tensor({c}));
  return wrap("kjit.fft_conv", types, tensor({b, c, l}), "");
}

struct OpCase {
  const char *name;
  std::string module;
  const char *config; ///< "" = the default GPU config
  bool sm80;          ///< also assemble for sm_80
  std::vector<std::string> expect; ///< substrings of the sm_90 PTX
  int minEntries = 1;              ///< kernels (launches) in the PTX
};

std::vector<OpCase> opCases() {
  return {
      {"dw_nchw_k5_odd", dwModule(false, 1, 17, 19, 20, 5, true), "", false,
       {".shared", "bar.sync"}},
      {"dw_nchw_k31_global", dwModule(false, 1, 37, 29, 8, 31, false),
       "#kjit.config<{smem_stage = 0, block_w = 8, block_h = 4, "
       "channels_per_block = 4, threads = 128}>",
       false, {}},
      // 51x51: the default shrinks the tile until the halo fits 48 KiB.
      {"dw_nhwc_k51_default", dwModule(true, 1, 64, 64, 16, 51, true), "",
       true, {".shared", "bar.sync"}},
      {"dw_nchw_k51_tile", dwModule(false, 1, 53, 53, 6, 51, false),
       "#kjit.config<{block_w = 2, block_h = 2, channels_per_block = 4, "
       "threads = 32}>",
       false, {".shared", "bar.sync"}},
      {"inception_nhwc", inceptionModule(true, 2, 13, 15, 40, 8, 8, 8, 3, 11),
       "", true, {".shared", "bar.sync"}},
      {"inception_nchw",
       inceptionModule(false, 1, 23, 17, 29, 5, 7, 3, 5, 13),
       "#kjit.config<{block_w = 4, block_h = 4, channels_per_block = 8, "
       "threads = 128}>",
       false, {".shared"}},
      {"wa_1d_dil_rpb", waModule(2, 3, 0, 37, 24, 7, 2, false, true), "",
       true, {".shared", "bar.sync", "ex2.approx.ftz.f32"}},
      {"wa_1d_causal", waModule(1, 2, 0, 53, 16, 9, 1, true, false), "",
       false, {"ex2.approx.ftz.f32"}},
      {"wa_2d_rpb", waModule(1, 2, 13, 11, 32, 5, 1, false, true), "", true,
       {".shared", "ex2.approx.ftz.f32"}},
      {"wa_2d_dil_global", waModule(1, 1, 19, 17, 8, 3, 3, false, false),
       "#kjit.config<{kv_stage = 0, query_tile = 4, query_tile_h = 2, "
       "threads = 32}>",
       false, {}},
      {"wa_2d_d64_tile", waModule(1, 2, 14, 14, 64, 7, 1, false, true),
       "#kjit.config<{kv_stage = 1, query_tile = 16, query_tile_h = 2, "
       "threads = 32}>",
       false, {".shared"}},
      {"bfly_fused", bflyModule(7, 5, 12), "", true, {".shared"}},
      {"bfly_fused_rows", bflyModule(13, 7, 11),
       "#kjit.config<{variant = \"fused\", rows_per_block = 2, threads = 64}>",
       false, {".shared"}},
      {"bfly_split_8192", bflyModule(3, 64, 128), "", false, {".shared"}, 2},
      {"bfly_split_small", bflyModule(5, 11, 13),
       "#kjit.config<{variant = \"split\", chunk = 4, threads = 64}>", false,
       {}, 2},
      {"spmm_default", spmmModule(13, 17, 37, 40), "", true,
       {"kjit_gpu_error", "atom.global.add.u64"}},
      {"spmm_tile", spmmModule(31, 29, 101, 97),
       "#kjit.config<{col_threads = 8, cols_per_thread = 4, threads = 64}>",
       false, {"kjit_gpu_error"}},
      // Six launches: init, validate a, validate b, count, scan, numeric.
      {"spgemm_default", spgemmModule(13, 11, 17, 30, 25), "", true,
       {"kjit_gpu_error", "atom.global.exch.b32", "atom.global.add.f32",
        "atom.shared.min.s32", "bar.sync"},
       6},
      {"spgemm_prime", spgemmModule(31, 29, 101, 97, 89),
       "#kjit.config<{threads = 64, blocks = 7, group = 2, "
       "sort_capacity = 32}>",
       true, {"atom.global.exch.b32"}, 6},
      {"spgemm_wide_tile", spgemmModule(53, 37, 4099, 211, 401),
       "#kjit.config<{threads = 512, blocks = 53, group = 32, "
       "sort_capacity = 4096}>",
       false, {}, 6},
      // N of three million: the default shrinks the grid to fit the
      // scratch (blocks x N x 8 bytes).
      {"spgemm_huge_n", spgemmModule(7, 5, 3000017, 9, 11), "", false, {},
       6},
      {"spgemm_empty", spgemmModule(1, 1, 1, 1, 1), "", false, {}, 6},
      {"fft_shared", fftModule(2, 3, 100, 37, true), "", true,
       {".shared", "bar.sync", "kjit_fft_twiddles_256"}},
      {"fft_radix2", fftModule(1, 5, 61, 61, false),
       "#kjit.config<{radix = 2, threads = 128}>", false, {".shared"}},
      // N > smem_fft: load, the forward passes (N = 16384: 7 radix-4; N =
      // 128 at radix 2: 7), the product, the inverse passes, the store.
      {"fft_multi_launch", fftModule(1, 2, 5000, 5000, true), "", false, {},
       17},
      {"fft_multi_forced", fftModule(1, 3, 97, 13, true),
       "#kjit.config<{smem_fft = 16, radix = 2}>", false, {}, 17},
  };
}

class OpPtx : public ::testing::TestWithParam<OpCase> {};

size_t count(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos;
       p = text.find(what, p + 1))
    ++n;
  return n;
}

TEST_P(OpPtx, EmitsPtxThatPtxasAssembles) {
  const OpCase &t = GetParam();
  kjit::CompileOptions opts;
  opts.config = t.config;
  auto ptx = kjit::emitCudaCode(t.module, opts, "sm_90",
                                kjit::CudaCodeFormat::PTX);
  ASSERT_TRUE(ptx) << ptx.errorMessage() << "\n" << t.module;
  EXPECT_NE(ptx->find(".target sm_90"), std::string::npos);
  EXPECT_NE(ptx->find(".entry main_kjit_0_kernel("), std::string::npos);
  // One PTX module holds every launch's kernel.
  EXPECT_GE(count(*ptx, ".entry "), (size_t)t.minEntries) << *ptx;
  for (const std::string &e : t.expect)
    EXPECT_NE(ptx->find(e), std::string::npos) << e << "\n" << *ptx;

  if (ptxas().empty())
    GTEST_SKIP() << "ptxas not found (install the CUDA toolkit or set "
                    "KJIT_PTXAS): PTX emitted but not assembled";
  std::vector<const char *> chips = {"sm_90"};
  if (t.sm80)
    chips.push_back("sm_80");
  for (const char *chip : chips) {
    auto cubin = kjit::emitCudaCode(t.module, opts, chip,
                                    kjit::CudaCodeFormat::Cubin);
    ASSERT_TRUE(cubin) << chip << ": " << cubin.errorMessage();
    ASSERT_GE(cubin->size(), 4u);
    EXPECT_EQ(cubin->substr(0, 4), std::string("\x7f" "ELF", 4)) << chip;
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, OpPtx, ::testing::ValuesIn(opCases()),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

struct BadCase {
  const char *name;
  std::string module;
  const char *config;
  const char *message;
};

TEST(GpuConfig, IllegalConfigsOfEveryOpAreErrorsWithAMessage) {
  const BadCase cases[] = {
      {"k51 halo over 48 KiB", dwModule(true, 1, 64, 64, 16, 51, false),
       "#kjit.config<{block_w = 4, block_h = 4, channels_per_block = 8}>",
       "the shared-memory halo tile needs 93312 bytes"},
      {"threads over the limit", waModule(1, 2, 0, 40, 16, 5, 1, false, false),
       "#kjit.config<{threads = 2048}>",
       "threads (per block) must be a multiple of 32 in [32, 1024], got 2048"},
      {"attention tile over shared memory",
       waModule(1, 1, 0, 300, 64, 5, 1, false, false),
       "#kjit.config<{query_tile = 256, threads = 256}>",
       "bytes of shared memory per block; at most 49152"},
      {"idle threads", waModule(1, 1, 0, 300, 16, 5, 1, false, false),
       "#kjit.config<{query_tile = 16, threads = 64}>",
       "exceed the 16 queries of a tile"},
      {"fused Monarch row too long", bflyModule(2, 64, 128),
       "#kjit.config<{variant = \"fused\"}>", "use variant = \"split\""},
      {"FFT over shared memory", fftModule(1, 1, 3000, 3000, false),
       "#kjit.config<{smem_fft = 8192}>",
       "an FFT of 8192 points in shared memory"},
      {"FFT radix", fftModule(1, 1, 100, 10, false),
       "#kjit.config<{radix = 8}>", "radix must be 2 or 4 on CUDA"},
      {"spmm col_threads", spmmModule(5, 5, 5, 7),
       "#kjit.config<{col_threads = 3}>",
       "col_threads must be a power of two"},
      {"spgemm group", spgemmModule(5, 5, 5, 7, 7),
       "#kjit.config<{group = 3}>",
       "group must be a power of two dividing threads = 256, got 3"},
      {"spgemm sort capacity", spgemmModule(5, 5, 5, 7, 7),
       "#kjit.config<{sort_capacity = 100}>",
       "sort_capacity must be a multiple of 32 in [32, 8192], got 100"},
      {"spgemm scratch over 1 GiB", spgemmModule(300, 5, 1 << 24, 7, 7),
       "#kjit.config<{blocks = 256}>",
       "blocks = 256 x N = 16777216 x 8 bytes of marker and accumulator "
       "scratch is above 1073741824 bytes; at most 8 blocks"},
      {"spgemm N too large", spgemmModule(3, 5, 1 << 28, 7, 7), "",
       "N = 268435456 needs more than the 1073741824 bytes"},
      {"spgemm CPU knob on CUDA", spgemmModule(5, 5, 5, 7, 7),
       "#kjit.config<{accumulator = \"hash\"}>",
       "unknown knob 'accumulator' for kjit.spgemm on CUDA"},
      {"CPU knob on CUDA", spmmModule(5, 5, 5, 7),
       "#kjit.config<{n_block = 2}>",
       "unknown knob 'n_block' for kjit.spmm on CUDA"},
      {"CPU vector width on CUDA", spmmModule(5, 5, 8, 7),
       "#kjit.config<{vector_width = 8}>",
       "vector_width must be 1, 2 or 4, got 8"},
      {"vector width 3", dwModule(true, 1, 9, 9, 12, 3, false),
       "#kjit.config<{vector_width = 3}>",
       "vector_width must be 1, 2 or 4, got 3"},
      {"dw channels not divisible", dwModule(true, 1, 9, 9, 6, 3, false),
       "#kjit.config<{vector_width = 4}>",
       "vector_width (4) must divide the channels (6); the widest legal "
       "here is 2"},
      {"dw vector over channels_per_block",
       dwModule(true, 1, 9, 9, 16, 3, false),
       "#kjit.config<{vector_width = 4, channels_per_block = 2, "
       "threads = 64}>",
       "vector_width (4) must divide channels_per_block (2)"},
      {"dw NCHW vectors", dwModule(false, 1, 9, 9, 16, 3, false),
       "#kjit.config<{vector_width = 2}>", "needs the NHWC layout"},
      {"inception branch offset",
       inceptionModule(true, 1, 9, 9, 30, 8, 8, 8, 3, 5),
       "#kjit.config<{vector_width = 4}>",
       "vector_width (4) must divide the channels (8 from channel 6)"},
      {"spmm N not divisible", spmmModule(5, 5, 37, 7),
       "#kjit.config<{vector_width = 2}>",
       "vector_width (2) must divide the columns of b and out (N = 37)"},
      {"spmm accumulators", spmmModule(5, 5, 64, 7),
       "#kjit.config<{vector_width = 4, cols_per_thread = 16}>",
       "cols_per_thread x vector_width (64 accumulators per thread)"},
      {"butterfly m2 not divisible", bflyModule(3, 4, 6),
       "#kjit.config<{vector_width = 4}>",
       "vector_width (4) must divide the inner block size m2 = 6; the "
       "widest legal here is 2"},
      {"attention D not divisible",
       waModule(1, 2, 0, 40, 6, 5, 1, false, false),
       "#kjit.config<{vector_width = 4}>",
       "vector_width (4) must divide the head dimension D = 6; the widest "
       "legal here is 2"},
  };
  for (const BadCase &c : cases) {
    kjit::CompileOptions opts;
    opts.config = c.config;
    auto r = kjit::emitCudaCode(c.module, opts, "sm_90");
    ASSERT_FALSE(r) << c.name;
    EXPECT_NE(r.errorMessage().find(c.message), std::string::npos)
        << c.name << ": " << r.errorMessage();
  }
}

// vector_width = W: the PTX of W = 2 / 4 has ld.global.vW and
// st.global.vW (128-bit for 4) plus the scalar kernel the host takes for
// misaligned buffers (two entries); W = 1 has no vector global access and
// one entry. Every op with the knob, staged and unstaged; assembled by
// ptxas for sm_90.
struct VecCase {
  const char *name;
  std::string module;
  const char *config; ///< other knobs ("" = defaults)
};

std::vector<VecCase> vecCases() {
  return {
      {"dw_nhwc_staged", dwModule(true, 1, 13, 11, 24, 5, true), ""},
      {"dw_nhwc_global", dwModule(true, 2, 9, 7, 40, 3, true),
       "smem_stage = 0, block_w = 4, block_h = 2, channels_per_block = 8, "
       "threads = 64"},
      {"inception_nhwc", inceptionModule(true, 1, 11, 13, 36, 8, 8, 12, 3, 7),
       "channels_per_block = 4, block_w = 4, block_h = 4, threads = 64"},
      {"spmm", spmmModule(17, 23, 44, 61), ""},
      {"spmm_tile", spmmModule(9, 13, 100, 31),
       "col_threads = 8, cols_per_thread = 3, threads = 64"},
      {"wa_1d_staged", waModule(1, 2, 0, 29, 16, 5, 1, false, true), ""},
      {"wa_2d_global", waModule(1, 1, 11, 9, 8, 3, 2, false, false),
       "kv_stage = 0, query_tile = 4, query_tile_h = 2, threads = 32"},
      {"bfly_fused", bflyModule(7, 5, 12), ""},
      // Split: only x's reads are vectors; y is written by the second
      // launch per column chunk (scalar), read back there.
      {"bfly_split", bflyModule(3, 9, 20),
       "variant = \"split\", chunk = 4, threads = 64"},
  };
}

class VectorWidthPtx : public ::testing::TestWithParam<VecCase> {};

TEST_P(VectorWidthPtx, VectorLoadsInThePtxOfEveryWidth) {
  const VecCase &c = GetParam();
  for (int w : {1, 2, 4}) {
    SCOPED_TRACE("vector_width " + std::to_string(w));
    std::string cfg = std::string("#kjit.config<{") + c.config +
                      (*c.config ? ", " : "") +
                      "vector_width = " + std::to_string(w) + "}>";
    kjit::CompileOptions opts;
    opts.config = cfg;
    auto ptx = kjit::emitCudaCode(c.module, opts, "sm_90",
                                  kjit::CudaCodeFormat::PTX);
    ASSERT_TRUE(ptx) << ptx.errorMessage() << "\n" << c.module;
    std::string v = ".global.v" + std::to_string(w) + ".";
    if (w == 1) {
      EXPECT_EQ(ptx->find(".global.v"), std::string::npos) << *ptx;
      EXPECT_EQ(count(*ptx, ".entry "),
                std::string(c.config).find("split") != std::string::npos
                    ? 2u
                    : 1u);
      continue; // its kernel is also the fallback in the W > 1 PTX
    }
    EXPECT_NE(ptx->find("ld" + v), std::string::npos) << *ptx;
    bool split = std::string(c.config).find("split") != std::string::npos;
    if (!split)
      EXPECT_NE(ptx->find("st" + v), std::string::npos) << *ptx;
    EXPECT_EQ(count(*ptx, ".entry "), split ? 4u : 2u)
        << "vector + scalar kernels";
    if (ptxas().empty())
      continue;
    auto cubin = kjit::emitCudaCode(c.module, opts, "sm_90",
                                    kjit::CudaCodeFormat::Cubin);
    ASSERT_TRUE(cubin) << cubin.errorMessage();
    EXPECT_EQ(cubin->substr(0, 4), std::string("\x7f" "ELF", 4));
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, VectorWidthPtx, ::testing::ValuesIn(vecCases()),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

} // namespace
