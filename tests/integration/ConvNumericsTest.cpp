//===- ConvNumericsTest.cpp - JIT'd convs against the naive reference -----===//
//
// Every kernel is compiled through the public API (kjit/kjit.h) and run on
// fresh random inputs; the output is compared with tests/reference (plain
// loops, double accumulation).
//
// Tolerance (stated once, used everywhere):
//     max |out - ref| <= 1e-4 * (1 + max |ref|), and no NaN/Inf.
// Inputs and weights are uniform in [-1, 1]; with up to 961 taps fp32
// accumulation error stays around 1e-6 * (1 + max |ref|), while any indexing
// or padding error is O(1), so the bound separates the two by far.
//
// Seeds: a fresh seed per run (std::random_device); each test prints it in its
// failure message. Re-run one with KJIT_TEST_SEED=<seed>.
//
// The cases are a spread sample (about 50 kernels), not a cross product:
// kernels 3, 5, 7, 13, 31 and bands 1x11 / 11x1; spatial 1, 17, 56, 57;
// channels 3, 37 (not multiples of the vector width) and 16/48/64/256;
// stride 2, dilation 2, "same", valid and asymmetric padding; NHWC and NCHW;
// bias on and off; batch 2; a sample of legal configs; 1 and 2 threads.
//
//===----------------------------------------------------------------------===//
#include "tests/integration/TestSupport.h"
#include "kjit/kjit.h"
#include "tests/reference/Reference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ref = kjit::reference;

