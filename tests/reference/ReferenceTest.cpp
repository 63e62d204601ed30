//===- ReferenceTest.cpp - the reference checked by hand ------------------===//
//
// The reference is the ground truth of every numerics test, so it gets its own
// checks against values worked out by hand and against identities that hold
// for any correct convolution.
//
//===----------------------------------------------------------------------===//
#include "tests/reference/Reference.h"

#include <gtest/gtest.h>

#include <numeric>
#include <random>

using namespace kjit::reference;

TEST(Reference, OutputSizeMatchesPyTorch) {
  DwConv p;
  p.h = 17, p.w = 57, p.kh = 13, p.kw = 13, p.c = 1;
  p.padding = {6, 6, 6, 6};
  EXPECT_EQ(p.outH(), 17);
  EXPECT_EQ(p.outW(), 57);
  p.strides = {2, 2};
  EXPECT_EQ(p.outH(), 9);
  EXPECT_EQ(p.outW(), 29);
  p.strides = {1, 1};
  p.dilations = {2, 2};
  p.padding = {0, 1, 2, 3};
  // (17 + 1 - 24 - 1) / 1 + 1 < 1: a kernel larger than the padded input.
  EXPECT_LE(p.outH(), 0);
  EXPECT_EQ(p.outW(), 57 + 5 - 24 - 1 + 1);
}

TEST(Reference, HandComputed3x3) {
  // 1 channel, 3x3 input 1..9, filter all ones, padding 1: each output is the
  // sum of its 3x3 neighbourhood inside the image.
  DwConv p;
  p.c = 1, p.h = 3, p.w = 3, p.kh = 3, p.kw = 3;
  p.padding = {1, 1, 1, 1};
  std::vector<float> x(9), f(9, 1.0f);
  std::iota(x.begin(), x.end(), 1.0f);
  float bias = 0.5f;
  auto y = depthwiseConv2d(p, x.data(), f.data(), &bias);
  std::vector<float> expect = {12, 21, 16, 27, 45, 33, 24, 39, 28};
  ASSERT_EQ(y.size(), expect.size());
  for (size_t i = 0; i < y.size(); ++i)
    EXPECT_FLOAT_EQ(y[i], expect[i] + 0.5f) << i;
}

TEST(Reference, StrideDilationAsymmetricPadding) {
  // A one-hot filter picks a single shifted input element.
  DwConv p;
  p.c = 2, p.h = 9, p.w = 8, p.kh = 3, p.kw = 5;
  p.strides = {2, 3};
  p.dilations = {2, 1};
  p.padding = {1, 2, 3, 0};
  std::vector<float> x(p.inputSize());
  std::iota(x.begin(), x.end(), 0.0f);
  std::vector<float> f(p.filterSize(), 0.0f);
  // channel 0 picks tap (ky=2, kx=4), channel 1 tap (ky=0, kx=0)
  f[(0 * 3 + 2) * 5 + 4] = 1.0f;
  f[(1 * 3 + 0) * 5 + 0] = 1.0f;
  for (bool nchw : {false, true}) {
    p.nchw = nchw;
    auto y = depthwiseConv2d(p, x.data(), f.data(), nullptr);
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t oy = 0; oy < p.outH(); ++oy)
        for (int64_t ox = 0; ox < p.outW(); ++ox) {
          int64_t ky = c == 0 ? 2 : 0, kx = c == 0 ? 4 : 0;
          int64_t iy = oy * 2 - 1 + ky * 2, ix = ox * 3 - 3 + kx;
          float e = 0;
          if (iy >= 0 && iy < 9 && ix >= 0 && ix < 8)
            e = nchw ? x[(c * 9 + iy) * 8 + ix] : x[(iy * 8 + ix) * 2 + c];
          int64_t o = nchw ? (c * p.outH() + oy) * p.outW() + ox
                           : (oy * p.outW() + ox) * 2 + c;
          EXPECT_EQ(y[o], e)
              << "nchw=" << nchw << " c=" << c << " oy=" << oy << " ox=" << ox;
        }
  }
}