namespace {
using kjit::testing::baseSeed;
using kjit::testing::sharedJit;
using kjit::testing::randomVector;

constexpr double kRtol = 1e-4;

ref::DwConv toRef(const kjit::DepthwiseConv2d &op) {
  ref::DwConv p;
  p.n = op.batch;
  p.c = op.channels;
  p.h = op.height;
  p.w = op.width;
  p.kh = op.kernel[0];
  p.kw = op.kernel[1];
  p.strides = op.strides;
  p.dilations = op.dilations;
  p.padding = op.padding;
  p.nchw = op.layout == "nchw";
  return p;
}

std::string describe(const kjit::DepthwiseConv2d &op) {
  std::ostringstream os;
  os << op.layout << " N" << op.batch << " C" << op.channels << " " << op.height
     << "x" << op.width << " k" << op.kernel[0] << "x" << op.kernel[1] << " s"
     << op.strides[0] << "," << op.strides[1] << " d" << op.dilations[0] << ","
     << op.dilations[1] << " pad" << op.padding[0] << "," << op.padding[1]
     << "," << op.padding[2] << "," << op.padding[3]
     << (op.bias ? " bias" : "");
  return os.str();
}

struct ConvCase {
  std::string name;
  kjit::DepthwiseConv2d op;
  std::string config; ///< "" = the op's default/tuned config
  int threads = 0;
};

// Readable names in gtest's failure lines instead of a byte dump.
void PrintTo(const ConvCase &c, std::ostream *os) {
  *os << c.name << " (" << describe(c.op) << ")";
}

kjit::DepthwiseConv2d conv(int64_t c, int64_t h, int64_t w, int64_t kh,
                           int64_t kw, const char *layout = "nhwc",
                           bool bias = false) {
  kjit::DepthwiseConv2d op;
  op.channels = c;
  op.height = h;
  op.width = w;
  op.kernel = {kh, kw};
  op.layout = layout;
  op.bias = bias;
  return op;
}
kjit::DepthwiseConv2d same(kjit::DepthwiseConv2d op) {
  op.samePadding();
  return op;
}
kjit::DepthwiseConv2d pad(kjit::DepthwiseConv2d op, int64_t t, int64_t b,
                          int64_t l, int64_t r) {
  op.padding = {t, b, l, r};
  return op;
}
kjit::DepthwiseConv2d stride(kjit::DepthwiseConv2d op, int64_t sh, int64_t sw) {
  op.strides = {sh, sw};
  return op;
}
kjit::DepthwiseConv2d dilate(kjit::DepthwiseConv2d op, int64_t dh, int64_t dw) {
  op.dilations = {dh, dw};
  return op;
}

/// A #kjit.config with every knob of the depthwise CPU kernel.
std::string config(int vw, int owb, int ohb, int kwu, int ohTile, int threads,
                   const char *order) {
  std::ostringstream os;
  os << "#kjit.config<{vector_width = " << vw << ", ow_block = " << owb
     << ", oh_block = " << ohb << ", kw_unroll = " << kwu
     << ", oh_tile = " << ohTile << ", threads = " << threads
     << ", task_order = \"" << order << "\"}>";
  return os.str();
}

std::vector<ConvCase> convCases() {
  std::vector<ConvCase> v;
  auto add = [&](std::string name, kjit::DepthwiseConv2d op,
                 std::string cfg = "", int threads = 0) {
    v.push_back({std::move(name), std::move(op), std::move(cfg), threads});
  };
  // k = 3
  add("k3_c3_17_same_nhwc_bias", same(conv(3, 17, 17, 3, 3, "nhwc", true)));
  add("k3_c37_57_same_nchw", same(conv(37, 57, 57, 3, 3, "nchw")));
  add("k3_c64_1_same_nhwc_bias", same(conv(64, 1, 1, 3, 3, "nhwc", true)));
  add("k3_c37_17_stride2_valid_nhwc",
      stride(conv(37, 17, 17, 3, 3, "nhwc"), 2, 2));
  add("k3_c16_57_stride2_asym_nchw_bias",
      stride(pad(conv(16, 57, 57, 3, 3, "nchw", true), 1, 0, 1, 0), 2, 2));
  add("k3_c256_56_same_nhwc", same(conv(256, 56, 56, 3, 3, "nhwc")));
  {
    auto op = same(conv(37, 17, 17, 3, 3, "nhwc", true));
    op.batch = 2;
    add("k3_n2_c37_17_same_nhwc_bias", op);
  }
  // k = 5, mixed per-axis stride and dilation
  add("k5_c37_17x23_s2x1_d1x2_nhwc",
      dilate(stride(pad(conv(37, 17, 23, 5, 5, "nhwc"), 2, 2, 4, 4), 2, 1), 1,
             2));
  // k = 7
  add("k7_c37_17_same_nhwc_bias", same(conv(37, 17, 17, 7, 7, "nhwc", true)));
  add("k7_c64_57_same_nhwc", same(conv(64, 57, 57, 7, 7, "nhwc")));
  add("k7_c3_57_same_nchw_bias", same(conv(3, 57, 57, 7, 7, "nchw", true)));
  add("k7_c37_1_same_nhwc", same(conv(37, 1, 1, 7, 7, "nhwc")));
  add("k7_c64_17_dil2_same_nhwc_bias",
      same(dilate(conv(64, 17, 17, 7, 7, "nhwc", true), 2, 2)));
  add("k7_c37_57_stride2_pad3_nchw",
      stride(pad(conv(37, 57, 57, 7, 7, "nchw"), 3, 3, 3, 3), 2, 2));
  add("k7_c3_17_asym_nhwc", pad(conv(3, 17, 17, 7, 7, "nhwc"), 2, 4, 0, 5));
  add("k7_c37_17_valid_nchw_bias", conv(37, 17, 17, 7, 7, "nchw", true));
  add("k7_c48_17x57_same_nhwc", same(conv(48, 17, 57, 7, 7, "nhwc")));
  // k = 13
  add("k13_c37_17_same_nhwc_bias",
      same(conv(37, 17, 17, 13, 13, "nhwc", true)));
  add("k13_c64_57_same_nhwc", same(conv(64, 57, 57, 13, 13, "nhwc")));
  add("k13_c3_57_same_nchw_bias", same(conv(3, 57, 57, 13, 13, "nchw", true)));
  add("k13_c37_17_dil2_same_nchw",
      same(dilate(conv(37, 17, 17, 13, 13, "nchw"), 2, 2)));
  add("k13_c64_57_stride2_pad6_nhwc_bias",
      stride(pad(conv(64, 57, 57, 13, 13, "nhwc", true), 6, 6, 6, 6), 2, 2));
  add("k13_c48_17_asym_nhwc",
      pad(conv(48, 17, 17, 13, 13, "nhwc"), 0, 6, 3, 9));
  add("k13_c37_1_same_nchw", same(conv(37, 1, 1, 13, 13, "nchw")));
  // k = 31 (larger than a 17x17 input: fits only with padding)
  add("k31_c37_17_same_nhwc_bias",
      same(conv(37, 17, 17, 31, 31, "nhwc", true)));
  add("k31_c64_57_same_nhwc", same(conv(64, 57, 57, 31, 31, "nhwc")));
  add("k31_c3_57_same_nchw_bias", same(conv(3, 57, 57, 31, 31, "nchw", true)));
  add("k31_c16_57_stride2_same_nhwc",
      stride(same(conv(16, 57, 57, 31, 31, "nhwc")), 2, 2));
  add("k31_c37_1_same_nchw", same(conv(37, 1, 1, 31, 31, "nchw")));
  add("k31_c37_57_asym_nhwc",
      pad(conv(37, 57, 57, 31, 31, "nhwc"), 15, 0, 7, 20));
  // Kernels as large as or larger than the image: most taps meet only zero
  // padding and are skipped (filter rows per output row, filter columns per
  // block of output columns).
  add("k31_c37_13_same_nchw", same(conv(37, 13, 13, 31, 31, "nchw")));
  add("k31_c19_11x7_same_nhwc_bias",
      same(conv(19, 11, 7, 31, 31, "nhwc", true)));
  add("k7_c40_7_same_nhwc_bias", same(conv(40, 7, 7, 7, 7, "nhwc", true)));
  add("k7_c37_7_same_nchw", same(conv(37, 7, 7, 7, 7, "nchw")));
  add("k29_c21_13x5_asym_nhwc",
      pad(conv(21, 13, 5, 29, 29, "nhwc"), 3, 25, 20, 8));
  add("k9_c37_5_dil2_same_nchw_bias",
      same(dilate(conv(37, 5, 5, 9, 9, "nchw", true), 2, 2)));
  add("k13_c23_11_stride2_same_nhwc",
      stride(same(conv(23, 11, 11, 13, 13, "nhwc")), 2, 2));
  add("k13_c23_11x17_s3x2_d2x1_nchw",
      dilate(stride(pad(conv(23, 11, 17, 13, 13, "nchw"), 12, 12, 6, 6), 3, 2),
             2, 1));
  // Padding wider than the kernel's reach: border outputs see no input.
  add("k3_c16_9_pad5_nhwc_bias",
      pad(conv(16, 9, 9, 3, 3, "nhwc", true), 5, 5, 5, 5));
  add("k3_c19_9_pad4_stride2_nchw_bias",
      stride(pad(conv(19, 9, 9, 3, 3, "nchw", true), 4, 4, 4, 4), 2, 2));
  // NHWC, whole channel blocks, one output row per register block: the
  // input is read in place (no packed tile); border column blocks leave
  // out the taps outside the image.
  add("direct_k3_c48_17_stride2_same_nhwc_bias",
      stride(same(conv(48, 17, 17, 3, 3, "nhwc", true)), 2, 2));
  add("direct_k5_c32_23x19_stride2_same_nhwc",
      stride(same(conv(32, 23, 19, 5, 5, "nhwc")), 2, 2));
  add("direct_k3_c32_13_stride2_asym_nhwc",
      stride(pad(conv(32, 13, 13, 3, 3, "nhwc"), 0, 2, 2, 1), 2, 2));
  add("direct_k3_c32_23_s2_d2_nhwc_bias",
      dilate(
          stride(pad(conv(32, 23, 23, 3, 3, "nhwc", true), 2, 2, 2, 2), 2, 2),
          2, 2));
  add("direct_k7_c32_11_dil2_same_nhwc_bias",
      same(dilate(conv(32, 11, 11, 7, 7, "nhwc", true), 2, 2)));
  add("direct_k7_c64_7_same_nhwc", same(conv(64, 7, 7, 7, 7, "nhwc")));
  add("direct_k13_c32_19_same_nhwc_bias",
      same(conv(32, 19, 19, 13, 13, "nhwc", true)));
  add("direct_k3_c32_5x3_pad4_nhwc",
      pad(conv(32, 5, 3, 3, 3, "nhwc"), 4, 4, 4, 4));
  {
    auto op = stride(same(conv(32, 29, 31, 3, 3, "nhwc", true)), 2, 2);
    op.batch = 2;
    add("direct_k3_n2_c32_29x31_stride2_nhwc_bias", op);
  }
  // bands
  add("b1x11_c37_17_same_nhwc_bias",
      same(conv(37, 17, 17, 1, 11, "nhwc", true)));
  add("b11x1_c37_17_same_nhwc", same(conv(37, 17, 17, 11, 1, "nhwc")));
  add("b1x11_c64_57_same_nchw", same(conv(64, 57, 57, 1, 11, "nchw")));
  add("b11x1_c3_57_same_nchw_bias", same(conv(3, 57, 57, 11, 1, "nchw", true)));
  add("b1x11_c37_57_s2_d2_nhwc",
      dilate(stride(pad(conv(37, 57, 57, 1, 11, "nhwc"), 0, 0, 10, 10), 2, 2),
             2, 2));
  add("b11x1_c16_17_asym_nhwc_bias",
      pad(conv(16, 17, 17, 11, 1, "nhwc", true), 3, 7, 0, 0));
  add("b11x1_c37_1_same_nhwc", same(conv(37, 1, 1, 11, 1, "nhwc")));

  // Two threads through CompileOptions::threads.
  add("k7_c37_57_same_nhwc_bias_2threads",
      same(conv(37, 57, 57, 7, 7, "nhwc", true)), "", 2);
  add("k31_c64_57_same_nchw_2threads", same(conv(64, 57, 57, 31, 31, "nchw")),
      "", 2);

  // A sample of legal configs: every knob varied at least once. Legality:
  // oh_block*ow_block + oh_block + 1 <= vector registers; oh_block > 1 only
  // for unit stride and dilation along H.
  const bool avx512 = kjit::testing::targetHasAvx512();
  const int vw = avx512 ? 16 : 8;
  auto k7 = same(conv(37, 57, 57, 7, 7, "nhwc", true));
  auto k31 = same(conv(64, 57, 57, 31, 31, "nhwc"));
  auto k13nchw = same(conv(37, 57, 57, 13, 13, "nchw", true));
  add("cfg_k7_vw8_ow1_oh1", k7, config(8, 1, 1, 1, 1, 1, "c_outer"));
  add("cfg_k7_vw8_ow6_oh2_kwu2", k7, config(8, 6, 2, 2, 4, 1, "h_outer"));
  add("cfg_k7_vw_ow4_oh3_kwu4", k7, config(vw, 4, 3, 4, 57, 2, "c_outer"));
  add("cfg_k31_vw8_ow6_oh2", k31, config(8, 6, 2, 1, 8, 2, "h_outer"));
  add("cfg_k31_vw_ow3_oh1_kwu4", k31, config(vw, 3, 1, 4, 3, 1, "c_outer"));
  add("cfg_k13nchw_vw8_ow5_oh1_kwu2", k13nchw,
      config(8, 5, 1, 2, 16, 2, "h_outer"));
  add("cfg_k7_stride2_vw8_ow4",
      stride(pad(conv(37, 57, 57, 7, 7), 3, 3, 3, 3), 2, 2),
      config(8, 4, 1, 2, 5, 1, "h_outer"));
  // Many border column blocks with their own filter-column ranges (merged
  // down to a few copies of the micro-kernel), blocks of no valid tap.
  auto k31small = same(conv(37, 13, 13, 31, 31, "nhwc", true));
  add("cfg_k31small_vw8_ow1_oh3", k31small,
      config(8, 1, 3, 1, 5, 1, "c_outer"));
  add("cfg_k31small_vw_ow2_oh4_kwu4", k31small,
      config(vw, 2, 4, 4, 13, 1, "h_outer"));
  add("cfg_k31small_nchw_vw8_ow4_oh1_kwu2",
      same(conv(37, 13, 13, 31, 31, "nchw")),
      config(8, 4, 1, 2, 3, 2, "c_outer"));
  add("cfg_k3_pad5_vw8_ow1_oh2",
      pad(conv(16, 9, 9, 3, 3, "nhwc", true), 5, 5, 5, 5),
      config(8, 1, 2, 3, 4, 1, "c_outer"));
  // Read in place (oh_block 1, whole channel blocks of 8): border blocks,
  // an interior loop, a tail block; too many border blocks falls back to
  // the packed tile.
  auto k13c40 = same(conv(40, 19, 19, 13, 13, "nhwc", true));
  add("cfg_direct_k13_vw8_ow3_kwu4", k13c40,
      config(8, 3, 1, 4, 7, 2, "h_outer"));
  add("cfg_direct_k13_vw8_ow1_fallback", k13c40,
      config(8, 1, 1, 2, 19, 1, "c_outer"));
  add("cfg_direct_k3s2_vw8_ow5",
      stride(same(conv(40, 29, 31, 3, 3, "nhwc")), 2, 2),
      config(8, 5, 1, 3, 4, 1, "c_outer"));
  add("cfg_direct_k5s2_vw8_ow4_kwu2",
      stride(same(conv(24, 23, 23, 5, 5, "nhwc", true)), 2, 2),
      config(8, 4, 1, 2, 3, 2, "h_outer"));
  if (avx512) {
    add("cfg_k7_vw16_ow14_oh2", k7, config(16, 14, 2, 1, 7, 1, "c_outer"));
    add("cfg_k31_vw16_ow28_oh1", k31, config(16, 28, 1, 2, 2, 2, "h_outer"));
    add("cfg_k31_vw16_ow6_oh4_kwu4", k31,
        config(16, 6, 4, 4, 57, 1, "c_outer"));
    add("cfg_k13nchw_vw16_ow13_oh2", k13nchw,
        config(16, 13, 2, 1, 1, 2, "c_outer"));
  }
  return v;
}

std::string caseName(const testing::TestParamInfo<ConvCase> &info) {
  return info.param.name;
}

uint64_t caseSeed(const std::string &name) {
  return baseSeed() ^ std::hash<std::string>()(name);
}

class DepthwiseConv : public testing::TestWithParam<ConvCase> {};

TEST_P(DepthwiseConv, MatchesReference) {
  const ConvCase &c = GetParam();
  const uint64_t seed = caseSeed(c.name);
  SCOPED_TRACE("seed=" + std::to_string(baseSeed()) + " (KJIT_TEST_SEED), " +
               describe(c.op) + (c.config.empty() ? "" : " " + c.config));
  std::mt19937_64 rng(seed);
  const ref::DwConv p = toRef(c.op);
  ASSERT_GT(p.outH(), 0);
  ASSERT_GT(p.outW(), 0);

  std::vector<float> x = randomVector(p.inputSize(), rng);
  std::vector<float> f = randomVector(p.filterSize(), rng);
  std::vector<float> b = randomVector(p.c, rng);
  // NaN canary: every element must be written.
  std::vector<float> y(p.outputSize(), std::numeric_limits<float>::quiet_NaN());

  kjit::CompileOptions opts;
  opts.config = c.config;
  opts.threads = c.threads;
  auto k = sharedJit().compile(c.op, opts);
  ASSERT_TRUE(bool(k)) << "compile failed: " << k.errorMessage();

  std::vector<kjit::TensorView> ins = {
      kjit::TensorView(x.data(), p.inputShape()),
      kjit::TensorView(f.data(), {p.c, p.kh, p.kw})};
  if (c.op.bias)
    ins.emplace_back(b.data(), std::vector<int64_t>{p.c});
  kjit::Status st = k->run(ins, {kjit::TensorView(y.data(), p.outputShape())});
  ASSERT_TRUE(st.isOk()) << "run failed: " << st.message();

  auto r = ref::depthwiseConv2d(p, x.data(), f.data(),
                                c.op.bias ? b.data() : nullptr);
  ref::Comparison cmp = ref::compare(y.data(), r, kRtol);
  EXPECT_TRUE(cmp.ok) << cmp.describe() << "\nconfigs: "
                      << (k->configs().empty() ? "" : k->configs()[0]);

  // A second run on the same buffers gives the same bits (no state kept
  // between calls, no race between threads).
  std::vector<float> y2(y.size(), std::numeric_limits<float>::quiet_NaN());
  st = k->run(ins, {kjit::TensorView(y2.data(), p.outputShape())});
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(0, std::memcmp(y.data(), y2.data(), y.size() * sizeof(float)))
      << "two runs of one kernel differ";
}

INSTANTIATE_TEST_SUITE_P(Cases, DepthwiseConv, testing::ValuesIn(convCases()),
                         caseName);

TEST(DepthwiseConvConfig, IllegalConfigIsAnErrorNotACrash) {
  auto op = same(conv(37, 17, 17, 7, 7));
  const char *bad[] = {
      // register tile too large for any x86 register file: 4*28+4+1 > 32
      "#kjit.config<{vector_width = 8, ow_block = 28, oh_block = 4, "
      "kw_unroll = 1, oh_tile = 4, threads = 1, task_order = \"c_outer\"}>",
      // a vector width no x86 has
      "#kjit.config<{vector_width = 7, ow_block = 4, oh_block = 1, "
      "kw_unroll = 1, oh_tile = 4, threads = 1, task_order = \"c_outer\"}>",
      // an unknown loop order
      "#kjit.config<{vector_width = 8, ow_block = 4, oh_block = 1, "
      "kw_unroll = 1, oh_tile = 4, threads = 1, task_order = \"sideways\"}>",
      // a knob the op does not know
      "#kjit.config<{no_such_knob = 3}>",
      // not a config at all
      "#kjit.config<{ow_block = ",
  };
  for (const char *cfg : bad) {
    kjit::CompileOptions opts;
    opts.config = cfg;
    auto k = sharedJit().compile(op, opts);
    EXPECT_FALSE(bool(k)) << "accepted: " << cfg;
    if (!k)
      EXPECT_FALSE(k.errorMessage().empty()) << cfg;
  }
  // oh_block > 1 needs unit stride along H.
  kjit::CompileOptions opts;
  opts.config = config(8, 4, 2, 1, 4, 1, "c_outer");
  auto k = sharedJit().compile(stride(op, 2, 2), opts);
  EXPECT_FALSE(bool(k)) << "accepted oh_block=2 with stride 2";
}

TEST(DepthwiseConvConfig, ResolvedConfigIsReported) {
  auto k = sharedJit().compile(same(conv(37, 17, 17, 7, 7)));
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  ASSERT_EQ(k->configs().size(), 1u);
  EXPECT_NE(k->configs()[0].find("#kjit.config"), std::string::npos)
      << k->configs()[0];
}

// ---------------------------------------------------------------------------
// InceptionNeXt's mixer
// ---------------------------------------------------------------------------

struct InceptionCase {
  std::string name;
  kjit::InceptionDepthwiseConv2d op;
  int threads = 0;
};

kjit::InceptionDepthwiseConv2d inception(int64_t c, int64_t h, int64_t w,
                                         int64_t k, int64_t b, int64_t gSq,
                                         int64_t gW, int64_t gH,
                                         const char *layout) {
  kjit::InceptionDepthwiseConv2d op;
  op.channels = c;
  op.height = h;
  op.width = w;
  op.squareKernel = k;
  op.bandKernel = b;
  op.branchChannels = {gSq, gW, gH};
  op.layout = layout;
  return op;
}

ref::Inception toRef(const kjit::InceptionDepthwiseConv2d &op) {
  ref::Inception p;
  p.n = op.batch;
  p.c = op.channels;
  p.h = op.height;
  p.w = op.width;
  p.squareKernel = op.squareKernel;
  p.bandKernel = op.bandKernel;
  p.gSq = op.branchChannels[0];
  p.gW = op.branchChannels[1];
  p.gH = op.branchChannels[2];
  p.nchw = op.layout == "nchw";
  return p;
}

std::vector<InceptionCase> inceptionCases() {
  std::vector<InceptionCase> v;
  // InceptionNeXt's default: g = C/8 per branch, K = 3, B = 11.
  v.push_back(
      {"c64_17_g8_k3_b11_nhwc", inception(64, 17, 17, 3, 11, 8, 8, 8, "nhwc")});
  v.push_back({"c37_57_g5_4_6_k3_b11_nchw",
               inception(37, 57, 57, 3, 11, 5, 4, 6, "nchw")});
  v.push_back({"c96_56_g12_k3_b11_nhwc_2threads",
               inception(96, 56, 56, 3, 11, 12, 12, 12, "nhwc"), 2});
  // Branches of whole channel blocks: read in place.
  v.push_back({"c67_19_g16_k3_b11_nhwc",
               inception(67, 19, 19, 3, 11, 16, 16, 16, "nhwc")});
  v.push_back({"c48_17_noidentity_k5_b7_nhwc",
               inception(48, 17, 17, 5, 7, 16, 16, 16, "nhwc")});
  v.push_back(
      {"c40_1_g8_k3_b11_nchw", inception(40, 1, 1, 3, 11, 8, 8, 8, "nchw")});
  {
    auto op = inception(37, 17, 17, 3, 11, 3, 0, 7, "nhwc");
    op.batch = 2;
    v.push_back({"n2_c37_17_gw0_k3_b11_nhwc", op});
  }
  return v;
}

void PrintTo(const InceptionCase &c, std::ostream *os) { *os << c.name; }

class InceptionMixer : public testing::TestWithParam<InceptionCase> {};

TEST_P(InceptionMixer, MatchesThreeSeparateConvs) {
  const InceptionCase &c = GetParam();
  SCOPED_TRACE("seed=" + std::to_string(baseSeed()) + " (KJIT_TEST_SEED)");
  std::mt19937_64 rng(caseSeed("inception_" + c.name));
  const ref::Inception p = toRef(c.op);
  const int64_t K = p.squareKernel, B = p.bandKernel;
  std::vector<float> x = randomVector(p.size(), rng);
  std::vector<float> wSq = randomVector(p.gSq * K * K, rng);
  std::vector<float> wW = randomVector(p.gW * B, rng);
  std::vector<float> wH = randomVector(p.gH * B, rng);
  std::vector<float> y(p.size(), std::numeric_limits<float>::quiet_NaN());
  const std::vector<int64_t> shape =
      p.nchw ? std::vector<int64_t>{p.n, p.c, p.h, p.w}
             : std::vector<int64_t>{p.n, p.h, p.w, p.c};

  kjit::CompileOptions opts;
  opts.threads = c.threads;
  auto k = sharedJit().compile(c.op, opts);
  ASSERT_TRUE(bool(k)) << "compile failed: " << k.errorMessage();
  kjit::Status st = k->run({kjit::TensorView(x.data(), shape),
                            kjit::TensorView(wSq.data(), {p.gSq, K, K}),
                            kjit::TensorView(wW.data(), {p.gW, 1, B}),
                            kjit::TensorView(wH.data(), {p.gH, B, 1})},
                           {kjit::TensorView(y.data(), shape)});
  ASSERT_TRUE(st.isOk()) << "run failed: " << st.message();
  auto r = ref::inceptionDepthwiseConv2d(p, x.data(), wSq.data(), wW.data(),
                                         wH.data());
  ref::Comparison cmp = ref::compare(y.data(), r, kRtol);
  EXPECT_TRUE(cmp.ok) << cmp.describe();
  // The identity channels are copied exactly.
  auto idOut = ref::sliceChannels(y.data(), p.n, p.c, p.h, p.w, p.nchw, 0,
                                  p.identityChannels());
  auto idIn = ref::sliceChannels(x.data(), p.n, p.c, p.h, p.w, p.nchw, 0,
                                 p.identityChannels());
  EXPECT_EQ(idOut, idIn) << "identity channels not copied exactly";
}

INSTANTIATE_TEST_SUITE_P(Cases, InceptionMixer,
                         testing::ValuesIn(inceptionCases()),
                         [](const testing::TestParamInfo<InceptionCase> &i) {
                           return i.param.name;
                         });

// The fused mixer against three depthwise convs compiled by kjit itself on
// the channel slices (the reference composition, but through the JIT).
TEST(InceptionMixerFused, EqualsThreeKjitDepthwiseConvs) {
  SCOPED_TRACE("seed=" + std::to_string(baseSeed()) + " (KJIT_TEST_SEED)");
  std::mt19937_64 rng(caseSeed("fused_vs_three"));
  auto op = inception(80, 23, 29, 3, 11, 10, 10, 10, "nhwc");
  const ref::Inception p = toRef(op);
  const int64_t K = 3, B = 11;
  std::vector<float> x = randomVector(p.size(), rng);
  std::vector<float> wSq = randomVector(p.gSq * K * K, rng);
  std::vector<float> wW = randomVector(p.gW * B, rng);
  std::vector<float> wH = randomVector(p.gH * B, rng);
  std::vector<int64_t> shape = {p.n, p.h, p.w, p.c};
  std::vector<float> fused(p.size());
  auto k = sharedJit().compile(op);
  ASSERT_TRUE(bool(k)) << k.errorMessage();
  ASSERT_TRUE(k->run({kjit::TensorView(x.data(), shape),
                      kjit::TensorView(wSq.data(), {p.gSq, K, K}),
                      kjit::TensorView(wW.data(), {p.gW, 1, B}),
                      kjit::TensorView(wH.data(), {p.gH, B, 1})},
                     {kjit::TensorView(fused.data(), shape)})
                  .isOk());

  std::vector<float> composed = x; // identity channels stay
  auto branch = [&](int64_t c0, int64_t g, int64_t kh, int64_t kw,
                    std::vector<float> &w) {
    auto xs = ref::sliceChannels(x.data(), p.n, p.c, p.h, p.w, false, c0, g);
    std::vector<float> ys(xs.size());
    auto dw = same(conv(g, p.h, p.w, kh, kw, "nhwc"));
    auto kk = sharedJit().compile(dw);
    ASSERT_TRUE(bool(kk)) << kk.errorMessage();
    ASSERT_TRUE(kk->run({kjit::TensorView(xs.data(), {p.n, p.h, p.w, g}),
                         kjit::TensorView(w.data(), {g, kh, kw})},
                        {kjit::TensorView(ys.data(), {p.n, p.h, p.w, g})})
                    .isOk());
    ref::insertChannels(composed.data(), ys.data(), p.n, p.c, p.h, p.w, false,
                        c0, g);
  };
  const int64_t id = p.identityChannels();
  branch(id, p.gSq, K, K, wSq);
  branch(id + p.gSq, p.gW, 1, B, wW);
  branch(id + p.gSq + p.gW, p.gH, B, 1, wH);
  // Both are fp32 kernels; allow twice the reference tolerance between them.
  ref::Comparison cmp = ref::compare(fused.data(), composed, 2 * kRtol);
  EXPECT_TRUE(cmp.ok) << cmp.describe();
}

// ---------------------------------------------------------------------------
// compileModule: chained ops in one function
// ---------------------------------------------------------------------------

std::string tensorType(const std::vector<int64_t> &shape) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + "f32>";
}

TEST(CompileModule, TwoChainedDepthwiseConvs) {
  SCOPED_TRACE("seed=" + std::to_string(baseSeed()) + " (KJIT_TEST_SEED)");
  std::mt19937_64 rng(caseSeed("chain_dw_dw"));
  // x -> dw 7x7 same -> dw 3x3 stride 2 (+bias, asymmetric padding)
  ref::DwConv a;
  a.c = 37, a.h = 19, a.w = 21, a.kh = 7, a.kw = 7;
  a.padding = {3, 3, 3, 3};
  ref::DwConv b = a;
  b.h = a.outH(), b.w = a.outW(), b.kh = 3, b.kw = 3;
  b.strides = {2, 2};
  b.padding = {1, 0, 0, 1};
  const std::string tx = tensorType(a.inputShape()),
                    ty = tensorType(a.outputShape()),
                    tz = tensorType(b.outputShape()),
                    tw1 = tensorType({a.c, 7, 7}),
                    tw2 = tensorType({b.c, 3, 3}), tb = tensorType({b.c});
  std::string mlir =
      "func.func @main(%x: " + tx + ", %w1: " + tw1 + ", %w2: " + tw2 +
      ", %b: " + tb + ") -> " + tz + " {\n" +
      "  %y = \"kjit.depthwise_conv2d\"(%x, %w1) {layout = \"nhwc\", strides = "
      "array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: "
      "3, 3, 3, 3>} : (" +
      tx + ", " + tw1 + ") -> " + ty + "\n" +
      "  %z = \"kjit.depthwise_conv2d\"(%y, %w2, %b) {layout = \"nhwc\", "
      "strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = "
      "array<i64: 1, 0, 0, 1>} : (" +
      ty + ", " + tw2 + ", " + tb + ") -> " + tz + "\n" +
      "  return %z : " + tz + "\n}\n";
  auto k = sharedJit().compileModule(mlir);
  ASSERT_TRUE(bool(k)) << k.errorMessage() << "\n" << mlir;
  EXPECT_EQ(k->configs().size(), 2u);

  auto x = randomVector(a.inputSize(), rng);
  auto w1 = randomVector(a.filterSize(), rng);
  auto w2 = randomVector(b.filterSize(), rng);
  auto bias = randomVector(b.c, rng);
  std::vector<float> z(b.outputSize(), std::numeric_limits<float>::quiet_NaN());
  kjit::Status st = k->run({kjit::TensorView(x.data(), a.inputShape()),
                            kjit::TensorView(w1.data(), {a.c, 7, 7}),
                            kjit::TensorView(w2.data(), {b.c, 3, 3}),
                            kjit::TensorView(bias.data(), {b.c})},
                           {kjit::TensorView(z.data(), b.outputShape())});
  ASSERT_TRUE(st.isOk()) << st.message();
  auto y = ref::depthwiseConv2d(a, x.data(), w1.data(), nullptr);
  auto r = ref::depthwiseConv2d(b, y.data(), w2.data(), bias.data());
  ref::Comparison cmp = ref::compare(z.data(), r, kRtol);
  EXPECT_TRUE(cmp.ok) << cmp.describe();
}