TEST(Reference, LayoutsAgree) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  DwConv p;
  p.n = 2, p.c = 5, p.h = 11, p.w = 7, p.kh = 5, p.kw = 3;
  p.padding = {2, 1, 0, 2};
  p.strides = {1, 2};
  std::vector<float> x(p.inputSize()), f(p.filterSize()), b(p.c);
  for (auto *v : {&x, &f, &b})
    for (float &e : *v)
      e = u(rng);
  p.nchw = false;
  auto yNhwc = depthwiseConv2d(p, x.data(), f.data(), b.data());
  // Transpose the input to NCHW, run, transpose back.
  std::vector<float> xt(x.size());
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t y = 0; y < p.h; ++y)
      for (int64_t xx = 0; xx < p.w; ++xx)
        for (int64_t c = 0; c < p.c; ++c)
          xt[((n * p.c + c) * p.h + y) * p.w + xx] =
              x[((n * p.h + y) * p.w + xx) * p.c + c];
  p.nchw = true;
  auto yNchw = depthwiseConv2d(p, xt.data(), f.data(), b.data());
  const int64_t oh = p.outH(), ow = p.outW();
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xx = 0; xx < ow; ++xx)
        for (int64_t c = 0; c < p.c; ++c)
          EXPECT_EQ(yNhwc[((n * oh + y) * ow + xx) * p.c + c],
                    yNchw[((n * p.c + c) * oh + y) * ow + xx]);
}

TEST(Reference, InceptionIdentityAndBranches) {
  // Branch filters that are one-hot at the centre make every branch an
  // identity too, so the whole mixer must return its input.
  Inception p;
  p.c = 11, p.h = 6, p.w = 9, p.squareKernel = 3, p.bandKernel = 5;
  p.gSq = 3, p.gW = 2, p.gH = 4;
  std::vector<float> x(p.size());
  std::iota(x.begin(), x.end(), 1.0f);
  std::vector<float> wSq(p.gSq * 9, 0.0f), wW(p.gW * 5, 0.0f),
      wH(p.gH * 5, 0.0f);
  for (int64_t g = 0; g < p.gSq; ++g)
    wSq[g * 9 + 4] = 1.0f;
  for (int64_t g = 0; g < p.gW; ++g)
    wW[g * 5 + 2] = 1.0f;
  for (int64_t g = 0; g < p.gH; ++g)
    wH[g * 5 + 2] = 1.0f;
  for (bool nchw : {false, true}) {
    p.nchw = nchw;
    auto y =
        inceptionDepthwiseConv2d(p, x.data(), wSq.data(), wW.data(), wH.data());
    EXPECT_EQ(y, x) << "nchw=" << nchw;
  }
  // A band-w filter shifting by one column moves data along W only.
  std::fill(wW.begin(), wW.end(), 0.0f);
  for (int64_t g = 0; g < p.gW; ++g)
    wW[g * 5 + 3] = 1.0f; // tap kx=3 reads column ox+1
  p.nchw = true;
  auto y =
      inceptionDepthwiseConv2d(p, x.data(), wSq.data(), wW.data(), wH.data());
  int64_t c0 = p.identityChannels() + p.gSq;
  for (int64_t c = c0; c < c0 + p.gW; ++c)
    for (int64_t yy = 0; yy < p.h; ++yy)
      for (int64_t xx = 0; xx < p.w; ++xx) {
        float e = xx + 1 < p.w ? x[(c * p.h + yy) * p.w + xx + 1] : 0.0f;
        EXPECT_EQ(y[(c * p.h + yy) * p.w + xx], e);
      }
}

TEST(Reference, CompareTolerance) {
  std::vector<float> ref = {1.0f, -100.0f, 3.0f};
  std::vector<float> out = ref;
  EXPECT_TRUE(compare(out.data(), ref).ok);
  out[2] += 0.5e-2f; // 1e-4 * (1 + 100) = 1.01e-2
  EXPECT_TRUE(compare(out.data(), ref).ok);
  out[2] += 1e-2f;
  EXPECT_FALSE(compare(out.data(), ref).ok);
  out = ref;
  out[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(compare(out.data(), ref).ok);
}