TEST(CompileModule, InceptionThenDepthwiseTwoResultsNchw) {
  SCOPED_TRACE("seed=" + std::to_string(baseSeed()) + " (KJIT_TEST_SEED)");
  std::mt19937_64 rng(caseSeed("chain_inception_dw"));
  ref::Inception m;
  m.c = 24, m.h = 15, m.w = 13, m.squareKernel = 3, m.bandKernel = 11;
  m.gSq = 3, m.gW = 3, m.gH = 3;
  m.nchw = true;
  ref::DwConv d;
  d.c = 24, d.h = 15, d.w = 13, d.kh = 13, d.kw = 13;
  d.padding = {6, 6, 6, 6};
  d.nchw = true;
  const std::string tx = tensorType({1, 24, 15, 13}),
                    tsq = tensorType({3, 3, 3}), tbw = tensorType({3, 1, 11}),
                    tbh = tensorType({3, 11, 1}), tw = tensorType({24, 13, 13});
  std::string mlir =
      "func.func @main(%x: " + tx + ", %sq: " + tsq + ", %bw: " + tbw +
      ", %bh: " + tbh + ", %w: " + tw + ") -> (" + tx + ", " + tx + ") {\n" +
      "  %m = \"kjit.inception_depthwise_conv2d\"(%x, %sq, %bw, %bh) "
      "{layout = \"nchw\", branch_channels = array<i64: 3, 3, 3>} : (" +
      tx + ", " + tsq + ", " + tbw + ", " + tbh + ") -> " + tx + "\n" +
      "  %y = \"kjit.depthwise_conv2d\"(%m, %w) {layout = \"nchw\", strides = "
      "array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: "
      "6, 6, 6, 6>} : (" +
      tx + ", " + tw + ") -> " + tx + "\n" + "  return %m, %y : " + tx + ", " +
      tx + "\n}\n";
  auto k = sharedJit().compileModule(mlir);
  ASSERT_TRUE(bool(k)) << k.errorMessage() << "\n" << mlir;
  auto x = randomVector(m.size(), rng);
  auto sq = randomVector(27, rng), bw = randomVector(33, rng),
       bh = randomVector(33, rng), w = randomVector(d.filterSize(), rng);
  std::vector<float> mo(m.size(), NAN), yo(m.size(), NAN);
  kjit::Status st = k->run({kjit::TensorView(x.data(), {1, 24, 15, 13}),
                            kjit::TensorView(sq.data(), {3, 3, 3}),
                            kjit::TensorView(bw.data(), {3, 1, 11}),
                            kjit::TensorView(bh.data(), {3, 11, 1}),
                            kjit::TensorView(w.data(), {24, 13, 13})},
                           {kjit::TensorView(mo.data(), {1, 24, 15, 13}),
                            kjit::TensorView(yo.data(), {1, 24, 15, 13})});
  ASSERT_TRUE(st.isOk()) << st.message();
  auto rm = ref::inceptionDepthwiseConv2d(m, x.data(), sq.data(), bw.data(),
                                          bh.data());
  auto ry = ref::depthwiseConv2d(d, rm.data(), w.data(), nullptr);
  ref::Comparison c1 = ref::compare(mo.data(), rm, kRtol);
  ref::Comparison c2 = ref::compare(yo.data(), ry, kRtol);
  EXPECT_TRUE(c1.ok) << "first result: " << c1.describe();
  EXPECT_TRUE(c2.ok) << "second result: " << c2.describe();
}

} // namespace
